"""`evoprune compare`: the quick form of an experiment, one variant per algorithm, from flags instead of a spec."""
from __future__ import annotations

from ..errors import ConfigError
from .common import add_spread_args, check_model_file
from .prune import add_search_args, given_settings

# Flags that only apply when compare trains its own baseline; the [model.train] key each one sets.
_TRAINING = {"epochs": "epochs", "optimizer": "optimizer", "learning_rate": "learning_rate",
             "batch_size": "batch_size", "train_seed": "seed", "val_fraction": "val_fraction"}


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="prune with several algorithms and seeds; write one table and figures",
                       description="Every algorithm × seed runs with the same budget into "
                                   "OUT/runs/<algorithm>-seed<k>/, as `evoprune experiment run` would with one "
                                   "variant per algorithm (OUT/spec.toml records it); OUT/summary.md opens with "
                                   "the statistical verdict.")
    p.add_argument("--algorithms", required=True, help="comma-separated, e.g. sa,ga")
    p.add_argument("--seeds", required=True, type=int, metavar="N", help="runs per algorithm, seeds 0..N-1")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="a .keras model; without it LeNet-5 is trained (or taken from the cache) first")
    add_search_args(p)
    add_spread_args(p)
    t = p.add_argument_group("baseline training (without --model)")
    t.add_argument("--epochs", type=int, help="default 100")
    t.add_argument("--optimizer", choices=("sgd", "adam"), help="default adam")
    t.add_argument("--learning-rate", type=float, help="default 0.005")
    t.add_argument("--batch-size", type=int, help="default 128")
    t.add_argument("--val-fraction", type=float, help="training images held out for validation (default 0.2)")
    t.add_argument("--train-seed", type=int, help="seed of the split and of training (default 0)")
    p.set_defaults(run=run)


def run(args) -> int:
    from ..experiments.spec import from_args
    from .experiment import run_spec

    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    if not algorithms or len(set(algorithms)) != len(algorithms):
        raise ConfigError(f"--algorithms {args.algorithms!r}: name each algorithm once, e.g. sa,ga")
    training = {key: getattr(args, flag) for flag, key in _TRAINING.items() if getattr(args, flag) is not None}
    if args.model is not None:
        if training:
            raise ConfigError(f"{', '.join('--' + f.replace('_', '-') for f in _TRAINING if getattr(args, f) is not None)}"
                              " only apply to the baseline compare trains, not with --model")
        check_model_file(args.model)
        model = {"path": args.model}
    else:
        model = {"train": training}
    data = {k: v for k, v in (("path", args.data), ("dataset", args.dataset)) if v is not None}
    variants = {a: (a, settings) for a, settings in given_settings(args, algorithms).items()}
    spec = from_args(variants, args.seeds, args.budget, args.preset, data, model)
    return run_spec(args, spec, None)
