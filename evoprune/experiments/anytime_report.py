"""The anytime analysis drawn and written: ecdf.png, the critical-difference diagram cd.png, and the section of
summary.md with its tables and sentences (`anytime` computes what they show). Matplotlib's Agg, no TensorFlow."""
from __future__ import annotations

import math
import os
from typing import Mapping, Sequence, Union

import numpy as np
from matplotlib.figure import Figure  # a bare Figure renders with Agg: no pyplot, no display needed

from ..errors import ConfigError
from ..results import aggregate
from ..results.plots import colours
from .anytime import (CONFIDENCE, RESAMPLES, Ranking, RunHits, Targets, _problems_run, _select, auc, auc_scores,
                      budget_of, collect, ecdf, ert, ert_table, problems_of, ranks, variants_of)
from .verdict import _p as _p_text

_DPI = 130
_STYLES = ("-", "--", "-.", ":")  # with the colour: curves that coincide stay told apart in the legend


# ----- figures -----
def ecdf_figure(records: Sequence[RunHits], budget: float | None = None,
                variants: Sequence[str] | None = None) -> Figure:
    """ecdf.png: one panel per problem and one over all problems: the share of (target, seed) pairs reached
    against evaluations (log scale), a step curve per variant up to its runs' end (×), the AUC in the legend.
    Colours are `plots.colours` of the variants in their order (as in every other figure)."""
    variants = list(variants or variants_of(records))
    problems = problems_of(records)
    col = colours(variants)
    budget = budget or budget_of(records)
    panels = problems + (["all problems"] if len(problems) > 1 else [])
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(max(7.0, 5.2 * ncols + 0.6), 4.2 * nrows + 1.1), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, panel in zip(axes, panels):
        problem = None if panel == "all problems" else panel
        for i, v in enumerate(variants):
            ps = _problems_run(records, v, problem)
            if not ps:
                continue
            rs = [r for p in ps for r in _select(records, v, p)]
            end = max(r.spent for r in rs) or 1.0
            hits = np.array([h for r in rs for h in r.hits])
            x = np.unique(np.concatenate([[1.0, end], hits[np.isfinite(hits) & (hits >= 1) & (hits <= end)]]))
            y = ecdf(records, v, x, problem)
            reached = int(np.isfinite(hits).sum())
            only = (f" ({len(ps)} of {len(problems)} problems)" if problem is None and len(ps) < len(problems)
                    else "")
            label = (f"{v}{only}: AUC {auc(records, v, problem, budget):.3f}, {reached} of {hits.size} "
                     f"{'reached' if problem is not None else 'triples reached'}")
            ax.step(x, y, where="post", color=col[v], ls=_STYLES[i % len(_STYLES)], lw=1.8, label=label)
            ax.plot([end], [y[-1]], marker="x", ms=7, mew=1.8, color=col[v], ls="none")
        n_t = {len(r.targets) for r in records if problem is None or r.problem == problem}
        targets = f"{'/'.join(str(t) for t in sorted(n_t))} targets"
        ax.set_xscale("log")
        ax.set(xlim=(1, budget * 1.05), ylim=(-0.02, 1.02), xlabel="evaluations",
               ylabel=("share of (problem, target, seed) triples reached" if problem is None
                       else "share of (target, seed) pairs reached"),
               title=(f"All {len(problems)} problems (mean of their shares), {targets}" if problem is None
                      else f"{panel}, {targets}"))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7.5, loc="upper left")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("Sparsity targets reached within E evaluations\n(reached: a feasible mask at least that sparse; "
                 "×: where the variant's runs ended)", fontsize=11)
    return fig


