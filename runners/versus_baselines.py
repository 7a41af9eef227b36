"""Search results against one-shot pruning: curves, each baseline at each search's own sparsity, one figure.

    python runners/versus_baselines.py --model base/model.keras --runs results/beyond-5k --out results/beyond-5k

writes OUT/curves.csv (magnitude, saliency and reconstruction pruning from 30 % to 90 % global
sparsity), OUT/versus.csv and OUT/versus.md (every search run beside the three baselines at
that run's final global sparsity, all on the test set) and OUT/versus.png (drawn from those CSVs).
With --plot-only it redraws the figure and table from the CSVs without TensorFlow.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import sys

KINDS = ("magnitude", "saliency", "reconstruction")


def read_csv(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v if k in ("importance", "run", "algorithm", "scope", "search_set") else float(v)
                 for k, v in row.items()} for row in csv.DictReader(f)]


def measure(args) -> None:
    import numpy as np

    from evoprune.network import models
    from evoprune.problem import importance
    from evoprune.experiments.baselines import data_for, read_baseline
    from evoprune.experiments.curves import curve
    from evoprune.results import io

    data = data_for(read_baseline(args.model), None, args.data)
    model = models.load_model(args.model)
    specs = models.prunable_layers(model)
    kernels = models.kernels(model, specs)
    scores = {k: importance.compute(k, model, specs, data.x_train, data.y_train) for k in KINDS}
    grid = np.round(np.arange(0.30, 0.901, 0.025), 3)
    rows = [r for k in KINDS for r in curve(model, data, k, grid, scores[k])]
    io.write_csv(os.path.join(args.out, "curves.csv"), rows)
    versus = []
    for folder in args.runs:
        for path in sorted(glob.glob(os.path.join(folder, "runs", "*", "summary.json"))):
            s = json.load(open(path))
            config = json.load(open(os.path.join(os.path.dirname(path), "run.json")))["config"]
            row = {"run": os.path.relpath(os.path.dirname(path), args.out), "algorithm": s["algorithm"],
                   "scope": config["scope"], "delta": config["delta"], "search_set": config["eval_set"],
                   "confidence": config["confidence"],
                   "sparsity": s["sparsity_global"], "baseline_accuracy": s["baseline_accuracy"],
                   "search_accuracy": s["final_accuracy"]}
            for k in KINDS:  # each baseline pruned to exactly this run's global sparsity
                masks = importance.global_threshold_masks(scores[k], s["sparsity_global"])
                _, acc = models.evaluate_masked(model, masks, data.x_test, data.y_test, kernels)
                row[f"{k}_accuracy"] = acc
            versus.append(row)
    io.write_csv(os.path.join(args.out, "versus.csv"), versus)


def report(out: str) -> None:
    from matplotlib.figure import Figure

    from evoprune.experiments.curves import reach

    curves, versus = read_csv(os.path.join(out, "curves.csv")), read_csv(os.path.join(out, "versus.csv"))
    base = versus[0]["baseline_accuracy"]
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for k, style in zip(KINDS, ("-", "--", ":")):
        pts = [r for r in curves if r["importance"] == k]
        ax.plot([r["sparsity"] * 100 for r in pts], [r["test_accuracy"] * 100 for r in pts], style, color="grey",
                label=f"{k} (one-shot)")
    groups = {key: [r for r in versus if _group(r) == key] for key in sorted({_group(r) for r in versus})}
    for key, marker in zip(groups, "os^Dv<>pP*"):
        pts = groups[key]
        ax.scatter([r["sparsity"] * 100 for r in pts], [r["search_accuracy"] * 100 for r in pts], marker=marker,
                   s=45, zorder=3, label=f"{_label(key)} ({len(pts)} seeds)")
    ax.axhline(base * 100, color="black", lw=0.8)
    ax.axhline((base - 0.01) * 100, color="black", lw=0.8, ls="--", label="baseline − 1 point")
    ax.set(xlabel="Global sparsity (% of prunable weights removed)", ylabel="Test accuracy (%)",
           title="Search results against one-shot pruning (no retraining, test set)",
           ylim=((base - 0.06) * 100, base * 100 + 0.6))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.savefig(os.path.join(out, "versus.png"), dpi=130)

    reached = {k: reach([r for r in curves if r["importance"] == k], base) for k in KINDS}
    lines = [f"Baseline test accuracy {base * 100:.2f} %. Highest global sparsity within 1.0 point (grid of 2.5 %): "
             + ", ".join(f"{k} {reached[k] * 100:.1f} %" for k in KINDS) + ".", "",
             "Per search (algorithm, scope, δ and the confidence it is held at, the set its floor is measured on): the mean over seeds and the worst seed "
             "(largest test-accuracy drop); the one-shot columns are each rule pruned to every seed's own "
             "sparsity, averaged.", "",
             "| search | seeds | global sparsity | test drop (pt), mean | worst seed's drop | "
             + " | ".join(f"{k} drop, same sparsity" for k in KINDS) + " |",
             "|---|---|---|---|---|" + "---|" * len(KINDS)]
    for group, pts in groups.items():
        def drop(key, rows=pts):
            return sum(base - r[key] for r in rows) / len(rows) * 100
        lines.append(f"| {_label(group)} | {len(pts)} | "
                     f"{sum(r['sparsity'] for r in pts) / len(pts) * 100:.2f} % | {drop('search_accuracy'):.2f} | "
                     f"{max(base - r['search_accuracy'] for r in pts) * 100:.2f} | "
                     + " | ".join(f"{drop(f'{k}_accuracy'):.2f}" for k in KINDS) + " |")
    lines += ["", "Every run:", "", "| run | scope | search set | δ (pt) | confidence | global sparsity | search | "
              + " | ".join(KINDS) + " |", "|---|---|---|---|---|---|---|" + "---|" * len(KINDS)]
    for r in versus:
        lines.append(f"| {r['run']} | {r['scope']} | {r['search_set']} | {r['delta'] * 100:g} | "
                     f"{r['confidence'] * 100:g} % | "
                     f"{r['sparsity'] * 100:.2f} % | "
                     f"{r['search_accuracy'] * 100:.2f} % | "
                     + " | ".join(f"{r[f'{k}_accuracy'] * 100:.2f} %" for k in KINDS) + " |")
    with open(os.path.join(out, "versus.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _group(row: dict) -> tuple:
    return row["algorithm"], row["scope"], row["delta"], row["confidence"], row["search_set"]


def _label(group: tuple) -> str:
    algorithm, scope, delta, confidence, search_set = group
    how = "whole model" if scope == "model" else "layer by layer"
    held = "the measured drop" if confidence == 0.5 else f"{confidence * 100:g} % confidence"
    return f"{algorithm}, {how}, δ = {delta * 100:g} pt ({held}) on {search_set}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="the baseline model the runs pruned (DIR/model.keras with baseline.json)")
    p.add_argument("--data", help="local data, as for evoprune prune")
    p.add_argument("--runs", nargs="+", default=[], help="compare output folders whose runs/*/ to place")
    p.add_argument("--out", required=True)
    p.add_argument("--plot-only", action="store_true", help="redraw from OUT's CSV files only")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if not args.plot_only:
        measure(args)
    report(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
