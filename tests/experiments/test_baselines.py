"""Baselines: the images each search set holds (never the test set by default), reproducible training, the cache."""
import numpy as np
import pytest

from evoprune.experiments.baselines import search_data
from evoprune.search.config import SearchConfig, make_config
from evoprune.problem.data import PreparedData, Split
from evoprune.errors import ConfigError


def _data(n_val: int = 3) -> PreparedData:
    # Each image is filled with its own id, so the search set's images can be traced back to their split.
    def images(ids):
        return np.array([np.full((2, 2, 1), i, np.float32) for i in ids]).reshape(len(ids), 2, 2, 1)

    train, val, test = range(0, 5), range(100, 100 + n_val), range(200, 207)
    return PreparedData("mnist", "memory", Split(0, 0.2), images(train), np.arange(5, dtype=np.uint8),
                        images(val), np.arange(n_val, dtype=np.uint8), images(test), np.arange(7, dtype=np.uint8))


def _ids(x: np.ndarray) -> list[int]:
    return [int(v) for v in x[:, 0, 0, 0]]


def test_the_default_search_set_pools_training_and_validation_images_and_no_test_image():
    data = _data()
    x, y = search_data(data, SearchConfig().eval_set)
    assert _ids(x) == [0, 1, 2, 3, 4, 100, 101, 102]
    assert list(y) == [0, 1, 2, 3, 4, 0, 1, 2]


def test_validation_alone_and_the_studys_test_set_are_there_when_asked_for():
    data = _data()
    assert _ids(search_data(data, "validation")[0]) == [100, 101, 102]
    assert _ids(search_data(data, make_config("study").eval_set)[0]) == list(range(200, 207))


def test_an_empty_validation_split_is_refused_for_the_validation_search_set():
    with pytest.raises(ConfigError, match="validation split is empty"):
        search_data(_data(n_val=0), "validation")


def test_an_unknown_search_set_is_refused_instead_of_read_as_validation():
    with pytest.raises(ConfigError, match="eval_set must be one of train\\+validation, validation, test, got 'val'"):
        search_data(_data(), "val")


@pytest.fixture
def npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x_train=rng.integers(0, 256, (10, 28, 28), np.uint8), y_train=np.arange(10, dtype=np.uint8),
             x_test=rng.integers(0, 256, (4, 28, 28), np.uint8), y_test=np.arange(4, dtype=np.uint8))
    return path


def test_load_data_hands_out_the_arrays_evoprune_uses_with_the_search_images(npz, monkeypatch):
    import evoprune
    from evoprune.problem.data import ENV_VAR, prepare

    monkeypatch.delenv(ENV_VAR, raising=False)
    data = evoprune.load_data(path=str(npz))
    prepared = prepare("mnist", str(npz), Split(0, 0.2))  # what `compare` trains its default baseline on
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert np.array_equal(getattr(data, name), getattr(prepared, name))
    assert data.x_test.dtype == np.float32 and data.x_test.shape == (4, 28, 28, 1) and data.x_test.max() <= 1
    assert np.array_equal(data.x_search, np.concatenate([prepared.x_train, prepared.x_val]))
    assert np.array_equal(data.y_search, np.concatenate([prepared.y_train, prepared.y_val]))
    held_out = evoprune.load_data("mnist", str(npz), split=Split(1, 0.5), eval_set="validation")
    assert held_out.sizes() == {"train": 5, "validation": 5, "test": 4}
    assert np.array_equal(held_out.x_search, held_out.x_val) and held_out.split == Split(1, 0.5)


def test_load_data_reads_the_environment_variable_else_downloads(npz, monkeypatch):
    from types import SimpleNamespace

    import evoprune
    from evoprune.problem import data as data_module

    monkeypatch.setenv(data_module.ENV_VAR, str(npz))
    assert evoprune.load_data().source == str(npz)
    monkeypatch.delenv(data_module.ENV_VAR)
    with np.load(npz) as z:
        arrays = ((z["x_train"], z["y_train"]), (z["x_test"], z["y_test"]))
    keras = SimpleNamespace(datasets=SimpleNamespace(mnist=SimpleNamespace(load_data=lambda: arrays)))
    monkeypatch.setattr(data_module, "import_keras", lambda: keras)
    downloaded = evoprune.load_data()
    assert downloaded.source == "keras" and np.array_equal(downloaded.x_test, evoprune.load_data(path=str(npz)).x_test)


@pytest.fixture(scope="module")
def small(mnist_path):
    from dataclasses import replace

    from evoprune.problem.data import prepare

    d = prepare("mnist", mnist_path, Split(0, 0.2))
    return replace(d, x_train=d.x_train[:500], y_train=d.y_train[:500])


@pytest.mark.slow
def test_training_twice_gives_identical_weights(small, tmp_path):
    from evoprune.experiments.baselines import train_baseline
    from evoprune.network import models
    from evoprune.network.models import TrainConfig

    config = TrainConfig(epochs=2, optimizer="adam", learning_rate=0.005, batch_size=64, seed=3)
    weights = []
    for name in ("a", "b", "a"):  # the last one after another training in between: the seed is all that counts
        train_baseline(small, config, str(tmp_path / name), progress=False)
        weights.append([w.tobytes() for w in models.load_model(str(tmp_path / name / "model.keras")).get_weights()])
    assert weights[0] == weights[1] == weights[2]
    train_baseline(small, TrainConfig(epochs=2, optimizer="adam", learning_rate=0.005, batch_size=64, seed=4),
                   str(tmp_path / "c"), progress=False)
    other = [w.tobytes() for w in models.load_model(str(tmp_path / "c" / "model.keras")).get_weights()]
    assert other != weights[0]


