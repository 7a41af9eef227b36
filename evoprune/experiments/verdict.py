"""A batch's verdict: summaries per variant, Mann–Whitney U with Holm and A12 per pair, Friedman ranks, sentences."""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Iterable, Literal, Mapping, Sequence

import numpy as np
from scipy import stats

from ..results.aggregate import Stat, stat

Runs = Mapping[str, Mapping[int, Mapping[str, float]]]  # variant -> seed -> metric key -> value
Table = Mapping[str, Mapping[int, float]]  # variant -> seed -> value of one metric

ALPHA = 0.05
# Tied samples up to this many splits take the exact permutation test (8 + 8 runs: 12 870 splits, ~0.1 s).
PERMUTATION_LIMIT = 20_000


@dataclass(frozen=True)
class Metric:
    """One per-run figure: which way is better, the words for it, and how it is shown."""

    key: str
    label: str                          # "global sparsity"
    better: Literal["higher", "lower"]
    phrase: str                         # "A <phrase> B" when A is better: "sparser than"
    superlative: str                    # what rank 1 means: "sparsest"
    factor: float = 1.0                 # fractions in [0, 1] are shown ×100
    unit: str = ""                      # the unit after the factor: "%", "points"
    digits: int = 2

    def __post_init__(self) -> None:
        if self.better not in ("higher", "lower"):
            raise ValueError(f"metric {self.key}: better must be 'higher' or 'lower', got {self.better!r}")

    def show(self, value: float) -> str:
        """The value as displayed (×factor, fixed digits); a dash for NaN."""
        return f"{value * self.factor:.{self.digits}f}" if math.isfinite(value) else "—"


DEFAULT_METRICS = (
    Metric("sparsity_global", "global sparsity", "higher", "sparser than", "sparsest", 100.0, "%"),
    Metric("test_accuracy", "test accuracy", "higher", "more accurate than", "most accurate", 100.0, "%"),
    Metric("test_drop", "test drop", "lower", "loses less accuracy than", "smallest drop", 100.0, "points"),
)


# ----- one variant -----
def finite(values: Iterable[float | None]) -> np.ndarray:
    """The finite values as floats; None, NaN and ±inf (a run that found nothing) are dropped."""
    a = np.array([math.nan if v is None else float(v) for v in values], dtype=float)
    return a[np.isfinite(a)]


def describe(values: Iterable[float | None]) -> Stat:
    """n, mean ± sample std (ddof=1), median and quartiles of the finite values (as the report's tables)."""
    return stat(finite(values))


# ----- two variants -----
@dataclass(frozen=True)
class MannWhitney:
    """A two-sided Mann–Whitney U test: scipy's U for the first sample, p, and how p was computed."""

    u: float
    p: float
    method: str  # "exact", "asymptotic", "permutation", or "none" below two values a side


def mann_whitney(a: Iterable[float], b: Iterable[float]) -> MannWhitney:
    """Two-sided Mann–Whitney U of the finite values of a against b's; no test below two values a side."""
    x, y = finite(a), finite(b)
    if x.size < 2 or y.size < 2:
        return MannWhitney(math.nan, math.nan, "none")
    method = _mw_method(x, y)
    how = stats.PermutationMethod(n_resamples=np.inf) if method == "permutation" else method
    res = stats.mannwhitneyu(x, y, alternative="two-sided", method=how)
    return MannWhitney(float(res.statistic), float(res.pvalue), method)


def _mw_method(x: np.ndarray, y: np.ndarray) -> str:
    # scipy's method="auto" takes the exact U distribution only when there are no ties and one side has
    # at most 8 values; with any tie it falls back to the normal approximation (tie- and continuity-
    # corrected). At a few runs that undercuts what any exact test can reach: [1, 1, 1] vs [2, 2, 2] gets
    # p = 0.047, below the 0.1 floor of 3 vs 3. So small tied samples get the exact permutation test
    # (every split of the pooled values, ties kept); otherwise this is what "auto" would choose.
    tied = np.unique(np.concatenate([x, y])).size < x.size + y.size
    if not tied:
        return "exact" if min(x.size, y.size) <= 8 else "asymptotic"
    return "permutation" if math.comb(x.size + y.size, x.size) <= PERMUTATION_LIMIT else "asymptotic"


def smallest_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided Mann–Whitney p that n_a against n_b values can give (exact test, no ties)."""
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def a12(u: float, n_a: int, n_b: int, better: str = "higher") -> float:
    """Vargha–Delaney A12 from scipy's U for a: the chance that a value of a beats one of b, ties ½."""
    # scipy's U for x counts the pairs (x_i, y_j) with x_i > y_j, plus ½ for each tie.
    above = u / (n_a * n_b)
    return above if better == "higher" else 1.0 - above


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the given order; NaN (no test) stays NaN and is not counted."""
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = tested.size
    running = 0.0
    for k, i in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        # the running maximum keeps the adjusted values in the order of the raw ones
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


@dataclass(frozen=True)
class Pair:
    """Variant a against variant b on one metric; a12 is "a better than b" in the metric's direction."""

    a: str
    b: str
    n_a: int
    n_b: int
    u: float       # scipy's U for a
    p: float       # two-sided, unadjusted
    p_holm: float  # adjusted over the pairs of this metric
    a12: float
    method: str
    mean_a: float = math.nan  # the mean of a's finite values (NaN for none), as the report's tables show it
    mean_b: float = math.nan

    @property
    def tested(self) -> bool:
        return math.isfinite(self.p)

    def detected(self, alpha: float = ALPHA) -> bool:
        """Whether the Holm-adjusted p is below alpha."""
        return self.tested and self.p_holm < alpha


