"""The mask evaluator against Keras' own evaluate, its determinism, context checks and prefix cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from evoprune.network import masks as M
from evoprune.network import models
from evoprune.evaluation import Context, EvalResult, MaskEvaluator, StaleContextError

N_IMAGES = 400
SPARSITIES = (0.1, 0.5, 0.9)


def _keras():
    from evoprune._tf import import_keras

    return import_keras()


@pytest.fixture(scope="module")
def data(small_mnist):
    x_train, y_train, _, _, x_test, y_test = small_mnist
    n = min(N_IMAGES, len(x_test))
    return x_train, y_train, x_test[:n], y_test[:n]


def _lenet(x, y):
    keras = _keras()
    keras.utils.set_random_seed(0)
    model = models.build_lenet5()
    # Sigmoid LeNet-5 stays at chance for the first ~300 steps; ~600 small steps reach ~85 %,
    # so masks move the correct count.
    models.compile_model(model, "adam", 0.003)
    model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    return model


def _chain_logits(x, y):
    """A functional chain with a strided conv, max pooling, relu and a logits output."""
    keras = _keras()
    keras.utils.set_random_seed(1)
    L = keras.layers
    inp = keras.Input((28, 28, 1))
    h = L.Conv2D(8, 3, strides=2, activation="relu", name="c1")(inp)
    h = L.MaxPooling2D(2, name="p1")(h)
    h = L.Flatten(name="f")(h)
    h = L.Dense(24, activation="relu", name="d1")(h)
    out = L.Dense(10, name="logits")(h)
    model = keras.Model(inp, out, name="chain_logits")
    _compile_logits(model)
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model


def _branching(x, y):
    """Two branches joined again: not a chain, so the evaluator runs a masked full forward."""
    keras = _keras()
    keras.utils.set_random_seed(2)
    L = keras.layers
    inp = keras.Input((28, 28, 1))
    h = L.Conv2D(6, 5, strides=2, activation="sigmoid", name="c1")(inp)
    a = L.Flatten(name="fa")(L.AveragePooling2D(2, name="pa")(h))
    b = L.Dense(12, activation="tanh", name="db")(L.GlobalAveragePooling2D(name="gb")(h))
    h = L.Concatenate(name="cat")([a, b])
    out = L.Dense(10, activation="softmax", name="out")(h)
    model = keras.Model(inp, out, name="branching")
    models.compile_model(model, "adam", 0.01)
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model


def _compile_logits(model):
    keras = _keras()
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )


def _suite_architecture(name: str):
    """A built-in architecture of the benchmark suite (dense only; batch normalisation), trained one short epoch."""
    def build(x, y):
        _keras().utils.set_random_seed(3)
        model = models.ARCHITECTURES[name]()
        models.compile_model(model, "adam", 0.01)
        model.fit(x, y, epochs=1, batch_size=32, verbose=0)
        return model
    return build


BUILDERS = {"lenet5": _lenet, "chain_logits": _chain_logits, "branching": _branching,
            "lenet300": _suite_architecture("lenet300"), "bnconv": _suite_architecture("bnconv")}
# LeNet-5's evaluator runs 400 images as 3 chunks of 134 (the last padded): chunking is exercised.
CHUNK_SIZES = {"lenet5": 150}


@pytest.fixture(scope="module")
def setups(data):
    """Per model: (model, evaluator, reference clone compiled like the model, original kernels)."""
    x_train, y_train, x, y = data
    out = {}
    for name, build in BUILDERS.items():
        model = build(x_train, y_train)
        ref = models.clone(model)
        if name == "chain_logits":
            _compile_logits(ref)
        else:
            models.compile_model(ref)
        specs = models.prunable_layers(model)
        ev = MaskEvaluator(model, x, y, chunk_size=CHUNK_SIZES.get(name))
        out[name] = (model, ev, ref, models.kernels(model, specs))
    return out


def _keras_score(setup, masks, x, y) -> tuple[float, np.ndarray]:
    """Keras' loss, and which images its predictions get right (they sum to its accuracy)."""
    _, _, ref, original = setup
    models.apply_masks(ref, masks, original)
    loss, acc = ref.evaluate(x, y, batch_size=32, verbose=0)
    return loss, _predicted_matches(ref, x, y, acc)


def _predicted_matches(model, x, y, accuracy: float) -> np.ndarray:
    """Which images Keras' predictions get right; they must add up to Keras' `accuracy`."""
    matches = np.argmax(model.predict(x, batch_size=32, verbose=0), axis=-1) == np.asarray(y).reshape(-1)
    assert matches.sum() == round(accuracy * len(y))
    return matches


def _random_masks(specs, sparsity, rng) -> dict:
    return {s.name: rng.random(s.shape) >= sparsity for s in specs}


