"""`evoprune evaluate`: test figures of a model with saved masks applied."""
from __future__ import annotations

from ..errors import ConfigError
from .common import add_data_args, add_import_arg, check_model_file


def add_parser(sub) -> None:
    e = sub.add_parser("evaluate", help="test figures of a model with saved masks applied")
    e.add_argument("--model", required=True)
    e.add_argument("--masks", required=True, help="masks.npz written by `evoprune prune`")
    add_data_args(e)
    add_import_arg(e)
    e.set_defaults(run=run)


def run(args) -> int:
    import os

    check_model_file(args.model)
    if not os.path.exists(args.masks):
        raise ConfigError(f"{args.masks}: no such masks file")
    from ..experiments.baselines import data_for, read_baseline

    data = data_for(read_baseline(args.model), args.dataset, args.data)
    from ..network import models
    from ..network.masks import load_masks, sparsity_global, sparsity_layer_mean

    model = models.load_model(args.model, args.imports)
    models.check_input_shape(model, data.x_test)
    masks = load_masks(args.masks, models.prunable_layers(model))
    models.apply_masks(model, masks)
    loss, acc = models.evaluate(model, data.x_test, data.y_test)
    print(f"test_loss {loss:.6f}\ntest_accuracy {acc:.6f}\n"
          f"sparsity_layer_mean {sparsity_layer_mean(masks):.6f}\nsparsity_global {sparsity_global(masks):.6f}")
    return 0
