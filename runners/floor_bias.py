"""Where a floor on the search images hides the test drop: a mask set's accuracy drop, re-fitted, on each kind of image.

    python runners/floor_bias.py --model ~/.cache/evoprune/baselines/mnist-5d2b9ec07705fa4c/model.keras \
        --data ../shared/data/mnist/mnist-5k.npz --runs results/refit-loop/runs \
        --variants sa-refit-obs,sa-refit-obs-cv --sparsities 0.88,0.9,0.92,0.93,0.94 --out results/refit-loop/floor-bias

For the masks of each run folder of the named variants (`masks.npz`), and for one-shot masks of an importance order
(`--importance`, default obs; `importance.compute` on the training images, as the searches guided by it use) at each
sparsity: the drop from the unpruned model, in points, on the search images (`--eval-set`: training + validation,
or validation alone, as the searches score them) with the kept weights re-fitted on those images
(`RefitEvaluator`), split into the model's training images and its validation images when they are pooled; on
the search images cross-fitted (`--folds`, `RefitEvaluator(folds=K)`); and on the test images, re-fitted on the
search images (the model a run keeps). No gradient step. Writes OUT/floor_bias.csv and OUT/floor_bias.md and
prints the table.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys


def measure(model, sources: list[tuple[str, dict]], data, eval_set: str, folds: int) -> list[dict]:
    """For each (name, masks) of `sources`, the drops (points) of the masks re-fitted: on the search images (all;
    cross-fitted; training and validation apart when pooled, else None) and on the test images."""
    import numpy as np

    from evoprune.evaluation import Context, RefitEvaluator
    from evoprune.experiments.baselines import search_data
    from evoprune.network import models
    from evoprune.network.masks import flatten, full_masks, pack, sparsity_global

    x, y = search_data(data, eval_set)  # pooled: the training images first, then the validation ones
    specs = models.prunable_layers(model)
    # one evaluator of each kind for every mask set: built (and its graphs traced) once
    in_sample, crossed = RefitEvaluator(model, x, y), RefitEvaluator(model, x, y, folds=folds)

    def matches(evaluator: RefitEvaluator, masks: dict) -> np.ndarray:
        (result,) = evaluator.evaluate(Context.make({}, None), [pack(flatten(masks, specs))])
        return np.unpackbits(np.frombuffer(result.matches, np.uint8))[:len(y)].astype(bool)

    def points(before: np.ndarray, after: np.ndarray) -> float:
        return float(100 * (np.mean(before) - np.mean(after)))

    base = matches(in_sample, full_masks(specs))  # the unpruned model: never re-fitted
    _, base_test = models.evaluate(model, data.x_test, data.y_test)
    n = len(data.y_train) if eval_set == "train+validation" else None
    rows = []
    for name, masks in sources:
        fitted, crossfit = matches(in_sample, masks), matches(crossed, masks)
        # the re-fit just scored, on all the search images: the model a run keeps (`network.refit.refit`'s bits)
        _, test = models.evaluate(in_sample.refitters[0].fitted, data.x_test, data.y_test)
        rows.append({"masks": name, "sparsity_global": sparsity_global(masks), "search": points(base, fitted),
                     "train": n and points(base[:n], fitted[:n]), "validation": n and points(base[n:], fitted[n:]),
                     "search_crossfit": points(base, crossfit), "test": points(base_test, test)})
        print(f"{name}: {rows[-1]}", flush=True)
    return rows


def table(rows: list[dict], caption: str, folds: int) -> str:
    head = ("| masks | global sparsity | search images | their training images | their validation images "
            f"| search images, {folds}-fold cross-fit | test images |")
    lines = [caption, "", head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        cells = [f"{r[k]:.2f}" if r[k] is not None else "—"
                 for k in ("search", "train", "validation", "search_crossfit", "test")]
        lines.append(f"| {r['masks']} | {100 * r['sparsity_global']:.2f} % | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the trained .keras model the runs pruned (its baseline.json split)")
    p.add_argument("--data", help="local data, as for evoprune prune (default: the file the baseline records)")
    p.add_argument("--runs", required=True, help="an experiment's runs folder")
    p.add_argument("--variants", type=lambda text: tuple(text.split(",")), default=(),
                   help="comma-separated variants whose runs (VARIANT-seed*) are measured (default: none)")
    p.add_argument("--sparsities", type=lambda text: tuple(float(v) for v in text.split(",")), default=(),
                   help="comma-separated global sparsities of one-shot masks, as fractions (default: none)")
    p.add_argument("--importance", default="obs", help="the one-shot masks' importance order (default obs)")
    p.add_argument("--eval-set", choices=("train+validation", "validation"), default="train+validation",
                   help="the images the searches decided on and re-fitted on (default train+validation)")
    p.add_argument("--folds", type=int, default=5, help="the cross-fit's folds (default 5)")
    p.add_argument("--out", required=True, help="folder for floor_bias.csv and floor_bias.md")
    args = p.parse_args(argv)
    folders = sorted(f for v in args.variants for f in glob.glob(os.path.join(args.runs, f"{v}-seed*")))
    if not folders and not args.sparsities:
        p.error("nothing to measure: give --variants with runs in --runs, or --sparsities")

    from evoprune.experiments.baselines import data_for, read_baseline
    from evoprune.network import models
    from evoprune.network.masks import load_masks
    from evoprune.problem import importance
    from evoprune.results import io

    if args.importance not in importance.IMPORTANCES:
        p.error(f"--importance: choose from {', '.join(importance.IMPORTANCES)}")
    data = data_for(read_baseline(args.model), None, args.data)
    model = models.load_model(args.model)
    specs = models.prunable_layers(model)
    sources = [(os.path.basename(f), load_masks(os.path.join(f, "masks.npz"), specs)) for f in folders]
    if args.sparsities:
        scores = importance.compute(args.importance, model, specs, data.x_train, data.y_train)
        sources += [(f"{args.importance} one-shot, {s:.0%}", importance.global_threshold_masks(scores, s))
                    for s in args.sparsities]
    rows = measure(model, sources, data, args.eval_set, args.folds)
    os.makedirs(args.out, exist_ok=True)
    io.write_csv(os.path.join(args.out, "floor_bias.csv"), rows)
    pooled = args.eval_set == "train+validation"
    searched = (f"{len(data.y_train) + len(data.y_val):,} search images ({len(data.y_train):,} training + "
                f"{len(data.y_val):,} validation)" if pooled else f"{len(data.y_val):,} validation images")
    caption = (f"Accuracy drop (points) from {args.model} (unpruned), kept weights re-fitted on the {searched} or "
               f"cross-fitted over them; test on {len(data.y_test):,} images. No gradient step.")
    md = table(rows, caption, args.folds)
    with open(os.path.join(args.out, "floor_bias.md"), "w") as f:
        f.write(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
