"""Import TensorFlow/Keras quietly: its C++ start-up lines never reach the user's terminal."""
from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType

# TensorFlow's own variable for the threads one op may split its work over (read when its runtime starts).
INTRA_OP_ENV = "TF_NUM_INTRAOP_THREADS"


def one_thread_per_op() -> None:
    """Make every TensorFlow op of this process (and of the processes it spawns) run on one thread.

    On some CPUs (seen on AMD EPYC, whose TensorFlow runs Eigen's kernels rather than oneDNN's) a
    matrix product split over two threads sums in another order than on one, so a loss differed in
    its last bits between a main process and single-threaded workers. With one thread per op a
    score depends on the CPU type alone, however many cores computed it; cores are still used by
    running independent ops (the chunks of a batch) side by side. Called when evoprune is imported,
    before TensorFlow starts; an explicit setting of the variable is left alone.
    """
    os.environ.setdefault(INTRA_OP_ENV, "1")


def set_threads(tf: ModuleType, threads: int) -> None:
    """Size this process's TensorFlow pools before its runtime starts: one thread per op (or the explicit
    TF_NUM_INTRAOP_THREADS), `threads` ops side by side. A runtime already running keeps its pools."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(os.environ.get(INTRA_OP_ENV) or 1))
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # "cannot be modified after initialization": the process ran TensorFlow before
        pass


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