def cd_figure(ranking: Ranking) -> Figure:
    """cd.png: the critical-difference diagram (scikit-posthocs): mean ranks on an axis, the CD as a bar, and a
    thick line joining the variants the Nemenyi test does not tell apart at alpha."""
    if not ranking.computed:
        raise ConfigError(f"no critical-difference diagram: the ranking was not computed ({ranking.skipped})")
    import pandas as pd
    import scikit_posthocs as sp

    names = list(ranking.variants)
    col = colours(names)
    fig = Figure(figsize=(9.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    sig = pd.DataFrame([[ranking.nemenyi[a][b] for b in names] for a in names], index=names, columns=names)
    sp.critical_difference_diagram(ranking.mean_ranks, sig, alpha=ranking.alpha, ax=ax, color_palette=dict(col),
                                   label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
                                   label_props={"fontsize": 9})
    # The CD bar above the rank axis' tick labels (the library's own would strike through them), from rank 1.
    ax.plot([1.0, 1.0 + ranking.cd], [1.4, 1.4], color="black", lw=2)
    ax.plot([1.0, 1.0], [1.25, 1.55], color="black", lw=1.5)
    ax.plot([1.0 + ranking.cd] * 2, [1.25, 1.55], color="black", lw=1.5)
    ax.text(1.0 + ranking.cd / 2, 1.65, f"critical difference (CD) = {ranking.cd:.2f} ranks", ha="center",
            va="bottom", fontsize=9)
    bottom = ax.get_ylim()[0]
    ax.set_ylim(bottom, 2.4)
    ax.set_xlim(0.8, max(len(names), 1.0 + ranking.cd) + 0.2)
    fig.set_size_inches(9.0, 0.3 * (2.4 - bottom) + 0.8)
    friedman = _p_text(ranking.p, ranking.alpha)
    fig.suptitle(f"Mean rank over {len(ranking.problems)} problems (1 = best); Friedman {friedman}; "
                 f"joined: not told apart (Nemenyi, α = {ranking.alpha:g})", fontsize=10)
    return fig


def write_figures(out: str, records: Sequence[RunHits], ranking: Ranking | None = None,
                  budget: float | None = None) -> list[str]:
    """Write OUT/ecdf.png and, when the ranking was computed, OUT/cd.png; return their paths."""
    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, "ecdf.png")]
    ecdf_figure(records, budget).savefig(paths[0], dpi=_DPI)
    if ranking is not None and ranking.computed:
        paths.append(os.path.join(out, "cd.png"))
        cd_figure(ranking).savefig(paths[1], dpi=_DPI)
    return paths


# ----- words -----
def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _pct(t: float) -> str:
    return f"{t * 100:.3g} %"


def _evals(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:,.0f}"


def _ratio(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.2g}"


def _geomean(values: Sequence[float]) -> float:
    return float(np.exp(np.mean(np.log(values)))) if len(values) else math.nan


def shown_targets(records: Sequence[RunHits], problem: str, count: int = 3) -> list[float]:
    """Up to `count` of the problem's targets for the ERT table: among those some run reached, the lowest, the
    highest and those evenly between (the lowest `count` targets when none was reached)."""
    rs = [r for r in records if r.problem == problem]
    targets = list(rs[0].targets)
    reached = [t for i, t in enumerate(targets) if any(math.isfinite(r.hits[i]) for r in rs)] or targets
    if len(reached) <= count:
        return reached
    return [reached[i] for i in np.unique(np.round(np.linspace(0, len(reached) - 1, count)).astype(int))]


def _shared(records: Sequence[RunHits], a: str, b: str) -> list[str]:
    """The problems both variants ran on, in order."""
    return [p for p in problems_of(records) if _select(records, a, p) and _select(records, b, p)]


def auc_sentences(records: Sequence[RunHits], leader: str, others: Sequence[str],
                  budget: float | None = None) -> list[str]:
    """The leader's AUC against each other variant's, on the problems both ran (means over those problems)."""
    budget = budget or budget_of(records)
    out = []
    for other in others:
        shared = _shared(records, leader, other)
        if not shared:
            out.append(f"{leader} and {other} ran on no problem in common: their AUCs are not compared.")
            continue
        x, y = (float(np.mean([auc(records, v, p, budget) for p in shared])) for v in (leader, other))
        where = (f"on {shared[0]}" if len(shared) == 1 else
                 f"over the {len(shared)} problems both ran" if len(shared) < len(problems_of(records)) else
                 "over both problems" if len(shared) == 2 else f"over all {len(shared)} problems")
        hi, lo, a, b = (leader, other, x, y) if x >= y else (other, leader, y, x)
        size = ("the same AUC as" if a == b else f"an AUC {a / b:.2f}× that of" if b > 0 else "a larger AUC than")
        never = not any(math.isfinite(h) for p in shared for r in _select(records, lo, p) for h in r.hits)
        note = f"; {lo} reaches no target" if never else ""
        mean = " (means over those problems)" if len(shared) > 1 else ""
        out.append(f"{hi} has {size} {lo} {where}: {a:.3f} vs {b:.3f}{mean}{note}.")
    return out