def _packed(mask: np.ndarray) -> np.ndarray:
    return np.packbits(mask.reshape(-1))


def _assert_matches_keras(result: EvalResult, loss: float, matches: np.ndarray) -> None:
    n, correct = len(matches), int(matches.sum())
    assert result.correct == correct
    assert result.accuracy == correct / n
    assert result.images == n  # and image by image, the same ones right
    assert np.array_equal(np.unpackbits(np.frombuffer(result.matches, np.uint8), count=n).astype(bool), matches)
    assert result.loss == pytest.approx(loss, rel=1e-5)
    assert result.error is None


def test_chain_detection(setups):
    assert setups["lenet5"][1].is_chain
    assert setups["chain_logits"][1].is_chain
    assert not setups["branching"][1].is_chain
    assert setups["lenet5"][1].images_per_chunk("conv1") == 134


# LeNet-5's case takes seconds (fifteen Keras evaluations of 400 images): slow; its chunks and layers are matched
# against Keras in the fast tier by the whole-genome and incremental tests.
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "lenet5" else n for n in BUILDERS])
def test_layerwise_matches_keras_evaluate(setups, data, name):
    _, _, x, y = data
    setup = setups[name]
    ev = setup[1]
    rng = np.random.default_rng(3)
    fixed = _random_masks(ev.specs, 0.2, rng)
    counts = set()
    for spec in ev.specs:
        context = Context.make(fixed, spec.name)
        candidates = [rng.random(spec.shape) >= s for s in SPARSITIES]
        results = ev.evaluate(context, [_packed(c) for c in candidates])
        for cand, result in zip(candidates, results):
            loss, matches = _keras_score(setup, {**fixed, spec.name: cand}, x, y)
            _assert_matches_keras(result, loss, matches)
            counts.add(result.correct)
    assert len(counts) > 3  # the models are trained enough for masks to change what they get right


@pytest.mark.parametrize("name", list(BUILDERS))
def test_whole_genome_matches_keras_evaluate(setups, data, name):
    _, _, x, y = data
    setup = setups[name]
    ev = setup[1]
    rng = np.random.default_rng(4)
    genomes = [_random_masks(ev.specs, s, rng) for s in SPARSITIES]
    packed = [M.pack(M.flatten(g, ev.specs)) for g in genomes]
    context = Context.make(genomes[0], None)
    assert context.fixed == {} and context.key == M.digest({})
    for genome, result in zip(genomes, ev.evaluate(context, packed)):
        loss, matches = _keras_score(setup, genome, x, y)
        _assert_matches_keras(result, loss, matches)


def test_unpruned_matches_plain_evaluate(setups, data):
    _, _, x, y = data
    model, ev, _, _ = setups["lenet5"]
    full = M.full_masks(ev.specs)
    [result] = ev.evaluate(Context.make(full, "fc1"), [_packed(full["fc1"])])
    ref = models.clone(model)
    loss, acc = models.evaluate(ref, x, y)
    _assert_matches_keras(result, loss, _predicted_matches(ref, x, y, acc))


def test_saturated_softmax_loss_is_keras_loss(setups, data):
    """Keras takes the logits behind a softmax output, so a confident wrong answer costs more than
    -log(1e-7): the evaluator must do the same, not clip probabilities."""
    _, _, x, y = data
    model = models.clone(setups["lenet5"][0])
    model.get_layer("fc3").kernel.assign(model.get_layer("fc3").kernel * 60.0)
    ev = MaskEvaluator(model, x, y)
    full = M.full_masks(ev.specs)
    [result] = ev.evaluate(Context.make(full, "fc3"), [_packed(full["fc3"])])
    ref = models.clone(model)
    loss, acc = models.evaluate(ref, x, y)
    _assert_matches_keras(result, loss, _predicted_matches(ref, x, y, acc))
    assert result.loss > 1.0  # saturated: far from the unscaled model's loss


def test_subclassed_model_runs_a_full_forward(data):
    _, _, x, y = data
    keras = _keras()

    class Small(keras.Model):
        def __init__(self):
            super().__init__()
            self.flat = keras.layers.Flatten()
            self.hidden = keras.layers.Dense(8, activation="relu")
            self.out = keras.layers.Dense(10)

        def call(self, inputs):
            return self.out(self.hidden(self.flat(inputs)))

    keras.utils.set_random_seed(3)
    model = Small()
    model(x[:1])
    _compile_logits(model)
    ev = MaskEvaluator(model, x, y)
    assert not ev.is_chain
    specs = ev.specs
    genome = _random_masks(specs, 0.4, np.random.default_rng(9))
    packed = M.pack(M.flatten(genome, specs))
    [result] = ev.evaluate(Context.make(genome, None), [packed])
    models.apply_masks(model, genome)  # the evaluator copied the kernels when it was built
    loss, acc = model.evaluate(x, y, verbose=0)
    _assert_matches_keras(result, loss, _predicted_matches(model, x, y, acc))


