"""An experiment's figures from its run files alone: anytime curves, the accuracy–sparsity trade-off, layers.

anytime.png: the best feasible mask so far (global sparsity, and its accuracy on the search
images) against evaluations, median and interquartile band over seeds per variant.
tradeoff.png: test accuracy against global sparsity, every run labelled by its seed, each
variant's mean with standard deviations, the unpruned model and the accuracy floor.
layers.png: each layer's final sparsity per variant. results.png (the study preset only): the
study's own 2 × 2 figure.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure  # a bare Figure renders with Agg: no pyplot, no display needed

from .aggregate import Run, by_variant, layer_names, layer_table, stat

_DPI = 130


def colours(variants: Sequence[str]) -> dict[str, tuple]:
    """One colour per variant, the same in every panel and figure."""
    palette = colormaps["tab10"].colors
    return {v: palette[i % len(palette)] for i, v in enumerate(variants)}


# ----- anytime curves -----
def best_so_far(run: Run, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(global sparsity, search accuracy) of the best feasible mask recorded up to each evaluation count of `grid`
    (NaN before the first one). Best is the objective's: the lowest cost among feasible rows."""
    rows = sorted((int(r["evaluations"]), float(r["cost"]), float(r["sparsity_global"]), float(r["accuracy"]))
                  for r in run.history() if r["feasible"] == "1" and r["cost"] != "")
    sparsity, accuracy = np.full(grid.size, np.nan), np.full(grid.size, np.nan)
    best, i = None, 0
    for k, at in enumerate(grid):
        while i < len(rows) and rows[i][0] <= at:
            if best is None or rows[i][1] < best[1]:
                best = rows[i]
            i += 1
        if best is not None:
            sparsity[k], accuracy[k] = best[2], best[3]
    return sparsity, accuracy


def anytime_figure(runs: Sequence[Run]) -> Figure:
    groups = by_variant(runs)
    col = colours(list(groups))
    budget = max(r.summary["budget"] for r in runs)
    grid = np.linspace(0, budget, 201)
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for v, rs in groups.items():
        curves = [best_so_far(r, grid) for r in rs]
        for ax, values in zip(axes, (np.array([c[0] for c in curves]), np.array([c[1] for c in curves]))):
            seen = np.isfinite(values).any(axis=0)  # from the first evaluation count where a seed has a feasible mask
            if not seen.any():  # e.g. a one-shot method whose masks all miss the floor: said, not drawn
                ax.plot([], [], color=col[v], lw=1.6, ls=":", label=f"{v}: no feasible mask recorded (not drawn)")
                continue
            with np.errstate(all="ignore"):
                q1, med, q3 = (np.nanpercentile(values[:, seen], q, axis=0) * 100 for q in (25, 50, 75))
            ax.plot(grid[seen], med, color=col[v], lw=1.6, label=f"{v} (median of {len(rs)} seeds)")
            ax.fill_between(grid[seen], q1, q3, color=col[v], alpha=0.2, lw=0)
    axes[0].set(ylabel="Global sparsity of the best feasible mask (%)",
                title="Best feasible mask so far: global sparsity (band: interquartile range)")
    axes[1].set(ylabel="Its accuracy on the search images (%)",
                title="…and its accuracy on the images the search decides on")
    for ax in axes:
        ax.set(xlabel="Evaluations", xlim=(0, budget))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Anytime performance (test accuracy is measured once, at the end: see tradeoff.png)", fontsize=11)
    return fig


# ----- trade-off -----
def tradeoff_figure(runs: Sequence[Run]) -> Figure:
    """Test accuracy against global sparsity: every run (labelled by seed), variant means ± std, unpruned, floor."""
    groups = by_variant(runs)
    col = colours(list(groups))
    fig = Figure(figsize=(8.5, 6.8), layout="constrained")
    ax = fig.add_subplot()
    # Seeds of a variant within ~1/150 of the axes' span of each other get one label, not overprinted ones.
    spans = [max(np.ptp([r.summary[k] * 100 for r in runs]), 1e-9) / 150 for k in ("sparsity_global", "final_accuracy")]
    for v, rs in groups.items():
        s = np.array([r.summary["sparsity_global"] for r in rs]) * 100
        a = np.array([r.summary["final_accuracy"] for r in rs]) * 100
        ax.scatter(s, a, s=22, color=col[v], alpha=0.55, linewidths=0)
        points: dict = {}
        for r, x, y in zip(rs, s, a):
            points.setdefault((round(x / spans[0]), round(y / spans[1])), []).append((x, y, r.seed))
        for near in points.values():
            x, y, _ = near[0]
            ax.annotate(_seeds([seed for *_, seed in near]), (x, y), xytext=(2, 2), textcoords="offset points",
                        fontsize=6, color=col[v])
        ss, sa = stat(s), stat(a)
        ax.errorbar(ss.mean, sa.mean, xerr=_err(ss), yerr=_err(sa), fmt="D", ms=8, color=col[v], mec="black",
                    capsize=4, lw=1.4, label=f"{v}: mean ± std of {len(rs)} seeds")
    unpruned = sorted({r.summary["baseline_accuracy"] for r in runs})
    for b in unpruned:
        ax.axhline(b * 100, color="black", lw=1, ls=":", label="unpruned model" if b == unpruned[0] else None)
    floors = sorted({(r.summary["baseline_accuracy"] - r.info["config"]["delta"]) * 100 for r in runs
                     if r.info.get("config", {}).get("objective") == "floor"})
    certified = any("certified" in r.summary for r in runs)
    held = ("certified on images no search decided on" if certified else "the floor the search held on its own "
            "images")
    for f in floors:
        ax.axhline(f, color="tab:red", lw=1, ls="--", label=f"unpruned − δ ({held})" if f == floors[0] else None)
    ax.set(xlabel="Global sparsity (% of prunable weights removed)", ylabel="Test accuracy (%)",
           title=f"Every run's {'certified answer' if certified else 'final masks'} on the test set (numbers: seeds)")
    ax.grid(alpha=0.3)
    # Below the axes: inside them the legend can hide a run's point.
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="outside lower center", ncols=2)
    return fig


