"""Benchmark the mask evaluator: the study's workload against its own way (set_weights + model.evaluate per mask),
the default search with everything that makes it fast against all of it off, and SA on 1 and 2 workers.

    python runners/bench.py --data ../shared/data/mnist/mnist-5k.npz [--out DIR]

The report goes to the screen and to OUT/bench.txt (OUT: a temporary folder unless given).
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # largest relative loss difference allowed between the three ways


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True,
                   help="MNIST .npz (Keras layout) or IDX folder; its 10,000 test images are scored")
    p.add_argument("--model", help="a .keras model (default: the experiments' default LeNet-5, from the baseline "
                                   "cache, trained there if it is not)")
    p.add_argument("--masks-per-layer", type=int, default=100, help="distinct masks per prunable layer (default 100)")
    p.add_argument("--naive-sample", type=int, default=10, help="masks per layer timed the study's way (default 10)")
    p.add_argument("--batch", type=int, default=10, help="candidates per call in (c), the GA's batch (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--executors", default="serial,process:1,process:2,ray:2",
                   help="executors to time on GA-sized batches of conv2 and fc1 ('none' to skip)")
    p.add_argument("--out", help="folder for bench.txt (default: a new temporary folder)")
    p.add_argument("--seeds", type=int, default=3, help="seeds of the default search, each way (default 3)")
    p.add_argument("--budget", type=int, default=1000, help="evaluations per default search (default 1000)")
    p.add_argument("--proposals", type=int, default=4, help="SA proposals per step on 1 and 2 workers (default 4)")
    args = p.parse_args(argv)
    if args.masks_per_layer < 2 or not 1 <= args.naive_sample <= args.masks_per_layer or args.batch < 1:
        p.error("need --masks-per-layer >= 2, 1 <= --naive-sample <= --masks-per-layer and --batch >= 1")
    return args


def machine_load() -> str:
    """Load average, and on Linux the share of the last 10 s some task waited for a CPU."""
    text = "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()[1].split("=")[1]
        return f"{text}, CPU pressure {some} %"
    except (OSError, IndexError):
        return text


class Report:
    """Lines printed as they come and kept for the output file."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def workload_masks(specs, per_layer: int, seed: int) -> dict[str, list[np.ndarray]]:
    """Distinct masks per layer at sparsities uniform in 5-60 %, never all-kept or all-pruned."""
    rng = np.random.default_rng(seed)
    out = {}
    for s in specs:
        seen, masks = set(), []
        while len(masks) < per_layer:
            m = rng.random(s.shape) >= rng.uniform(0.05, 0.60)
            key = np.packbits(m.reshape(-1)).tobytes()
            if m.all() or not m.any() or key in seen:
                continue
            seen.add(key)
            masks.append(m)
        out[s.name] = masks
    return out


class Naive:
    """(a) the study's way: set_weights with the masked kernel, then model.evaluate with Keras defaults."""

    def __init__(self, model, x, y, specs):
        from evoprune.network import models

        self.x, self.y = x, y
        self.ref = models.clone(model)
        models.compile_model(self.ref)
        self.base = self.ref.get_weights()
        self.slot = {s.name: next(i for i, w in enumerate(self.ref.weights) if w is self.ref.layers[s.index].kernel)
                     for s in specs}
        self.ref.evaluate(x, y, verbose=0)  # warm-up: builds the evaluate function

    def run(self, layer: str, masks: list[np.ndarray]) -> dict:
        """Seconds per mask and (loss, correct) of each mask."""
        scores, start = [], time.perf_counter()
        for m in masks:
            weights = list(self.base)
            weights[self.slot[layer]] = self.base[self.slot[layer]] * m.astype(np.float32)
            self.ref.set_weights(weights)
            loss, acc = self.ref.evaluate(self.x, self.y, verbose=0)
            scores.append((float(loss), round(acc * len(self.y))))
        return {"per_mask": (time.perf_counter() - start) / len(masks), "scores": scores}


