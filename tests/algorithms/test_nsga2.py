"""NSGA-II on whole-model genomes: a non-dominated front, budget and cache, reported point, seeds, state, files."""
import numpy as np
import pytest

from evoprune.algorithms import check_budget, make_algorithm
from evoprune.network.masks import split, unpack
from evoprune.search.config import make_config

from .fake_problem import SPECS, TOTAL, Rows, make_search, resumes_identically, result


def make(budget=150, **kw):
    return make_search("nsga2", budget=budget, delta=0.02, importance="magnitude", **kw)


def front_of(search):
    """The run's front as (masks, search-data result), from the sparsest."""
    return [(search.masks_of(ind), ind.result) for ind in search.algorithm.front(search.state.algo)]


def fake_scores():
    rng = np.random.default_rng(7)
    return {s.name: rng.random(s.shape) for s in SPECS}


def dominates(a, b):
    """(accuracy, sparsity) pairs, both maximised."""
    return a[0] >= b[0] and a[1] >= b[1] and a != b


def objectives(packed_bytes):
    """(accuracy, global sparsity) of a genome as it was sent for evaluation."""
    genome = unpack(np.frombuffer(packed_bytes, np.uint8), TOTAL)
    return result(split(genome, SPECS)).accuracy, 1.0 - genome.sum() / TOTAL


@pytest.mark.parametrize("scores", [None, "informed"])
def test_front_is_non_dominated_by_anything_evaluated_and_every_evaluation_counted(scores):
    sent = []
    search = make(sent=sent, scores=fake_scores() if scores else None)
    state = search.run()
    assert state.evaluations == 150 == len(sent) == len(set(sent))  # counted once each, repeats from the cache
    front = [(res.accuracy, 1.0 - sum(int(m.sum()) for m in masks.values()) / TOTAL) for masks, res in front_of(search)]
    assert len(front) >= 3
    for a in front:
        assert not any(dominates(b, a) for b in front)
        assert not any(dominates(objectives(p), a) for p in sent)
    assert [s for _, s in front] == sorted((s for _, s in front), reverse=True)  # from the sparsest


def test_reported_masks_are_the_sparsest_front_point_within_delta_on_the_search_data():
    search = make()
    state = search.run()
    floor = state.baseline.accuracy - 0.02
    ok = [(masks, res) for masks, res in front_of(search) if res.accuracy >= floor - 1e-12]
    sparsest = ok[0][0]  # the front runs from the sparsest
    assert all(np.array_equal(state.masks[k], sparsest[k]) for k in sparsest)
    assert state.current.accuracy >= floor
    assert [layer["name"] for layer in state.layers] == [s.name for s in SPECS]
    assert sum(layer["evaluations"] for layer in state.layers) == state.evaluations - 1  # +1: the baseline


def test_one_row_per_generation_and_the_hypervolume_never_drops():
    rows = Rows()
    state = make(callbacks=[rows]).run()
    gens = [r for r in rows.rows if "hypervolume" in r["event"]]
    assert len(gens) == state.step + 1  # the first population, then one row per generation
    assert all(r["layer"] == "all" for r in gens)
    hv = [float(r["event"].rsplit(" ", 1)[1]) for r in gens]
    assert hv == sorted(hv) and hv[-1] > hv[0]


def test_same_seed_same_front_other_seed_other_front():
    fronts = []
    for seed in (0, 0, 1):
        search = make(seed=seed)
        search.run()
        fronts.append([(res.accuracy, tuple(np.concatenate([m.ravel() for m in masks.values()])))
                       for masks, res in front_of(search)])
    assert fronts[0] == fronts[1] != fronts[2]


def test_saved_state_continues_identically():
    resumes_identically(make, at=5)


def test_population_must_suit_the_dominance_tournament():
    from evoprune.errors import ConfigError

    with pytest.raises(ConfigError, match="multiple of 4"):
        make_algorithm("nsga2", make_config(population=10))
    with pytest.raises(ConfigError, match="too small"):
        check_budget(make_algorithm("nsga2", make_config(population=8)), make_config(budget=8), 1)


def test_prune_writes_the_front_with_test_figures(tiny_model, small_mnist, tmp_path):
    from evoprune import Hooks, Images, make_config, prune
    from evoprune.network import models
    from evoprune.pruned.front import read_front
    from evoprune.network.masks import load_masks

    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    config = make_config(certify=False, budget=60, seed=0, population=8, importance="magnitude", delta=0.02)
    result = prune(tiny_model, Images((x_val, y_val), (x_te, y_te)), "nsga2", config, folder=str(tmp_path),
                   hooks=Hooks(progress=False))
    rows, masks = read_front(str(tmp_path))
    assert len(rows) == len(masks) == result.summary["front_points"] >= 3
    pairs = [(r["search_accuracy"], r["sparsity_global"]) for r in rows]
    assert not any(dominates(b, a) for a in pairs for b in pairs)
    specs = models.prunable_layers(tiny_model)
    reported = [m for r, m in zip(rows, masks) if r["reported"]]
    assert len(reported) == 1
    chosen = load_masks(str(tmp_path / "masks.npz"), specs)
    assert all(np.array_equal(chosen[k], reported[0][k]) for k in chosen)
    # test figures are Keras' own, computed after the search for reporting only
    kernels = models.kernels(tiny_model, specs)
    for r, m in list(zip(rows, masks))[:3]:
        loss, acc = models.evaluate_masked(tiny_model, m, x_te, y_te, kernels)
        assert r["test_accuracy"] == pytest.approx(acc, abs=1e-6)  # Keras reports float32
        assert r["test_loss"] == pytest.approx(loss, rel=1e-5)


@pytest.mark.slow
def test_process_pool_serves_whole_genomes_with_the_same_front(tiny_model, small_mnist, tmp_path):
    from evoprune import Execution, Hooks, Images, make_config, prune

    x_tr, y_tr, x_val, y_val, x_te, y_te = small_mnist
    config = make_config(certify=False, budget=40, seed=1, population=8, importance="magnitude")
    runs = [prune(tiny_model, Images((x_val, y_val), (x_te, y_te)), "nsga2", config, folder=str(tmp_path / ex),
                  execution=Execution(ex, 2 if ex == "process" else None), hooks=Hooks(progress=False))
            for ex in ("serial", "process")]
    assert runs[0].front == runs[1].front
