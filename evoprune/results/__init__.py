"""Result files of a run: atomic writes, history CSV, manifests, summaries and plots."""
