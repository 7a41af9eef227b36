"""Built-in benchmark suites: named sets of pruning problems that differ in what makes pruning hard.

A spec takes one with `suite = "small"`; each problem is then a `[problems.NAME]` table, as a spec would
write it. Every problem runs offline on a machine with the 5k MNIST file (`$EVOPRUNE_DATA_MNIST`, else
`$EVOPRUNE_DATA`) and Debian's Fashion-MNIST (`dataset-fashion-mnist`), and downloads through Keras elsewhere.
"""
from __future__ import annotations

from typing import Any, Mapping

from .errors import ConfigError

# The recipes of the committed experiments, so their cached baselines are reused: LeNet-5 on MNIST as
# results/certified-mnist5k trained it, LeNet-5 on Fashion-MNIST as results/certified-fashion did.
_MNIST_LENET5 = {"architecture": "lenet5", "epochs": 100, "optimizer": "adam", "learning_rate": 0.005}
_FASHION = {"epochs": 20, "optimizer": "adam", "learning_rate": 0.005}
# Fashion-MNIST's 12,000 validation images: the searches decide on half, the other half certifies (auto).
_ON_VALIDATION = {"eval_set": "validation"}

# Target ladders are global sparsities the search's best feasible mask reaches (on its decision images), fixed
# here before any run: from about where the informed start stands on each problem up to past what SA's own
# masks reached in the committed runs (64 % on MNIST, 48 % on Fashion-MNIST at 1,000 evaluations); for the
# problems no committed run has pruned, an even ladder over the range a magnitude-ranked start covers.
SUITES: dict[str, dict[str, Mapping[str, Any]]] = {
    "small": {
        "lenet5-mnist": {
            "data": {"dataset": "mnist"}, "model": {"train": _MNIST_LENET5},
            "targets": [0.3, 0.4, 0.5, 0.55, 0.6, 0.62, 0.64, 0.66]},
        "lenet5-mnist-tight": {  # the same model with half the allowed drop
            "data": {"dataset": "mnist"}, "model": {"train": _MNIST_LENET5}, "settings": {"delta": 0.0025},
            "targets": [0.3, 0.4, 0.5, 0.55, 0.6, 0.62, 0.64, 0.66]},
        "lenet5-fashion": {
            "data": {"dataset": "fashion_mnist"}, "model": {"train": {"architecture": "lenet5", **_FASHION}},
            "settings": _ON_VALIDATION, "targets": [0.3, 0.35, 0.4, 0.45, 0.5, 0.55]},
        "lenet300-fashion": {  # dense layers only: 266,200 weights, most in its first layer
            "data": {"dataset": "fashion_mnist"}, "model": {"train": {"architecture": "lenet300", **_FASHION}},
            "settings": _ON_VALIDATION, "targets": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]},
        "bnconv-fashion": {  # batch normalisation between convolutions: pruning shifts the statistics it learnt
            "data": {"dataset": "fashion_mnist"}, "model": {"train": {"architecture": "bnconv", **_FASHION}},
            "settings": _ON_VALIDATION, "targets": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]},
    },
}


def suite_problems(name: Any, source: str = "spec") -> dict[str, Mapping[str, Any]]:
    """The problems of suite `name`, as [problems.NAME] tables; an unknown suite is one line naming the known."""
    if name not in SUITES:
        raise ConfigError(f"{source}: unknown suite {name!r} (suites: {', '.join(SUITES)})")
    return dict(SUITES[name])
