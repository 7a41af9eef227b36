"""An unpruned model near chance on the search images is said in one warning before the search; a good one is not."""
import logging

import numpy as np
import pytest

from evoprune import Problem, make_config, search
from evoprune.problem.chance import chance_level


def test_chance_is_a_uniform_guess_or_the_most_common_label():
    assert chance_level(np.arange(10).repeat(3), 10) == pytest.approx(0.1)
    assert chance_level(np.array([0] * 7 + [1] * 3), 10) == pytest.approx(0.7)
    assert chance_level(np.array([0, 1, 2, 3]), None) == pytest.approx(0.25)  # the model does not say: the labels


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "chance" in r.getMessage()]


def test_shuffled_labels_are_said_once_before_the_search_and_right_ones_are_not(tiny_model, small_mnist, caplog):
    x, y = small_mnist[2], small_mnist[3]
    config = make_config(certify=False, budget=3, seed=0)
    with caplog.at_level(logging.WARNING):
        search(Problem(tiny_model, x, y), "sa", config)
    assert warnings_of(caplog) == []
    with caplog.at_level(logging.WARNING):
        search(Problem(tiny_model, x, np.random.default_rng(0).permutation(y)), "sa", config)
    (line,) = warnings_of(caplog)
    assert "less than 5 points above chance" in line and "\n" not in line
    assert "scaled as in training" in line and "labels" in line


def test_a_model_that_learnt_nothing_is_said_by_the_problems_toolbox(small_mnist, caplog):
    from evoprune._tf import import_keras

    keras = import_keras()
    untrained = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros")])
    with caplog.at_level(logging.WARNING):
        Problem(untrained, small_mnist[2], small_mnist[3]).toolbox(seed=0)  # the DEAP seam scores it too
    assert len(warnings_of(caplog)) == 1
