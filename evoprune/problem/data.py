"""Load MNIST-style datasets (Keras download, .npz or IDX folder), validate them, split off validation."""
from __future__ import annotations

import gzip
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._tf import import_keras
from ..errors import DataError

DATASETS = ("mnist", "fashion_mnist")
DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"
ENV_VAR = "EVOPRUNE_DATA"

_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX magic: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
_IMAGE_SHAPE = (28, 28)
_N_CLASSES = 10


@dataclass(frozen=True)
class Dataset:
    """A dataset as loaded: uint8 images (N, 28, 28) and uint8 labels (N,)."""

    name: str
    source: str  # the path read, or "keras" for the Keras download
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _check_name(name: str) -> None:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")


def resolve_source(name: str, path: str | None = None) -> str | None:
    """Where to read `name` from: the explicit path, then the dataset's own variable ($EVOPRUNE_DATA_MNIST,
    $EVOPRUNE_DATA_FASHION_MNIST), then (Fashion-MNIST) Debian's copy if installed, then $EVOPRUNE_DATA; None
    means download through keras.datasets. Debian's Fashion-MNIST comes before $EVOPRUNE_DATA so that one
    variable naming an MNIST file cannot stand for Fashion-MNIST in a benchmark that reads both."""
    _check_name(name)
    if path is not None:
        return os.fspath(path)
    own = f"{ENV_VAR}_{name.upper()}"
    if os.environ.get(own):
        return os.environ[own]
    if name == "fashion_mnist" and os.path.isdir(DEBIAN_FASHION):
        return DEBIAN_FASHION
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    return None


def load_dataset(name: str, path: str | None = None) -> Dataset:
    """Load and validate `name`; TensorFlow is imported only when downloading through Keras."""
    source = resolve_source(name, path)
    if source is None:
        arrays = _download(name)
        source = "keras"
    else:
        arrays = _read(source)
    x_train, y_train = _checked_pair(arrays["x_train"], arrays["y_train"])
    x_test, y_test = _checked_pair(arrays["x_test"], arrays["y_test"])
    return Dataset(name, source, x_train, y_train, x_test, y_test)


# Readers return {array name: (where it came from, array)} so that validation errors can name
# the exact file (or .npz member) at fault.
_Arrays = dict[str, tuple[str, np.ndarray]]


def _download(name: str) -> _Arrays:
    keras = import_keras()
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as e:  # noqa: BLE001  (keras.utils.get_file raises a bare Exception on fetch failure)
        reason = " ".join(f"{type(e).__name__}: {e}".split())
        raise DataError(
            f"could not download {name} through keras.datasets ({reason}); "
            f"pass --data PATH or set {ENV_VAR} to a .npz file or a folder of IDX files"
        ) from e
    where = f"keras.datasets.{name}"
    return {
        "x_train": (where, x_train),
        "y_train": (where, y_train),
        "x_test": (where, x_test),
        "y_test": (where, y_test),
    }


def _read(source: str) -> _Arrays:
    p = Path(source)
    if p.is_dir():
        return _read_idx_folder(p)
    if not p.exists():
        raise DataError(f"{source}: no such file or folder")
    if p.suffix == ".npz":
        return _read_npz(p)
    raise DataError(f"{source}: neither a .npz file nor a folder of IDX files")


def _read_npz(path: Path) -> _Arrays:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _ARRAYS if k not in z.files]
            if missing:
                raise DataError(
                    f"{path}: missing array(s) {', '.join(missing)} "
                    f"(expected {', '.join(_ARRAYS)}, found {', '.join(z.files) or 'none'})"
                )
            return {k: (f"{path} [{k}]", z[k]) for k in _ARRAYS}
    # A damaged member or an object array surfaces only when the member is read.
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"{path}: unreadable .npz ({type(e).__name__}: {e})") from e


def _read_idx_folder(folder: Path) -> _Arrays:
    files = {}
    for key, stem in _IDX_FILES.items():
        found = [f for f in (folder / (stem + ".gz"), folder / stem) if f.is_file()]
        files[key] = found[0] if found else None
    missing = [_IDX_FILES[k] for k, f in files.items() if f is None]
    if missing:
        raise DataError(f"{folder}: missing IDX file(s) {', '.join(missing)} (raw or .gz)")
    return {
        key: (str(f), _read_idx(f, _IMAGES_MAGIC if key.startswith("x") else _LABELS_MAGIC))
        for key, f in files.items()
    }


