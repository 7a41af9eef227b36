"""`evoprune gradual`: prune while training (tfmot's polynomial-decay schedule) and write a run folder like `prune`."""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict

from ..errors import ConfigError
from .common import add_data_args, add_import_arg, add_training_args, check_model_file, recipe

# history.csv: one row per epoch, the global sparsity at its end and Keras' figures.
HISTORY_FIELDS = ("epoch", "sparsity", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


def add_parser(sub) -> None:
    from ..pruned.finetune import FINETUNE_EPOCHS
    from ..pruned.gradual import RULES, SEARCH_BUDGET

    g = sub.add_parser("gradual", help="prune gradually while fine-tuning (Zhu & Gupta's polynomial schedule)",
                       description="Train the model on its training images while its masks are recomputed on a "
                                   "polynomial-decay schedule (tfmot's): sparsity rises from --initial-sparsity at the "
                                   "start of --begin-epoch to --final-sparsity at the start of --end-epoch (epochs "
                                   "counted from 0), every --frequency steps; training then goes on with the final "
                                   "masks to --epochs. Pruned weights are exactly zero and never come back. "
                                   "Validation images are only monitored; figures are on the test images.")
    g.add_argument("--model", required=True, help="the unpruned .keras model (from `evoprune train`: DIR/model.keras)")
    add_data_args(g)
    add_import_arg(g)
    g.add_argument("--final-sparsity", type=float, required=True, help="global sparsity at the end, e.g. 0.94")
    g.add_argument("--initial-sparsity", type=float, default=0.0, help="sparsity of the first pruning step "
                                                                         "(default 0)")
    g.add_argument("--epochs", type=int, default=FINETUNE_EPOCHS,
                   help=f"training epochs in all (default {FINETUNE_EPOCHS}, as `finetune`)")
    g.add_argument("--begin-epoch", type=int, default=0, help="the first pruning step is the first batch of this "
                                                              "epoch, counted from 0 (default 0)")
    g.add_argument("--end-epoch", type=int,
                   help="the last pruning step (final sparsity) is the first batch of this epoch, counted from 0; "
                        "below --epochs (default: round(2/3 × epochs), at most epochs − 1)")
    g.add_argument("--frequency", type=int, metavar="STEPS",
                   help="optimizer steps between pruning steps; must divide the pruning span "
                        "(default: the steps of one epoch, i.e. one pruning step per epoch)")
    g.add_argument("--power", type=int, default=3, help="the schedule's exponent (default 3, as tfmot)")
    g.add_argument("--rule", choices=RULES, default="magnitude",
                   help="which weights go at each pruning step, globally: magnitude |w| (default), the "
                        "reconstruction or saliency scores on the training images, or search: a short hill "
                        "climb from the magnitude masks, trading kept weights for the step's pruned ones while "
                        "that lowers the loss on the training images")
    g.add_argument("--rule-budget", type=int, default=SEARCH_BUDGET, metavar="N",
                   help=f"--rule search: evaluations per pruning step (default {SEARCH_BUDGET})")
    add_training_args(g)
    g.add_argument("--out", help="output folder (default runs/<timestamp>)")
    g.add_argument("--force", action="store_true", help="overwrite a run already in --out")
    g.set_defaults(run=run)


def end_epoch(args) -> int:
    """--end-epoch, or two thirds of the epochs (the last third trains with the final masks)."""
    return args.end_epoch if args.end_epoch is not None else min(args.epochs - 1, round(2 * args.epochs / 3))


def check_args(args) -> None:
    """Every setting that can be checked before the data is read."""
    if args.epochs < 1 or args.batch_size < 1 or args.learning_rate <= 0:
        raise ConfigError("--epochs and --batch-size must be ≥ 1 and --learning-rate > 0")
    if not 0.0 <= args.initial_sparsity <= args.final_sparsity < 1.0:
        raise ConfigError(f"need 0 ≤ --initial-sparsity ≤ --final-sparsity < 1, got {args.initial_sparsity} and "
                          f"{args.final_sparsity}")
    if not 0 <= args.begin_epoch <= end_epoch(args) < args.epochs:
        raise ConfigError(f"need 0 ≤ --begin-epoch ≤ --end-epoch < --epochs, got {args.begin_epoch}, "
                          f"{end_epoch(args)} and {args.epochs}")
    if args.frequency is not None and args.frequency < 1:
        raise ConfigError(f"--frequency must be ≥ 1, got {args.frequency}")
    if args.power < 1:
        raise ConfigError(f"--power must be ≥ 1, got {args.power}")
    if args.rule == "search" and args.rule_budget < 2:
        raise ConfigError(f"--rule-budget must be ≥ 2, got {args.rule_budget}")


def make_schedule(args, train_images: int):
    """The schedule in optimizer steps: epochs become steps of `ceil(train_images / batch size)` batches."""
    from ..pruned.gradual import PolynomialDecay

    per_epoch = math.ceil(train_images / args.batch_size)
    begin, end = args.begin_epoch * per_epoch, end_epoch(args) * per_epoch
    frequency = args.frequency or per_epoch
    if (end - begin) % frequency:
        raise ConfigError(f"--frequency {frequency} does not divide the pruning span of {end - begin} steps "
                          f"(epochs {args.begin_epoch} to {end_epoch(args)}, {per_epoch} steps each); choose a "
                          f"divisor of {end - begin}")
    return PolynomialDecay(args.initial_sparsity, args.final_sparsity, begin, end, frequency, args.power), per_epoch


def run(args) -> int:
    from ..experiments.baselines import data_for, read_baseline, run_info
    from ..results.run_folder import check_out, check_out_path

    check_args(args)
    check_model_file(args.model)
    out = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    check_out_path(out)
    check_out(out, args.force)
    data = data_for(read_baseline(args.model), args.dataset, args.data)  # checked before TensorFlow loads
    schedule, per_epoch = make_schedule(args, len(data.y_train))

    from ..network import models
    from ..pruned import export
    from ..pruned.gradual import gradual_prune, named_rule, summarize
    from ..pruned.report import say_skipped
    from ..results.checkpoint import warn
    from ..results.manifest import environment, now
    from ..results.run_folder import RunFolder

    model = models.load_model(args.model, args.imports)
    models.check_input_shape(model, data.x_test)
    say_skipped(model, warn)  # refuses a model with no prunable layers, before the folder is made
    rule = named_rule(args.rule, data.x_train, data.y_train, args.rule_budget, args.seed)
    settings = {"rule": args.rule, **({"rule_budget": args.rule_budget} if args.rule == "search" else {}),
                "optimizer": args.optimizer, "learning_rate": args.learning_rate,
                "batch_size": args.batch_size, "seed": args.seed, "epochs": args.epochs,
                "begin_epoch": args.begin_epoch, "end_epoch": end_epoch(args), "steps_per_epoch": per_epoch}
    folder = RunFolder(out, force=args.force)
    folder.start({"algorithm": "gradual", "config": {**settings, "schedule": asdict(schedule)},
                  "started": now(), **run_info(args.model, None, data, "train"), **environment()},
                 history_fields=HISTORY_FIELDS)
    has_val = len(data.y_val) > 0
    started = time.monotonic()

    def record(row: dict) -> None:
        row["seconds"] = time.monotonic() - started
        folder.history.on_row(None, {k: v for k, v in row.items() if k in HISTORY_FIELDS})

    try:
        result = gradual_prune(model, data.x_train, data.y_train, schedule, args.epochs,
                               (data.x_val, data.y_val) if has_val else None, rule, recipe(args), on_epoch=record)
    finally:
        folder.close()
    seconds = time.monotonic() - started
    summary = {**summarize(model, result, data.x_test, data.y_test, schedule, args.epochs, settings),
               "seconds": seconds}
    summary["export"] = export.export_sizes(model, result.model, out)
    folder.finish(result.masks, summary, {"pruned": result.model}, [])
    s = summary
    print(f"gradual ({args.rule}): test accuracy {s['baseline_accuracy']:.4f} -> {s['final_accuracy']:.4f}, "
          f"sparsity {s['sparsity_global']:.4f} (global), {s['sparsity_layer_mean']:.4f} (layer mean), "
          f"{args.epochs} epochs, {len(result.pruning_steps)} pruning steps in {seconds:.1f} s -> {out}")
    return 0
