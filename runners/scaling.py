"""How evoprune uses the cores of this machine, measured in one run of this script.

    python runners/scaling.py --data ../shared/data/mnist/mnist-5k.npz [--out results/scaling.txt]

(1) Evaluation throughput: whole-model masks scored through the process executor by 1 and by
    N single-threaded workers (N = the cores), beside the serial executor (TensorFlow's own
    threads on every core), on the default search images (training + validation).
(2) An experiment (2 variants × 2N seeds, default search, small budget) three ways: run by run in
    one process (TensorFlow's threads on every core, what `compare` did before), run by run in one
    single-threaded worker, and spread over N single-threaded workers, one run each. The three
    must give the same runs; the script checks that they do.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np


def model_and_data(args):
    """The reference LeNet-5 (the experiments' default training, from the baseline cache) and its data."""
    from evoprune.experiments.baselines import model_and_data as get
    from evoprune.experiments.spec import DEFAULT_TRAINING, training_config

    return get(args.model, None, args.data, None if args.model else training_config(),
               DEFAULT_TRAINING["val_fraction"], args.baselines, progress=False)


def throughput(out, model_path, data, n: int, batches: int, batch: int) -> None:
    """(1) evaluations per second of whole-model masks: serial executor, 1 and n single-threaded workers."""
    from evoprune import Problem
    from evoprune.evaluation import registry
    from evoprune.executors import make_executor
    from evoprune.experiments.baselines import search_data
    from evoprune.network import models

    model = models.load_model(model_path)
    x, y = search_data(data, "train+validation")
    problem = Problem(model, x, y)
    toolbox = problem.toolbox(seed=0)
    rng = np.random.default_rng(0)
    population = []
    for _ in range(batches * batch):
        ind = toolbox.individual(sparsity=float(rng.uniform(0.5, 0.75)), spread=0.0)
        population.append(ind)
    out(f"(1) evaluation throughput: {batches} batches of {batch} whole-model masks "
        f"({problem.layout.size:,} bits) on {len(y):,} search images, after one warm-up batch")
    rates, reference = {}, None
    for label, name, workers, threads in (("serial (TF threads on every core)", "serial", None, None),
                                          ("process, 1 single-threaded worker", "process", 1, 1),
                                          (f"process, {n} single-threaded workers", "process", n, 1)):
        with make_executor(name, workers, threads=threads) as ex:
            ex.start(problem)
            ex.map(toolbox.evaluate, population[:batch])  # compiles the forward in every worker
            start = time.perf_counter()
            results = [tuple(f) for i in range(batches) for f in
                       ex.map(toolbox.evaluate, population[i * batch:(i + 1) * batch])]
            rates[label] = len(results) / (time.perf_counter() - start)
        reference = reference or results
        assert results == reference, f"{label}: other fitness than the serial executor's"
    registry.uninstall(problem.token)
    # The table once every rate is in: each row against the 1-worker one, measured after the serial row.
    out(f"{'executor':<34}{'evaluations/s':>15}{'× 1 worker':>12}")
    one = rates["process, 1 single-threaded worker"]
    for label, rate in rates.items():
        out(f"{label:<34}{rate:>15.1f}{rate / one:>12.2f}")
    ratio = rates[f"process, {n} single-threaded workers"] / rates["process, 1 single-threaded worker"]
    out(f"evaluation speedup, {n} workers against 1: {ratio:.2f}  (fitness identical in all three)")
    out()


def experiment_times(out, model_path, data_path, n: int, budget: int) -> None:
    """(2) one experiment run by run in this process, then spread over n single-threaded workers."""
    from evoprune.experiments import experiment
    from evoprune.experiments.spec import parse
    from evoprune.pruned.report import MACHINE_KEYS

    spec = parse({"title": "scaling", "seeds": 2 * n, "budget": budget, "data": {"path": data_path} if data_path else {},
                  "model": {"path": model_path},
                  "variants": {"sa": {"algorithm": "sa"}, "ga": {"algorithm": "ga"}}})
    runs = len(spec.variants) * len(spec.seeds)
    out(f"(2) an experiment of {runs} runs (sa and ga × {2 * n} seeds, {budget} evaluations each, the default search)")
    out(f"{'how':<44}{'wall time':>11}{'× run by run':>14}")
    times, reference = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for label, parallel in (("run by run in this process", 1), (f"spread over {n} single-threaded workers", n)):
            folder = os.path.join(tmp, str(len(times)))
            start = time.perf_counter()
            experiment.run(spec, folder, parallel=parallel, progress=False, say=lambda _: None)
            times[label] = time.perf_counter() - start
            got = {}
            for name in sorted(os.listdir(os.path.join(folder, "runs"))):
                with open(os.path.join(folder, "runs", name, "summary.json")) as f:
                    got[name] = {k: v for k, v in json.load(f).items() if k not in MACHINE_KEYS}
            reference = reference or got
            assert got == reference, f"{label}: other runs than run by run"
            first = times["run by run in this process"]
            out(f"{label:<44}{times[label]:>10.1f}s{first / times[label]:>14.2f}")
    spread = times[f"spread over {n} single-threaded workers"]
    out(f"experiment speedup, spread over {n} workers against run by run in this process: "
        f"{times['run by run in this process'] / spread:.2f}  (the same {runs} runs in both)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="the 5k MNIST file (default: $EVOPRUNE_DATA or the Keras download)")
    p.add_argument("--model", help="a .keras model (default: the experiments' default baseline, from the cache)")
    p.add_argument("--baselines", help="the baseline cache (default: ~/.cache/evoprune/baselines)")
    p.add_argument("--workers", type=int, default=os.cpu_count(), help="N (default: every core)")
    p.add_argument("--batches", type=int, default=8)
    p.add_argument("--batch", type=int, default=16, help="masks per map call (default 16)")
    p.add_argument("--budget", type=int, default=200, help="evaluations per experiment run (default 200)")
    p.add_argument("--out", help="also write the output here (e.g. results/scaling.txt)")
    args = p.parse_args()
    lines = []

    def out(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    from evoprune._tf import import_tensorflow

    tf = import_tensorflow()
    out(f"evoprune scaling: python {platform.python_version()}, tensorflow {tf.__version__}, {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), N = {args.workers}")
    out()
    model_path, data = model_and_data(args)
    throughput(out, model_path, data, args.workers, args.batches, args.batch)
    experiment_times(out, model_path, args.data, args.workers, args.budget)
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
