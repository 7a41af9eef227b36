"""Layer-wise SA and GA on a synthetic problem: budget, cache, feasibility, seeds, swaps, state."""
from functools import partial

import numpy as np
import pytest
from deap import tools

from evoprune.algorithms import GeneticAlgorithm, SimulatedAnnealing
from evoprune.config import make_config

from .fake_problem import N_LAYERS, SPECS, FakeTask, Rows, resumes_identically

ALGOS = [SimulatedAnnealing, GeneticAlgorithm]




def make(cls, budget=120, seed=0, base_loss=0.05, sent=None, callbacks=(), state=None, preset="study",
         scores=None, **cfg):
    config = make_config(preset, budget=budget, seed=seed, population=6, elite=2, tournament=3, eval_set="validation",
                         **cfg)
    return cls(SPECS, config, partial(FakeTask, base_loss=base_loss, sent=sent), layer_count=N_LAYERS,
               callbacks=callbacks, state=state, scores=scores)


@pytest.mark.parametrize("cls", ALGOS)
def test_budget_counts_every_evaluation_and_no_cache_hit(cls):
    sent = []
    state = make(cls, budget=120, sent=sent).run()
    assert state.evaluations == 120 == len(sent)          # baseline, starts, populations, all counted
    assert len(set(sent)) == len(sent)                    # a mask already scored is never sent again
    assert sum(layer["evaluations"] for layer in state.layers) == 120 - 1  # +1: the baseline


def test_ga_on_a_tiny_layer_serves_repeats_from_the_cache():
    sent = []
    search = make(GeneticAlgorithm, budget=400, sent=sent)
    scored = []
    orig = search.evaluate
    search.evaluate = lambda inds, **kw: scored.extend(inds) or orig(inds, **kw)
    state = search.run()
    assert len(set(sent)) == len(sent) == state.evaluations
    assert len(scored) > state.evaluations               # repeats were scored, but not evaluated again


@pytest.mark.parametrize("cls", ALGOS)
def test_same_seed_same_masks_other_seed_other_masks(cls):
    a, b, c = (make(cls, seed=s).run().masks for s in (0, 0, 1))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)
    assert any(not m.all() for m in a.values())          # something was pruned


@pytest.mark.parametrize("cls", ALGOS)
def test_infeasible_first_layer_keeps_its_mask(cls):
    # baseline loss 0.2 sits above the first layer's threshold 1.0 × 1/6: nothing there is feasible
    rows = Rows()
    state = make(cls, base_loss=0.2, callbacks=[rows]).run()
    assert state.masks["l0"].all()
    assert state.layers[0]["feasible_found"] is False
    assert any(r["layer"] == "l0" and r["event"].startswith("no_feasible_mask") for r in rows.rows)
    assert state.layers[1]["feasible_found"] is True      # later thresholds are above the loss


@pytest.mark.parametrize("cls", ALGOS)
def test_best_is_never_infeasible_while_a_feasible_mask_exists(cls):
    state = make(cls, budget=200).run()
    for layer in state.layers:
        assert layer["feasible_found"]
    # the chosen masks' loss stays under every threshold of the warm-up
    search = make(cls)
    search.state = state
    search._make_objective()
    assert state.current.loss < search.objective.max_loss(SPECS[-1].index)


def test_operator_swap_takes_effect():
    calls = []

    def spy(a, b):
        calls.append(1)
        return tools.cxTwoPoint(a, b)

    default = make(GeneticAlgorithm).run().masks
    search = make(GeneticAlgorithm)
    search.toolbox.register("mate", spy)
    swapped = search.run().masks
    assert calls
    assert any(not np.array_equal(default[k], swapped[k]) for k in default)


@pytest.mark.parametrize("cls", ALGOS)
def test_saved_state_continues_identically(cls):
    state = resumes_identically(partial(make, cls))
    assert 0 < state.layer_pos < len(SPECS) or state.layer_started  # really mid-run