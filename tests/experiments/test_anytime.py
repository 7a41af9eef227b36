"""The anytime analysis from files alone: targets, first hits, ECDF and its area, ERT, ranks, figures, words."""
import csv
import json
import math
import os

import numpy as np
import pytest

from evoprune.errors import ConfigError
from evoprune.experiments import anytime, anytime_report
from evoprune.results.aggregate import Run
from evoprune.results.plots import colours

FIELDS = ["layer", "step", "temperature", "mutation_rate", "cost", "feasible", "accuracy", "loss",
          "sparsity_layer_mean", "sparsity_global", "evaluations", "seconds", "event", "images"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_history(path, rows):
    """rows: (evaluations, feasible, sparsity_global); feasible None makes an event row (empty figures)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        for step, (evaluations, feasible, sparsity) in enumerate(rows):
            row = dict.fromkeys(FIELDS, "")
            row.update(layer="all", step=step, evaluations=evaluations, seconds=step)
            if feasible is None:
                row["event"] = "something happened"
            else:
                row.update(feasible=feasible, sparsity_global=sparsity, cost=1 - sparsity, accuracy=0.9)
            w.writerow(row)
    return path


# ----- targets -----
def test_ladder_is_log_spaced_in_density_and_includes_its_ends():
    t = anytime.ladder(0.1, 0.95, 10)
    assert t[0] == 0.1 and t[-1] == 0.95 and t.size == 10
    assert np.all(np.diff(t) > 0)
    steps = np.diff(np.log(1 - t))  # each step keeps the same fraction of the weights left
    assert np.allclose(steps, steps[0])
    assert np.round(t * 100).astype(int).tolist() == [10, 35, 53, 66, 75, 82, 87, 90, 93, 95]
    linear = anytime.ladder(0.2, 0.8, 4, spacing="linear")
    assert np.allclose(linear, [0.2, 0.4, 0.6, 0.8])


@pytest.mark.parametrize("targets", [[0.5, 0.5], [0.6, 0.5], [0.0, 0.5], [0.5, 1.0], [-0.1, 0.5], [0.5, 1.2],
                                     [0.2, float("nan")], [], ["a"]])
def test_check_ladder_refuses_in_one_line(targets):
    with pytest.raises(ConfigError) as e:
        anytime.check_ladder(targets)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("args", [(0.5, 0.5, 3), (0.9, 0.1, 3), (0.0, 0.9, 3), (0.1, 1.0, 3), (0.1, 0.9, 1),
                                  (0.1, 0.9, 2.5)])
def test_ladder_refuses(args):
    with pytest.raises(ConfigError, match="target"):
        anytime.ladder(*args)
    with pytest.raises(ConfigError, match="spacing"):
        anytime.ladder(0.1, 0.9, 3, spacing="log")


def test_check_ladder_accepts_a_single_target():
    assert anytime.check_ladder([0.5]).tolist() == [0.5]


# ----- first hits -----
def test_first_hits_on_a_hand_made_history(tmp_path):
    path = write_history(str(tmp_path / "history.csv"), [
        (1, 1, 0.05),
        (2, 0, 0.60),    # sparse enough for everything, but infeasible: counts for nothing
        (3, 1, 0.30),
        (5, None, None),  # an event row: skipped
        (7, 1, 0.55),
        (9, 1, 0.50),    # less sparse again: the first hit of 0.5 stays at 7
    ])
    targets = [0.05, 0.1, 0.3, 0.5, 0.6]
    assert anytime.first_hits(path, targets) == [1, 3, 3, 7, math.inf]
    # the run folder and the rows themselves give the same
    assert anytime.first_hits(str(tmp_path), targets) == [1, 3, 3, 7, math.inf]
    rows = [{"feasible": 1, "sparsity_global": 0.3, "evaluations": 4}, {"feasible": "1", "sparsity_global": "0.6",
                                                                       "evaluations": "8"}]
    assert anytime.first_hits(rows, targets) == [4, 4, 4, 8, 8]
    assert anytime.spent(path) == 9
    assert anytime.spent(path, {"evaluations": 12}) == 12
    with pytest.raises(ConfigError):
        anytime.first_hits(path, [0.5, 0.3])


def test_first_hits_on_a_committed_experiment():
    path = os.path.join(ROOT, "results", "certified-fashion", "runs", "sa-seed0", "history.csv")
    # read off the file by hand: the first feasible rows at least 30 %, 35 % and 40 % sparse; never 50 %
    assert anytime.first_hits(path, [0.3, 0.35, 0.4, 0.5]) == [4, 55, 177, math.inf]


# ----- ECDF, AUC -----
# hits[problem][variant] = per seed, the first hits of targets (0.3, 0.6)
HITS = {
    "P": {"A": [(1, 10), (2, math.inf), (4, 100)],
          "B": [(10, math.inf), (20, math.inf), (math.inf, math.inf)]},
    "Q": {"A": [(1, 1), (1, 1000), (math.inf, math.inf)],
          "B": [(5, 50), (5, 50), (5, 50)]},
}
TARGETS = (0.3, 0.6)
SPENT = {("P", "B", 2): 600}  # that run stopped early; every other one made 1,000 evaluations


def make_runs(tmp_path):
    """The runs of HITS as files: problem -> [Run], histories written so their first hits are HITS'."""
    problems = {}
    for problem, by_variant in HITS.items():
        for variant, seeds in by_variant.items():
            for seed, (h1, h2) in enumerate(seeds):
                end = SPENT.get((problem, variant, seed), 1000)
                rows = [(0, 0, 0.95)]  # the start: sparse but infeasible
                if h1 < h2:
                    rows.append((h1, 1, 0.3))
                if math.isfinite(h2):
                    rows.append((h2, 1, 0.6))
                elif math.isfinite(h1):
                    rows.append((h1 + 1, 1, 0.59))  # close, never there
                rows.append((end, 0, 0.9))
                folder = tmp_path / problem / "runs" / f"{variant}-seed{seed}"
                write_history(str(folder / "history.csv"), sorted(rows))
                problems.setdefault(problem, []).append(
                    Run(str(folder), {"algorithm": variant, "seed": seed, "evaluations": end}, {}))
    return problems


@pytest.fixture
def records(tmp_path):
    return anytime.collect(make_runs(tmp_path), TARGETS)


def test_collect_reads_the_hits_back(records):
    assert len(records) == 12
    for r in records:
        assert r.hits == HITS[r.problem][r.variant][r.seed]
        assert r.spent == SPENT.get((r.problem, r.variant, r.seed), 1000)
    assert anytime.variants_of(records) == ["A", "B"] and anytime.problems_of(records) == ["P", "Q"]


def test_ecdf_against_a_hand_computation(records):
    grid = [1, 5, 10, 100, 1000]
    expected = {  # counted off HITS: (target, seed) pairs with a first hit ≤ E, of 6
        ("A", "P"): [1, 3, 4, 5, 5], ("A", "Q"): [3, 3, 3, 3, 4],
        ("B", "P"): [0, 0, 1, 2, 2], ("B", "Q"): [0, 3, 3, 6, 6],
    }
    for (v, p), counts in expected.items():
        assert anytime.ecdf(records, v, grid, p) == pytest.approx(np.array(counts) / 6)
    # over both problems: the mean of the two shares (3 seeds and 2 targets each: the share of the 12 triples)
    assert anytime.ecdf(records, "A", grid) == pytest.approx([4 / 12, 6 / 12, 7 / 12, 8 / 12, 9 / 12])
    assert anytime.ecdf(records, "B", grid) == pytest.approx([0, 3 / 12, 4 / 12, 8 / 12, 8 / 12])
    assert np.isnan(anytime.ecdf(records, "C", grid)).all()


def test_auc_against_a_hand_computation_and_the_area_itself(records):
    def share(h):  # the part of [log10 1, log10 1000] after the hit
        return 0.0 if math.isinf(h) else (3 - math.log10(h)) / 3

    for v in ("A", "B"):
        per_problem = []
        for p in ("P", "Q"):
            hand = np.mean([share(h) for seed in HITS[p][v] for h in seed])
            assert anytime.auc(records, v, p) == pytest.approx(hand)
            # the same as the area under the ECDF over log10(E), integrated on a fine grid
            x = np.geomspace(1, 1000, 200_001)
            area = np.trapezoid(anytime.ecdf(records, v, x, p), np.log10(x)) / 3
            assert anytime.auc(records, v, p) == pytest.approx(area, abs=2e-4)
            per_problem.append(hand)
        assert anytime.auc(records, v) == pytest.approx(np.mean(per_problem))
    assert anytime.auc(records, "A", "P") == pytest.approx((1 + 2 / 3 + (3 - math.log10(2)) / 3
                                                            + (3 - math.log10(4)) / 3 + 1 / 3) / 6)
    assert anytime.auc_scores(records)["Q"]["B"] == pytest.approx((3 - math.log10(5) + 3 - math.log10(50)) / 6)


# ----- ERT -----
def test_ert_against_a_hand_computation(records):
    # A on P, target 0.3: every run hits, at 1, 2, 4
    e = anytime.ert(records, "P", "A", 0.3)
    assert (e.value, e.hits, e.runs) == (pytest.approx(7 / 3), 3, 3)
    # target 0.6: hits at 10 and 100; the other run spent all its 1,000 evaluations
    assert anytime.ert(records, "P", "A", 0.6).value == pytest.approx((10 + 1000 + 100) / 2)
    # B on P, target 0.3: hits at 10 and 20; the run that never hits stopped after 600
    e = anytime.ert(records, "P", "B", 0.3)
    assert e.value == pytest.approx((10 + 20 + 600) / 2)
    # a resample of only the run that never hits (chance 1/27 > 2.5 %) has no ERT: the upper bound is inf
    assert e.low <= e.value < e.high == math.inf
    # no run hits: inf, without an interval
    e = anytime.ert(records, "P", "B", 0.6)
    assert (e.value, e.hits, e.reached) == (math.inf, 0, False)
    # identical runs: the interval is the point
    e = anytime.ert(records, "Q", "B", 0.6)
    assert (e.low, e.value, e.high) == (50, 50, 50)
    with pytest.raises(ConfigError):
        anytime.ert(records, "P", "A", 0.5)


def test_ert_interval_is_seeded_and_brackets_the_estimate(records):
    a = anytime.ert(records, "P", "A", 0.6, resamples=500, seed=3)
    assert anytime.ert(records, "P", "A", 0.6, resamples=500, seed=3) == a
    assert a.low <= a.value <= a.high
    assert math.isnan(anytime.ert(records, "P", "A", 0.6, resamples=0).low)
    assert len(anytime.ert_table(records, resamples=0)) == 2 * 2 * 2


# ----- ranks -----
def synthetic_scores(better_is_higher=True, problems=10):
    """'best' beats every other variant on every problem; the rest shuffle."""
    rng = np.random.default_rng(0)
    scores = {}
    for i in range(problems):
        others = rng.permutation(3) * 0.1
        row = {"x": 0.2 + others[0], "y": 0.2 + others[1], "z": 0.2 + others[2], "best": 0.9}
        scores[f"p{i}"] = row if better_is_higher else {v: 1 - s for v, s in row.items()}
    return scores


def test_friedman_and_critical_difference_find_the_clear_winner():
    r = anytime.ranks(synthetic_scores())
    assert r.computed and r.problems == tuple(f"p{i}" for i in range(10))
    assert r.mean_ranks["best"] == 1.0
    assert min(r.mean_ranks, key=r.mean_ranks.get) == "best"
    assert r.p < 0.01
    # Demšar (2006), table 5: q_0.05 = 2.569 for 4 classifiers; CD = q · sqrt(k (k + 1) / (6 N))
    assert r.cd == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 10)), abs=2e-3)
    worst = max(r.mean_ranks, key=r.mean_ranks.get)
    assert r.mean_ranks[worst] - 1.0 > r.cd and r.nemenyi["best"][worst] < 0.05
    # lower is better: the same winner
    low = anytime.ranks(synthetic_scores(False), better="lower")
    assert low.mean_ranks == r.mean_ranks and low.p == pytest.approx(r.p)


