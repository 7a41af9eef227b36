"""The DEAP seam: a Problem's toolbox under DEAP's own algorithms, with a user's spawn, fork or Ray pool."""
import os
import pickle
import random
import subprocess
import sys

import deap.algorithms
import deap.tools
import multiprocess
import numpy as np
import pytest

import evoprune
from evoprune.network import models
from evoprune.problem.genome import FrontIndividual, MaskIndividual, bits

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def problem(tiny_model, small_mnist):
    return evoprune.Problem(tiny_model, small_mnist[2], small_mnist[3], objective=evoprune.Floor(delta=0.005))


def same_fitness_serially(problem, individuals):
    """Each individual's fitness as the problem's toolbox computes it here, in this process."""
    tb = problem.toolbox(seed=0)
    return [tuple(tb.evaluate(ind)) for ind in individuals]


def run_the_readme_snippet(problem, x_test, y_test, algorithm):
    """The issue's contract, as a user writes it: DEAP's algorithm, evoprune's toolbox, the user's spawn pool."""
    random.seed(0)
    toolbox = problem.toolbox(seed=0)
    toolbox.register("mate", deap.tools.cxTwoPoint)
    toolbox.register("mutate", deap.tools.mutFlipBit, indpb=0.01)
    toolbox.register("select", deap.tools.selTournament, tournsize=3)
    with multiprocess.get_context("spawn").Pool(2, initializer=evoprune.init_worker, initargs=(problem,)) as pool:
        toolbox.register("map", pool.map)
        pop = toolbox.population(n=8)
        stats = deap.tools.Statistics(lambda ind: ind.fitness.values[0])
        stats.register("feasible", np.mean)
        hof = deap.tools.HallOfFame(2)
        if algorithm == "eaSimple":
            pop, log = deap.algorithms.eaSimple(pop, toolbox, cxpb=0.5, mutpb=0.3, ngen=3, stats=stats,
                                                halloffame=hof, verbose=False)
        else:
            pop, log = deap.algorithms.eaMuPlusLambda(pop, toolbox, mu=8, lambda_=8, cxpb=0.5, mutpb=0.3, ngen=2,
                                                      stats=stats, halloffame=hof, verbose=False)
        worker_pids = set(pool.starmap(os.getpid, [()] * 8))
    best = deap.tools.selBest(pop, 1)[0]
    masks = problem.masks(best)
    return pop, log, hof, best, masks, problem.report(masks, x_test, y_test), worker_pids


@pytest.mark.parametrize("algorithm", ["eaSimple", "eaMuPlusLambda"])
def test_deap_algorithms_run_on_the_toolbox_with_a_user_spawn_pool(algorithm, problem, small_mnist, tiny_model):
    pop, log, hof, best, masks, report, pids = run_the_readme_snippet(problem, small_mnist[4], small_mnist[5],
                                                                      algorithm)
    assert os.getpid() not in pids
    assert sum(log.select("nevals")) >= len(pop)              # evaluations really happened, in the pool
    assert all(ind.fitness.valid for ind in pop) and isinstance(best, MaskIndividual)
    # the pool's fitness is the problem's: (feasible, cost), as a serial evaluation here gives it
    assert [tuple(ind.fitness.values) for ind in hof] == same_fitness_serially(problem, hof)
    assert {ind.fitness.values[0] for ind in pop} <= {0.0, 1.0} and len({ind.fitness.values for ind in pop}) > 1
    specs = models.prunable_layers(tiny_model)
    assert {k: v.shape for k, v in masks.items()} == {s.name: s.shape for s in specs}
    assert np.array_equal(np.concatenate([masks[s.name].ravel() for s in specs]), bits(best).astype(bool))
    assert set(report) >= {"test_accuracy", "test_loss", "sparsity_global", "sparsity_layer_mean"}
    assert 0.3 < report["sparsity_global"] < 0.9 and 0 < report["test_accuracy"] <= 1


