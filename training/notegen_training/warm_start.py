"""Start a conditioned fit from a shipped model: its ONNX weights copied into Keras.

The shipped graph holds every weight of the unconditioned network as an initializer: the two
embeddings, each fused ``LSTM``'s ``W``/``R``/``B`` (ONNX gate order i, o, f, c, two biases)
and the two dense heads. Copied into a :class:`MelodyLSTM` whose first LSTM kernel has zero rows
for the new conditioning columns, the new network computes exactly what the old one did (checked
by :func:`max_difference`), so fine-tuning starts from 56 minutes of training instead of zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def onnx_weights(onnx_path: str | Path) -> dict[str, object]:
    """Embeddings, per-layer (W, R, B) and heads of an exported step graph, by role."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    if not lstms and any(n.op_type == "DynamicQuantizeLSTM" for n in graph.node):
        from .quantize import float_source

        raise ValueError(
            f"{onnx_path}: its LSTM weights are quantized to int8; start from the float graph "
            f"kept beside it ({float_source(onnx_path).name})"
        )
    gathers = [n for n in graph.node if n.op_type == "Gather" and n.input[0] in init]
    embeddings = [init[n.input[0]] for n in gathers if init[n.input[0]].ndim == 2]
    heads: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in ("pitch", "duration"):
        weight = next(
            v
            for k, v in init.items()
            if f"{name}_head" in k and "ReadVariableOp" in k and v.ndim == 2
        )
        bias = next(
            v for k, v in init.items() if f"{name}_head" in k and "BiasAdd" in k and v.ndim == 1
        )
        heads[name] = (weight, bias)
    return {
        "pitch_embedding": embeddings[0],
        "duration_embedding": embeddings[1],
        "lstm": [(init[n.input[1]][0], init[n.input[2]][0], init[n.input[3]][0]) for n in lstms],
        "heads": heads,
    }


def _keras_gates(onnx_rows: np.ndarray) -> np.ndarray:
    """ONNX gate blocks (i, o, f, c) along axis 0 → Keras order (i, f, c, o)."""
    i, o, f, c = np.split(onnx_rows, 4, axis=0)
    return np.concatenate([i, f, c, o], axis=0)


def load_into(model, onnx_path: str | Path) -> None:  # type: ignore[no-untyped-def]
    """Set ``model``'s weights from the graph; new conditioning inputs start at zero weight."""
    weights = onnx_weights(onnx_path)
    cfg = model.config
    model.pitch_embedding.set_weights([weights["pitch_embedding"]])
    model.duration_embedding.set_weights([weights["duration_embedding"]])
    for index, (lstm, (w, r, b)) in enumerate(zip(model.lstms, weights["lstm"], strict=True)):  # type: ignore[arg-type]
        kernel = _keras_gates(w).T  # [inputs, 4H]
        if index == 0 and cfg.conditioning:
            kernel = np.concatenate([kernel, np.zeros((cfg.conditioning, kernel.shape[1]))])
        recurrent = _keras_gates(r).T
        half = b.shape[0] // 2
        bias = _keras_gates(b[:half] + b[half:])
        lstm.set_weights([kernel.astype(np.float32), recurrent, bias])
    for head, key in ((model.pitch_head, "pitch"), (model.duration_head, "duration")):
        head.set_weights(list(weights["heads"][key]))  # type: ignore[index]


def max_difference(model, onnx_path: str | Path, seed: int = 0) -> float:  # type: ignore[no-untyped-def]
    """Largest |logit| difference between the Keras model (any conditioning) and the graph."""
    import onnxruntime as ort

    cfg = model.config
    rng = np.random.default_rng(seed)
    batch, time = 2, 23
    pitch = rng.integers(1, cfg.n_pitch, (batch, time)).astype(np.int64)
    duration = rng.integers(1, cfg.n_duration, (batch, time)).astype(np.int64)
    h = np.zeros((cfg.layers, batch, cfg.units), np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    old = session.run(
        ["pitch_logits", "duration_logits"],
        {"pitch": pitch, "duration": duration, "h_in": h, "c_in": h},
    )
    inputs = [pitch, duration]
    if cfg.conditioning:
        inputs.append(rng.random((batch, time, cfg.conditioning)).astype(np.float32))
    new = model([*inputs, h, h], training=False)
    return max(float(np.abs(np.asarray(n) - o).max()) for n, o in zip(new[:2], old, strict=True))