def test_ranks_skip_with_a_reason():
    two = anytime.ranks({p: {"a": 1.0, "b": 0.5} for p in ("p", "q", "r")})
    assert not two.computed and "3 or more variants" in two.skipped
    incomplete = anytime.ranks({"p": {"a": 1, "b": 2, "c": 3}, "q": {"a": 1, "b": 2}})
    assert not incomplete.computed and "c ran on fewer problems" in incomplete.skipped
    ties = anytime.ranks({p: {"a": 1.0, "b": 1.0, "c": 1.0} for p in ("p", "q", "r")})
    assert ties.computed and ties.p == 1.0 and ties.mean_ranks == {"a": 2.0, "b": 2.0, "c": 2.0}


# ----- figures and words -----
def test_figures_are_written_in_the_experiments_colours(records, tmp_path):
    r = anytime.ranks(synthetic_scores())
    paths = anytime_report.write_figures(str(tmp_path / "out"), records, r)
    assert [os.path.basename(p) for p in paths] == ["ecdf.png", "cd.png"]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(p) > 10_000
    fig = anytime_report.ecdf_figure(records)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 3  # P, Q, and both
    col = colours(["A", "B"])
    for ax in panels:
        assert ax.get_xscale() == "log" and ax.get_xlabel() == "evaluations"
        steps = [line for line in ax.get_lines() if line.get_label().startswith(("A", "B"))]
        assert [line.get_color() for line in steps] == [col["A"], col["B"]]
    # a skipped ranking draws no diagram
    skipped = anytime.ranks({"p": {"a": 1.0}})
    assert anytime_report.write_figures(str(tmp_path / "two"), records, skipped) == [str(tmp_path / "two" / "ecdf.png")]
    with pytest.raises(ConfigError):
        anytime_report.cd_figure(skipped)


