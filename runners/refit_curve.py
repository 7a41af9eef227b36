"""One-shot global pruning with and without the closed-form re-fit, at 70-95 % sparsity or others: no gradient step.

    python runners/refit_curve.py --model ~/.cache/evoprune/baselines/mnist-89a7376f24cc6e12/model.keras \
        --data ../shared/data/mnist/mnist-5k.npz --out results/refit-curve

Masks by global magnitude, reconstruction importance, the refitted order and the obs order (`importance.compute`,
the last three scored on the re-fit images) at each sparsity; each with and without `refit` on the 5,000 training
+ validation images (--fit-on train: the 4,000 training ones only; val: the validation ones), or with --calibration
shifted on those and their one-pixel shifts. Accuracy and loss on the test images (10,000 for the 5k MNIST file), or
with --score-on val on the validation images (with --fit-on train, images neither the model nor the re-fit saw: where
a choice of method is made without the test images). Writes OUT/refit_curve.csv and OUT/refit_curve.md and prints
the table.
"""
from __future__ import annotations

import argparse
import os
import sys

from evoprune.network.calibration import CALIBRATIONS, calibration_images

SPARSITIES = (0.70, 0.80, 0.85, 0.90, 0.92, 0.94, 0.95)
IMPORTANCES = ("magnitude", "reconstruction", "refitted", "obs")


def measure(model, scored: tuple, x_fit, ridge: float, sparsities=SPARSITIES, kinds=IMPORTANCES,
            score_on: str = "test") -> list[dict]:
    """One row per importance × re-fit or not × sparsity: accuracy and loss on the images and labels `scored` (the
    `score_on` ones, test or val, which name the columns), and the re-fit's seconds."""
    from evoprune.network import models
    from evoprune.network.masks import sparsity_global
    from evoprune.problem import importance
    from evoprune.network.refit import refit

    x, y = scored
    specs = models.prunable_layers(model)
    kernels = models.kernels(model, specs)
    rows = []
    for kind in kinds:
        scores = importance.compute(kind, model, specs, x_fit)
        for sparsity in sparsities:
            masks = importance.global_threshold_masks(scores, sparsity)
            loss, acc = models.evaluate_masked(model, masks, x, y, kernels)
            fitted, report = refit(model, masks, x_fit, ridge=ridge)
            loss_fit, acc_fit = models.evaluate(fitted, x, y)
            common = {"importance": kind, "sparsity": sparsity, "sparsity_global": sparsity_global(masks)}
            rows.append({**common, "refit": False, f"{score_on}_accuracy": acc, f"{score_on}_loss": loss,
                         "refit_seconds": 0.0})
            rows.append({**common, "refit": True, f"{score_on}_accuracy": acc_fit, f"{score_on}_loss": loss_fit,
                         "refit_seconds": report["seconds"]})
            print(f"{kind:>14} {sparsity:.0%}: {acc:.2%} -> re-fit {acc_fit:.2%} ({report['seconds']:.1f} s)",
                  file=sys.stderr)
    return rows


def table(rows: list[dict], caption: str, sparsities=SPARSITIES, kinds=IMPORTANCES, score_on: str = "test") -> str:
    """The markdown table: one column per sparsity, one row per importance with and without the re-fit."""
    lines = [caption, "", "| global sparsity | " + " | ".join(f"{s * 100:g} %" for s in sparsities)
             + " |", "| --- |" + " --- |" * len(sparsities)]
    for kind in kinds:
        for fitted in (False, True):
            accs = {r["sparsity"]: r[f"{score_on}_accuracy"] for r in rows
                    if r["importance"] == kind and r["refit"] == fitted}
            label = kind + (" + re-fit" if fitted else "")
            lines.append(f"| {label} | " + " | ".join(f"{accs[s] * 100:.2f}" for s in sparsities) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a trained .keras model (its baseline.json split is used)")
    p.add_argument("--data", help="local data, as for evoprune prune (default: the file the baseline records)")
    p.add_argument("--out", required=True, help="folder for refit_curve.csv and refit_curve.md")
    p.add_argument("--fit-on", choices=("train+val", "train", "val"), default="train+val",
                   help="the images the re-fit (and the reconstruction, refitted and obs importances) sees "
                        "(default train+val)")
    p.add_argument("--sparsities", type=lambda text: tuple(float(v) for v in text.split(",")), default=SPARSITIES,
                   help="comma-separated global sparsities, as fractions (default: 0.7 to 0.95)")
    p.add_argument("--importances", type=lambda text: tuple(text.split(",")), default=IMPORTANCES,
                   help=f"comma-separated, of {', '.join(IMPORTANCES)} (default: all)")
    p.add_argument("--calibration", choices=CALIBRATIONS, default="images",
                   help="re-fit and score the importances on the --fit-on images (default) or on those and their "
                        "one-pixel shifts (shifted)")
    p.add_argument("--score-on", choices=("test", "val"), default="test",
                   help="the images the accuracies are measured on (default test)")
    p.add_argument("--ridge", type=float, default=None, help="the re-fit's ridge per row (default refit's)")
    args = p.parse_args(argv)
    if not set(args.importances) <= set(IMPORTANCES):
        p.error(f"--importances: choose from {', '.join(IMPORTANCES)}")

    import numpy as np

    from evoprune.experiments.baselines import data_for, read_baseline
    from evoprune.network import models
    from evoprune.network.refit import DEFAULT_RIDGE
    from evoprune.results import io

    data = data_for(read_baseline(args.model), None, args.data)
    model = models.load_model(args.model)
    x_fit = {"train": data.x_train, "val": data.x_val}.get(args.fit_on)
    if x_fit is None:
        x_fit = np.concatenate([data.x_train, data.x_val])
    images = len(x_fit)
    x_fit = calibration_images(x_fit, args.calibration)
    ridge = DEFAULT_RIDGE if args.ridge is None else args.ridge
    x_score, y_score = (data.x_test, data.y_test) if args.score_on == "test" else (data.x_val, data.y_val)
    _, base = models.evaluate(model, x_score, y_score)
    rows = measure(model, (x_score, y_score), x_fit, ridge, args.sparsities, args.importances, args.score_on)
    os.makedirs(args.out, exist_ok=True)
    io.write_csv(os.path.join(args.out, "refit_curve.csv"), rows)
    caption = (f"{'Test' if args.score_on == 'test' else 'Validation'} accuracy (%) on {len(y_score):,} "
               f"{args.score_on} images of {args.model} ({base:.2%} unpruned): "
               f"one-shot global masks, re-fit on {images:,} {args.fit_on} images"
               f"{' and their 4 one-pixel shifts' if args.calibration == 'shifted' else ''} (ridge {ridge:g}), "
               f"no gradient step.")
    md = table(rows, caption, args.sparsities, args.importances, args.score_on)
    with open(os.path.join(args.out, "refit_curve.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