def _read_idx(path: Path, magic: int) -> np.ndarray:
    try:
        if path.suffix == ".gz":
            with gzip.open(path) as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: truncated or corrupt gzip ({e})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from e

    ndim = magic & 0xFF
    what = "images" if magic == _IMAGES_MAGIC else "labels"
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated: {len(data)} bytes, shorter than the {header}-byte IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(
            f"{path}: wrong IDX magic number: expected 0x{magic:08x} ({what}), found 0x{found:08x}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected, held = int(np.prod(shape)), len(data) - header
    if held < expected:
        raise DataError(
            f"{path}: truncated: header says {shape[0]} {what}, "
            f"file holds {held} bytes of the {expected} expected"
        )
    if held > expected:
        raise DataError(f"{path}: {held - expected} bytes beyond the {shape[0]} {what} the header declares")
    return np.frombuffer(data, np.uint8, count=expected, offset=header).reshape(shape)


def _checked_pair(images: tuple[str, np.ndarray], labels: tuple[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    (x_where, x), (y_where, y) = images, labels
    if x.ndim != 3 or x.shape[1:] != _IMAGE_SHAPE:
        raise DataError(f"{x_where}: images have shape {x.shape}, expected (N, 28, 28)")
    if len(x) == 0:
        raise DataError(f"{x_where}: holds no images")
    x = _as_uint8(x_where, x, "images", 255)
    if y.ndim != 1:
        raise DataError(f"{y_where}: labels have shape {y.shape}, expected (N,)")
    y = _as_uint8(y_where, y, "labels", _N_CLASSES - 1)
    if len(x) != len(y):
        raise DataError(f"{x_where} holds {len(x)} images but {y_where} holds {len(y)} labels")
    return x, y


def _as_uint8(where: str, a: np.ndarray, what: str, top: int) -> np.ndarray:
    # Integers only: a float array may already be scaled to [0, 1], and casting it would
    # silently turn every image black.
    if a.dtype.kind not in "iu":
        raise DataError(f"{where}: {what} have dtype {a.dtype}, expected integers 0-{top} (uint8)")
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi > top:
        raise DataError(f"{where}: {what} outside 0-{top} (found values from {lo} to {hi})")
    return a.astype(np.uint8, copy=False)


def scale(x: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the layout Conv2D expects."""
    return (x.astype(np.float32) / 255.0)[..., np.newaxis]


@dataclass(frozen=True)
class Split:
    """How the training images are divided into training and validation: recorded with each run."""

    seed: int
    val_fraction: float

    def to_dict(self) -> dict:
        return {"seed": self.seed, "val_fraction": self.val_fraction}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Split:
        try:
            return cls(seed=int(d["seed"]), val_fraction=float(d["val_fraction"]))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"invalid split record {d!r}: expected seed and val_fraction") from e


def split_indices(n: int, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx) for `n` images: a seeded permutation, round(n * val_fraction) for validation."""
    if not 0 <= split.val_fraction < 1:
        raise DataError(f"validation fraction must be in [0, 1), got {split.val_fraction}")
    if split.seed < 0:
        raise DataError(f"split seed must be a non-negative integer, got {split.seed}")
    n_val = round(n * split.val_fraction)
    if n > 0 and n_val >= n:
        raise DataError(f"validation fraction {split.val_fraction} of {n} images leaves no training images")
    # Shuffle before cutting: a dataset stored in class order would otherwise give a
    # validation set of one or two classes.
    perm = np.random.default_rng(split.seed).permutation(n)
    return perm[n_val:], perm[:n_val]


@dataclass(frozen=True)
class PreparedData:
    """What training and pruning use: scaled float32 images (N, 28, 28, 1) and uint8 labels."""

    name: str
    source: str
    split: Split
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> dict:
        return {"train": len(self.x_train), "validation": len(self.x_val), "test": len(self.x_test)}


def prepare(name: str, path: str | None = None, split: Split = Split(0, 0.2)) -> PreparedData:
    """Load `name`, split validation off its training images and scale every image set."""
    ds = load_dataset(name, path)
    train_idx, val_idx = split_indices(len(ds.x_train), split)
    return PreparedData(
        name=name,
        source=ds.source,
        split=split,
        # Index before scaling: the float32 copy is four times the size of the uint8 one.
        x_train=scale(ds.x_train[train_idx]),
        y_train=ds.y_train[train_idx],
        x_val=scale(ds.x_train[val_idx]),
        y_val=ds.y_train[val_idx],
        x_test=scale(ds.x_test),
        y_test=ds.y_test,
    )


def hold_out(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[tuple, tuple]:
    """((x, y) kept, (x, y) held out): round(N × `fraction`) images drawn by a permutation seeded with `seed`,
    each part in its original order."""
    held = np.zeros(len(y), bool)
    held[np.random.default_rng(seed).permutation(len(y))[: round(len(y) * fraction)]] = True
    return (x[~held], y[~held]), (x[held], y[held])