class Engine:
    """(b) or (c): a fresh evaluator scoring every mask, `batch` per call; the first call per layer is its warm-up."""

    def __init__(self, model, x, y, specs, batch: int):
        from evoprune.network import masks as M
        from evoprune.evaluation import MaskEvaluator

        start = time.perf_counter()
        self.ev = MaskEvaluator(model, x, y)
        self.startup = time.perf_counter() - start
        self.full = M.full_masks(specs)
        self.batch = batch
        self.layers: dict[str, dict] = {}

    def run(self, layer: str, masks: list[np.ndarray]) -> None:
        from evoprune.evaluation import Context

        context = Context.make(self.full, layer)
        packed = [np.packbits(m.reshape(-1)) for m in masks]
        calls, scores = [], []
        for i in range(0, len(packed), self.batch):
            t = time.perf_counter()
            results = self.ev.evaluate(context, packed[i: i + self.batch])
            calls.append((time.perf_counter() - t, len(results)))
            scores += [(r.loss, r.correct) for r in results]
        (first, n_first), rest = calls[0], calls[1:]
        steady = sum(t for t, _ in rest) / max(1, sum(n for _, n in rest)) if rest else first / n_first
        self.layers[layer] = {
            "total": sum(t for t, _ in calls),
            "steady": steady,
            "first": first,
            "scores": scores,
            "chunk": self.ev.images_per_chunk(layer),
        }

    @property
    def total(self) -> float:
        return self.startup + sum(v["total"] for v in self.layers.values())


