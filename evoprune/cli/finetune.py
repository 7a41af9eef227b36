"""`evoprune finetune`: retrain a model's kept weights with saved masks held fixed; test figures before and after."""
from __future__ import annotations

import os

from ..errors import ConfigError
from .common import add_data_args, add_import_arg, add_training_args, check_model_file, recipe

OUTPUTS = ("finetuned.keras", "finetune.json", "finetuned.sparse.npz")


def add_parser(sub) -> None:
    from ..pruned.finetune import FINETUNE_EPOCHS

    f = sub.add_parser("finetune", help="fine-tune a model with saved masks held fixed (pruned weights stay zero)")
    f.add_argument("--model", required=True, help="the unpruned .keras model the masks were searched on")
    f.add_argument("--masks", required=True, help="masks.npz written by `evoprune prune`, or its front_masks.npz "
                                                  "with --point")
    f.add_argument("--point", type=int, help="with front_masks.npz: the front point (front.csv's `point`)")
    add_data_args(f)
    add_import_arg(f)
    f.add_argument("--epochs", type=int, default=FINETUNE_EPOCHS, help=f"training epochs (default {FINETUNE_EPOCHS})")
    add_training_args(f)
    f.add_argument("--out", help="folder for finetuned.keras and finetune.json (default: the masks' folder)")
    f.add_argument("--force", action="store_true", help="overwrite a fine-tuning already in --out")
    f.set_defaults(run=run)


def run(args) -> int:
    if args.epochs < 1 or args.batch_size < 1 or args.learning_rate <= 0:
        raise ConfigError("--epochs and --batch-size must be ≥ 1 and --learning-rate > 0")
    check_model_file(args.model)
    if not os.path.exists(args.masks):
        raise ConfigError(f"{args.masks}: no such masks file")
    out = args.out or os.path.dirname(os.path.abspath(args.masks))
    from ..results.run_folder import check_out_path

    check_out_path(out)
    existing = [name for name in OUTPUTS if os.path.exists(os.path.join(out, name))]
    if existing and not args.force:
        raise ConfigError(f"{out} already holds {', '.join(existing)}; choose another --out or pass --force")
    from ..experiments.baselines import data_for, read_baseline

    data = data_for(read_baseline(args.model), args.dataset, args.data)  # checked before TensorFlow loads
    from ..network import models
    from ..pruned import export
    from ..pruned.finetune import finetune_report
    from ..pruned.front import point_masks
    from ..network.masks import check_masks, load_masks
    from ..results import io

    model = models.load_model(args.model, args.imports)
    models.check_input_shape(model, data.x_test)
    specs = models.prunable_layers(model)
    if args.point is None:
        masks = load_masks(args.masks, specs)
    else:
        found = point_masks(args.masks, args.point)
        if not found:
            raise ConfigError(f"{args.masks}: no front point {args.point} (see front.csv's `point` column)")
        masks = check_masks(found, specs)
    tuned, report = finetune_report(model, masks, data.x_train, data.y_train, data.x_test, data.y_test, args.epochs,
                                    (data.x_val, data.y_val) if len(data.y_val) else None, recipe(args))
    os.makedirs(out, exist_ok=True)
    report = {"model": os.path.abspath(args.model), "masks": os.path.abspath(args.masks), "point": args.point, **report,
              "export": export.export_sizes(model, tuned, out, "finetuned")}
    io.save_keras(os.path.join(out, "finetuned.keras"), tuned)
    io.write_json(os.path.join(out, "finetune.json"), report)
    print(f"test accuracy {report['test_accuracy_before']:.4f} -> {report['test_accuracy_after']:.4f}, "
          f"test loss {report['test_loss_before']:.4f} -> {report['test_loss_after']:.4f} after {args.epochs} epochs, "
          f"global sparsity {report['sparsity_global']:.4f} -> {out}")
    return 0
