"""`evoprune train`: train the LeNet-5 baseline and record its split."""
from __future__ import annotations

from ..errors import ConfigError
from .common import add_data_args


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a baseline (LeNet-5 by default) and record its split")
    add_data_args(t, dataset_default="mnist")
    from ..network.models import ARCHITECTURES

    t.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="lenet5",
                   help="lenet5: the study's LeNet-5 (default); cnn1m: a 1.05-million-weight CNN")
    t.add_argument("--epochs", type=int, default=50)
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    t.add_argument("--learning-rate", type=float, default=0.1)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--val-fraction", type=float, default=0.2)
    t.add_argument("--seed", type=int, default=0, help="seed of the split and of training")
    t.add_argument("--out", required=True, help="folder for model.keras and baseline.json")
    t.add_argument("--force", action="store_true", help="overwrite a baseline already in --out")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(run=run)


def run(args) -> int:
    import os

    from ..problem.data import Split, prepare
    from ..results.run_folder import check_out_path

    if args.epochs < 1 or args.batch_size < 1 or args.learning_rate <= 0:
        raise ConfigError("--epochs and --batch-size must be ≥ 1 and --learning-rate > 0")
    check_out_path(args.out)
    held = [f for f in ("model.keras", "baseline.json") if os.path.exists(os.path.join(args.out, f))]
    if held and not args.force:
        raise ConfigError(f"{args.out} already holds a baseline ({', '.join(held)}); choose another --out or pass --force")
    data = prepare(args.dataset, args.data, Split(args.seed, args.val_fraction))  # checked before TensorFlow loads
    from ..experiments.baselines import train_baseline
    from ..network.models import TrainConfig

    config = TrainConfig(args.epochs, args.optimizer, args.learning_rate, args.batch_size, args.seed, args.architecture)
    b = train_baseline(data, config, args.out, progress=not args.no_progress)
    print(f"test accuracy {b['test_accuracy']:.4f}, test loss {b['test_loss']:.4f}; "
          f"{b['total_prunable_weights']} prunable weights in {len(b['prunable_layers'])} layers -> {args.out}")
    return 0
