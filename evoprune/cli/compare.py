"""`evoprune compare`: prune with several algorithms over several seeds, then tabulate and plot them together."""
from __future__ import annotations

from ..errors import ConfigError
from .common import check_model_file
from .prune import add_search_args, executor_options, search_configs

# Flags that only apply when compare trains its own baseline; the TrainConfig field each one sets.
_TRAINING = {"epochs": "epochs", "optimizer": "optimizer", "learning_rate": "learning_rate",
             "batch_size": "batch_size", "train_seed": "seed"}
_BASELINE_ONLY = (*_TRAINING, "val_fraction", "baseline_cache")


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="prune with several algorithms and seeds; write one table and figures",
                       description="Every algorithm × seed runs with the same budget into "
                                   "OUT/runs/<algorithm>-seed<k>/; OUT/summary.md, summary.csv, results.png "
                                   "and tradeoff.png compare them.")
    p.add_argument("--algorithms", required=True, help="comma-separated, e.g. sa,ga")
    p.add_argument("--seeds", required=True, type=int, metavar="N", help="runs per algorithm, seeds 0..N-1")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--model", help="a .keras model; without it LeNet-5 is trained (or taken from the cache) first")
    add_search_args(p)
    t = p.add_argument_group("baseline training (without --model)")
    t.add_argument("--epochs", type=int, help="default 100")
    t.add_argument("--optimizer", choices=("sgd", "adam"), help="default adam")
    t.add_argument("--learning-rate", type=float, help="default 0.005")
    t.add_argument("--batch-size", type=int, help="default 128")
    t.add_argument("--val-fraction", type=float, help="training images held out for validation (default 0.2)")
    t.add_argument("--train-seed", type=int, help="seed of the split and of training (default 0)")
    t.add_argument("--baseline-cache", metavar="DIR",
                   help="where trained baselines are kept and reused (default OUT/../.baselines)")
    p.set_defaults(run=run)


def training_config(args):
    """The baseline's training settings: compare's defaults with the given flags on top."""
    from dataclasses import replace

    from ..experiments.compare import DEFAULT_TRAINING

    config = replace(DEFAULT_TRAINING, **{field: getattr(args, flag) for flag, field in _TRAINING.items()
                                          if getattr(args, flag) is not None})
    if config.epochs < 1 or config.batch_size < 1 or config.learning_rate <= 0:
        raise ConfigError("--epochs and --batch-size must be ≥ 1 and --learning-rate > 0")
    return config


def run(args) -> int:
    from ..algorithms import algorithm_class
    from ..executors import make_executor
    from ..experiments.baselines import read_baseline
    from ..experiments.compare import baseline_and_data, check_plan, compare

    algorithms = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    if not algorithms or len(set(algorithms)) != len(algorithms):
        raise ConfigError(f"--algorithms {args.algorithms!r}: name each algorithm once, e.g. sa,ga")
    for a in algorithms:
        algorithm_class(a)
    options = executor_options(args)
    make_executor(args.executor, args.workers, **options)  # checks the name and worker count
    configs = search_configs(args, algorithms, None)
    training = None
    n_layers = 1  # all that is known before a model is read; compare() checks again with the model
    if args.model is not None:
        given = [f"--{flag.replace('_', '-')}" for flag in _BASELINE_ONLY if getattr(args, flag) is not None]
        if given:
            raise ConfigError(f"{', '.join(given)} only apply to the baseline compare trains, not with --model")
        check_model_file(args.model)
        baseline = read_baseline(args.model)
        n_layers = len(baseline["prunable_layers"]) if baseline else n_layers
    else:
        training = training_config(args)
    check_plan(configs, args.seeds, n_layers)
    model, data = baseline_and_data(args.out, args.model, args.dataset, args.data, training, args.val_fraction,
                                    args.baseline_cache, progress=not args.no_progress)
    compare(model, data, configs, args.seeds, args.out, preset=args.preset, executor=args.executor,
            workers=args.workers, executor_options=options, force=args.force, progress=not args.no_progress)
    print(f"{', '.join(algorithms)} × {args.seeds} seeds -> {args.out}: summary.md, summary.csv, results.png, "
          "tradeoff.png")
    return 0