def test_context_key_is_the_digest_of_the_other_layers():
    specs = [M.LayerSpec("a", 0, (3, 4)), M.LayerSpec("b", 1, (5,))]
    masks = _random_masks(specs, 0.5, np.random.default_rng(0))
    context = Context.make(masks, "a")
    assert context.key == M.digest(masks, skip="a")
    assert list(context.fixed) == ["b"]
    assert np.array_equal(context.fixed["b"], np.packbits(masks["b"]))


def test_stale_or_malformed_context_refused(setups):
    ev = setups["lenet5"][1]
    rng = np.random.default_rng(5)
    masks = _random_masks(ev.specs, 0.3, rng)
    good = Context.make(masks, "fc2")
    cand = [_packed(masks["fc2"])]
    other = {**masks, "fc1": ~masks["fc1"]}
    # fixed masks that are not the ones the key was made from
    stale = Context(good.layer, good.key, Context.make(other, "fc2").fixed)
    with pytest.raises(StaleContextError):
        ev.evaluate(stale, cand)
    with pytest.raises(StaleContextError):
        ev.evaluate(Context(good.layer, "0" * 16, good.fixed), cand)
    # whole-genome contexts fix nothing, so their key must be the empty digest
    with pytest.raises(StaleContextError):
        ev.evaluate(Context(None, good.key, {}), [np.zeros(1, np.uint8)])
    with pytest.raises(ValueError):
        ev.evaluate(Context("nope", good.key, good.fixed), cand)
    missing = {k: v for k, v in good.fixed.items() if k != "conv1"}
    with pytest.raises(ValueError):
        ev.evaluate(Context(good.layer, M.digest({}), missing), cand)
    with pytest.raises(ValueError):
        ev.evaluate(good, [cand[0][:-1]])
    assert ev.evaluate(good, cand)[0].error is None


@pytest.mark.parametrize("layer", ["conv1", "conv2", "fc1", "fc3", None])
def test_scores_do_not_depend_on_grouping(setups, layer):
    ev = setups["lenet5"][1]
    rng = np.random.default_rng(6)
    masks = _random_masks(ev.specs, 0.3, rng)
    context = Context.make(masks, layer)
    size = sum(s.size for s in ev.specs) if layer is None else next(s.size for s in ev.specs if s.name == layer)
    cands = [np.packbits(rng.random(size) >= rng.uniform(0.05, 0.9)) for _ in range(12)]
    together = ev.evaluate(context, cands)
    alone = [ev.evaluate(context, [c])[0] for c in cands]
    split = ev.evaluate(context, cands[:7]) + ev.evaluate(context, cands[7:])
    reversed_ = ev.evaluate(context, cands[::-1])[::-1]
    mixed = ev.evaluate(context, [cands[5], cands[0], cands[5]])
    assert together == alone == split == reversed_  # exact: dataclass equality on floats
    assert mixed == [together[5], together[0], together[5]]
    assert len({r.loss for r in together}) > 1  # the candidates really differ


def test_prefix_computed_once_per_context(data):
    _, _, x, y = data
    ev = MaskEvaluator(models.build_lenet5(), x[:64], y[:64], cache_keys=2)
    rng = np.random.default_rng(7)
    masks = _random_masks(ev.specs, 0.3, rng)
    cand = lambda name: [_packed(rng.random(masks[name].shape) >= 0.5) for _ in range(3)]  # noqa: E731
    ev.evaluate(Context.make(masks, "conv1"), cand("conv1"))
    assert ev.prefix_computations == 0  # the first layer starts from the images themselves
    ev.evaluate(Context.make(masks, "fc1"), cand("fc1"))
    assert ev.prefix_computations == 1
    ev.evaluate(Context.make(masks, "fc1"), cand("fc1"))  # an equal context, as another request brings it
    assert ev.prefix_computations == 1
    changed = {**masks, "conv2": ~masks["conv2"]}
    ev.evaluate(Context.make(changed, "fc1"), cand("fc1"))
    assert ev.prefix_computations == 2
    for layer in ("fc2", "fc3"):  # evicts the first fc1 context's entry from the bounded cache of contexts
        ev.evaluate(Context.make(masks, layer), cand(layer))
    assert ev.prefix_computations == 4
    ev.evaluate(Context.make(masks, "fc1"), cand("fc1"))
    assert ev.prefix_computations == 4  # …but the activations entering fc1 stay cached, a few per layer input


