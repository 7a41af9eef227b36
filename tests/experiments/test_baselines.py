"""Tests for evoprune.experiments.baselines.search_data: which images each search set holds, and never the test set by default."""
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
