"""A Pareto front of whole-model masks: test figures, front.csv, front_masks.npz, a figure beside one-shot curves."""
from __future__ import annotations

import csv
import os
from typing import Mapping, Sequence

import numpy as np

from ..network.masks import Masks, flatten, full_masks, pack, read_npz, sparsity_global, sparsity_layer_mean
from ..results import io

FRONT_CSV, FRONT_MASKS = "front.csv", "front_masks.npz"
FRONT_FIELDS = ("point", "sparsity_global", "sparsity_layer_mean", "search_accuracy", "search_loss",
                "test_accuracy", "test_loss", "reported")


def figures(model, masks: Sequence[Masks], x: np.ndarray, y: np.ndarray) -> list:
    """EvalResults of whole-model masks on (x, y), by the mask evaluator (Keras' own figures, bit for bit)."""
    from ..evaluation import Context, MaskEvaluator

    evaluator = MaskEvaluator(model, x, y)
    context = Context.make(full_masks(evaluator.specs), None)
    genomes = [pack(flatten(m, evaluator.specs)) for m in masks]
    return evaluator.evaluate(context, genomes)


def front_rows(points: Sequence[tuple[Masks, object]], test: Sequence, reported: Masks | None = None) -> list[dict]:
    """One row per front point (masks, search-data result) with its test result; `reported` marks the run's masks."""
    rows = []
    for k, ((masks, found), res) in enumerate(zip(points, test)):
        is_reported = reported is not None and all(np.array_equal(masks[n], reported[n]) for n in masks)
        rows.append({"point": k, "sparsity_global": sparsity_global(masks),
                     "sparsity_layer_mean": sparsity_layer_mean(masks),
                     "search_accuracy": found.accuracy, "search_loss": found.loss,
                     "test_accuracy": res.accuracy, "test_loss": res.loss, "reported": int(is_reported)})
    return rows


def write_front(out: str, rows: Sequence[dict], masks: Sequence[Masks]) -> None:
    """front.csv (one row per point) and front_masks.npz (key `p{point}/{layer}`, one boolean array each)."""
    io.write_csv(os.path.join(out, FRONT_CSV),
                 [{k: f"{v:.10g}" if isinstance(v, float) else v for k, v in r.items()} for r in rows], FRONT_FIELDS)
    io.save_npz(os.path.join(out, FRONT_MASKS),
                {f"p{r['point']}/{name}": m for r, point in zip(rows, masks) for name, m in point.items()})


def read_front(out: str) -> tuple[list[dict], list[Masks]]:
    """front.csv's rows (numbers as floats, point and reported as ints) and each point's masks."""
    with open(os.path.join(out, FRONT_CSV), newline="") as f:
        rows = [{k: int(v) if k in ("point", "reported") else float(v) for k, v in r.items()}
                for r in csv.DictReader(f)]
    return rows, [point_masks(os.path.join(out, FRONT_MASKS), r["point"]) for r in rows]


def point_masks(path: str, point: int) -> Masks:
    """The masks of one front point from a front_masks.npz (empty if it has no such point)."""
    return {key.split("/", 1)[1]: a for key, a in read_npz(path).items() if key.startswith(f"p{point}/")}


def report(model, points: Sequence[tuple[Masks, object]], reported: Masks | None, x_test, y_test,
           out: str | None = None) -> list[dict]:
    """The front's rows with test figures computed after the search, written to `out` if given."""
    masks = [m for m, _ in points]
    rows = front_rows(points, figures(model, masks, x_test, y_test), reported)
    if out is not None:
        write_front(out, rows, masks)
    return rows


def dominated(rows: Sequence[dict], curve: Sequence[dict]) -> list[dict]:
    """The points of a one-shot curve (`curves.curve` rows) that some front point beats on test: at least
    as sparse and strictly more accurate."""
    return [c for c in curve if any(r["sparsity_global"] >= c["sparsity"] - 1e-12
                                    and r["test_accuracy"] > c["test_accuracy"] for r in rows)]


def front_figure(fronts: Mapping[str, Sequence[dict]], curves: Mapping[str, Sequence[dict]], baseline_accuracy: float,
                 title: str = "NSGA-II fronts against one-shot pruning"):
    """Test accuracy against global sparsity: each front (`front.csv` rows by label, found on the search
    data) and one-shot curves (`curves.curve` rows by importance name); the whole range, and a zoom on
    the region where they are close."""
    from matplotlib.figure import Figure  # rendered with Agg: no pyplot, no display needed

    fig = Figure(figsize=(13, 5.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax in axes:
        for (label, rows), colour in zip(fronts.items(), ("tab:red", "tab:brown", "tab:pink")):
            pts = sorted(rows, key=lambda r: r["sparsity_global"])
            s = [r["sparsity_global"] * 100 for r in pts]
            ax.plot(s, [r["test_accuracy"] * 100 for r in pts], "o-", ms=3.5, lw=1.2, color=colour, zorder=3,
                    label=f"{label}: front, test set ({len(pts)} points)")
            ax.plot(s, [r["search_accuracy"] * 100 for r in pts], ".", ms=3, color=colour, alpha=0.35,
                    label=f"{label}: the same points, search set")
            for r in (r for r in pts if r["reported"]):
                ax.scatter([r["sparsity_global"] * 100], [r["test_accuracy"] * 100], s=120, facecolors="none",
                           edgecolors=colour, zorder=4, label=f"{label}: reported point (masks.npz)")
        for (name, curve), colour in zip(curves.items(), ("tab:blue", "tab:green", "tab:purple", "tab:orange")):
            ax.plot([c["sparsity"] * 100 for c in curve], [c["test_accuracy"] * 100 for c in curve], "s--", ms=3.5,
                    lw=1.0, color=colour, label=f"{name} (global threshold), test set")
        ax.axhline(baseline_accuracy * 100, color="black", lw=0.8, ls=":", label="unpruned, test set")
        ax.set(xlabel="Global sparsity (% of prunable weights removed)", ylabel="Accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0].set(xlim=(25, 100), title="Whole range")
    axes[1].set(xlim=(45, 90), ylim=(baseline_accuracy * 100 - 8, baseline_accuracy * 100 + 1.5),
                title="Zoom: 45-90 % sparsity, within 8 points of the unpruned model")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(title)
    return fig