def test_resumed_prefix_gives_the_same_bits(data):
    """fc3 reached by resuming from cached activations scores exactly as fc3 computed from the images."""
    _, _, x, y = data
    model = models.build_lenet5()
    rng = np.random.default_rng(10)
    masks = _random_masks(models.prunable_layers(model), 0.3, rng)
    cands = [_packed(rng.random(masks["fc3"].shape) >= 0.5) for _ in range(4)]
    resumed = MaskEvaluator(model, x, y, chunk_size=96)
    for layer in ("conv2", "fc1", "fc2"):
        resumed.evaluate(Context.make(masks, layer), [_packed(masks[layer])])
    direct = MaskEvaluator(model, x, y, chunk_size=96)
    context = Context.make(masks, "fc3")
    assert resumed.evaluate(context, cands) == direct.evaluate(context, cands)


_THREADS_SCRIPT = """
import json, os, sys
cores = int(sys.argv[1])
os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])  # as a pool pins a worker
import numpy as np
import evoprune
from evoprune._tf import import_tensorflow, set_threads
tf = import_tensorflow()
if sys.argv[4] == "worker":  # as init_worker sizes a worker; else left as a main process runs
    set_threads(tf, cores)
from evoprune.network import models
from evoprune.evaluation import Context, MaskEvaluator
d = np.load(sys.argv[3])
ev = MaskEvaluator(models.load_model(sys.argv[2]), d["x"], d["y"], chunk_size=150)
rng = np.random.default_rng(8)
masks = {s.name: rng.random(s.shape) >= 0.3 for s in ev.specs}
out = {"intra": os.environ["TF_NUM_INTRAOP_THREADS"]}
for layer in ["conv1", "conv2", "fc1", None]:
    size = masks[layer].size if layer else sum(m.size for m in masks.values())
    cands = [np.packbits(rng.random(size) >= 0.4) for _ in range(3)]
    out[str(layer)] = [(r.loss, r.correct) for r in ev.evaluate(Context.make(masks, layer), cands)]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_scores_do_not_depend_on_thread_count(setups, data, tmp_path):
    """A main process on both cores and workers on one or two score alike: every op runs on one thread, so
    no sum is split differently however many cores there are (on some CPUs a split one changed the last bits)."""
    _, _, x, y = data
    model = setups["lenet5"][0]
    path = tmp_path / "m.keras"
    model.save(path)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    script = tmp_path / "score.py"
    script.write_text(_THREADS_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "TF_NUM_INTRAOP_THREADS"}
    runs = [
        json.loads(subprocess.run(
            [sys.executable, str(script), str(cores), str(path), str(tmp_path / "d.npz"), role],
            check=True, capture_output=True, text=True, timeout=300, env=env,
        ).stdout.strip().splitlines()[-1])
        for cores, role in ((1, "worker"), (2, "worker"), (2, "main"))
    ]
    assert runs[0]["intra"] == "1"  # evoprune's import set it
    assert runs[0] == runs[1] == runs[2]
    assert len({r[0] for r in runs[0]["None"]}) == 3  # the candidates really differ


def test_importing_evoprune_runs_tensorflow_one_thread_per_op():
    import evoprune  # noqa: F401

    assert os.environ.get("TF_NUM_INTRAOP_THREADS") == "1"


# ----- incremental evaluation (issue 18): the same bits as the full forward -----
def _sa_like(specs, rng, steps: int = 14) -> list[dict]:
    """Whole-model genomes as a local search makes them: each one changes one layer of a current one, which
    is sometimes replaced; every layer gets changed, the first included."""
    current = _random_masks(specs, 0.4, rng)
    out = []
    for i in range(steps):
        s = specs[i % len(specs)]
        cand = {k: v.copy() for k, v in current.items()}
        cand[s.name] = cand[s.name] & (rng.random(s.shape) > 0.1)
        out.append(cand)
        if i % 3 == 0:
            current = cand
    return out


def _same(a: EvalResult, b: EvalResult) -> bool:
    return (a.loss, a.correct, a.images, a.matches) == (b.loss, b.correct, b.images, b.matches)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_incremental_scores_equal_the_full_forward_bit_for_bit(setups, data, name):
    model, ev, _, _ = setups[name]
    _, _, x, y = data
    full = MaskEvaluator(model, x, y, chunk_size=CHUNK_SIZES.get(name), incremental=False)
    incremental = MaskEvaluator(model, x, y, chunk_size=CHUNK_SIZES.get(name))
    genomes = _sa_like(ev.specs, np.random.default_rng(7))
    context = Context.make(M.full_masks(ev.specs), None)
    packed = [M.pack(M.flatten(g, ev.specs)) for g in genomes]
    expected = [full.evaluate(context, [p])[0] for p in packed]
    assert all(_same(a, incremental.evaluate(context, [p])[0]) for a, p in zip(expected, packed))
    if incremental.is_chain:  # later genomes started from cached activations: fewer prefixes computed
        assert len(incremental._acts) > 0
