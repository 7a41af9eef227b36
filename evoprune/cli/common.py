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


def add_import_arg(p: argparse.ArgumentParser) -> None:
    """--import MODULE (repeatable): modules registering a model's custom Keras classes, imported by every process
    that loads the model."""
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE before the model is loaded, here and in every worker: the module that "
                        "registers the model's custom layers (@keras.saving.register_keras_serializable); "
                        "repeatable")


def check_model_file(path: str) -> None:
    """Refuse a model path that cannot be a Keras model, before TensorFlow is loaded."""
    from ..network.models import HDF5_SIGNATURE, LEGACY_SUFFIXES

    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such model file")
    if os.path.isdir(path) or not path.endswith((".keras", *LEGACY_SUFFIXES)):
        raise ConfigError(f"{path}: not a Keras model file (expected a .keras file, or a legacy .h5 one)")
    if path.endswith(LEGACY_SUFFIXES):
        with open(path, "rb") as f:
            if f.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
                raise ModelError(f"{path}: not a Keras model (not an HDF5 file)")
        return
    # A .keras file is a zip archive with the model's config.json; look before loading TensorFlow.
    try:
        with zipfile.ZipFile(path) as z:
            if "config.json" not in z.namelist():
                raise ModelError(f"{path}: not a Keras model (the archive has no config.json)")
    except (zipfile.BadZipFile, OSError):
        raise ModelError(f"{path}: not a Keras model (not a .keras zip archive)") from None


def add_training_args(p: argparse.ArgumentParser) -> None:
    """How masked training runs (`finetune`, `gradual`): --optimizer, --learning-rate, --batch-size, --seed."""
    from ..network.models import OPTIMIZERS
    from ..pruned.finetune import FINETUNE_DEFAULTS as D

    p.add_argument("--optimizer", choices=OPTIMIZERS, default=D["optimizer"], help=f"(default {D['optimizer']})")
    p.add_argument("--learning-rate", type=float, default=D["learning_rate"],
                   help=f"the optimizer's learning rate (default {D['learning_rate']})")
    p.add_argument("--batch-size", type=int, default=D["batch_size"], help=f"(default {D['batch_size']})")
    p.add_argument("--seed", type=int, default=D["seed"], help=f"(default {D['seed']})")


def recipe(args):
    """The masked-training recipe of `add_training_args`' flags."""
    from ..pruned.finetune import Recipe

    return Recipe(args.optimizer, args.learning_rate, args.batch_size, args.seed)


def add_spread_args(p: argparse.ArgumentParser) -> None:
    """How an experiment's runs are spread, and its folder's options (`experiment run`, `compare`)."""
    p.add_argument("--parallel", type=int, metavar="N",
                   help="runs at once, each in its own single-threaded process (default: one per core; 1: one after "
                        "another in this process)")
    p.add_argument("--workers", type=int, metavar="N", help=argparse.SUPPRESS)  # prune's flag: refused here, saying so
    p.add_argument("--executor", default="process", choices=("process", "ray"),
                   help="where the parallel runs go: a local process pool (default) or a Ray cluster")
    p.add_argument("--ray-address", help="a running Ray cluster (HOST:PORT) for --executor ray")
    p.add_argument("--baselines", metavar="DIR",
                   help="where trained baselines are kept and reused (default: $EVOPRUNE_BASELINES, else "
                        "~/.cache/evoprune/baselines)")
    p.add_argument("--force", action="store_true", help="overwrite a folder that holds another experiment")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="let Ray's own notices through")
