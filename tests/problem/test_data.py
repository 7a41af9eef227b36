"""Tests for evoprune.problem.data: readers, validation messages, source precedence, splits and scaling."""
from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from evoprune.problem import data
from evoprune.problem.data import ENV_VAR, PreparedData, Split, load_dataset, prepare, resolve_source, scale, split_indices
from evoprune.errors import DataError

from conftest import mnist_5k_path  # noqa: E402  (tests/ is on the path: pytest put it there)

REAL_NPZ = Path(mnist_5k_path())
REAL_DIR = REAL_NPZ.parent  # the official MNIST test set as IDX files sits beside the .npz
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def write_idx(path: Path, a: np.ndarray, magic: int | None = None) -> Path:
    magic = magic if magic is not None else (0x803 if a.ndim == 3 else 0x801)
    raw = struct.pack(f">I{a.ndim}I", magic, *a.shape) + a.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def write_idx_folder(folder: Path, arrays: dict, gz: bool = True) -> Path:
    folder.mkdir(exist_ok=True)
    for key, stem in IDX_NAMES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return folder


@pytest.fixture
def arrays() -> dict:
    rng = np.random.default_rng(1)
    return {
        "x_train": rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        "y_train": np.arange(12, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
        "y_test": np.arange(7, dtype=np.uint8),
    }


@pytest.fixture
def good_npz(tmp_path, arrays) -> Path:
    path = tmp_path / "good.npz"
    np.savez(path, **arrays)
    return path


@pytest.fixture
def no_env(monkeypatch):
    for name in (ENV_VAR, f"{ENV_VAR}_MNIST", f"{ENV_VAR}_FASHION_MNIST"):
        monkeypatch.delenv(name, raising=False)


def assert_same(ds: data.Dataset, arrays: dict) -> None:
    for key, a in arrays.items():
        got = getattr(ds, key)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, a)


# --- reading --------------------------------------------------------------------------------


def test_idx_gz_raw_and_npz_give_the_same_arrays(tmp_path, arrays, good_npz):
    gz = write_idx_folder(tmp_path / "gz", arrays)
    raw = write_idx_folder(tmp_path / "raw", arrays, gz=False)
    for source in (gz, raw, good_npz):
        ds = load_dataset("mnist", str(source))
        assert (ds.name, ds.source) == ("mnist", str(source))
        assert_same(ds, arrays)


def test_real_npz_has_documented_shapes():
    ds = load_dataset("mnist", str(REAL_NPZ))
    assert ds.x_train.shape == (5000, 28, 28) and ds.y_train.shape == (5000,)
    assert ds.x_test.shape == (10000, 28, 28) and ds.y_test.shape == (10000,)
    assert set(np.unique(ds.y_train)) == set(range(10))


def test_real_idx_test_files_parse(tmp_path, arrays):
    # Symlinks to the real test pair plus small generated (raw) train files: nothing copied.
    folder = tmp_path / "real"
    folder.mkdir()
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / f"{stem}.gz").symlink_to(REAL_DIR / f"{stem}.gz")
    write_idx(folder / IDX_NAMES["x_train"], arrays["x_train"])
    write_idx(folder / IDX_NAMES["y_train"], arrays["y_train"])
    ds = load_dataset("mnist", str(folder))
    assert ds.x_test.shape == (10000, 28, 28) and ds.y_test.shape == (10000,)
    # The .npz's test part is the official test set, the same images as the IDX files.
    with np.load(REAL_NPZ) as z:
        np.testing.assert_array_equal(ds.x_test, z["x_test"])
        np.testing.assert_array_equal(ds.y_test, z["y_test"])


