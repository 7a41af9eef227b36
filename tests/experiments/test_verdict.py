"""The verdict: summaries against numpy, tests against scipy called directly, Holm and A12 by hand, sentences."""
import ast
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evoprune.experiments import verdict as vd
from evoprune.experiments.verdict import DEFAULT_METRICS, Metric, Pair

SPARSITY, ACCURACY, DROP = DEFAULT_METRICS
NAN = float("nan")


def runs_of(key: str, **variants: list[float]) -> dict:
    """variant -> seed -> {key: value}, seeds 0..n-1, in the order given."""
    return {name: {seed: {key: x} for seed, x in enumerate(xs)} for name, xs in variants.items()}


def brute_a12(a: list[float], b: list[float]) -> float:
    """P(a value of a > one of b) + ½ P(equal), by counting every pair."""
    wins = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
    return wins / (len(a) * len(b))


# ----- the module stays light -----
def test_imports_only_numpy_scipy_the_standard_library_and_the_report_statistics():
    tree = ast.parse(Path(vd.__file__).read_text())
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    relative = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0}
    assert roots <= {"__future__", "math", "dataclasses", "itertools", "typing", "numpy", "scipy"}
    assert relative <= {"results.aggregate"}  # the report's own statistics per variant, no TensorFlow


# ----- describe -----
def test_describe_matches_numpy_and_drops_non_finite_values():
    raw = [3.0, 1.0, NAN, 4.0, 1.0, 5.0, float("inf"), 9.0, None, 2.0, 6.0]
    clean = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    s = vd.describe(raw)
    assert s.n == 8
    assert s.mean == pytest.approx(clean.mean()) and s.std == pytest.approx(clean.std(ddof=1))
    assert s.median == pytest.approx(np.median(clean)) == pytest.approx(3.5)
    assert (s.q1, s.q3) == pytest.approx(tuple(np.percentile(clean, [25, 75])))
    assert (s.q1, s.q3) == pytest.approx((1.75, 5.25))  # linear: positions 1.75 and 5.25 of 1 1 2 3 4 5 6 9


def test_describe_below_two_values():
    one = vd.describe([NAN, 0.9])
    assert (one.n, one.mean, one.median, one.q1, one.q3) == (1, 0.9, 0.9, 0.9, 0.9) and math.isnan(one.std)
    none = vd.describe([NAN, None])
    assert none.n == 0 and all(math.isnan(x) for x in (none.mean, none.std, none.median, none.q1, none.q3))


# ----- Mann-Whitney and A12 -----
@pytest.mark.parametrize("a, b", [
    ([0.91, 0.88, 0.93, 0.90, 0.95, 0.87], [0.85, 0.89, 0.84, 0.86, 0.92, 0.83, 0.80]),  # no ties, exact
    ([float(x) for x in range(10)], [x + 0.5 for x in range(3, 15)]),  # no ties, 10 and 12: normal approximation
    ([1, 2, 2, 3, 3, 3, 4, 5, 6, 7], [2, 3, 4, 4, 5, 6, 6, 7, 8, 9]),  # ties, too many splits to enumerate
])
def test_mann_whitney_is_scipys_auto(a, b):
    t = vd.mann_whitney(a, b)
    ref = stats.mannwhitneyu(a, b, alternative="two-sided", method="auto")
    assert t.u == pytest.approx(ref.statistic) and t.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert t.method in ("exact", "asymptotic")


def test_small_tied_samples_take_the_exact_permutation_test():
    a, b = [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]
    t = vd.mann_whitney(a, b)
    ref = stats.mannwhitneyu(a, b, alternative="two-sided", method=stats.PermutationMethod(n_resamples=np.inf))
    assert t.method == "permutation" and (t.u, t.p) == pytest.approx((ref.statistic, ref.pvalue))
    # the reason: scipy's "auto" goes asymptotic on ties and claims p < 0.05 from 3 runs a side
    assert stats.mannwhitneyu(a, b, alternative="two-sided").pvalue < 0.05
    assert t.p == pytest.approx(vd.smallest_p(3, 3)) == pytest.approx(0.1)


