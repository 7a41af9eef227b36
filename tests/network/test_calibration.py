"""Calibration images: the images themselves, or with their one-pixel shifts, zeros filling in, labels kept."""
import numpy as np
import pytest

from evoprune.errors import ConfigError
from evoprune.network.calibration import calibration_images, shift


def test_a_shift_moves_every_pixel_one_place_and_fills_the_edge_with_zeros():
    x = np.arange(1, 2 * 3 * 4 * 2 + 1, dtype=np.float32).reshape(2, 3, 4, 2)
    down = shift(x, 1, 0)
    np.testing.assert_array_equal(down[:, 1:], x[:, :-1])
    assert not down[:, 0].any()
    left = shift(x, 0, -1)
    np.testing.assert_array_equal(left[:, :, :-1], x[:, :, 1:])
    assert not left[:, :, -1].any()
    np.testing.assert_array_equal(shift(shift(x, 1, 0), -1, 0)[:, :-1], x[:, :-1])  # back again, bar the lost row


def test_shifted_calibration_is_the_images_then_their_four_shifts_each_with_its_label():
    x = np.random.default_rng(0).random((3, 5, 5, 1), dtype=np.float32)
    y = np.array([7, 1, 4])
    xs, ys = calibration_images(x, "shifted", y)
    assert xs.shape == (15, 5, 5, 1) and xs.dtype == x.dtype
    np.testing.assert_array_equal(xs[:3], x)
    for k, (rows, columns) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1)), start=1):
        np.testing.assert_array_equal(xs[3 * k:3 * k + 3], shift(x, rows, columns))
    np.testing.assert_array_equal(ys, np.tile(y, 5))
    assert calibration_images(x) is x and calibration_images(x, "images", y)[1] is y


def test_bad_calibrations_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="one of images, shifted"):
        calibration_images(np.zeros((2, 4, 4, 1)), "rotated")
    with pytest.raises(ConfigError, match="height, width"):
        calibration_images(np.zeros((2, 16)), "shifted")  # a Dense model's inputs: nothing to shift