def pairwise(samples: Mapping[str, Iterable[float]], better: str = "higher") -> list[Pair]:
    """Every two variants in the given order: Mann–Whitney U, A12, and p adjusted with Holm over these pairs."""
    values = {v: finite(s) for v, s in samples.items()}
    found = []
    for a, b in combinations(values, 2):
        n_a, n_b = values[a].size, values[b].size
        t = mann_whitney(values[a], values[b])
        effect = a12(t.u, n_a, n_b, better) if t.method != "none" else math.nan
        found.append((a, b, n_a, n_b, t, effect))
    adjusted = holm([t.p for *_, t, _ in found])
    return [Pair(a, b, n_a, n_b, t.u, t.p, q, effect, t.method, _mean(values[a]), _mean(values[b]))
            for (a, b, n_a, n_b, t, effect), q in zip(found, adjusted)]


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else math.nan


# ----- all variants -----
@dataclass(frozen=True)
class Friedman:
    """The Friedman test with seeds as blocks, and each variant's mean rank (1 = best); skipped says why not."""

    seeds: tuple[int, ...]  # the seeds every variant has a value for
    statistic: float
    p: float
    mean_ranks: dict[str, float]
    skipped: str = ""

    @property
    def computed(self) -> bool:
        return not self.skipped


def friedman(table: Table, better: str = "higher") -> Friedman:
    """Friedman over the seeds every variant has a finite value for; needs 3 variants and 2 such seeds."""
    values = {v: {s: x for s, x in by_seed.items() if x is not None and math.isfinite(x)}
              for v, by_seed in table.items()}
    names = list(values)
    common = sorted(set.intersection(*(set(d) for d in values.values()))) if names else []
    nan = math.nan
    if len(names) < 3:
        return Friedman(tuple(common), nan, nan, {}, f"needs 3 or more variants, got {len(names)}")
    if len(common) < 2:
        return Friedman(tuple(common), nan, nan, {}, f"{_count(len(common), 'seed')} common to every variant")
    blocks = np.array([[values[v][s] for v in names] for s in common], dtype=float)
    sign = 1.0 if better == "higher" else -1.0
    ranks = stats.rankdata(-sign * blocks, axis=1)  # rank 1 = best; ties share their average rank
    mean_ranks = {v: float(r) for v, r in zip(names, ranks.mean(axis=0))}
    if np.all(blocks == blocks[:, :1]):
        # Every seed ties every variant: scipy's tie correction divides 0 by 0; nothing tells them apart.
        return Friedman(tuple(common), 0.0, 1.0, mean_ranks)
    res = stats.friedmanchisquare(*blocks.T)
    return Friedman(tuple(common), float(res.statistic), float(res.pvalue), mean_ranks)


# ----- the verdict -----
@dataclass(frozen=True)
class MetricVerdict:
    """Everything found on one metric."""

    metric: Metric
    summaries: dict[str, Stat]
    pairs: tuple[Pair, ...]
    friedman: Friedman


@dataclass(frozen=True)
class Verdict:
    """A batch's verdict: per metric, the variants in the order given."""

    variants: tuple[str, ...]
    metrics: tuple[MetricVerdict, ...]
    alpha: float = ALPHA


def verdict(runs: Runs, metrics: Sequence[Metric] = DEFAULT_METRICS, alpha: float = ALPHA) -> Verdict:
    """Summaries, pairwise tests and Friedman for each metric; a metric no run has a value for is left out."""
    found = []
    for m in metrics:
        table = {v: {s: _value(r, m.key) for s, r in by_seed.items()} for v, by_seed in runs.items()}
        if not any(math.isfinite(x) for by_seed in table.values() for x in by_seed.values()):
            continue
        found.append(MetricVerdict(
            m,
            {v: describe(by_seed.values()) for v, by_seed in table.items()},
            tuple(pairwise({v: by_seed.values() for v, by_seed in table.items()}, m.better)),
            friedman(table, m.better),
        ))
    return Verdict(tuple(runs), tuple(found), alpha)


def _value(run: Mapping[str, float], key: str) -> float:
    x = run.get(key)
    return math.nan if x is None else float(x)


# ----- words -----
def sentences(v: Verdict) -> list[str]:
    """One sentence per pair and metric, then the Friedman result per metric when there are 3+ variants."""
    out = []
    for mv in v.metrics:
        out += [pair_sentence(p, mv.metric, v.alpha) for p in mv.pairs]
        if len(v.variants) >= 3:
            out.append(friedman_sentence(mv.friedman, mv.metric, v.alpha))
    return out


