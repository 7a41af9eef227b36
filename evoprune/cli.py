"""The `evoprune` command line: thin wrappers over the data, model and search modules."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Sequence

from . import __version__
from .errors import ConfigError, EvopruneError

DEFAULT_DATASET = "mnist"


def _add_data_args(p: argparse.ArgumentParser, dataset_default: str | None = DEFAULT_DATASET) -> None:
    from .data import DATASETS

    p.add_argument("--dataset", choices=DATASETS, default=dataset_default,
                   help="dataset name (default: the one recorded in baseline.json, else mnist)")
    p.add_argument("--data", metavar="PATH",
                   help="local data: a Keras-layout .npz or a folder of the four IDX files "
                        "(default: $EVOPRUNE_DATA, else the Keras download)")


def _add_search_args(p: argparse.ArgumentParser) -> None:
    from .algorithms import ALGORITHMS
    from .config import PRESETS
    from .executors import EXECUTORS

    p.add_argument("--model", required=True, help="a .keras model (from `evoprune train`: DIR/model.keras)")
    p.add_argument("--algorithm", required=True, help=f"one of: {', '.join(ALGORITHMS)}")
    p.add_argument("--preset", choices=sorted(PRESETS), help="study: the reference study's settings and protocol")
    _add_data_args(p, dataset_default=None)
    p.add_argument("--budget", type=int, help="evaluations to make in all (default 1000)")
    p.add_argument("--seed", type=int, help="random seed of the search (default 0)")
    p.add_argument("--rate0", type=float, help="initial mutation rate (default 0.15)")
    p.add_argument("--t0", type=float, help="SA initial temperature (default 1.0)")
    p.add_argument("--population", type=int, help="GA population (default 12)")
    p.add_argument("--elite", type=int, help="GA elite size (default 2)")
    p.add_argument("--tournament", type=int, help="GA tournament size (default 5)")
    p.add_argument("--crossover", type=float, help="GA crossover probability (default 0.9)")
    p.add_argument("--loss-to-warmup", type=float, help="warm-up loss allowance (default 1.0)")
    p.add_argument("--relative-threshold", action="store_true", default=None,
                   help="loss thresholds relative to the baseline loss instead of absolute")
    p.add_argument("--eval-set", choices=("validation", "test"),
                   help="data the search decides on (default validation; the study preset uses test)")
    p.add_argument("--executor", default="serial", help=f"where evaluations run: {', '.join(EXECUTORS)}")
    p.add_argument("--workers", type=int, help="worker processes for pool executors")
    p.add_argument("--out", help="output folder (default runs/<timestamp>)")
    p.add_argument("--force", action="store_true", help="overwrite a run already in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evoprune", description=__doc__)
    parser.add_argument("--version", action="version", version=f"evoprune {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train the LeNet-5 baseline and record its split")
    _add_data_args(t)
    t.add_argument("--epochs", type=int, default=50)
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    t.add_argument("--learning-rate", type=float, default=0.1)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--val-fraction", type=float, default=0.2)
    t.add_argument("--seed", type=int, default=0, help="seed of the split and of training")
    t.add_argument("--out", required=True, help="folder for model.keras and baseline.json")
    t.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("prune", help="search pruning masks for a model")
    _add_search_args(p)

    e = sub.add_parser("evaluate", help="test figures of a model with saved masks applied")
    e.add_argument("--model", required=True)
    e.add_argument("--masks", required=True, help="masks.npz written by `evoprune prune`")
    _add_data_args(e, dataset_default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "prune": cmd_prune, "evaluate": cmd_evaluate}[args.command](args)
    except EvopruneError as e:
        print(f"evoprune: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("evoprune: interrupted", file=sys.stderr)
        return 130


# ----- train -----
def cmd_train(args) -> int:
    from .data import Split, prepare

    if args.epochs < 1 or args.batch_size < 1 or args.learning_rate <= 0:
        raise ConfigError("--epochs and --batch-size must be ≥ 1 and --learning-rate > 0")
    data = prepare(args.dataset, args.data, Split(args.seed, args.val_fraction))  # checked before TensorFlow loads
    from . import models
    from .results import io
    from .results.manifest import environment

    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    config = models.TrainConfig(args.epochs, args.optimizer, args.learning_rate, args.batch_size, args.seed)
    model = models.build_lenet5(data.x_train.shape[1:])
    models.train(model, data.x_train, data.y_train, data.x_val, data.y_val, config, progress=not args.no_progress)
    test_loss, test_acc = models.evaluate(model, data.x_test, data.y_test)
    val_loss, val_acc = models.evaluate(model, data.x_val, data.y_val) if len(data.y_val) else (None, None)
    specs = models.prunable_layers(model)
    io.save_keras(os.path.join(args.out, "model.keras"), model)
    baseline = {
        "model": "lenet5", "test_loss": test_loss, "test_accuracy": test_acc,
        "val_loss": val_loss, "val_accuracy": val_acc,
        "prunable_layers": [s.to_dict() for s in specs],
        "total_prunable_weights": sum(s.size for s in specs), "model_layers": len(model.layers),
        "dataset": {"name": data.name, "source": data.source, "sizes": data.sizes()},
        "split": data.split.to_dict(), "training": config.to_dict(),
        "seconds": round(time.perf_counter() - start, 2), **environment(),
    }
    io.write_json(os.path.join(args.out, "baseline.json"), baseline)
    print(f"test accuracy {test_acc:.4f}, test loss {test_loss:.4f}; "
          f"{baseline['total_prunable_weights']} prunable weights in {len(specs)} layers -> {args.out}")
    return 0


# ----- shared by prune and evaluate -----
def _baseline_json(model_path: str) -> dict | None:
    from .results import io

    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "baseline.json")
    return io.read_json(path) if os.path.exists(path) else None


def _load_data(args, baseline: dict | None):
    """The dataset and the validation split recorded at training time, so validation never overlaps training."""
    from .data import ENV_VAR, Split, prepare

    name = args.dataset or (baseline or {}).get("dataset", {}).get("name") or DEFAULT_DATASET
    path = args.data
    recorded = (baseline or {}).get("dataset", {}).get("source")
    if path is None and not os.environ.get(ENV_VAR) and recorded not in (None, "keras") and os.path.exists(recorded):
        path = recorded
    split = Split.from_dict(baseline["split"]) if baseline and "split" in baseline else Split(0, 0.2)
    return prepare(name, path, split)


def _check_model_file(path: str) -> None:
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such model file")
    if not path.endswith(".keras") or os.path.isdir(path):
        raise ConfigError(f"{path}: not a Keras model file (expected a .keras file)")


def _check_input_shape(model, data) -> None:
    from .errors import ModelError

    expected = tuple(model.input_shape[1:])
    got = tuple(data.x_test.shape[1:])
    if expected != got:
        raise ModelError(f"the model expects inputs of shape {expected}, the data has images of shape {got}")


# ----- prune -----
def cmd_prune(args) -> int:
    from .algorithms import algorithm_class
    from .config import make_config
    from .executors import make_executor

    algorithm_class(args.algorithm)
    make_executor(args.executor, args.workers).close()
    config = make_config(args.preset, budget=args.budget, seed=args.seed, rate0=args.rate0, t0=args.t0,
                         population=args.population, elite=args.elite, tournament=args.tournament,
                         crossover=args.crossover, loss_to_warmup=args.loss_to_warmup,
                         relative_threshold=args.relative_threshold, eval_set=args.eval_set)
    config.validate(args.algorithm, n_layers=1)  # what can be checked before the model is read
    _check_model_file(args.model)
    baseline = _baseline_json(args.model)
    if baseline and "prunable_layers" in baseline:
        config.validate(args.algorithm, len(baseline["prunable_layers"]))
    out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    from .api import check_out

    check_out(out, args.force)
    data = _load_data(args, baseline)  # every input is checked before TensorFlow loads

    from . import models
    from .api import prune

    model = models.load_model(args.model)
    _check_input_shape(model, data)
    x_search, y_search = (data.x_val, data.y_val) if config.eval_set == "validation" else (data.x_test, data.y_test)
    if len(y_search) == 0:
        raise ConfigError("the validation split is empty: train with --val-fraction > 0 or use --eval-set test")
    run_info = {"model": os.path.abspath(args.model), "preset": args.preset,
                "data": {"name": data.name, "source": data.source, "split": data.split.to_dict(),
                         "sizes": data.sizes(), "search_set": config.eval_set}}
    result = prune(model, x_search, y_search, data.x_test, data.y_test, args.algorithm, config, out=out,
                   force=args.force, executor=args.executor, workers=args.workers,
                   progress=not args.no_progress, run_info=run_info)
    s = result.summary
    print(f"{args.algorithm}: test accuracy {s['baseline_accuracy']:.4f} -> {s['final_accuracy']:.4f}, "
          f"sparsity {s['sparsity_layer_mean']:.4f} (layer mean), {s['sparsity_global']:.4f} (global), "
          f"{s['evaluations']} evaluations in {s['seconds']:.1f} s -> {out}")
    return 0


# ----- evaluate -----
def cmd_evaluate(args) -> int:
    _check_model_file(args.model)
    if not os.path.exists(args.masks):
        raise ConfigError(f"{args.masks}: no such masks file")
    data = _load_data(args, _baseline_json(args.model))
    from . import models
    from .masks import load_masks, sparsity_global, sparsity_layer_mean

    model = models.load_model(args.model)
    _check_input_shape(model, data)
    masks = load_masks(args.masks, models.prunable_layers(model))
    models.apply_masks(model, masks)
    loss, acc = models.evaluate(model, data.x_test, data.y_test)
    print(f"test_loss {loss:.6f}\ntest_accuracy {acc:.6f}\n"
          f"sparsity_layer_mean {sparsity_layer_mean(masks):.6f}\nsparsity_global {sparsity_global(masks):.6f}")
    return 0
