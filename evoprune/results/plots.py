"""A comparison's figures from its run files alone: results.png (searches, per-layer results) and tradeoff.png."""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure  # a bare Figure renders with Agg: no pyplot, no display needed

from .aggregate import Run, by_algorithm, layer_costs, layer_names, layer_table, stat

_DPI = 130


def colours(algorithms: Sequence[str]) -> dict[str, tuple]:
    """One colour per algorithm, the same in every panel and figure."""
    palette = colormaps["tab10"].colors
    return {a: palette[i % len(palette)] for i, a in enumerate(algorithms)}


# The trajectory panels: (history column, axis label, factor to the axis unit).
_TRAJECTORIES = (("cost", "Cost", 1.0), ("accuracy", "Accuracy (%)", 100.0), ("loss", "Loss", 1.0))


def results_figure(runs: Sequence[Run]) -> Figure:
    """2 × 2: cost, accuracy and loss against layer-mean sparsity along every search; final figures per layer."""
    groups = by_algorithm(runs)
    col = colours(list(groups))
    search_set = " / ".join(sorted({r.summary["eval_set"] for r in runs}))
    fig = Figure(figsize=(13, 9.5), layout="constrained")
    grid = fig.add_gridspec(2, 2)
    rows = {a: _search_rows(rs) for a, rs in groups.items()}
    for cell, (field, label, factor) in zip((grid[0, 0], grid[0, 1], grid[1, 0]), _TRAJECTORIES):
        ax = fig.add_subplot(cell)
        title = f"{label.split(' (')[0]} along the search ({search_set} set)"
        for a in groups:
            keep, name = np.ones(len(rows[a]["cost"]), bool), a
            if field == "cost":
                # Infeasible masks carry a penalty (1e8 in the study's cost) that would flatten the
                # rest of the axis: the cost panel shows feasible masks only and counts the others.
                keep = rows[a]["feasible"] == 1
                name = f"{a} ({np.count_nonzero(~keep)} infeasible steps not shown)"
                title = f"Cost of the feasible masks along the search ({search_set} set)"
            ax.scatter(rows[a]["sparsity_layer_mean"][keep] * 100, rows[a][field][keep] * factor, s=6,
                       alpha=0.35, color=col[a], label=name, linewidths=0)
        ax.set(xlabel="Sparsity, layer mean (%)", ylabel=label, title=title)
        if field == "cost":
            _cost_scale(ax, [c for a in groups for c in rows[a]["cost"][rows[a]["feasible"] == 1]])
        ax.grid(alpha=0.3)
        ax.legend(markerscale=3)
    _layer_bars(fig, grid[1, 1], runs, groups, col)
    seeds = ", ".join(f"{a}: {len(rs)}" for a, rs in groups.items())
    fig.suptitle(f"Pruning searches (seeds per algorithm: {seeds}); along the search: every recorded step of "
                 "every seed", fontsize=12)
    return fig


def _search_rows(runs: Sequence[Run]) -> dict[str, np.ndarray]:
    """Layer-mean sparsity, cost, accuracy and loss of every history row of `runs` that scored a mask."""
    fields = ("sparsity_layer_mean", "cost", "feasible", "accuracy", "loss")
    rows = [h for r in runs for h in r.history() if h["cost"] != ""]
    return {f: np.array([float(h[f]) for h in rows]) for f in fields}