def _peak_mib(_=None) -> float:
    """This process's peak resident memory in MiB (run inside each worker)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_executors(out, model, x, y, specs, masks, batch: int, names: str) -> None:
    """(d) The same batches through every executor: start-up, evaluations per second, peak memory per worker."""
    from evoprune.evaluation import registry
    from evoprune.executors import make_executor
    from evoprune.network import masks as M
    from evoprune.problem.genome import individual_of
    from evoprune.problem.layout import Layout
    from evoprune.problem.problem import Problem
    from evoprune.problem.target import Evaluate, Target

    layers = [s for s in specs if s.name in ("conv2", "fc1")] or specs[:2]
    problem = Problem(model, x, y)
    out(f"(d) executors: {batch} masks per map call, {sum(len(masks[s.name]) for s in layers)} masks of "
        f"{', '.join(s.name for s in layers)}; results compared with the serial executor's")
    out(f"{'executor':<12}{'start-up':>10}{'ev/s':>8}{'x serial':>9}{'peak MiB per worker':>22}  identical")
    reference, serial_rate = None, None
    for spec in names.split(","):
        name, _, workers = spec.partition(":")
        ex = make_executor(name, int(workers) if workers else None)
        with ex:
            start = time.perf_counter()
            ex.start(problem)
            ex.map(_peak_mib, [None] * (ex.workers if name != "serial" else 1))  # waits for every worker
            startup = time.perf_counter() - start
            results, start = [], time.perf_counter()
            for s in layers:
                task = Evaluate(Target.make(problem.token, Layout(tuple(specs), s.name), M.full_masks(specs)))
                individuals = [individual_of(m) for m in masks[s.name]]
                for i in range(0, len(individuals), batch):
                    results += [(r.result.loss, r.result.correct) for r in ex.map(task, individuals[i: i + batch])]
            rate = len(results) / (time.perf_counter() - start)
            peaks = ex.map(_peak_mib, [None] * (ex.workers if name != "serial" else 1))
        reference = reference or results
        serial_rate = serial_rate or rate
        out(f"{spec:<12}{startup:>9.1f}s{rate:>8.1f}{rate / serial_rate:>9.2f}"
            f"{' / '.join(f'{p:.0f}' for p in peaks):>22}  {'yes' if results == reference else 'NO'}")
    registry.uninstall(problem.token)
    out()


def compare(first: dict, second: dict, specs) -> tuple[float, int, int]:
    """(max relative loss difference, masks compared, masks whose correct counts differ) over the
    masks both scored (each list starts with the same masks)."""
    worst, count, mismatched = 0.0, 0, 0
    for s in specs:
        for (la, ca), (lb, cb) in zip(first[s.name], second[s.name]):
            worst = max(worst, abs(la - lb) / max(abs(la), 1e-12))
            mismatched += ca != cb
            count += 1
    return worst, count, mismatched


def main_process_costs(specs, rate: float, seed: int) -> tuple[dict, float]:
    """Seconds per mask the searching process spends: packing a Python bit list per layer, and a
    flip-bit mutation on a 48,000-bit list (the size of LeNet-5's fc1)."""
    from deap import tools

    from evoprune.network import masks as M

    rng = random.Random(seed)
    pack = {}
    for s in specs:
        bits = [rng.randint(0, 1) for _ in range(s.size)]
        reps = max(3, 200_000 // s.size)
        start = time.perf_counter()
        for _ in range(reps):
            M.pack(bits)
        pack[s.name] = (time.perf_counter() - start) / reps
    random.seed(seed)  # mutFlipBit draws from the module's generator
    ind = [rng.randint(0, 1) for _ in range(48_000)]
    start = time.perf_counter()
    for _ in range(20):
        tools.mutFlipBit(ind, indpb=rate)
    return pack, (time.perf_counter() - start) / 20


def main(argv=None) -> int:
    args = parse_args(argv)
    from evoprune.network import models
    from evoprune._tf import import_keras, import_tensorflow
    from evoprune.search.config import SearchConfig

    tf = import_tensorflow()
    keras = import_keras()
    out = Report()
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (on by default on x86)")
    out(f"evoprune bench: python {platform.python_version()}, tensorflow {tf.__version__}, keras {keras.__version__}, "
        f"numpy {np.__version__}, {os.cpu_count()} cores, TF_ENABLE_ONEDNN_OPTS {onednn}, XLA off")
    out(f"at start: {machine_load()} (other work on the machine skews timings)")

    from evoprune.experiments.baselines import model_and_data
    from evoprune.experiments.spec import DEFAULT_TRAINING, training_config

    described, d = model_and_data(args.model, None, args.data, training_config(), DEFAULT_TRAINING["val_fraction"],
                                  progress=False, say=lambda line: None)
    model = models.load_model(described)
    x, y = d.x_test, d.y_test
    specs = models.prunable_layers(model)
    loss, acc = models.evaluate(models.clone(model), x, y)
    out(f"model: {described}; unpruned test loss {loss:.4f}, accuracy {acc:.4f}")
    out(f"evaluation images: {len(y)} test images of {args.data}")
    K = args.masks_per_layer
    masks = workload_masks(specs, K, args.seed)
    out(f"workload: {K} distinct masks per layer x {len(specs)} layers, sparsity uniform in 5-60 %, "
        f"other layers unpruned; (a) times the first {args.naive_sample} per layer")
    out()

    # Layer by layer, the three ways in turn: other work on the machine then slows all three alike.
    naive_runner = Naive(model, x, y, specs)
    single, batched = Engine(model, x, y, specs, 1), Engine(model, x, y, specs, args.batch)
    naive = {}
    for s in specs:
        naive[s.name] = naive_runner.run(s.name, masks[s.name][: args.naive_sample])
        single.run(s.name, masks[s.name])
        batched.run(s.name, masks[s.name])

    chunks = ", ".join(f"{s.name} {single.layers[s.name]['chunk']}" for s in specs)
    how = "chain: evaluations start from cached activations" if single.ev.is_chain else "masked full forward"
    out(f"engine: {how}; images per compiled chunk: {chunks}")
    out(f"one-off costs: evaluator start-up (b) {single.startup * 1e3:.0f} ms, (c) {batched.startup * 1e3:.0f} ms; "
        "a layer's first call (tracing, its prefix, oneDNN set-up) is in '1st call'")
    out()
    out(f"(a) set_weights + model.evaluate per mask; (b) engine, 1 mask per call; "
        f"(c) engine, {args.batch} masks per call.")
    out("ev/s: evaluations per second after the layer's first call; "
        "'all in': over all the layer's masks, first call included;")
    out("x(a): ratio to (a)'s evaluations per second.")
    out(f"{'layer':<8}{'weights':>8}{'(a) ev/s':>10}{'(b) ev/s':>10}{'x(a)':>7}{'all in':>8}{'x(a)':>7}{'1st call':>10}"
        f"{'(c) ev/s':>10}{'x(a)':>7}{'all in':>8}{'x(a)':>7}{'1st call':>10}")
    for s in specs:
        a = 1 / naive[s.name]["per_mask"]
        row = f"{s.name:<8}{s.size:>8}{a:>10.2f}"
        for run in (single, batched):
            r = run.layers[s.name]
            rate, all_in = 1 / r["steady"], K / r["total"]
            row += f"{rate:>10.1f}{rate / a:>7.1f}{all_in:>8.1f}{all_in / a:>7.1f}{r['first'] * 1e3:>8.0f}ms"
        out(row)
    a_total = sum(naive[s.name]["per_mask"] * K for s in specs)
    n_all = K * len(specs)
    row = f"{'overall':<8}{sum(s.size for s in specs):>8}{n_all / a_total:>10.2f}"
    for run in (single, batched):
        steady = sum(run.layers[s.name]["steady"] * K for s in specs)
        row += f"{n_all / steady:>10.1f}{a_total / steady:>7.1f}"
        row += f"{n_all / run.total:>8.1f}{a_total / run.total:>7.1f}{'':>10}"
    out(row)
    out(f"whole workload ({n_all} evaluations): (a) {a_total:.1f} s estimated from its sample, "
        f"(b) {single.total:.1f} s measured, (c) {batched.total:.1f} s measured (one-off costs included)")
    out()

    rate = SearchConfig().rate0
    pack, mutate = main_process_costs(specs, rate, args.seed)
    out("main process per mask (not in the times above): pack a Python bit list -> bytes, beside (b)'s evaluation")
    for s in specs:
        evaluation = single.layers[s.name]["steady"]
        out(f"  {s.name:<8}{s.size:>7} bits: pack {pack[s.name] * 1e6:8.0f} us   evaluation {evaluation * 1e3:7.1f} ms")
    largest = max(specs, key=lambda s: s.size)
    out(f"  flip-bit mutation (indpb {rate}, the default rate0) of a 48,000-bit list: {mutate * 1e3:.1f} ms   "
        f"(evaluation of {largest.name}, {largest.size} bits: {single.layers[largest.name]['steady'] * 1e3:.1f} ms)")
    out()

    if args.executors != "none":
        time_executors(out, model, x, y, specs, masks, args.batch, args.executors)

    a_scores = {s.name: naive[s.name]["scores"] for s in specs}
    b_scores = {s.name: single.layers[s.name]["scores"] for s in specs}
    c_scores = {s.name: batched.layers[s.name]["scores"] for s in specs}
    ab = compare(a_scores, b_scores, specs)
    ac = compare(a_scores, c_scores, specs)
    bc = compare(b_scores, c_scores, specs)
    identical = b_scores == c_scores
    out(f"agreement: (a)/(b) {ab[1]} masks, max relative loss difference {ab[0]:.2e}, "
        f"correct counts differing {ab[2]}; "
        f"(a)/(c) {ac[1]} masks, {ac[0]:.2e}, {ac[2]}; (b)/(c) {bc[1]} masks, {bc[0]:.2e}, {bc[2]}"
        f"{' (bit-for-bit identical)' if identical else ''}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    out(f"peak memory (ru_maxrss): {peak:.0f} MiB")
    out(f"at end: {machine_load()}")
    ok = all(r[0] <= TOLERANCE and r[2] == 0 for r in (ab, ac, bc)) and identical
    if not ok:
        out(f"FAILED: the three ways disagree beyond relative {TOLERANCE} or in correct counts, "
            "or (b) and (c) are not bit-for-bit identical")
    out(f"speedup: {a_total / single.total:.1f}")
    out()
    ok = default_search(out, model, d, args.seeds, args.budget) and ok
    ok = parallel_sa(out, model, d, args.budget // 4, args.proposals) and ok
    out(f"at end: {machine_load()}")
    folder = Path(args.out or tempfile.mkdtemp(prefix="evoprune-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.txt").write_text("\n".join(out.lines) + "\n")
    print(f"-> {folder / 'bench.txt'}")
    return 0 if ok else 1


def default_search(out, model, data, seeds: int, budget: int) -> bool:
    """(e) The default whole-model SA search on the training + validation images, everything on against everything
    off: evaluations per second, and the final masks' test figures. Returns whether the quality held."""
    from evoprune import Problem, make_config, search
    from evoprune.experiments.baselines import search_data

    x, y = search_data(data, "train+validation")
    ways = {"off": dict(incremental=False, settings={}),
            "on": dict(incremental=True, settings={"moves": "layer"})}
    out(f"(e) the default search: whole-model SA, {budget} evaluations on {len(y):,} search images, seeds "
        f"0..{seeds - 1}; 'off' runs every mask's full forward with the informed moves; 'on' starts each "
        "from the cached activations of its unchanged layers (incremental, exact) and moves one layer at a time "
        "(--moves layer)")
    out(f"{'way':<5}{'seed':>5}{'ev/s':>8}{'global sparsity':>17}{'test accuracy':>15}{'drop':>7}")
    rates, found = {}, {}
    for way, how in ways.items():
        for seed in range(seeds):
            problem = Problem(model, x, y, scoring="incremental" if how["incremental"] else "full")
            config = make_config(budget=budget, seed=seed, **how["settings"])
            result = search(problem, "sa", config)
            st = result.state
            report = problem.report(result.masks, data.x_test, data.y_test)
            rate = st.evaluations / st.seconds
            rates.setdefault(way, []).append(rate)
            found.setdefault(way, []).append(report)
            drop = report["baseline_test_accuracy"] - report["test_accuracy"]
            out(f"{way:<5}{seed:>5}{rate:>8.1f}"
                f"{report['sparsity_global'] * 100:>16.2f}%{report['test_accuracy'] * 100:>14.2f}%{drop * 100:>7.2f}")
    speedup = np.mean(rates["on"]) / np.mean(rates["off"])
    sparsity = {w: np.mean([r["sparsity_global"] for r in found[w]]) for w in ways}
    worst = max(r["baseline_test_accuracy"] - r["test_accuracy"] for r in found["on"])
    held = sparsity["on"] >= sparsity["off"] - 0.01 and worst <= 0.01
    out(f"mean global sparsity: off {sparsity['off'] * 100:.2f} %, on {sparsity['on'] * 100:.2f} %; worst test drop "
        f"with everything on {worst * 100:.2f} points ({'quality held' if held else 'QUALITY FELL'}: within 1 point of "
        "sparsity, every seed within 1.0 point of the unpruned model)")
    out(f"default-search speedup: {speedup:.1f}")
    out()
    return held


def parallel_sa(out, model, data, budget: int, k: int) -> bool:
    """(f) SA proposing k masks per step, on a process pool of 1 and of 2 single-threaded workers: the same
    masks, evaluations per second."""
    from evoprune import Problem, make_config, search
    from evoprune.evaluation import registry
    from evoprune.executors import make_executor
    from evoprune.experiments.baselines import search_data

    x, y = search_data(data, "train+validation")
    problem = Problem(model, x, y)
    config = make_config(budget=budget, seed=0, proposals=k)
    out(f"(f) SA with {k} proposals per step (--set proposals={k}), {budget} evaluations, default search, "
        "on a process pool of single-threaded workers")
    runs = {}
    for workers in (1, 2):
        with make_executor("process", workers, threads=1) as ex:
            ex.start(problem)
            result = search(problem, "sa", config, map_fn=ex.map)
        runs[workers] = result
        out(f"  {workers} worker{'s' if workers > 1 else ' '}: {result.state.evaluations / result.state.seconds:.1f} "
            "evaluations per second")
    registry.uninstall(problem.token)
    same = all(np.array_equal(runs[1].masks[n], runs[2].masks[n]) for n in runs[1].masks)
    speed = (runs[2].state.evaluations / runs[2].state.seconds) / (runs[1].state.evaluations / runs[1].state.seconds)
    out(f"  2 workers against 1: {speed:.2f}; masks {'identical' if same else 'DIFFERENT'}")
    out()
    return same


if __name__ == "__main__":
    sys.exit(main())
