"""Anytime analysis across problems, from run files alone: targets, first hits, ECDFs, ERT, ranks.

The optimisation community's way of comparing anytime algorithms on a benchmark (COCO, IOHprofiler),
applied to pruning. A *problem* is one model and data set (one experiment folder, or one problem of a
multi-problem spec); a *target* is a global sparsity; a run *reaches* a target at the first evaluation
whose mask is feasible (meets the accuracy floor on the search images) and at least that sparse.

- `ladder` / `check_ladder`: the targets.
- `best_so_far` / `first_hits`: one run's feasible best so far, and per target the evaluation count at which
  its history first reaches it.
- `collect`: every run of every problem, as `RunHits`.
- `ecdf` / `auc`: the share of (target, seed) pairs reached within E evaluations, and its area over
  log10(E), normalised to [0, 1].
- `ert`: the expected running time per (problem, variant, target), with a bootstrap interval.
- `ranks`: the Friedman test over problems, the Nemenyi post-hoc test and its critical difference
  (Demšar 2006), via scipy and scikit-posthocs.

Their figures and their section of summary.md are `anytime_report`'s. Pure numpy and scipy (scikit-posthocs
and pandas only inside `ranks`): no TensorFlow.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence, Union

import numpy as np
from scipy import stats

from ..errors import ConfigError
from ..results import aggregate
from ..results.history import read_history

ALPHA = 0.05
RESAMPLES = 2000      # bootstrap resamples of the runs for each ERT interval
CONFIDENCE = 0.95     # of the ERT interval
BOOTSTRAP_SEED = 0    # the bootstrap's rng seed: the same files give the same intervals

History = Union[str, os.PathLike, Sequence[Mapping]]
Targets = Union[Sequence[float], Mapping[str, Sequence[float]]]


# ----- targets -----
def ladder(low: float = 0.1, high: float = 0.95, count: int = 10, spacing: str = "density") -> np.ndarray:
    """`count` increasing global-sparsity targets from `low` to `high` (both included).

    spacing="density" (the default) spaces them evenly in log(1 − s), the density left: each step removes
    the same fraction of the weights still kept (0.1 … 0.95 in 10: 10, 35, 53, 66, 75, 82, 87, 90, 93,
    95 %), so the ladder is finer where pruning gets hard, as COCO's targets are log-spaced in precision.
    spacing="linear" spaces them evenly in s. A ConfigError (one line) for a ladder that is not strictly
    increasing or leaves (0, 1).
    """
    if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 2:
        raise ConfigError(f"a target ladder needs an integer count of 2 or more, got {count!r}")
    check_ladder([low, high])
    if spacing == "density":
        targets = 1.0 - np.geomspace(1.0 - low, 1.0 - high, count)
    elif spacing == "linear":
        targets = np.linspace(low, high, count)
    else:
        raise ConfigError(f"target spacing must be 'density' or 'linear', got {spacing!r}")
    targets[0], targets[-1] = low, high  # exactly, not as rounded by exp/log
    return check_ladder(targets)


def check_ladder(targets: Iterable[float]) -> np.ndarray:
    """The targets as a float array; a one-line ConfigError unless they are finite, strictly increasing and
    each strictly between 0 and 1."""
    try:
        t = np.asarray(list(targets), dtype=float)
    except (TypeError, ValueError):
        raise ConfigError(f"sparsity targets must be numbers, got {targets!r}") from None
    shown = ", ".join(f"{x:g}" for x in t.ravel()[:12])
    if t.ndim != 1 or t.size == 0:
        raise ConfigError("sparsity targets: give at least one")
    if not np.all(np.isfinite(t)) or np.any(t <= 0) or np.any(t >= 1):
        raise ConfigError(f"sparsity targets must lie strictly between 0 and 1, got {shown}")
    if np.any(np.diff(t) <= 0):
        raise ConfigError(f"sparsity targets must increase strictly, got {shown}")
    return t


# ----- one run -----
def _rows(history: History) -> list[Mapping]:
    """A history's rows: given, or read from history.csv (or from a run folder holding one)."""
    if isinstance(history, (str, os.PathLike)):
        path = os.fspath(history)
        return read_history(os.path.join(path, "history.csv") if os.path.isdir(path) else path)
    return list(history)


