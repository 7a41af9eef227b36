"""Results of a run: atomic files, history, manifests, checkpoints, the run folder, progress, tables and figures."""