def ert_sentences(records: Sequence[RunHits], leader: str, others: Sequence[str]) -> list[str]:
    """The leader against each other variant: how many times sooner (the geometric mean over the (problem,
    target) pairs both reached of the ratio of their ERTs), and the pairs only one of them reached."""
    out = []
    estimates = {(e.problem, e.variant, e.target): e.value for e in ert_table(records, resamples=0)}
    for other in others:
        ratios, only_leader, only_other = [], 0, 0
        for (p, v, t), x in estimates.items():
            if v != leader or (p, other, t) not in estimates:
                continue
            y = estimates[(p, other, t)]
            if math.isfinite(x) and math.isfinite(y):
                ratios.append(y / x)
            only_leader += math.isfinite(x) and not math.isfinite(y)
            only_other += math.isfinite(y) and not math.isfinite(x)
        parts = []
        if ratios:
            g = _geomean(ratios)
            fast, slow = (leader, other) if g >= 1 else (other, leader)
            r = np.array(ratios) if g >= 1 else 1.0 / np.array(ratios)  # ERT(slow) / ERT(fast)
            times = _geomean(r)
            word = "about as soon as" if abs(times - 1.0) < 0.05 else f"{times:.1f}× sooner than"
            spread = (f", from {_ratio(r.min())} to {_ratio(r.max())}" if r.size > 1 else "")
            parts.append(f"{fast} reaches a target {word} {slow} on average (geometric mean of ERT({slow}) / "
                         f"ERT({fast}) over the {r.size} (problem, target) pair{'s' if r.size != 1 else ''} both "
                         f"reach{spread})")
        else:
            parts.append(f"{leader} and {other} reach no (problem, target) pair in common")
        if only_leader:
            parts.append(f"{only_leader} pair{'s' if only_leader != 1 else ''} only {leader} reaches")
        if only_other:
            parts.append(f"{only_other} pair{'s' if only_other != 1 else ''} only {other} reaches")
        out.append("; ".join(parts) + ".")
    return out


def ranking_sentences(ranking: Ranking, score: str = "AUC") -> list[str]:
    """The Friedman result, the mean ranks and the critical difference in words, or why they were not computed."""
    if not ranking.computed:
        return [f"Ranks across problems not computed: {ranking.skipped}."]
    found = "the variants differ" if ranking.p < ranking.alpha else "no difference detected among them"
    order = sorted(ranking.mean_ranks, key=ranking.mean_ranks.get)
    mean = ", ".join(f"{v} {ranking.mean_ranks[v]:.2f}" for v in order)
    best = "largest" if ranking.better == "higher" else "smallest"
    out = [f"Over {len(ranking.problems)} problems, {score}: {found} (Friedman test, problems as blocks: "
           f"χ² = {ranking.statistic:.2f}, {_p_text(ranking.p, ranking.alpha)}); mean ranks (1 = {best} {score}): "
           f"{mean}."]
    apart = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]
             if ranking.nemenyi[a][b] < ranking.alpha]
    gap = ranking.mean_ranks[order[-1]] - ranking.mean_ranks[order[0]]
    told = ("; ".join(f"{a} ahead of {b} by {ranking.mean_ranks[b] - ranking.mean_ranks[a]:.2f} ranks "
                      f"(Nemenyi p = {ranking.nemenyi[a][b]:.3g})" for a, b in apart)
            if apart else f"no pair, not even the first and last, {gap:.2f} ranks apart")
    out.append(f"Critical difference (Nemenyi, α = {ranking.alpha:g}, {len(ranking.variants)} variants, "
               f"{len(ranking.problems)} problems): {ranking.cd:.2f} ranks; told apart: {told}.")
    if len(ranking.problems) < 10:
        out.append(f"With {len(ranking.problems)} problems these rank tests have little power (Demšar 2006 "
                   "works with 10 or more data sets): read a missing difference as not shown, not as none.")
    return out