def _number(x) -> float:
    """A cell as a float; NaN for an empty or missing one."""
    if x is None or x == "":
        return math.nan
    if isinstance(x, str) and x.strip().lower() in ("true", "false"):
        return 1.0 if x.strip().lower() == "true" else 0.0
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def best_so_far(history: History) -> tuple[list[tuple[int, float]], int]:
    """A run's feasible best so far, [(evaluations, global sparsity)]: 0 at evaluation 1 (the unpruned model), then
    each feasible row sparser than every feasible row before it; and the last evaluation count seen. What first
    hits are read from, and what IOHprofiler's format records (`export`).

    `history` is a history.csv path, a run folder, or its rows (dicts of strings or numbers). Rows without an
    evaluation count (event rows) are skipped; counts never go back, so a row is placed no earlier than the one
    before it.
    """
    records, last = [(1, 0.0)], 0
    for row in _rows(history):
        feasible, sparsity, count = (_number(row.get(k)) for k in ("feasible", "sparsity_global", "evaluations"))
        if not math.isfinite(count):
            continue
        last = max(last, int(count))
        if feasible != 1.0 or not math.isfinite(sparsity) or sparsity <= records[-1][1]:
            continue
        at = max(int(count), records[-1][0])
        if at == records[-1][0]:
            records[-1] = (at, sparsity)
        else:
            records.append((at, sparsity))
    return records, last


def first_hits(history: History, targets: Iterable[float]) -> list[float]:
    """Per target, the `evaluations` count of the first history row whose mask is feasible (feasible == 1) with
    sparsity_global ≥ the target (`best_so_far`); math.inf where no row is."""
    trace, _ = best_so_far(history)
    return [float(next((at for at, value in trace if value >= t), math.inf)) for t in check_ladder(targets)]


def spent(history: History, summary: Mapping | None = None) -> float:
    """The evaluations a run made in all: its summary.json's `evaluations` when given, else the largest count in
    its history (0 for an empty one)."""
    if summary is not None and math.isfinite(_number(summary.get("evaluations"))):
        return _number(summary["evaluations"])
    counts = [c for c in (_number(r.get("evaluations")) for r in _rows(history)) if math.isfinite(c)]
    return max(counts, default=0.0)


# ----- every run -----
@dataclass(frozen=True)
class RunHits:
    """One run of one variant on one problem: per target, the evaluations at its first hit (inf if never),
    and the evaluations it made in all."""

    problem: str
    variant: str
    seed: int
    targets: tuple[float, ...]
    hits: tuple[float, ...]
    spent: float

    def __post_init__(self) -> None:
        if len(self.targets) != len(self.hits):
            raise ValueError(f"{self.problem}/{self.variant}-seed{self.seed}: {len(self.targets)} targets but "
                             f"{len(self.hits)} hits")


def _targets_for(targets: Targets, problem: str) -> np.ndarray:
    if isinstance(targets, Mapping):
        if problem not in targets:
            raise ConfigError(f"no sparsity targets for problem {problem!r} (targets given for "
                              f"{', '.join(map(str, targets))})")
        return check_ladder(targets[problem])
    return check_ladder(targets)


def collect(problems: Mapping[str, Union[str, os.PathLike, Sequence[aggregate.Run]]],
            targets: Targets | None = None) -> list[RunHits]:
    """Every finished run of every problem, with its first hits of the targets.

    `problems` maps a problem's name to its experiment folder (read with `aggregate.load_runs`) or to its runs;
    `targets` is one ladder for all problems or one per problem (default: `ladder()`). Runs keep their order:
    problems as given, then each problem's runs as loaded (variants in the spec's order).
    """
    targets = ladder() if targets is None else targets
    found = []
    for problem, runs in problems.items():
        t = _targets_for(targets, problem)
        if isinstance(runs, (str, os.PathLike)):
            runs = aggregate.load_runs(os.fspath(runs))
        for run in runs:
            history = run.history()
            found.append(RunHits(problem, run.variant, int(run.seed), tuple(float(x) for x in t),
                                 tuple(first_hits(history, t)), spent(history, run.summary)))
    return found


def variants_of(records: Sequence[RunHits]) -> list[str]:
    """The variants in the order they first appear (the order `plots.colours` colours them in)."""
    return list(dict.fromkeys(r.variant for r in records))


def problems_of(records: Sequence[RunHits]) -> list[str]:
    return list(dict.fromkeys(r.problem for r in records))


def budget_of(records: Sequence[RunHits]) -> float:
    """The common end of the evaluation axis: the most evaluations any run made (at least 1)."""
    return max([1.0] + [r.spent for r in records])


def _select(records: Sequence[RunHits], variant: str, problem: str) -> list[RunHits]:
    return [r for r in records if r.variant == variant and r.problem == problem]


def _problems_run(records: Sequence[RunHits], variant: str, problem: str | None) -> list[str]:
    """The problems a variant has runs on (all of them, or just `problem`)."""
    ps = [problem] if problem is not None else problems_of(records)
    return [p for p in ps if _select(records, variant, p)]


