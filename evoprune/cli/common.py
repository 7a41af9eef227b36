"""Options and checks shared by several commands."""
from __future__ import annotations

import argparse
import os
import zipfile

from ..errors import ConfigError, ModelError


def add_data_args(p: argparse.ArgumentParser, dataset_default: str | None = None) -> None:
    from ..problem.data import DATASETS

    p.add_argument("--dataset", choices=DATASETS, default=dataset_default,
                   help="dataset name (default: the one recorded in baseline.json, else mnist)")
    p.add_argument("--data", metavar="PATH",
                   help="local data: a Keras-layout .npz or a folder of the four IDX files "
                        "(default: $EVOPRUNE_DATA, else the Keras download)")


def check_model_file(path: str) -> None:
    """Refuse a model path that cannot be a Keras model, before TensorFlow is loaded."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such model file")
    if not path.endswith(".keras") or os.path.isdir(path):
        raise ConfigError(f"{path}: not a Keras model file (expected a .keras file)")
    # A .keras file is a zip archive with the model's config.json; look before loading TensorFlow.
    try:
        with zipfile.ZipFile(path) as z:
            if "config.json" not in z.namelist():
                raise ModelError(f"{path}: not a Keras model (the archive has no config.json)")
    except (zipfile.BadZipFile, OSError):
        raise ModelError(f"{path}: not a Keras model (not a .keras zip archive)") from None
