"""Whole-model SA and GA (scope "model"): one genome over every layer, global moves, the floor, budget, state."""
from functools import partial

import numpy as np
import pytest

from evoprune.algorithms import check_budget, make_algorithm, units
from evoprune.errors import ConfigError
from evoprune.network.masks import WHOLE, flatten, unpack
from evoprune.problem.genome import MaskIndividual, bits
from evoprune.problem.importance import global_threshold_masks
from evoprune.problem.objectives import paired_drop_error
from evoprune.search.config import make_config

from .fake_problem import SPECS, TOTAL, Rows, make_search, resumes_identically, result, true_scores

ALGOS = ["sa", "ga"]
DELTA = 0.05


def make(name, budget=150, **kw):
    return make_search(name, budget=budget, delta=DELTA, start_sparsity=0.3, scores=true_scores(), **kw)


def genome(masks):
    return flatten(masks, SPECS)


def test_scope_makes_one_genome_of_sa_and_ga_only():
    default = make_config()
    assert default.scope == "model"
    for name in ("sa", "ga"):
        assert units(make_algorithm(name, default), default, 5) == 1
        assert units(make_algorithm(name, make_config(scope="layers")), make_config(scope="layers"), 5) == 5
        assert units(make_algorithm(name, make_config("study")), make_config("study"), 5) == 5  # layer by layer
    assert units(make_algorithm("magnitude", default), default, 5) == 5  # one-shot rules go layer by layer
    ga = make_algorithm("ga", make_config(population=12))
    with pytest.raises(ConfigError, match="--budget 12 is too small for ga"):
        check_budget(ga, make_config(budget=12), 1)  # one population, plus the baseline
    check_budget(ga, make_config(budget=13), 1)
    with pytest.raises(ConfigError, match="--scope must be one of"):
        make_config(scope="blocks").validate()


@pytest.mark.parametrize("name", ALGOS)
def test_one_pass_over_every_layer_counts_every_evaluation(name):
    sent, rows = [], Rows()
    state = make(name, sent=sent, callbacks=[rows]).run()
    assert state.evaluations == 150 == len(sent) == len(set(sent))  # repeats come from the cache
    assert [layer["name"] for layer in state.layers] == [s.name for s in SPECS]
    assert sum(layer["evaluations"] for layer in state.layers) == 150 - 1  # +1: the baseline
    assert {r["layer"] for r in rows.rows} == {WHOLE}
    pruned = [s.name for s in SPECS if not state.masks[s.name].all()]
    assert len(pruned) == len(SPECS)  # one search pruned in every layer


@pytest.mark.parametrize("name", ALGOS)
def test_the_floor_holds_on_the_search_data_for_the_reported_masks(name):
    state = make(name).run()
    again = result(state.masks)  # the reported masks, scored afresh
    assert again == state.current
    # at the default 95 % confidence: the drop plus 1.645 of its paired standard errors
    bound = again.accuracy - 1.6449 * paired_drop_error(state.baseline, again)
    assert bound >= state.baseline.accuracy - DELTA - 1e-6
    assert state.baseline.accuracy - again.accuracy > DELTA / 2  # the bound binds, it is not far below the floor
    assert 1.0 - genome(state.masks).sum() / TOTAL > 0.3  # it went past the start


def test_the_start_is_the_global_importance_mask():
    sent = []
    make("sa", budget=20, sent=sent).run()
    start = unpack(np.frombuffer(sent[1], np.uint8), TOTAL)  # the first evaluation after the baseline
    assert np.array_equal(start, genome(global_threshold_masks(true_scores(), 0.3)))


def test_moves_prune_and_restore_across_layers_by_global_rank():
    search = make("sa", budget=20)
    search.run()
    ranks = search.toolbox.genome.ranks
    assert ranks.size == TOTAL
    rng = np.random.default_rng(0)
    start = (rng.random(TOTAL) < 0.5).astype(np.uint8)
    hits_off, hits_on, layers_off = [], [], set()
    for _ in range(200):
        ind = MaskIndividual(start.tobytes())
        search.toolbox.mutate(ind, indpb=0.2)
        b = bits(ind)
        off, on = np.flatnonzero((start == 1) & (b == 0)), np.flatnonzero((start == 0) & (b == 1))
        hits_off += ranks[off].tolist()
        hits_on += ranks[on].tolist()
        moved = np.zeros(TOTAL, np.uint8)
        moved[off] = 1
        layers_off |= {name for name, m in search.masks_of(MaskIndividual(moved.tobytes())).items() if m.any()}
    kept_ranks, pruned_ranks = ranks[start == 1], ranks[start == 0]
    assert np.mean(hits_off) < kept_ranks.mean() - 0.1    # pruning prefers the globally unimportant
    assert np.mean(hits_on) > pruned_ranks.mean() + 0.1   # restoring prefers the globally important
    assert layers_off == {s.name for s in SPECS}          # one genome: moves reach every layer


@pytest.mark.parametrize("name", ALGOS)
def test_saved_state_continues_identically(name):
    state = resumes_identically(partial(make, name))
    assert state.unit_started and 0 < state.evaluations < 150  # really mid-pass


@pytest.mark.parametrize("moves", ["informed", "layer"])
def test_sa_with_k_proposals_gives_the_same_masks_whatever_the_map(moves):
    """k proposals per step go to toolbox.map together: a map over 2 worker threads changes nothing."""
    from concurrent.futures import ThreadPoolExecutor

    def parallel_map(fn, items):
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(fn, list(items)))

    batches = []
    serial = make("sa", proposals=4, moves=moves, callbacks=[]).run()
    search = make("sa", proposals=4, moves=moves, map_fn=parallel_map)
    plain = search.evaluator.toolbox.map
    search.toolbox.register("map", lambda fn, items: batches.append(len(items)) or plain(fn, items))
    spread = search.run()
    assert all(np.array_equal(serial.masks[k], spread.masks[k]) for k in serial.masks)
    assert spread.evaluations == serial.evaluations and max(batches) == 4
    assert 1.0 - genome(spread.masks).sum() / TOTAL > 0.3


def test_layer_moves_touch_one_layer_each_chosen_by_size():
    search = make("sa", budget=20, moves="layer")
    search.run()
    rng = np.random.default_rng(1)
    start = (rng.random(TOTAL) < 0.7).astype(np.uint8)
    touched = []
    for _ in range(600):
        ind = MaskIndividual(start.tobytes())
        search.toolbox.mutate(ind, indpb=0.2)
        changed = search.masks_of(MaskIndividual((bits(ind) != start).astype(np.uint8).tobytes()))
        layers = [name for name, m in changed.items() if m.any()]
        assert len(layers) <= 1
        touched += layers
    shares = {s.name: touched.count(s.name) / len(touched) for s in SPECS}
    for s in SPECS:
        assert abs(shares[s.name] - s.size / TOTAL) < 0.08  # ∝ the layer's weights