@pytest.mark.slow  # a new interpreter, to see that TensorFlow is not imported
def test_reading_a_path_does_not_import_tensorflow(good_npz):
    code = (
        "import sys; from evoprune.problem.data import load_dataset; "
        f"load_dataset('mnist', {str(good_npz)!r}); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- faults: one line naming the file and the fault ----------------------------------------


def _cut_half(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def missing_path(tmp, a):
    return tmp / "nope.npz", ["nope.npz", "no such file"]


def missing_idx_file(tmp, a):
    folder = write_idx_folder(tmp / "f", a)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    return folder, [str(folder), "missing IDX file", "t10k-labels-idx1-ubyte"]


def truncated_gz(tmp, a):
    folder = write_idx_folder(tmp / "f", a)
    _cut_half(folder / "train-images-idx3-ubyte.gz")
    return folder, ["train-images-idx3-ubyte.gz", "truncated"]


def short_data(tmp, a):
    folder = write_idx_folder(tmp / "f", a, gz=False)
    _cut_half(folder / "train-images-idx3-ubyte")
    return folder, ["train-images-idx3-ubyte", "truncated: header says 12 images", "of the 9408 expected"]


def wrong_magic(tmp, a):
    folder = write_idx_folder(tmp / "f", a)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", a["x_test"], magic=0x801)
    return folder, ["t10k-images-idx3-ubyte.gz", "magic", "expected 0x00000803", "found 0x00000801"]


def count_mismatch(tmp, a):
    folder = write_idx_folder(tmp / "f", a)
    write_idx(folder / "train-labels-idx1-ubyte.gz", a["y_train"][:11])
    return folder, ["train-images-idx3-ubyte.gz holds 12 images", "train-labels-idx1-ubyte.gz holds 11 labels"]


def npz_missing_arrays(tmp, a):
    path = tmp / "partial.npz"
    np.savez(path, x_train=a["x_train"], y_train=a["y_train"])
    return path, ["partial.npz", "missing array(s) x_test, y_test"]


def not_a_zip(tmp, a):
    path = tmp / "text.npz"
    path.write_text("hello")
    return path, ["text.npz", "not a zip"]


def wrong_shape(tmp, a):
    path = tmp / "shape.npz"
    np.savez(path, **{**a, "x_train": a["x_train"][:, :, :27]})
    return path, ["shape.npz [x_train]", "(12, 28, 27)", "expected (N, 28, 28)"]


def float_images(tmp, a):
    path = tmp / "float.npz"
    np.savez(path, **{**a, "x_test": a["x_test"] / 255.0})
    return path, ["float.npz [x_test]", "dtype float64"]


def labels_out_of_range(tmp, a):
    path = tmp / "labels.npz"
    np.savez(path, **{**a, "y_train": a["y_train"] + 3})
    return path, ["labels.npz [y_train]", "outside 0-9", "to 12"]


def neither(tmp, a):
    path = tmp / "data.csv"
    path.write_text("1,2,3")
    return path, ["data.csv", "neither a .npz file nor a folder"]


@pytest.mark.parametrize(
    "build",
    [missing_path, missing_idx_file, truncated_gz, short_data, wrong_magic, count_mismatch,
     npz_missing_arrays, not_a_zip, wrong_shape, float_images, labels_out_of_range, neither],
)
def test_faults_raise_one_readable_line(tmp_path, arrays, build):
    path, fragments = build(tmp_path, arrays)
    with pytest.raises(DataError) as err:
        load_dataset("mnist", str(path))
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_unknown_dataset_lists_choices():
    with pytest.raises(DataError, match="unknown dataset 'cifar10': choose one of mnist, fashion_mnist"):
        load_dataset("cifar10")


# --- where the data comes from --------------------------------------------------------------


def test_source_precedence(tmp_path, monkeypatch, no_env):
    debian = tmp_path / "debian"
    monkeypatch.setattr(data, "DEBIAN_FASHION", str(debian))
    assert resolve_source("fashion_mnist") is None  # not installed: Keras download
    debian.mkdir()
    assert resolve_source("fashion_mnist") == str(debian)
    assert resolve_source("mnist") is None  # the Debian folder holds Fashion-MNIST only
    monkeypatch.setenv(ENV_VAR, "/env/data.npz")
    assert resolve_source("fashion_mnist") == str(debian)  # an MNIST file named by the variable is not Fashion
    assert resolve_source("mnist") == "/env/data.npz"
    debian.rmdir()
    assert resolve_source("fashion_mnist") == "/env/data.npz"
    monkeypatch.setenv(f"{ENV_VAR}_FASHION_MNIST", "/env/fashion")  # each dataset's own variable first
    monkeypatch.setenv(f"{ENV_VAR}_MNIST", "/env/mnist.npz")
    assert (resolve_source("fashion_mnist"), resolve_source("mnist")) == ("/env/fashion", "/env/mnist.npz")
    assert resolve_source("mnist", "/explicit.npz") == "/explicit.npz"


def test_env_var_is_read_by_load_dataset(monkeypatch, good_npz, arrays):
    monkeypatch.setenv(ENV_VAR, str(good_npz))
    ds = load_dataset("mnist")
    assert ds.source == str(good_npz)
    assert_same(ds, arrays)


def fake_keras(load_data):
    return lambda: SimpleNamespace(datasets=SimpleNamespace(mnist=SimpleNamespace(load_data=load_data)))


def test_keras_download(monkeypatch, no_env, arrays):
    a = arrays
    downloaded = ((a["x_train"], a["y_train"]), (a["x_test"], a["y_test"]))
    monkeypatch.setattr(data, "import_keras", fake_keras(lambda: downloaded))
    ds = load_dataset("mnist")
    assert ds.source == "keras"
    assert_same(ds, arrays)


def test_failed_keras_download_says_what_to_do(monkeypatch, no_env):
    def offline():
        raise Exception("URL fetch failure on https://example/mnist.npz: None --\n[Errno -3] name resolution")

    monkeypatch.setattr(data, "import_keras", fake_keras(offline))
    with pytest.raises(DataError) as err:
        load_dataset("mnist")
    message = str(err.value)
    assert "\n" not in message
    assert "could not download mnist" in message and "URL fetch failure" in message
    assert "pass --data PATH or set EVOPRUNE_DATA" in message


# --- scaling, splitting, preparing ----------------------------------------------------------


def test_scale(arrays):
    x = arrays["x_train"].copy()
    x[0, 0, 0], x[0, 0, 1] = 0, 255
    s = scale(x)
    assert s.shape == (12, 28, 28, 1) and s.dtype == np.float32
    assert s.min() == 0.0 and s.max() == 1.0
    np.testing.assert_allclose(s[..., 0] * 255, x, atol=1e-4)


@pytest.mark.parametrize("n, fraction", [(100, 0.2), (5000, 0.1), (7, 0.5), (10, 0.0), (0, 0.2)])
def test_split_partitions_everything(n, fraction):
    train, val = split_indices(n, Split(3, fraction))
    assert len(val) == round(n * fraction) and len(train) == n - len(val)
    assert not set(train) & set(val)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(n))


def test_split_is_seeded():
    same = [split_indices(1000, Split(7, 0.2)) for _ in range(2)]
    np.testing.assert_array_equal(same[0][1], same[1][1])
    other = split_indices(1000, Split(8, 0.2))
    assert not np.array_equal(same[0][1], other[1])


def test_split_shuffles_class_ordered_data():
    with np.load(REAL_NPZ) as z:
        labels = np.sort(z["y_train"])  # class order: the worst case for an unshuffled cut
    _, val = split_indices(len(labels), Split(0, 0.2))
    assert set(np.unique(labels[val])) == set(range(10))
    assert not np.array_equal(np.sort(val), np.arange(val.min(), val.min() + len(val)))


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, float("nan")])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(DataError, match="validation fraction must be in"):
        split_indices(10, Split(0, fraction))


def test_split_dict_round_trip():
    s = Split(5, 0.25)
    assert s.to_dict() == {"seed": 5, "val_fraction": 0.25}
    assert Split.from_dict(s.to_dict()) == s
    with pytest.raises(DataError, match="invalid split record"):
        Split.from_dict({"seed": 1})


def test_prepare(good_npz, arrays):
    split = Split(2, 0.25)
    p = prepare("mnist", str(good_npz), split)
    assert isinstance(p, PreparedData) and p.split == split and p.source == str(good_npz)
    assert p.sizes() == {"train": 9, "validation": 3, "test": 7}
    train, val = split_indices(12, split)
    np.testing.assert_array_equal(p.x_val, scale(arrays["x_train"][val]))
    np.testing.assert_array_equal(p.y_train, arrays["y_train"][train])
    np.testing.assert_array_equal(p.x_test, scale(arrays["x_test"]))
    for x in (p.x_train, p.x_val, p.x_test):
        assert x.dtype == np.float32 and x.shape[1:] == (28, 28, 1)
    for y in (p.y_train, p.y_val, p.y_test):
        assert y.dtype == np.uint8