def _layer_bars(fig: Figure, cell, runs: Sequence[Run], groups: dict[str, list[Run]], col: dict) -> None:
    """Three stacked bar charts in one cell: each layer's final cost, and the test accuracy and loss after it."""
    names = layer_names(runs)
    table = layer_table(runs)
    algos = list(groups)
    costs = {a: [layer_costs(r) for r in rs] for a, rs in groups.items()}
    values = {
        "Cost (search set)": {a: [stat([c[n] for c in costs[a]]) for n in names] for a in algos},
        "Test accuracy after (%)": {a: [table[n]["accuracy"][a] for n in names] for a in algos},
        "Test loss after": {a: [table[n]["loss"][a] for n in names] for a in algos},
    }
    sub = cell.subgridspec(3, 1)
    x = np.arange(len(names))
    width = 0.8 / len(algos)
    axes = []
    for i, (label, by_alg) in enumerate(values.items()):
        ax = fig.add_subplot(sub[i], sharex=axes[0] if axes else None)
        factor = 100.0 if "%" in label else 1.0
        for j, a in enumerate(algos):
            means = np.array([s.mean for s in by_alg[a]]) * factor
            stds = np.array([s.std for s in by_alg[a]]) * factor
            pos = x + (j - (len(algos) - 1) / 2) * width
            ax.bar(pos, means, width, yerr=None if np.isnan(stds).all() else np.nan_to_num(stds), capsize=2,
                   color=col[a], label=a, error_kw={"elinewidth": 0.8})
            for p in pos[np.isnan(means)]:  # a layer where this algorithm found no feasible mask has no cost
                ax.text(p, 0.04, "none", transform=ax.get_xaxis_transform(), ha="center", fontsize=7,
                        color=col[a])
        ax.set_ylabel(label, fontsize=9)
        if "Cost" in label:
            _cost_scale(ax, [st.mean for a in algos for st in by_alg[a]])
        if "%" in label:
            lo = np.nanmin([st.mean for a in algos for st in by_alg[a]] + [1.0]) * factor
            ax.set_ylim(max(0.0, math.floor(lo / 10) * 10), 100)  # the differences sit near the top
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(labelbottom=i == 2)
        axes.append(ax)
    axes[0].set_title("Final figures per layer (mean ± std over seeds)")
    axes[0].legend(fontsize=8, ncols=len(algos))
    axes[-1].set_xticks(x, names)


def _cost_scale(ax, costs) -> None:
    """A log cost axis when the costs span a decade or more (the study's 1/s term), else a linear one."""
    costs = np.asarray(costs, dtype=float)
    costs = costs[costs > 0]  # NaN (no feasible mask) compares False
    if costs.size == 0:
        ax.text(0.5, 0.5, "no feasible mask", transform=ax.transAxes, ha="center", va="center", color="grey")
    elif costs.max() >= 10 * costs.min():
        ax.set_yscale("log")
        ax.set_ylabel(f"{ax.get_ylabel()}, log scale")


def tradeoff_figure(runs: Sequence[Run]) -> Figure:
    """Test accuracy against global sparsity: one point per run, the unpruned baseline marked."""
    groups = by_algorithm(runs)
    col = colours(list(groups))
    fig = Figure(figsize=(7, 5), layout="constrained")
    ax = fig.add_subplot()
    for a, rs in groups.items():
        ax.scatter([r.summary["sparsity_global"] * 100 for r in rs], [r.summary["final_accuracy"] * 100 for r in rs],
                   s=40, color=col[a], label=f"{a} ({len(rs)} seeds)", edgecolors="white", linewidths=0.5)
    baselines = sorted({r.summary["baseline_accuracy"] for r in runs})
    ax.scatter([0.0] * len(baselines), [b * 100 for b in baselines], marker="*", s=180, color="black",
               label="baseline (unpruned)", zorder=3)
    ax.set(xlabel="Global sparsity (% of prunable weights removed)", ylabel="Test accuracy (%)",
           title="Accuracy against sparsity of every final result")
    ax.set_xlim(-3, 100)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def write_figures(out: str, runs: Sequence[Run]) -> list[str]:
    """Write OUT/results.png and OUT/tradeoff.png; return their paths."""
    paths = [os.path.join(out, "results.png"), os.path.join(out, "tradeoff.png")]
    for path, fig in zip(paths, (results_figure(runs), tradeoff_figure(runs))):
        fig.savefig(path, dpi=_DPI)
    return paths