# ----- ECDF and its area -----
def ecdf(records: Sequence[RunHits], variant: str, grid: Iterable[float], problem: str | None = None) -> np.ndarray:
    """At each evaluation count E of `grid`: the share of the variant's (target, seed) pairs on `problem` whose
    first hit is ≤ E; without a problem, the mean of those shares over the problems the variant ran on (each
    problem weighs the same, whatever its number of seeds or targets; with equal numbers this is the share of
    (problem, target, seed) triples). NaN throughout when the variant has no run there."""
    x = np.asarray(list(grid), dtype=float)
    curves = []
    for p in _problems_run(records, variant, problem):
        hits = np.array([h for r in _select(records, variant, p) for h in r.hits], dtype=float)
        curves.append((hits[None, :] <= x[:, None]).mean(axis=1))
    return np.mean(curves, axis=0) if curves else np.full(x.size, math.nan)


def _run_area(hits: Iterable[float], budget: float) -> float:
    """The mean over targets of the share of [log10 1, log10 budget] spent at or after the first hit."""
    h = np.asarray(list(hits), dtype=float)
    if budget <= 1.0:  # an axis of one point: reached there or not
        return float(np.mean(h <= 1.0))
    share = (math.log10(budget) - np.log10(np.maximum(h, 1.0))) / math.log10(budget)
    return float(np.mean(np.where(np.isfinite(h) & (h <= budget), np.clip(share, 0.0, 1.0), 0.0)))


def auc(records: Sequence[RunHits], variant: str, problem: str | None = None, budget: float | None = None) -> float:
    """The area under the variant's ECDF over x = log10(evaluations), from 1 evaluation to `budget` (default
    `budget_of(records)`: the same axis for every variant), divided by the axis' width log10(budget):

        AUC = mean over (target, seed) pairs of (log10 budget − log10 max(hit, 1)) / log10 budget

    with 0 for a pair not reached within the budget. 1: every target reached at the first evaluation; 0: none
    reached. Without a problem, the mean of the per-problem areas (the area of the aggregated ECDF); NaN when
    the variant has no run there. Exact, from the hits themselves (no grid)."""
    budget = budget or budget_of(records)
    areas = [float(np.mean([_run_area(r.hits, budget) for r in _select(records, variant, p)]))
             for p in _problems_run(records, variant, problem)]
    return float(np.mean(areas)) if areas else math.nan


def auc_scores(records: Sequence[RunHits], budget: float | None = None) -> dict[str, dict[str, float]]:
    """problem -> variant -> the variant's AUC on that problem (those with runs there): what `ranks` ranks."""
    budget = budget or budget_of(records)
    return {p: {v: auc(records, v, p, budget) for v in variants_of(records) if _select(records, v, p)}
            for p in problems_of(records)}


# ----- expected running time -----
@dataclass(frozen=True)
class Ert:
    """The expected running time to a target, and its bootstrap interval (inf where no resample hits)."""

    problem: str
    variant: str
    target: float
    value: float
    low: float
    high: float
    hits: int   # runs that reached the target
    runs: int

    @property
    def reached(self) -> bool:
        return self.hits > 0


def _target_index(record: RunHits, target: float) -> int:
    close = np.flatnonzero(np.isclose(record.targets, target, rtol=0.0, atol=1e-12))
    if close.size == 0:
        raise ConfigError(f"target {target:g} is not on problem {record.problem!r}'s ladder "
                          f"({', '.join(f'{x:g}' for x in record.targets)})")
    return int(close[0])


def ert(records: Sequence[RunHits], problem: str, variant: str, target: float, resamples: int = RESAMPLES,
        confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> Ert:
    """ERT (Hansen et al., COCO) of `variant` to `target` on `problem`:

        ERT = (evaluations of every run until it hit the target, or all it made if it never did) / (runs that hit)

    inf when no run hit. The interval is the percentile bootstrap over runs: `resamples` resamples of the runs
    with replacement (numpy rng seeded with `seed`), the ERT of each (inf for a resample without a hit), and
    the (1 − confidence)/2 and (1 + confidence)/2 order statistics of those ERTs; resamples=0 skips it
    (NaN bounds)."""
    rs = _select(records, variant, problem)
    if not rs:
        raise ConfigError(f"no run of {variant!r} on problem {problem!r}")
    hit = np.array([r.hits[_target_index(r, target)] for r in rs], dtype=float)
    reached = np.isfinite(hit)
    cost = np.where(reached, hit, [r.spent for r in rs])

    def estimate(c: np.ndarray, s: np.ndarray) -> np.ndarray:
        n = s.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, c.sum(axis=-1) / np.maximum(n, 1), math.inf)

    value = float(estimate(cost, reached))
    low = high = math.nan
    if resamples > 0:
        idx = np.random.default_rng(seed).integers(0, len(rs), size=(resamples, len(rs)))
        boot = np.sort(estimate(cost[idx], reached[idx]))
        tail = (1.0 - confidence) / 2.0
        low = float(boot[int(math.floor(tail * resamples))])
        high = float(boot[min(resamples - 1, int(math.ceil((1.0 - tail) * resamples)) - 1)])
    return Ert(problem, variant, float(target), value, low, high, int(reached.sum()), len(rs))