def test_rays_pool_serves_the_same_toolbox(problem):
    ray = pytest.importorskip("ray")
    from ray.util.multiprocessing import Pool

    random.seed(1)
    toolbox = problem.toolbox(seed=1)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        with Pool(2, initializer=evoprune.init_worker, initargs=(problem,)) as pool:
            toolbox.register("map", pool.map)
            pop = toolbox.population(n=6)
            pop, log = deap.algorithms.eaSimple(pop, toolbox, cxpb=0.5, mutpb=0.3, ngen=1, verbose=False)
    finally:
        ray.shutdown()
    assert sum(log.select("nevals")) >= 6
    assert [tuple(ind.fitness.values) for ind in pop] == same_fitness_serially(problem, pop)


def test_a_pool_forked_after_tensorflow_says_to_use_spawn_instead_of_hanging(problem):
    toolbox = problem.toolbox(seed=0)  # TensorFlow is loaded in this process now
    pop = toolbox.population(n=2)
    with multiprocess.get_context("fork").Pool(1, initializer=evoprune.init_worker, initargs=(problem,)) as pool:
        with pytest.raises(evoprune.errors.EvopruneError, match="forked after TensorFlow.*spawn"):
            pool.map_async(toolbox.evaluate, pop).get(timeout=120)


def test_a_pool_without_init_worker_says_what_is_missing(problem):
    toolbox = problem.toolbox(seed=0)
    with multiprocess.get_context("spawn").Pool(1) as pool:
        with pytest.raises(evoprune.errors.EvopruneError, match="initializer=evoprune.init_worker"):
            pool.map_async(toolbox.evaluate, toolbox.population(n=1)).get(timeout=120)


def test_the_problem_pickles_without_tensorflow_objects(problem, tmp_path):
    data = pickle.dumps(problem)
    # the model file and the images; nothing else of size
    assert len(data) < len(problem.model_bytes) + problem.x.nbytes + problem.y.nbytes + 100_000
    (tmp_path / "p.pkl").write_bytes(data)
    code = ("import pickle, sys; p = pickle.load(open(sys.argv[1], 'rb')); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; print(len(p.specs))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "p.pkl")], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(problem.specs)


def test_mutate_works_without_indpb_and_evaluate_returns_a_fitness_tuple(problem):
    tb = problem.toolbox(seed=3)
    ind = tb.individual()
    before = bits(ind).copy()
    (ind,) = tb.mutate(ind)
    assert (bits(ind) != before).any()
    fit = tb.evaluate(ind)
    assert isinstance(fit, tuple) and len(fit) == 2 and fit[0] in (0.0, 1.0)
    assert fit.result.images == len(problem.y) and fit.score.cost == fit[1]


def test_study_objective_layer_scope_and_front_fitness(tiny_model, small_mnist):
    specs = models.prunable_layers(tiny_model)
    layer = specs[-2]
    fixed = {s.name: np.ones(s.shape, bool) for s in specs}
    fixed[specs[0].name][..., 0] = False  # another layer's mask, held fixed
    study = evoprune.Problem(tiny_model, small_mnist[2], small_mnist[3], objective=evoprune.Study(),
                             layer=(layer.name, fixed))
    tb = study.toolbox(seed=0, moves="study", start="study")
    ind = tb.individual()
    assert len(ind) == layer.size
    fit = tb.evaluate(ind)
    s_mean = np.mean([1 - m.mean() for m in study.masks(ind).values()])
    feasible = fit.result.loss < 1.0 * (layer.index + 1) / len(tiny_model.layers)  # the study's warm-up threshold
    assert fit[0] == float(feasible)
    penalty = (study.baseline().loss - fit.result.loss) ** 2 if feasible else 1e8
    assert fit[1] == pytest.approx(penalty + 1 / (s_mean + 1e-8))
    masks = study.masks(ind)
    assert not masks[specs[0].name][..., 0].any() and np.array_equal(masks[layer.name].ravel(), bits(ind) == 1)
    front = evoprune.Problem(tiny_model, small_mnist[2], small_mnist[3]).toolbox(seed=0, fitness="front")
    ind = front.individual()
    assert isinstance(ind, FrontIndividual)
    accuracy, sparsity = front.evaluate(ind)
    assert accuracy == front.evaluate(ind).result.accuracy and sparsity == pytest.approx(1 - bits(ind).mean())
