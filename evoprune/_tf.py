"""Import TensorFlow/Keras quietly: its C++ start-up lines never reach the user's terminal."""
from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType


@contextlib.contextmanager
def _stderr_silenced():
    # TensorFlow writes its start-up lines (absl pre-init warnings, oneDNN and CUDA notices)
    # from C++ straight to file descriptor 2 before TF_CPP_MIN_LOG_LEVEL takes effect, so
    # the only reliable way to keep them off the screen is to point fd 2 elsewhere meanwhile.
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow() -> ModuleType:
    """Return the `tensorflow` module, imported with its start-up noise suppressed."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_silenced():
        import tensorflow as tf  # noqa: PLC0415  (deliberately lazy: slow, noisy import)

        tf.get_logger().setLevel("ERROR")
    return tf


def import_keras() -> ModuleType:
    """Return the `keras` module (Keras 3 on the TensorFlow backend), imported quietly."""
    import_tensorflow()
    with _stderr_silenced():
        import keras  # noqa: PLC0415

    return keras
