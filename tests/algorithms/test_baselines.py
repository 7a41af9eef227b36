"""The two baselines: random search draws independent masks over its sparsity range and keeps the best drawn; the
(1+1)-EA flips about `mean_flips` bits per child and never takes a worse one; both spend the budget and resume."""
import math

import numpy as np
import pytest

from evoprune.algorithms import make_algorithm
from evoprune.algorithms.random_search import prune_at_random
from evoprune.errors import ConfigError
from evoprune.network.masks import flatten, unpack
from evoprune.problem.genome import MaskIndividual, bits
from evoprune.search.config import make_config

from .fake_problem import SPECS, TOTAL, Rows, make_search, resumes_identically, true_scores

# 150, not 120: the loop's whole-model share of the budget is exact at 150 on the fake 102-bit genome
BUDGET = 150


def random_search(budget=BUDGET, **kw):
    return make_search("random-search", budget=budget, delta=0.05, **kw)


def one_plus_one(budget=BUDGET, **kw):
    return make_search("one-plus-one", budget=budget, delta=0.05, start_sparsity=0.3, **kw)


def sparsities(sent) -> np.ndarray:
    return np.array([1.0 - unpack(np.frombuffer(p, np.uint8), TOTAL).mean() for p in sent])


def feasible_costs(rows):
    """(feasible, cost) of every row that shows a mask."""
    return [(int(r["feasible"]), float(r["cost"])) for r in rows if r["cost"] != ""]


@pytest.mark.parametrize("make", [random_search, one_plus_one], ids=["random-search", "one-plus-one"])
def test_the_budget_is_spent_exactly_and_every_mask_scored_once(make):
    sent = []
    state = make(sent=sent).run()
    assert state.evaluations == BUDGET == len(sent) == len(set(sent))


def test_random_search_draws_independent_masks_spread_over_its_range():
    sent, rows = [], Rows()
    random_search(sparsity_range=(0.2, 0.8), sent=sent, callbacks=[rows]).run()
    drawn = sparsities(sent[1:])  # after the unpruned baseline
    # exact counts: every draw lies in the range (to the nearest bit), and the draws cover it evenly
    assert drawn.min() >= 0.2 - 0.5 / TOTAL and drawn.max() <= 0.8 + 0.5 / TOTAL
    quarters = np.histogram(drawn, bins=4, range=(0.2, 0.8))[0] / drawn.size
    assert quarters.min() > 0.15 and abs(drawn.mean() - 0.5) < 0.05
    # independent: a draw says nothing about the next one's sparsity, nor which bits the next turns off
    assert abs(np.corrcoef(drawn[:-1], drawn[1:])[0, 1]) < 0.25
    masks = [unpack(np.frombuffer(p, np.uint8), TOTAL).astype(bool) for p in sent[1:]]
    shared = [np.mean(~a & ~b) for a, b in zip(masks, masks[1:])]
    expected = [(1 - a.mean()) * (1 - b.mean()) for a, b in zip(masks, masks[1:])]  # off in both by chance
    assert abs(np.mean(shared) - np.mean(expected)) < 0.02
    # no importance, no start: the importance scores change nothing it draws
    same = []
    random_search(sparsity_range=(0.2, 0.8), sent=same, scores=true_scores()).run()
    assert same == sent


def test_random_search_reports_the_best_mask_it_drew():
    rows = Rows()
    state = random_search(callbacks=[rows]).run()
    drawn = feasible_costs(rows.rows)
    best = max(drawn, key=lambda fc: (fc[0], -fc[1]))
    assert best[0] == 1 and state.algo.best.score.cost == best[1]
    assert np.array_equal(flatten(state.masks, SPECS), bits(state.algo.best).astype(bool))
    # "new best" marks exactly the draws that beat every feasible one before them
    running, marked = math.inf, []
    for r in rows.rows:
        if r["cost"] != "" and r["feasible"] == 1 and float(r["cost"]) < running:
            running = float(r["cost"])
            marked.append(r["step"])
    assert marked == [r["step"] for r in rows.rows if r["event"] == "new best"] and len(marked) > 1


def test_a_random_mask_turns_off_kept_bits_only_to_the_sparsity_asked():
    rng = np.random.default_rng(0)
    ind = MaskIndividual(bytes([0] * 20 + [1] * 80))
    prune_at_random(ind, 0.5, rng)
    assert sum(ind) == 50 and not any(ind[:20])  # the bits already off count toward the sparsity, and stay off
    before = bytes(ind)
    assert prune_at_random(ind, 0.3, rng) == before  # already sparser: unchanged


def test_the_one_plus_one_ea_never_takes_a_worse_child_and_climbs():
    rows = Rows()
    one_plus_one(scores=true_scores(), callbacks=[rows]).run()
    costs = feasible_costs(rows.rows)
    # DEAP's order: feasible first, then lower cost; never a step back
    assert all((f2, -c2) >= (f1, -c1) for (f1, c1), (f2, c2) in zip(costs, costs[1:]))
    assert costs[-1][1] < costs[0][1]
    first = float(rows.rows[0]["sparsity_global"])
    assert abs(first - 0.3) < 0.05  # the informed start, one child later at most a few bits away


def test_the_one_plus_one_ea_starts_from_the_masks_held_without_an_informed_start():
    sent = []
    one_plus_one(sent=sent, budget=10).run()
    # the unpruned baseline is the parent: every child is a few standard bit flips away from the full mask
    assert all(s < 6 / TOTAL for s in sparsities(sent[1:4]))


@pytest.mark.parametrize("mean_flips", [1.0, 3.0])
def test_a_child_flips_mean_flips_bits_on_average(mean_flips):
    flips, rows = [], Rows()

    def count_flips(tb):
        plain = tb.mutate

        def counted(individual, indpb):
            before = bytes(individual)
            out = plain(individual, indpb=indpb)
            flips.append(sum(a != b for a, b in zip(before, individual)))
            return out

        tb.register("mutate", counted)

    one_plus_one(budget=400, mean_flips=mean_flips, scores=true_scores(), customize=count_flips,
                 callbacks=[rows]).run()
    # standard bit mutation: Binomial(n, mean_flips / n) flips a step, mean and variance ≈ mean_flips
    assert abs(np.mean(flips) - mean_flips) < 4 * math.sqrt(mean_flips / len(flips))
    assert abs(np.mean([f == 0 for f in flips]) - math.exp(-mean_flips)) < 0.08  # children equal to the parent
    assert {float(r["mutation_rate"]) for r in rows.rows} == {mean_flips / TOTAL}


@pytest.mark.parametrize("make", [random_search, one_plus_one], ids=["random-search", "one-plus-one"])
def test_saved_state_continues_identically(make):
    resumes_identically(lambda **kw: make(scores=true_scores(), **kw))


@pytest.mark.parametrize("name, settings, flag", [
    ("random-search", {"sparsity_range": (0.8, 0.2)}, "--sparsity-range"),
    ("random-search", {"sparsity_range": (0.1, 1.5)}, "--sparsity-range"),
    ("one-plus-one", {"mean_flips": 0.0}, "--mean-flips"),
    ("one-plus-one", {"mean_flips": -1.0}, "--mean-flips"),
])
def test_bad_settings_are_refused_in_one_line(name, settings, flag):
    with pytest.raises(ConfigError, match=f"{name}: {flag}") as err:
        make_algorithm(name, make_config(**settings))
    assert "\n" not in str(err.value)