def test_mann_whitney_needs_two_values_a_side():
    t = vd.mann_whitney([0.9, NAN], [0.8, 0.7, 0.6])
    assert t.method == "none" and math.isnan(t.p) and math.isnan(t.u)


def test_a12_is_the_pairwise_count_and_follows_the_direction():
    a, b = [1.0, 2.0, 2.0, 3.0, 5.0], [2.0, 2.0, 4.0, 0.0, 1.0, 3.0]
    u = vd.mann_whitney(a, b).u
    # a's 1 beats 0, ties 1: 1.5; each 2 beats 0 and 1, ties two 2s: 3; 3 beats four, ties one: 4.5; 5 beats all: 6
    assert vd.a12(u, 5, 6, "higher") == pytest.approx(brute_a12(a, b)) == pytest.approx(18 / 30)
    assert vd.a12(u, 5, 6, "lower") == pytest.approx(brute_a12([-x for x in a], [-y for y in b]))
    (pair,) = vd.pairwise({"a": a, "b": b}, "lower")
    assert pair.a12 == pytest.approx(1 - 18 / 30) and (pair.n_a, pair.n_b) == (5, 6)


# ----- Holm -----
def test_holm_by_hand():
    # sorted: 0.01 ×4 = 0.04; 0.03 ×3 = 0.09; 0.04 ×2 = 0.08 -> 0.09 (not below the one before); 0.20 ×1 = 0.20
    assert vd.holm([0.01, 0.04, 0.03, 0.20]) == pytest.approx([0.04, 0.09, 0.09, 0.20])


def test_holm_caps_at_one_and_skips_untested_pairs():
    assert vd.holm([0.5, 0.6, 0.7]) == pytest.approx([1.0, 1.0, 1.0])  # 1.5 and 1.2 capped, 0.7 raised to 1
    adjusted = vd.holm([0.01, NAN, 0.04])  # two tests: 0.01 ×2, 0.04 ×1
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.04)
    assert vd.holm([]) == []


def test_holm_is_monotone_and_never_below_the_raw_p():
    raw = np.random.default_rng(3).uniform(0, 0.2, 12)
    adjusted = np.array(vd.holm(raw))
    order = np.argsort(raw)
    assert np.all(np.diff(adjusted[order]) >= 0) and np.all(adjusted >= raw) and np.all(adjusted <= 1)


# ----- Friedman -----
def test_friedman_is_scipys_on_the_common_seeds():
    table = {
        "x": {0: 0.90, 1: 0.92, 2: 0.88, 3: 0.91, 4: 0.93, 5: 0.99},  # seed 5 only here
        "y": {0: 0.91, 1: 0.90, 2: 0.89, 3: 0.95, 4: 0.94, 6: 0.10},
        "z": {0: 0.85, 1: 0.87, 2: 0.90, 3: NAN, 4: 0.86, 5: 0.50, 6: 0.20},  # seed 3 has no value
    }
    f = vd.friedman(table, "higher")
    common = [0, 1, 2, 4]
    ref = stats.friedmanchisquare(*([table[v][s] for s in common] for v in "xyz"))
    assert f.computed and f.seeds == tuple(common)
    assert (f.statistic, f.p) == pytest.approx((ref.statistic, ref.pvalue))


def test_friedman_mean_ranks_by_hand_with_a_tie():
    table = {"a": {0: 0.9, 1: 0.7}, "b": {0: 0.8, 1: 0.9}, "c": {0: 0.8, 1: 0.8}}
    # higher is better: seed 0 ranks a 1, b 2.5, c 2.5; seed 1 ranks b 1, c 2, a 3
    assert vd.friedman(table, "higher").mean_ranks == pytest.approx({"a": 2.0, "b": 1.75, "c": 2.25})
    # lower is better: seed 0 ranks b 1.5, c 1.5, a 3; seed 1 ranks a 1, c 2, b 3
    assert vd.friedman(table, "lower").mean_ranks == pytest.approx({"a": 2.0, "b": 2.25, "c": 1.75})
    assert list(vd.friedman(table).mean_ranks) == ["a", "b", "c"]


