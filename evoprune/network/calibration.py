"""The images a closed-form re-fit and the image-driven importances are computed on: the given ones, or with copies."""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError

# images: the given images; shifted: those and their copies moved one pixel up, down, left and right (5x the
# images). The re-fit matches the unpruned model's pre-activations on these images; on the images a model trained
# on alone, its units sit where training left them, so a re-fit and an order computed there alone see little of
# how the layer behaves on the inputs it meets later. One-pixel shifts are the mildest such inputs an image
# model must already handle, and they need no labels the model did not have.
CALIBRATIONS = ("images", "shifted")
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns) moved down / right when positive


def shift(x: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """The images `x` (N, height, width, channels) moved by `rows` down and `columns` right, zeros filling in."""
    out = np.zeros_like(x)
    height, width = x.shape[1:3]
    out[:, max(rows, 0):height + min(rows, 0), max(columns, 0):width + min(columns, 0)] = \
        x[:, max(-rows, 0):height + min(-rows, 0), max(-columns, 0):width + min(-columns, 0)]
    return out


def check_calibration(calibration: str) -> None:
    """Refuse, in one line, a calibration that is not one of CALIBRATIONS."""
    if calibration not in CALIBRATIONS:
        raise ConfigError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")


def calibration_images(x: np.ndarray, calibration: str = "images", y: np.ndarray | None = None):
    """The images of `calibration` (one of CALIBRATIONS) made from `x`: `x` itself first, then its copies in SHIFTS
    order. With labels `y`, returns (images, their labels), a copy keeping its image's label."""
    check_calibration(calibration)
    if calibration == "shifted":
        if np.ndim(x) != 4:
            raise ConfigError(f"shifted calibration moves images: it needs inputs shaped (N, height, width, "
                              f"channels), got {np.shape(x)}")
        x = np.concatenate([x] + [shift(x, rows, columns) for rows, columns in SHIFTS])
        y = None if y is None else np.concatenate([np.asarray(y)] * (len(SHIFTS) + 1))
    return x if y is None else (x, y)
