"""The original project's way of generating, for comparison: a stateless window model.

Its network (Embedding 100 → Bidirectional LSTM 150 → Dropout → LSTM 100 → Dense(V/2, relu) →
Dense(V, softmax), V = 34, window 1,224) reads the *whole* pre-padded history for every new
note, greedily taking the arg-max. We run it through the same ONNX Runtime settings the server
uses (one intra-op thread), so the ratio measures the architecture and the generation loop, not
the runtime.

The trained ``models/seed.onnx`` (see ``models/FORMAT.md``) is preferred. If it is not there,
the same architecture is built in Keras with untrained weights and exported with tf2onnx
``from_function``; inference time does not depend on the weights' values. That path imports
TensorFlow, so it lives here, in a benchmark-only helper, never in the server.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["SeedModel", "build_untrained_seed", "load_seed", "seed_generate"]

REPO = Path(__file__).resolve().parent.parent
SEED_VOCAB = 34
SEED_WINDOW = 1224
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "notegen-bench"


@dataclass
class SeedModel:
    """An ONNX session for the seed graph and where it came from."""

    session: object
    path: Path
    window: int
    vocab: int
    trained: bool
    input_name: str
    output_name: str


def build_untrained_seed(path: Path, vocab: int = SEED_VOCAB, window: int = SEED_WINDOW) -> Path:
    """Export the seed architecture with random weights to ``path`` (imports TensorFlow)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    import tf2onnx
    from keras import layers

    tokens = keras.Input(shape=(window,), dtype="int64", name="tokens")
    x = layers.Embedding(vocab, 100)(tokens)
    x = layers.Bidirectional(layers.LSTM(150, return_sequences=True))(x)
    x = layers.Dropout(0.2)(x)
    x = layers.LSTM(100)(x)
    x = layers.Dense(vocab // 2, activation="relu")(x)
    probs = layers.Dense(vocab, activation="softmax")(x)
    model = keras.Model(tokens, probs, name="seed")

    spec = (tf.TensorSpec((None, window), tf.int64, name="tokens"),)

    @tf.function(input_signature=spec)
    def forward(tokens: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probs": model(tokens, training=False)}

    path.parent.mkdir(parents=True, exist_ok=True)
    tf2onnx.convert.from_function(forward, input_signature=spec, opset=17, output_path=str(path))
    return path


def _session(path: Path) -> object:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def load_seed(path: Path | None = None, *, allow_build: bool = True) -> SeedModel:
    """The trained seed model if present (``models/seed.onnx``), else an untrained export."""
    trained = True
    candidate = path or REPO / "models" / "seed.onnx"
    window, vocab = SEED_WINDOW, SEED_VOCAB
    if not candidate.exists():
        if not allow_build:
            raise FileNotFoundError(candidate)
        trained = False
        candidate = CACHE / f"seed_untrained_v{vocab}_w{window}.onnx"
        if not candidate.exists():
            build_untrained_seed(candidate, vocab, window)
    card_path = candidate.with_suffix(".json")
    if trained and card_path.exists():
        card = json.loads(card_path.read_text())
        window = int(card.get("window", window))
        vocab = len(card.get("pitch_vocab", [])) or vocab
    session = _session(candidate)
    inputs = session.get_inputs()  # type: ignore[attr-defined]
    outputs = session.get_outputs()  # type: ignore[attr-defined]
    shape = inputs[0].shape
    if isinstance(shape[-1], int):
        window = shape[-1]
    return SeedModel(session, candidate, window, vocab, trained, inputs[0].name, outputs[0].name)


def seed_generate(
    model: SeedModel, count: int, prime: list[int] | None = None
) -> tuple[list[int], float]:
    """Greedy generation the seed's way; returns the tokens and the seconds it took.

    For every note the full window (history pre-padded with 0 to ``model.window``) is fed
    again, as the original notebook did.
    """
    history = list(prime or [])
    window = np.zeros((1, model.window), dtype=np.int64)
    out: list[int] = []
    run = model.session.run  # type: ignore[attr-defined]
    start = time.perf_counter()
    for _ in range(count):
        tail = history[-model.window :]
        window[:] = 0
        if tail:
            window[0, -len(tail) :] = tail
        (probs,) = run([model.output_name], {model.input_name: window})
        probs = np.array(probs[0], copy=True)
        probs[0] = -1.0  # padding / <bos> is never a prediction
        token = int(np.argmax(probs))
        history.append(token)
        out.append(token)
    return out, time.perf_counter() - start


if __name__ == "__main__":
    seed = load_seed()
    tokens, seconds = seed_generate(seed, 20, prime=[10, 12, 14])
    print(
        f"{seed.path} trained={seed.trained} window={seed.window} vocab={seed.vocab}: "
        f"20 notes in {seconds:.3f} s"
    )