def test_friedman_skips_with_a_reason():
    two = vd.friedman({"a": {0: 1.0, 1: 2.0}, "b": {0: 1.0, 1: 3.0}})
    assert not two.computed and "3 or more variants" in two.skipped and math.isnan(two.p)
    one_seed = vd.friedman({"a": {0: 1.0, 1: 2.0}, "b": {0: 1.0}, "c": {0: 2.0, 1: NAN}})
    assert not one_seed.computed and one_seed.skipped == "1 seed common to every variant"
    tied = vd.friedman({v: {0: 0.5, 1: 0.7} for v in "abc"})
    assert tied.computed and (tied.statistic, tied.p) == (0.0, 1.0) and tied.mean_ranks == {"a": 2, "b": 2, "c": 2}


# ----- sentences -----
def test_ten_separated_seeds_make_a_difference():
    runs = runs_of("sparsity_global", sa=[0.80 + i / 100 for i in range(10)], ga=[0.90 + i / 100 for i in range(10)])
    assert vd.sentences(vd.verdict(runs, [SPARSITY])) == [
        "ga sparser than sa: 94.50 % vs 84.50 % (mean), A12 = 1.00, Holm-adjusted p < 0.001 (10 seeds each)."]
    six = runs_of("sparsity_global", sa=[0.90 + i / 100 for i in range(6)], ga=[0.80 + i / 100 for i in range(6)])
    # exact: 2 / C(12, 6) = 2 / 924 = 0.0022, one pair so Holm leaves it
    assert vd.sentences(vd.verdict(six, [SPARSITY])) == [
        "sa sparser than ga: 92.50 % vs 82.50 % (mean), A12 = 1.00, Holm-adjusted p = 0.002 (6 seeds each)."]


def test_three_seeds_never_make_a_difference():
    runs = runs_of("sparsity_global", hc=[0.95, 0.96, 0.97], sa=[0.90, 0.91, 0.92], ga=[0.80, 0.80, 0.80])
    v = vd.verdict(runs, [SPARSITY])
    pairs = v.metrics[0].pairs
    assert [p.a12 for p in pairs] == [1.0, 1.0, 1.0] and not any(p.detected() for p in pairs)
    said = vd.sentences(v)
    # no difference claimed, but the direction and size are said all the same
    assert said[:3] == [
        f"No difference detected between {a} and {b} in global sparsity: {x} % vs {y} % (mean), A12 = 1.00, "
        "Holm-adjusted p = 0.30 (3 seeds each, which cannot give p below 0.10 however far apart the runs are)."
        for a, b, x, y in (("hc", "sa", "96.00", "91.00"), ("hc", "ga", "96.00", "80.00"),
                           ("sa", "ga", "91.00", "80.00"))]
    assert not any("sparser than" in s for s in said)


def test_holm_adjusted_p_decides():
    # 4 against 4, separated: exact p = 2 / C(8, 4) = 2 / 70 = 0.029 alone, ×3 = 0.086 among three pairs
    hc, sa, ga = [0.95, 0.96, 0.97, 0.98], [0.90, 0.91, 0.92, 0.93], [0.80, 0.81, 0.82, 0.83]
    alone = vd.sentences(vd.verdict(runs_of("sparsity_global", sa=sa, ga=ga), [SPARSITY]))
    assert alone == ["sa sparser than ga: 91.50 % vs 81.50 % (mean), A12 = 1.00, Holm-adjusted p = 0.029 "
                     "(4 seeds each)."]
    among = vd.sentences(vd.verdict(runs_of("sparsity_global", hc=hc, sa=sa, ga=ga), [SPARSITY]))
    assert among[2] == ("No difference detected between sa and ga in global sparsity: 91.50 % vs 81.50 % (mean), "
                        "A12 = 1.00, Holm-adjusted p = 0.086 (4 seeds each).")