def markdown(records: Sequence[RunHits], ranking: Ranking | None = None, budget: float | None = None,
             targets_shown: int = 3, title: str | None = "Anytime: how soon sparsity targets are reached",
             score: str = "AUC", figures: Sequence[str] = ("ecdf.png", "cd.png")) -> list[str]:
    """The anytime section of summary.md as lines: how to read it, the AUC table (per problem and over all),
    the ERT table with intervals for a few targets per problem, sentences with direction and size, and the
    ranks (`ranking`, default: `ranks(auc_scores(records))`). `figures` are linked when they exist beside it."""
    if not records:
        return []
    budget = budget or budget_of(records)
    variants, problems = variants_of(records), problems_of(records)
    ranking = ranking if ranking is not None else ranks(auc_scores(records, budget))
    lines = [f"## {title}", ""] if title else []
    ladders = {r.targets for r in records}
    ladder_text = ("; ".join(f"{p}: " + ", ".join(_pct(t) for t in next(r for r in records if r.problem == p).targets)
                             for p in problems) if len(ladders) > 1 else
                   ", ".join(_pct(t) for t in next(iter(ladders))))
    lines += [f"Targets (global sparsity): {ladder_text}. A run reaches a target at the first evaluation whose "
              "mask meets the accuracy floor on the search images and is at least that sparse. The ECDF at E "
              "evaluations is the share of a variant's (target, seed) pairs reached within E (over all problems: "
              "the mean of the problems' shares). AUC is its area over log10(evaluations) from 1 to "
              f"{budget:,.0f} evaluations, divided by that width: 1 = every target reached at the first "
              "evaluation, 0 = none reached. ERT (expected running time) = evaluations spent by all runs until "
              "they reached the target (all of a run's evaluations when it never did) / runs that reached it; "
              f"∞ when none did; in brackets its {CONFIDENCE * 100:g} % bootstrap interval over runs "
              f"({RESAMPLES:,} resamples).", ""]
    # AUC table
    multi = len(problems) > 1
    head = ["Variant", *problems] + (["All problems"] if multi else [])
    lines += ["### Area under the ECDF (AUC)", "", _row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    overall = {v: auc(records, v, None, budget) for v in variants}
    for v in variants:
        cells = [f"{auc(records, v, p, budget):.3f}" if _select(records, v, p) else "–" for p in problems]
        lines.append(_row([v, *cells] + ([f"{overall[v]:.3f}"] if multi else [])))
    # the leader: among the variants that ran on the most problems, the largest AUC over them
    ordered = sorted(variants, key=lambda v: (-len(_problems_run(records, v, None)), -overall[v]))
    leader = ordered[0]
    lines.append("")
    if len(variants) > 1:
        lines += [f"- {s}" for s in auc_sentences(records, leader, ordered[1:], budget)]
        lines.append("")
    if "ecdf.png" in figures:
        lines += ["![ECDF of the targets reached against evaluations](ecdf.png)", ""]
    # ERT table
    lines += ["### Expected running time (evaluations)", "", _row(["Problem", "Target", *variants]),
              _row(["---", "---:"] + ["---:"] * len(variants))]
    for p in problems:
        for t in shown_targets(records, p, targets_shown):
            cells = []
            for v in variants:
                if not _select(records, v, p):
                    cells.append("–")
                    continue
                e = ert(records, p, v, t)
                interval = f" [{_evals(e.low)}–{_evals(e.high)}]" if e.reached else ""
                cells.append(f"{_evals(e.value)}{interval} ({e.hits}/{e.runs} reached)")
            lines.append(_row([p, _pct(t), *cells]))
    lines.append("")
    if len(variants) > 1:
        lines += [f"- {s}" for s in ert_sentences(records, leader, ordered[1:])]
        lines.append("")
    # ranks
    lines += ["### Ranks across problems", ""]
    lines += [f"- {s}" for s in ranking_sentences(ranking, score)]
    if ranking.computed and "cd.png" in figures:
        lines += ["", "![critical-difference diagram of the mean ranks](cd.png)"]
    return lines


def report(out: str, problems: Mapping[str, Union[str, os.PathLike, Sequence[aggregate.Run]]],
           targets: Targets | None = None, scores: Mapping[str, Mapping[str, float]] | None = None,
           better: str = "higher", score: str = "AUC") -> tuple[list[str], list[str]]:
    """The whole analysis for a report: collect the runs, rank the variants on `scores` (default: each one's AUC
    per problem), write OUT/ecdf.png (and cd.png), and return (the markdown lines, the figure paths)."""
    records = collect(problems, targets)
    if not records:
        raise ConfigError(f"{out}: no finished runs to analyse")
    budget = budget_of(records)
    ranking = ranks(scores if scores is not None else auc_scores(records, budget), better)
    paths = write_figures(out, records, ranking, budget)
    return markdown(records, ranking, budget, score=score,
                    figures=[os.path.basename(p) for p in paths]), paths
