"""Layer-wise SA and GA on a synthetic problem: budget, cache, feasibility, seeds, swaps, state."""
from functools import partial

import numpy as np
import pytest
from deap import tools

from .fake_problem import SPECS, Rows, make_search, resumes_identically

ALGOS = ["sa", "ga"]


def make(name, budget=120, **kw):
    kw.setdefault("preset", "study")
    return make_search(name, budget=budget, eval_set="validation", **kw)


@pytest.mark.parametrize("name", ALGOS)
def test_budget_counts_every_evaluation_and_no_cache_hit(name):
    sent = []
    state = make(name, budget=120, sent=sent).run()
    assert state.evaluations == 120 == len(sent)          # baseline, starts, populations, all counted
    assert len(set(sent)) == len(sent)                    # a mask already scored is never sent again
    assert sum(layer["evaluations"] for layer in state.layers) == 120 - 1  # +1: the baseline


def test_ga_on_a_tiny_layer_serves_repeats_from_the_cache():
    sent = []
    search = make("ga", budget=400, sent=sent)
    scored = []
    orig = search.evaluate
    search.evaluate = lambda inds, **kw: scored.extend(inds) or orig(inds, **kw)
    state = search.run()
    assert len(set(sent)) == len(sent) == state.evaluations
    assert len(scored) > state.evaluations               # repeats were scored, but not evaluated again


@pytest.mark.parametrize("name", ALGOS)
def test_same_seed_same_masks_other_seed_other_masks(name):
    a, b, c = (make(name, seed=s).run().masks for s in (0, 0, 1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    assert any(not m.all() for m in a.values())          # something was pruned


@pytest.mark.parametrize("name", ALGOS)
def test_infeasible_first_layer_keeps_its_mask(name):
    # baseline loss 0.2 sits above the first layer's threshold 1.0 × 1/6: nothing there is feasible
    rows = Rows()
    state = make(name, base_loss=0.2, callbacks=[rows]).run()
    assert state.masks["l0"].all()
    assert state.layers[0]["feasible_found"] is False
    assert any(r["layer"] == "l0" and r["event"].startswith("no_feasible_mask") for r in rows.rows)
    assert state.layers[1]["feasible_found"] is True      # later thresholds are above the loss


@pytest.mark.parametrize("name", ALGOS)
def test_best_is_never_infeasible_while_a_feasible_mask_exists(name):
    search = make(name, budget=200)
    state = search.run()
    for layer in state.layers:
        assert layer["feasible_found"]
    # the chosen masks' loss stays under every threshold of the warm-up
    assert state.current.loss < search.problem.objective(state.baseline).max_loss(SPECS[-1].index)


def test_operator_swap_takes_effect():
    calls = []

    def spy(a, b):
        calls.append(1)
        return tools.cxTwoPoint(a, b)

    default = make("ga").run().masks
    search = make("ga")
    search.toolbox.register("mate", spy)
    swapped = search.run().masks
    assert calls
    assert any(not np.array_equal(default[k], swapped[k]) for k in default)


@pytest.mark.parametrize("name", ALGOS)
def test_saved_state_continues_identically(name):
    state = resumes_identically(partial(make, name))
    assert 0 < state.unit < len(SPECS) or state.unit_started  # really mid-run