def test_direction_words_for_accuracy_and_drop():
    low, high = [0.001 * i for i in range(8)], [0.02 + 0.001 * i for i in range(8)]
    runs = {"a": {s: {"test_accuracy": 0.99 - d, "test_drop": d} for s, d in enumerate(high)},
            "b": {s: {"test_accuracy": 0.99 - d, "test_drop": d} for s, d in enumerate(low)}}
    acc, drop = vd.sentences(vd.verdict(runs, [ACCURACY, DROP]))
    assert acc.startswith("b more accurate than a: 98.65 % vs 96.65 % (mean), A12 = 1.00, Holm-adjusted p < 0.001")
    # the winner's mean first, whichever way the metric is better; a drop in points
    assert drop == ("b loses less accuracy than a: 0.35 vs 2.35 points (mean), A12 = 1.00, Holm-adjusted p < 0.001 "
                    "(8 seeds each).")
    pair = vd.verdict(runs, [DROP]).metrics[0].pairs[0]
    assert (pair.a, pair.b, pair.a12) == ("a", "b", 0.0)  # a's drops are all larger: a never better


def test_no_test_possible_and_unequal_counts():
    runs = runs_of("test_drop", one=[0.01, NAN, NAN], many=[0.02, 0.03, 0.04, 0.05], few=[0.01, 0.02, 0.03])
    said = vd.sentences(vd.verdict(runs, [DROP]))
    assert said[0] == ("No test possible between one and many in test drop with 1 and 4 runs (the test needs 2 a "
                       "side): 1.00 vs 3.50 points (mean).")
    assert said[2].startswith("No difference detected between many and few in test drop: 3.50 vs 2.00 points (mean), "
                              "A12 = 0.")
    # 4 against 3 can reach p = 2 / C(7, 3) = 2 / 35 = 0.057 at best: above 0.05, so said
    assert said[2].endswith("(4 and 3 seeds, which cannot give p below 0.06 however far apart the runs are).")
    assert said[3] == "Friedman test on test drop not run: 1 seed common to every variant."


def test_friedman_sentence_and_variant_order():
    runs = runs_of("sparsity_global", c=[0.9 + i / 1000 for i in range(10)],
                   a=[0.7 + i / 1000 for i in range(10)], b=[0.8 + i / 1000 for i in range(10)])
    v = vd.verdict(runs, [SPARSITY])
    assert [(p.a, p.b) for p in v.metrics[0].pairs] == [("c", "a"), ("c", "b"), ("a", "b")]
    # every seed ranks c 1, b 2, a 3: χ² = 12 / (10·3·4) · (10² + 20² + 30²) − 3·10·4 = 20, p = e^−10
    assert vd.sentences(v)[-1] == ("All 3 variants together, global sparsity: the variants differ (Friedman test "
                                   "over 10 seeds: χ² = 20.0, p < 0.001); mean ranks (1 = sparsest): c 1.0, a 3.0, "
                                   "b 2.0.")
    assert v.metrics[0].friedman.p == pytest.approx(math.exp(-10))


