"""Batch experiments: declared variants over seeds, their runs, and the verdict."""