def ert_table(records: Sequence[RunHits], resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
              seed: int = BOOTSTRAP_SEED) -> list[Ert]:
    """The ERT of every (problem, variant, target) that has runs, problems and variants in their order."""
    out = []
    for p in problems_of(records):
        for v in variants_of(records):
            rs = _select(records, v, p)
            if rs:
                out += [ert(records, p, v, t, resamples, confidence, seed) for t in rs[0].targets]
    return out


# ----- ranks across problems -----
@dataclass(frozen=True)
class Ranking:
    """Variants ranked per problem on a score (rank 1 = best; ties share their mean rank), the Friedman test
    over problems (scipy) and the Nemenyi post-hoc test (scikit-posthocs) with its critical difference: two
    variants whose mean ranks differ by more than `cd` differ at level `alpha` (Demšar 2006)."""

    variants: tuple[str, ...]
    problems: tuple[str, ...]        # the blocks: the problems every variant has a score for
    scores: dict[str, dict[str, float]]  # problem -> variant -> score, for those problems
    better: str
    alpha: float
    mean_ranks: dict[str, float] = field(default_factory=dict)
    statistic: float = math.nan      # Friedman χ²
    p: float = math.nan              # Friedman p
    cd: float = math.nan             # Nemenyi critical difference of mean ranks at alpha
    nemenyi: dict[str, dict[str, float]] = field(default_factory=dict)  # pairwise p
    skipped: str = ""                # why no test was run

    @property
    def computed(self) -> bool:
        return not self.skipped


def ranks(scores: Mapping[str, Mapping[str, float]], better: str = "higher", alpha: float = ALPHA) -> Ranking:
    """Rank the variants on `scores` (problem -> variant -> score, e.g. `auc_scores` or each variant's mean
    certified sparsity per problem) over the problems where every variant has a finite score.

    Friedman: scipy.stats.friedmanchisquare. Post hoc: scikit_posthocs.posthoc_nemenyi_friedman; the critical
    difference is q_alpha · sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile at 1 − alpha for
    k variants over √2 (scipy.stats.studentized_range), the value the Nemenyi p-values are measured against.
    Needs 3 or more variants and 2 or more such problems (`skipped` says which is missing)."""
    if better not in ("higher", "lower"):
        raise ConfigError(f"better must be 'higher' or 'lower', got {better!r}")
    names = list(dict.fromkeys(v for by_v in scores.values() for v in by_v))
    blocks = [p for p, by_v in scores.items()
              if all(v in by_v and by_v[v] is not None and math.isfinite(by_v[v]) for v in names)]
    used = {p: {v: float(scores[p][v]) for v in names} for p in blocks}
    base = dict(variants=tuple(names), problems=tuple(blocks), scores=used, better=better, alpha=alpha)
    if len(names) < 3:
        return Ranking(**base, skipped=f"needs 3 or more variants, got {len(names)}")
    if len(blocks) < 2:
        short = [v for v in names if sum(v in by_v for by_v in scores.values()) < len(scores)]
        missing = f" ({', '.join(short)} ran on fewer problems)" if short else ""
        return Ranking(**base, skipped=f"needs 2 or more problems where every variant has a score, got "
                                       f"{len(blocks)}{missing}")
    import pandas as pd
    import scikit_posthocs as sp

    values = np.array([[used[p][v] for v in names] for p in blocks], dtype=float)
    oriented = -values if better == "higher" else values  # ascending ranks: rank 1 = best
    mean_ranks = dict(zip(names, (float(x) for x in stats.rankdata(oriented, axis=1).mean(axis=0))))
    k, n = len(names), len(blocks)
    q_alpha = stats.studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0)
    cd = float(q_alpha * math.sqrt(k * (k + 1) / (6.0 * n)))
    if np.all(values == values[:, :1]):
        # every problem ties every variant: scipy's tie correction divides 0 by 0; nothing tells them apart
        statistic, p = 0.0, 1.0
    else:
        res = stats.friedmanchisquare(*oriented.T)
        statistic, p = float(res.statistic), float(res.pvalue)
    pmat = sp.posthoc_nemenyi_friedman(pd.DataFrame(oriented, index=blocks, columns=names))
    nemenyi = {a: {b: float(pmat.loc[a, b]) for b in names} for a in names}
    return Ranking(**base, mean_ranks=mean_ranks, statistic=statistic, p=p, cd=cd, nemenyi=nemenyi)
