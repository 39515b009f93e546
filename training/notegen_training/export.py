"""Keras → ONNX with tf2onnx ``from_function``, the parity check, and the model card.

The stateful model is exported as one step graph with the LSTM state as inputs and outputs
(``models/FORMAT.md``), so a sampler feeds one event at a time and generating N notes costs N
steps. The seed network is exported as it was used: a pre-padded window in, probabilities out.
After conversion both are run in onnxruntime next to Keras on the same random inputs; a
difference above ``atol`` or a graph without fused ``LSTM`` ops (or with a ``Loop``) fails.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ONNX_OPSET = 17


class ExportError(RuntimeError):
    """The exported graph does not match Keras or is not the fused form the server needs."""


@dataclass
class ParityReport:
    max_abs_diff: float
    op_counts: dict[str, int]

    @property
    def fused_lstm(self) -> int:
        return self.op_counts.get("LSTM", 0)

    def to_dict(self) -> dict[str, object]:
        return {
            "max_abs_diff": self.max_abs_diff,
            "lstm_ops": self.fused_lstm,
            "loop_ops": self.op_counts.get("Loop", 0) + self.op_counts.get("Scan", 0),
        }


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def op_counts(onnx_path: str | Path) -> dict[str, int]:
    """Op types of the main graph and every subgraph (a ``Loop`` hides ops in a body)."""
    import onnx

    counts: dict[str, int] = {}

    def walk(graph) -> None:  # type: ignore[no-untyped-def]
        for node in graph.node:
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
            for attr in node.attribute:
                if attr.g is not None and attr.g.node:
                    walk(attr.g)
                for sub in attr.graphs:
                    walk(sub)

    walk(onnx.load(str(onnx_path)).graph)
    return counts


def check_graph(onnx_path: str | Path, expected_lstms: int) -> dict[str, int]:
    counts = op_counts(onnx_path)
    if counts.get("LSTM", 0) < expected_lstms:
        raise ExportError(
            f"{onnx_path}: {counts.get('LSTM', 0)} fused LSTM ops, "
            f"expected {expected_lstms} (ops: {counts})"
        )
    if counts.get("Loop", 0) or counts.get("Scan", 0):
        raise ExportError(f"{onnx_path}: graph holds a Loop/Scan, the LSTM was not fused")
    return counts


def export_stateful(
    model, onnx_path: str | Path, atol: float = 1e-5, seed: int = 0
) -> ParityReport:  # type: ignore[no-untyped-def]
    """Export a :class:`MelodyLSTM` as the step graph of FORMAT.md and check it."""
    import tensorflow as tf
    import tf2onnx

    cfg = model.config
    signature = [
        tf.TensorSpec([None, None], tf.int64, name="pitch"),
        tf.TensorSpec([None, None], tf.int64, name="duration"),
        tf.TensorSpec([cfg.layers, None, cfg.units], tf.float32, name="h_in"),
        tf.TensorSpec([cfg.layers, None, cfg.units], tf.float32, name="c_in"),
    ]
    if cfg.conditioning:
        signature.append(
            tf.TensorSpec([None, None, cfg.conditioning], tf.float32, name="conditioning")
        )

    @tf.function(input_signature=signature)
    def step(pitch, duration, h_in, c_in, *conditioning):  # type: ignore[no-untyped-def]
        p, d, h, c = model([pitch, duration, *conditioning, h_in, c_in], training=False)
        return {"pitch_logits": p, "duration_logits": d, "h_out": h, "c_out": c}

    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    tf2onnx.convert.from_function(
        step, input_signature=signature, opset=ONNX_OPSET, output_path=str(onnx_path)
    )
    counts = check_graph(onnx_path, cfg.layers)

    rng = np.random.default_rng(seed)
    batch, time = 3, 17
    feeds = {
        "pitch": rng.integers(0, cfg.n_pitch, (batch, time)).astype(np.int64),
        "duration": rng.integers(0, cfg.n_duration, (batch, time)).astype(np.int64),
        "h_in": rng.normal(0, 0.5, (cfg.layers, batch, cfg.units)).astype(np.float32),
        "c_in": rng.normal(0, 0.5, (cfg.layers, batch, cfg.units)).astype(np.float32),
    }
    inputs = [feeds["pitch"], feeds["duration"], feeds["h_in"], feeds["c_in"]]
    if cfg.conditioning:
        feeds["conditioning"] = (rng.random((batch, time, cfg.conditioning)) < 0.2).astype(
            np.float32
        )
        inputs.insert(2, feeds["conditioning"])
    expected = [np.asarray(t) for t in model(inputs, training=False)]
    names = ["pitch_logits", "duration_logits", "h_out", "c_out"]
    got = _run_onnx(onnx_path, names, feeds)
    diff = max(float(np.abs(e - g).max()) for e, g in zip(expected, got, strict=True))
    if not diff <= atol:
        raise ExportError(f"{onnx_path}: Keras and onnxruntime differ by {diff:.3g} > {atol}")
    return ParityReport(diff, counts)


def export_seed(model, onnx_path: str | Path, atol: float = 1e-5, seed: int = 0) -> ParityReport:  # type: ignore[no-untyped-def]
    """Export the seed network: ``tokens`` int64 [batch, window] → ``probs`` [batch, V]."""
    import tensorflow as tf
    import tf2onnx

    signature = [tf.TensorSpec([None, None], tf.int64, name="tokens")]

    @tf.function(input_signature=signature)
    def forward(tokens):  # type: ignore[no-untyped-def]
        return {"probs": model(tokens, training=False)}

    onnx_path = Path(onnx_path)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    tf2onnx.convert.from_function(
        forward, input_signature=signature, opset=ONNX_OPSET, output_path=str(onnx_path)
    )
    counts = check_graph(onnx_path, 2)
    rng = np.random.default_rng(seed)
    vocab_size = int(model.output_shape[-1])
    tokens = rng.integers(0, vocab_size, (3, 40)).astype(np.int64)
    tokens[:, :10] = 0  # pre-padding, as in use
    expected = np.asarray(model(tokens, training=False))
    (got,) = _run_onnx(onnx_path, ["probs"], {"tokens": tokens})
    diff = float(np.abs(expected - got).max())
    if not diff <= atol:
        raise ExportError(f"{onnx_path}: Keras and onnxruntime differ by {diff:.3g} > {atol}")
    return ParityReport(diff, counts)


def _run_onnx(path: Path, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(outputs, feeds)


def write_card(card_path: str | Path, card: dict[str, object]) -> None:
    """Write the card with ``sha256`` of the .onnx next to it (the server verifies it)."""
    card_path = Path(card_path)
    onnx_file = card_path.with_name(str(card["onnx"]))
    card = {**card, "sha256": sha256_of(onnx_file)}
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps(card, indent=1) + "\n")
    tmp.replace(card_path)