def test_markdown_says_direction_and_size(records):
    text = "\n".join(anytime_report.markdown(records))
    a = anytime.auc(records, "A")
    assert f"| A | {anytime.auc(records, 'A', 'P'):.3f} | {anytime.auc(records, 'A', 'Q'):.3f} | {a:.3f} |" in text
    assert "| P | 30 % | 2 [1–4] (3/3 reached) | 315 [" in text
    assert "∞ (0/3 reached)" in text
    # A has the larger AUC, but where both reach a target B is sooner on average: ERT(A) / ERT(B) is
    # (7/3) / 315 on P at 0.3, (1 + 1 + 1000) / 2 / 5 on Q at 0.3, (1 + 1000 + 1000) / 2 / 50 on Q at 0.6
    assert "A has an AUC 1.39× that of B over both problems: 0.558 vs 0.403" in text
    g = ((7 / 3) / 315 * (1002 / 2) / 5 * (2001 / 2) / 50) ** (1 / 3)
    assert f"B reaches a target {g:.1f}× sooner than A on average" in text
    assert "over the 3 (problem, target) pairs both reach" in text and "1 pair only A reaches" in text
    assert "Ranks across problems not computed: needs 3 or more variants, got 2." in text


def test_report_from_experiment_folders(tmp_path):
    problems = make_runs(tmp_path)
    out = tmp_path / "report"
    for name in ("P", "Q"):  # lay the runs out as experiment folders: OUT/runs/<variant>-seed<k>/
        for run in problems[name]:
            with open(os.path.join(run.folder, "summary.json"), "w") as f:
                json.dump(run.summary, f)
    lines, paths = anytime_report.report(str(out), {"P": str(tmp_path / "P"), "Q": str(tmp_path / "Q")}, TARGETS)
    assert [os.path.basename(p) for p in paths] == ["ecdf.png"] and os.path.exists(paths[0])
    assert lines[0].startswith("## Anytime") and "![ECDF" in "\n".join(lines) and "cd.png" not in "\n".join(lines)


def test_imports_no_tensorflow():
    import subprocess
    import sys
    code = ("import sys, evoprune.experiments.anytime; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
