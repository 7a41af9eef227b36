"""DEAP's own algorithms on evoprune's toolbox, with your own process pool: the README's script, with options.

    python runners/deap_toolbox.py --data ../shared/data/mnist/mnist-5k.npz            # eaSimple, spawn pool of 2
    python runners/deap_toolbox.py --data ... --algorithm eaMuPlusLambda --pool ray

Without --model it first trains a LeNet-5 for a few epochs (about 20 s on 2 cores).
"""
from __future__ import annotations

import argparse
import random

import deap.algorithms
import deap.tools
import multiprocess

import evoprune


def run(problem, x_test, y_test, algorithm: str = "eaSimple", pool_kind: str = "spawn", workers: int = 2) -> dict:
    """The README's snippet: evoprune's toolbox, DEAP's algorithm, the user's pool."""
    toolbox = problem.toolbox(seed=0)      # registers individual, population, evaluate, mate, mutate, select, map
    toolbox.register("mate", deap.tools.cxTwoPoint)
    toolbox.register("mutate", deap.tools.mutFlipBit, indpb=0.01)
    toolbox.register("select", deap.tools.selTournament, tournsize=3)
    with make_pool(pool_kind, workers, problem) as pool:
        toolbox.register("map", pool.map)
        pop = toolbox.population(n=8)
        if algorithm == "eaSimple":
            pop, log = deap.algorithms.eaSimple(pop, toolbox, cxpb=0.5, mutpb=0.3, ngen=3, verbose=False)
        else:
            pop, log = deap.algorithms.eaMuPlusLambda(pop, toolbox, mu=8, lambda_=8, cxpb=0.5, mutpb=0.3, ngen=3,
                                                      verbose=False)
    best = deap.tools.selBest(pop, 1)[0]
    masks = problem.masks(best)            # {layer name: bool array of the kernel's shape}
    return problem.report(masks, x_test, y_test)   # test accuracy, loss, global and layer-mean sparsity


def make_pool(kind: str, workers: int, problem):
    """A pool whose workers can evaluate `problem`: multiprocess with spawn, or Ray's."""
    if kind == "ray":
        from ray.util.multiprocessing import Pool

        return Pool(workers, initializer=evoprune.init_worker, initargs=(problem,))
    return multiprocess.get_context("spawn").Pool(workers, initializer=evoprune.init_worker, initargs=(problem,))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="local data: a Keras-layout .npz or a folder of IDX files (default: the download)")
    p.add_argument("--model", help="a .keras model (default: train LeNet-5 for --epochs)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--algorithm", choices=("eaSimple", "eaMuPlusLambda"), default="eaSimple")
    p.add_argument("--pool", choices=("spawn", "ray"), default="spawn")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()

    from evoprune.network import models

    data = evoprune.load_data("mnist", args.data)
    if args.model:
        model = models.load_model(args.model)
    else:
        models.set_seed(0)  # the initial weights too: the same model every time
        model = models.build_lenet5()
        models.train(model, data.x_train, data.y_train, data.x_val, data.y_val,
                     models.TrainConfig(epochs=args.epochs, optimizer="adam", learning_rate=0.005), progress=False)
    random.seed(0)  # DEAP's own operators draw from Python's random
    problem = evoprune.Problem(model, data.x_search, data.y_search, objective=evoprune.Floor(delta=0.005))
    print(run(problem, data.x_test, data.y_test, args.algorithm, args.pool, args.workers))


if __name__ == "__main__":
    main()
