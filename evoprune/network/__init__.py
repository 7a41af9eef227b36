"""The network being pruned: Keras models (LeNet-5, prunable layers, masking, files) and per-layer masks."""