def pair_sentence(p: Pair, m: Metric, alpha: float = ALPHA) -> str:
    """The pair in words, always with a direction and a size (the means, A12): a difference is claimed only when
    the Holm-adjusted p is below alpha."""
    if not p.tested:
        return (f"No test possible between {p.a} and {p.b} in {m.label} with {p.n_a} and {p.n_b} runs (the test "
                f"needs 2 a side){_means(m, p.mean_a, p.mean_b, ': ')}.")
    each = f"{p.n_a} seeds each" if p.n_a == p.n_b else f"{p.n_a} and {p.n_b} seeds"
    if p.detected(alpha):
        if p.a12 >= 0.5:
            win, lose, effect, means = p.a, p.b, p.a12, (p.mean_a, p.mean_b)
        else:
            win, lose, effect, means = p.b, p.a, 1.0 - p.a12, (p.mean_b, p.mean_a)
        return (f"{win} {m.phrase} {lose}:{_means(m, *means, ' ', ',')} A12 = {effect:.2f}, "
                f"Holm-adjusted {_p(p.p_holm, alpha)} ({each}).")
    floor = smallest_p(p.n_a, p.n_b)
    # Say so when the seeds alone rule a difference out, whatever the runs had shown.
    limit = (f", which cannot give p below {floor:.2f} however far apart the runs are" if floor >= alpha else "")
    return (f"No difference detected between {p.a} and {p.b} in {m.label}:{_means(m, p.mean_a, p.mean_b, ' ', ',')} "
            f"A12 = {p.a12:.2f}, Holm-adjusted {_p(p.p_holm, alpha)} ({each}{limit}).")


def _means(m: Metric, a: float, b: float, before: str = "", after: str = "") -> str:
    """'96.10 % vs 95.90 % (mean)' (or '0.42 vs 0.36 points (mean)'); nothing when a mean is unknown."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return ""
    shown = (f"{m.show(a)} % vs {m.show(b)} %" if m.unit == "%" else
             f"{m.show(a)} vs {m.show(b)}{' ' + m.unit if m.unit else ''}")
    return f"{before}{shown} (mean){after}"


def friedman_sentence(f: Friedman, m: Metric, alpha: float = ALPHA) -> str:
    """The Friedman result and mean ranks in words, or why it was not run."""
    if not f.computed:
        return f"Friedman test on {m.label} not run: {f.skipped}."
    found = "the variants differ" if f.p < alpha else "no difference detected among them"
    ranks = ", ".join(f"{v} {r:.1f}" for v, r in f.mean_ranks.items())
    return (f"All {len(f.mean_ranks)} variants together, {m.label}: {found} (Friedman test over "
            f"{len(f.seeds)} seeds: χ² = {f.statistic:.1f}, {_p(f.p, alpha)}); mean ranks (1 = {m.superlative}): "
            f"{ranks}.")


def markdown(v: Verdict, title: str | None = "Verdict") -> list[str]:
    """The verdict as markdown lines: how to read it, the sentences as a list, then a table per metric."""
    lines = [f"## {title}", ""] if title else []
    said = sentences(v)
    if said:
        lines += [f"Each line compares two variants over their seeds (two-sided Mann–Whitney U test). A12 is the "
                  f"probability that a run of the first-named variant beats a run of the second (0.50: as often one "
                  f"as the other; ties count ½). The Holm-adjusted p is the test's p-value adjusted for making "
                  f"several comparisons (those on the same metric); a difference is claimed only when it is below "
                  f"{v.alpha:g}. With 3 or more variants, the Friedman test weighs them all at once, seed by seed "
                  f"(only the seeds every variant has); mean rank 1 is the best.", ""]
        lines += [f"- {s}" for s in said]
    else:
        lines += [f"A single variant ({', '.join(v.variants)}): nothing to compare; its figures over seeds follow."]
    for mv in v.metrics:
        lines += ["", *_table(mv)]
    return lines


def _table(mv: MetricVerdict) -> list[str]:
    m, ranks = mv.metric, mv.friedman.mean_ranks
    unit = f" ({m.unit})" if m.unit else ""
    head = ["variant", "n", "mean ± std", "median", "IQR (Q1 – Q3)"] + (["mean rank"] if ranks else [])
    lines = [f"### {m.label[:1].upper()}{m.label[1:]}{unit}", "", _row(head),
             _row(["---", "---:", "---:", "---:", "---:"] + (["---:"] if ranks else []))]
    for name, s in mv.summaries.items():
        spread = f" ± {m.show(s.std)}" if math.isfinite(s.std) else ""
        cells = [name, str(s.n), m.show(s.mean) + spread, m.show(s.median), f"{m.show(s.q1)} – {m.show(s.q3)}"]
        lines.append(_row(cells + ([f"{ranks[name]:.2f}"] if ranks else [])))
    return lines


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _p(p: float, alpha: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    digits = 3 if p < 0.1 else 2
    # more digits where rounding would put p on the other side of alpha (0.0496 is not "0.050")
    while digits < 6 and (round(p, digits) < alpha) != (p < alpha):
        digits += 1
    return f"p = {p:.{digits}f}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