def _err(s) -> float:
    return 0.0 if math.isnan(s.std) else s.std


def _seeds(seeds: Sequence[int]) -> str:
    """'3', '0, 4' or, for a run of three or more consecutive seeds, '0–9'."""
    seeds = sorted(seeds)
    if len(seeds) >= 3 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(str(x) for x in seeds)


# ----- layers -----
def layers_figure(runs: Sequence[Run]) -> Figure:
    """Each layer's final sparsity (mean ± std over seeds) per variant, with the layer's kernel size."""
    groups = by_variant(runs)
    col = colours(list(groups))
    names = layer_names(runs)
    table = layer_table(runs)
    fig = Figure(figsize=(max(7.0, 1.6 * len(names) + 2), 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(names))
    width = 0.8 / len(groups)
    for j, v in enumerate(groups):
        stats = [table[n]["sparsity"][v] for n in names]
        ax.bar(x + (j - (len(groups) - 1) / 2) * width, [s.mean * 100 for s in stats], width,
               yerr=[_err(s) * 100 for s in stats], capsize=2, color=col[v], label=v, error_kw={"elinewidth": 0.8})
    sizes = [int(next(iter(table[n]["kernel_size"].values())).mean) for n in names]
    ax.set_xticks(x, [f"{n}\n{size:,} weights" for n, size in zip(names, sizes)])
    own = (", the search's own masks before certification" if any("certified" in r.summary for r in runs)
           else "")
    ax.set(ylabel="Sparsity of the layer (%)", ylim=(0, 100),
           title=f"Final sparsity per layer{own} (mean ± std over seeds)")
    ax.grid(axis="y", alpha=0.3)
    # Below the axes: inside them the legend can hide a nearly full layer's bar.
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="outside lower center", ncols=min(len(groups), 5))
    return fig


# ----- the study's figure -----
_TRAJECTORIES = (("cost", "Cost", 1.0), ("accuracy", "Accuracy (%)", 100.0), ("loss", "Loss", 1.0))


def study_figure(runs: Sequence[Run]) -> Figure:
    """The reference study's 2 × 2: cost, accuracy and loss against layer-mean sparsity along the searches
    (feasible masks for the cost), and the final test accuracy per layer (axis fitted to the values)."""
    groups = by_variant(runs)
    col = colours(list(groups))
    search_set = " / ".join(sorted({r.summary["eval_set"] for r in runs}))
    fig = Figure(figsize=(13, 9.5), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    rows = {v: [h for r in rs for h in r.history() if h["cost"] != ""] for v, rs in groups.items()}
    for ax, (field, label, factor) in zip(axes, _TRAJECTORIES):
        for v, hs in rows.items():
            keep, note = hs, ""
            if field == "cost":
                # The study's cost 1/(s + 1e-8) is 10⁸ at zero sparsity: plotted, it would squash every other cost.
                feasible = [h for h in hs if h["feasible"] == "1"]
                keep = [h for h in feasible if float(h["sparsity_layer_mean"]) > 0]
                zero = len(feasible) - len(keep)
                note = (f" ({len(hs) - len(feasible)} infeasible steps"
                        + (f" and {zero} at 0 % sparsity, cost 10⁸," if zero else "") + " not shown)")
            ax.scatter([float(h["sparsity_layer_mean"]) * 100 for h in keep],
                       [float(h[field]) * factor for h in keep], s=6, alpha=0.35, color=col[v], linewidths=0,
                       label=f"{v}{note}")
        if field == "cost":
            ax.set_yscale("log")
        ax.set(xlabel="Sparsity, layer mean (%)", ylabel=label,
               title=f"{label.split(' (')[0]} along the search ({search_set} set)")
        ax.grid(alpha=0.3)
        ax.legend(markerscale=3, fontsize=8)
    ax = axes[3]
    names, table = layer_names(runs), layer_table(runs)
    x, width = np.arange(len(names)), 0.8 / len(groups)
    values = []
    for j, v in enumerate(groups):
        stats = [table[n]["accuracy"][v] for n in names]
        values += [s.mean * 100 for s in stats]
        ax.bar(x + (j - (len(groups) - 1) / 2) * width, [s.mean * 100 for s in stats], width,
               yerr=[_err(s) * 100 for s in stats], capsize=2, color=col[v], label=v)
    lo, hi = np.nanmin(values), np.nanmax(values)
    ax.set_ylim(max(0.0, lo - 0.25 * (hi - lo) - 1), min(100.0, hi + 0.25 * (hi - lo) + 1))
    ax.set_xticks(x, names)
    ax.set(ylabel="Test accuracy after the layer (%)", title="Test accuracy after each layer's search (mean ± std)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle("The study's figure: searches layer by layer", fontsize=12)
    return fig


FIGURES = {"anytime.png": anytime_figure, "tradeoff.png": tradeoff_figure, "layers.png": layers_figure}


def write_figures(out: str, runs: Sequence[Run]) -> list[str]:
    """Write OUT's figures (and the study's, for runs of the study preset); return their paths."""
    figures = dict(FIGURES)
    if any(r.info.get("preset") == "study" for r in runs):
        figures["results.png"] = study_figure
    paths = []
    for name, draw in figures.items():
        path = os.path.join(out, name)
        draw(runs).savefig(path, dpi=_DPI)
        paths.append(path)
    return paths
