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


def drops(model, masks, data, eval_set: str, folds: int) -> dict:
    """The drops (points) of `masks` re-fitted, on the search images (all; cross-fitted; training and validation
    apart when pooled, else None) and on the test images."""
    import numpy as np

    from evoprune.evaluation import Context, RefitEvaluator
    from evoprune.experiments.baselines import search_data
    from evoprune.network import models
    from evoprune.network.masks import flatten, full_masks, pack, sparsity_global
    from evoprune.network.refit import refit

    x, y = search_data(data, eval_set)  # pooled: the training images first, then the validation ones
    specs = models.prunable_layers(model)
    genomes = [pack(flatten(m, specs)) for m in (full_masks(specs), masks)]

    def matches(k: int) -> list[np.ndarray]:
        results = RefitEvaluator(model, x, y, folds=k).evaluate(Context.make({}, None), genomes)
        return [np.unpackbits(np.frombuffer(r.matches, np.uint8))[:len(y)].astype(bool) for r in results]

    (base, fitted), (_, crossed) = matches(1), matches(folds)
    _, base_test = models.evaluate(model, data.x_test, data.y_test)
    _, test = models.evaluate(refit(model, masks, x)[0], data.x_test, data.y_test)

    def points(before: np.ndarray, after: np.ndarray) -> float:
        return float(100 * (np.mean(before) - np.mean(after)))

    n = len(data.y_train) if eval_set == "train+validation" else None
    return {"sparsity_global": sparsity_global(masks), "search": points(base, fitted),
            "train": n and points(base[:n], fitted[:n]), "validation": n and points(base[n:], fitted[n:]),
            "search_crossfit": points(base, crossed), "test": points(base_test, test)}


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
    rows = []
    for name, masks in sources:
        rows.append({"masks": name, **drops(model, masks, data, args.eval_set, args.folds)})
        print(f"{name}: {rows[-1]}", flush=True)
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