def test_p_keeps_enough_digits_to_stay_on_its_side_of_alpha():
    near = Pair("a", "b", 10, 10, 80.0, 0.0496, 0.0496, 0.8, "asymptotic")
    assert vd.pair_sentence(near, SPARSITY) == "a sparser than b: A12 = 0.80, Holm-adjusted p = 0.0496 (10 seeds each)."
    above = Pair("a", "b", 10, 10, 30.0, 0.71, 0.71, 0.3, "asymptotic", 0.961, 0.959)
    assert vd.pair_sentence(above, ACCURACY) == (
        "No difference detected between a and b in test accuracy: 96.10 % vs 95.90 % (mean), A12 = 0.30, "
        "Holm-adjusted p = 0.71 (10 seeds each).")
    # a win by b is said with b first, its mean first, and A12 the other way round
    won = Pair("a", "b", 10, 10, 10.0, 0.001, 0.002, 0.1, "asymptotic", 0.80, 0.90)
    assert vd.pair_sentence(won, SPARSITY) == (
        "b sparser than a: 90.00 % vs 80.00 % (mean), A12 = 0.90, Holm-adjusted p = 0.002 (10 seeds each).")


# ----- markdown -----
def test_markdown_sentences_then_a_table_per_metric():
    runs = runs_of("sparsity_global", sa=[0.80, 0.82, 0.84, NAN], ga=[0.90, 0.91, 0.95, 0.96])
    v = vd.verdict(runs, DEFAULT_METRICS)  # no run has accuracy or drop: those are left out
    lines = vd.markdown(v)
    assert lines[:2] == ["## Verdict", ""]
    # A12 and Holm explained in plain words where they are used, just before the sentences
    assert "A12 is the probability that a run of the first-named variant beats a run of the second" in lines[2]
    assert "The Holm-adjusted p is the test's p-value adjusted for making several comparisons" in lines[2]
    assert lines[3:5] == ["", f"- {vd.sentences(v)[0]}"]
    table = lines[lines.index("### Global sparsity (%)"):]
    assert table[2:] == [
        "| variant | n | mean ± std | median | IQR (Q1 – Q3) |",
        "| --- | ---: | ---: | ---: | ---: |",
        "| sa | 3 | 82.00 ± 2.00 | 82.00 | 81.00 – 83.00 |",
        "| ga | 4 | 93.00 ± 2.94 | 93.00 | 90.75 – 95.25 |",  # std √(26 / 3): deviations -3, -2, 2, 3
    ]
    assert sum(line.startswith("### ") for line in lines) == 1


def test_markdown_mean_rank_column_only_with_friedman():
    runs = runs_of("test_drop", x=[0.010, 0.020], y=[0.004, 0.030], z=[0.040])
    lines = vd.markdown(vd.verdict(runs, [DROP]), title=None)
    assert lines[2].startswith("- No difference detected between x and y in test drop: 1.50 vs 1.70 points (mean)")
    header = lines[lines.index("### Test drop (points)") + 2]
    assert header == "| variant | n | mean ± std | median | IQR (Q1 – Q3) |"
    runs["z"][1] = {"test_drop": 0.050}
    lines = vd.markdown(vd.verdict(runs, [DROP]), title=None)
    rows = lines[lines.index("### Test drop (points)") + 2:]
    # lower is better: seed 0 ranks y 1, x 2, z 3; seed 1 ranks x 1, y 2, z 3
    assert rows == ["| variant | n | mean ± std | median | IQR (Q1 – Q3) | mean rank |",
                    "| --- | ---: | ---: | ---: | ---: | ---: |",
                    "| x | 2 | 1.50 ± 0.71 | 1.50 | 1.25 – 1.75 | 1.50 |",
                    "| y | 2 | 1.70 ± 1.84 | 1.70 | 1.05 – 2.35 | 1.50 |",
                    "| z | 2 | 4.50 ± 0.71 | 4.50 | 4.25 – 4.75 | 3.00 |"]


def test_a_single_variant_says_there_is_nothing_to_compare():
    lines = vd.markdown(vd.verdict(runs_of("test_drop", only=[0.01, 0.02]), [DROP]))
    assert lines[:3] == ["## Verdict", "",
                         "A single variant (only): nothing to compare; its figures over seeds follow."]
    assert not any(line.startswith("- ") or "A12" in line for line in lines)


def test_metric_direction_is_checked():
    with pytest.raises(ValueError, match="higher"):
        Metric("k", "k", "up", "better than", "best")