def test_the_cache_trains_once_says_so_and_keys_every_setting(small, tmp_path, monkeypatch):
    from dataclasses import replace
    from pathlib import Path

    from evoprune.experiments import baselines
    from evoprune.network.models import TrainConfig

    calls, said = [], []

    def fake_train(data, config, out, progress=True):
        calls.append(config)
        Path(out).mkdir(parents=True)
        Path(out, "model.keras").write_bytes(b"model")
        Path(out, "baseline.json").write_text("{}")

    monkeypatch.setattr(baselines, "train_baseline", fake_train)
    quick = TrainConfig(epochs=2, optimizer="adam", learning_rate=0.005, batch_size=128, seed=0)
    cache = str(tmp_path / "cache")
    model = baselines.cached_baseline(small, quick, cache, say=said.append)
    again = baselines.cached_baseline(small, quick, cache, say=said.append)
    assert again == model and len(calls) == 1
    assert said == [f"trained baseline → {model}", f"reused baseline {model}"]
    other = baselines.cached_baseline(small, replace(quick, epochs=3), cache, say=said.append)
    assert other != model and len(calls) == 2
    fewer = replace(small, x_train=small.x_train[:400], y_train=small.y_train[:400])
    assert baselines.cached_baseline(fewer, quick, cache, say=said.append) not in (model, other)
    assert [p.name for p in Path(cache).iterdir() if p.name.startswith(".")] == []  # no half-trained folder left
    monkeypatch.setenv("EVOPRUNE_BASELINES", str(tmp_path / "elsewhere"))
    assert baselines.default_cache() == str(tmp_path / "elsewhere")
    monkeypatch.delenv("EVOPRUNE_BASELINES")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert baselines.default_cache() == str(tmp_path / "xdg" / "evoprune" / "baselines")


def test_the_cache_key_follows_what_trains_the_weights_not_every_installed_library(small, monkeypatch):
    # issue 29: installing Ray changed the key, and the same baseline was trained again
    from dataclasses import replace

    from evoprune.experiments import baselines
    from evoprune.network.models import TrainConfig

    installed = {"python": "3.11.2", "evoprune": "0.9", "deap": "1.4.1", "tensorflow": "2.16.1", "keras": "3.3.3",
                 "numpy": "1.26.4", "multiprocess": "0.70.16"}
    machine = {"machine": "x86_64", "vendor": "GenuineIntel", "model": "Xeon", "isa": ["avx2"]}

    def key(cpu=machine, **versions):
        everything = {**installed, **versions}
        monkeypatch.setattr(baselines, "package_versions",
                            lambda exclude=(): {k: v for k, v in everything.items() if k not in exclude})
        monkeypatch.setattr(baselines, "cpu", lambda: cpu)
        return baselines.baseline_key(data, recipe)

    data, recipe = small, TrainConfig(epochs=2, optimizer="adam", learning_rate=0.005, seed=0)

    before = key()
    for unrelated in ({"ray": "2.9.3"}, {"deap": "1.4.2"}, {"multiprocess": "0.70.17"}, {"evoprune": "1.0"},
                      {"numpy": "2.0.0"}, {"python": "3.12.1"}):
        assert key(**unrelated) == before, unrelated
    assert key(tensorflow="2.17.0") != before and key(keras="3.4.0") != before
    assert key(cpu={**machine, "isa": ["avx2", "avx512f"]}) != before
    recipe = replace(recipe, epochs=3)
    assert key() != before
    recipe, data = replace(recipe, epochs=2), replace(small, y_train=small.y_train[::-1])
    assert key() != before


def test_certification_images_are_taken_out_of_the_split_they_come_from(mnist_path):
    from evoprune.experiments.baselines import certification_split, search_data
    from evoprune.problem.data import Split, prepare
    from evoprune.search.config import make_config

    data = prepare("mnist", mnist_path, Split(0, 0.2))
    rows = lambda x: {r.tobytes() for r in x}  # noqa: E731
    # auto: half of the 1,000 validation images would be too few; half of the 10,000 test images is more
    used, (x, y), record = certification_split(data, make_config())
    assert record == {"from": "test", "fraction": 0.5, "seed": 0, "images": 5000} and len(y) == 5000
    assert len(used.y_test) == 5000 and not rows(x) & rows(used.x_test)
    assert not rows(x) & rows(search_data(used, "train+validation")[0])
    used, (x, y), record = certification_split(data, make_config(certify_from="validation", certify_fraction=0.3))
    assert record["from"] == "validation" and len(y) == 300 and len(used.y_val) == 700
    assert not rows(x) & rows(search_data(used, "validation")[0]) and len(used.y_test) == 10000
    assert certification_split(data, make_config(certify=False)) == (data, None, None)
