"""TensorFlow set-up shared by fit/export: no GPU, a fixed number of CPU threads.

Imported before TensorFlow so that ``CUDA_VISIBLE_DEVICES`` and the log level take effect; the
machine the project targets has 2 cores, shared with editors and tests.
"""

from __future__ import annotations

import os


def setup_tensorflow(threads: int = 2, seed: int | None = None) -> None:
    """Hide GPUs, quiet TF's C++ logs, pin intra/inter-op threads, optionally seed everything."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised in this process (tests): keep what is there
        pass
    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
