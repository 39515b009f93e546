"""Int8 LSTM weights for the served step graph (``notegen-train quantize``).

A completion is a handful of batch-1 steps of a 2 x 384 LSTM, and such a step is bound by
reading the weights (8 MB in float32), not by arithmetic: beside the server's Python work,
which pushes them out of the caches between steps, a one-event step took 0.50-0.65 ms
(~0.3 ms timed alone). ONNX Runtime's dynamic quantization stores each LSTM's ``W`` and ``R``
as int8 with a scale (``com.microsoft.DynamicQuantizeLSTM``; the inputs are quantized per
call), a quarter of the bytes. Measured on the latency benchmark's cursors replayed in the
server's code (Dec 3, 2-core VM): a one-event step ~0.41 ms, a stretch of ~12 events
~1.1 ms instead of 2.0-2.3; a whole completion 19 % less CPU (median of paired requests);
the server's RSS 7 MB lower. The embeddings and heads stay float32.

The quantized op also scales each call's input sequence by its own range, so one event fed
alone and the same event inside a longer stretch would be rounded differently: a context's
state would depend on how it was read (a completion's steps, the warm-up's stretches). Two
constant input columns, ``+M`` and ``-M`` with zero weights, fix that range, and the input is
clipped to it: ``M`` is the embeddings' largest magnitude (3.09 for the shipped model) for the
first layer — the conditioning's values lie within it, the other voices' register from MIDI
23 to 97 (its ``(midi - 60) / 12``; the pitch vocabulary spans 36-96, and no training piece went
further) — and 1 for the second, whose input is the first one's hidden state. So every
call rounds alike and reading a context in one call or step by step gives the same state
exactly (``tests/unit/test_quantize.py``). Hidden states are rounded per step over the batch
rows, which the server handles by reading rows alone (``MelodyModel.quantized``).

The float graph the fit exported is kept beside it as ``<name>.fp32.onnx``: warm starts
(:mod:`notegen_training.warm_start`) and a later re-quantization read it. The card records
both files' sha256, the method, and the largest logit difference between the two graphs on
random inputs; its bits/note are re-measured with the quantized graph (``evaluate``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .export import op_counts, sha256_of, write_card

__all__ = [
    "QUANTIZED_OP",
    "QuantizeError",
    "anchor_inputs",
    "float_source",
    "logit_difference",
    "quantize_card",
]

QUANTIZED_OP = "DynamicQuantizeLSTM"


class QuantizeError(ValueError):
    """The card cannot be quantized (already done, no stateful graph, a file in the way)."""


def float_source(onnx_path: str | Path) -> Path:
    """Where the float graph of ``onnx_path`` is kept once it is quantized."""
    path = Path(onnx_path)
    return path.with_name(path.stem + ".fp32" + path.suffix)


def anchor_inputs(model: Any) -> list[float]:
    """Give each ``LSTM`` of the (float) graph two constant input columns ``+M, -M`` with zero
    weights, ``M`` bounding its input (module docstring); the ``M`` of each, in order."""
    from onnx import helper, numpy_helper

    graph = model.graph
    init = {i.name: i for i in graph.initializer}
    values = {name: numpy_helper.to_array(i) for name, i in init.items()}
    tables = [
        values[n.input[0]]
        for n in graph.node
        if n.op_type == "Gather" and n.input[0] in values and values[n.input[0]].ndim == 2
    ]
    first = float(max([1.0, *(np.abs(t).max() for t in tables)]))
    bounds: list[float] = []
    for k, node in enumerate([n for n in graph.node if n.op_type == "LSTM"]):
        bound = first if k == 0 else 1.0  # (a hidden state lies in (-1, 1))
        bounds.append(bound)
        x, pre = node.input[0], f"notegen_anchor{k}"
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([0], np.int64), pre + "_start"),
                numpy_helper.from_array(np.array([2], np.int64), pre + "_end"),
                numpy_helper.from_array(np.array([2], np.int64), pre + "_axis"),
                numpy_helper.from_array(np.array(0.0, np.float32), pre + "_zero"),
                numpy_helper.from_array(np.array([bound, -bound], np.float32), pre + "_value"),
                numpy_helper.from_array(np.array(-bound, np.float32), pre + "_low"),
                numpy_helper.from_array(np.array(bound, np.float32), pre + "_high"),
            ]
        )
        at = list(graph.node).index(node)
        added = [  # inside (-M, M); [T, B, 2] of its shape: two of its columns times 0, + (M, -M)
            helper.make_node("Clip", [x, pre + "_low", pre + "_high"], [pre + "_in"]),
            helper.make_node(
                "Slice", [pre + "_in", pre + "_start", pre + "_end", pre + "_axis"], [pre + "_two"]
            ),
            helper.make_node("Mul", [pre + "_two", pre + "_zero"], [pre + "_zeros"]),
            helper.make_node("Add", [pre + "_zeros", pre + "_value"], [pre + "_columns"]),
            helper.make_node("Concat", [pre + "_in", pre + "_columns"], [pre + "_x"], axis=2),
        ]
        for offset, new in enumerate(added):
            graph.node.insert(at + offset, new)
        node.input[0] = pre + "_x"
        weights = values[node.input[1]]  # [directions, 4 * units, inputs]
        zeros = np.zeros((*weights.shape[:2], 2), weights.dtype)
        init[node.input[1]].CopyFrom(
            numpy_helper.from_array(np.concatenate([weights, zeros], axis=2), node.input[1])
        )
    return bounds


def _random_feeds(
    card: dict[str, Any], steps: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Events from the vocabularies, states and conditioning rows of the graph's sizes."""
    layers, units = int(card["state"]["layers"]), int(card["state"]["units"])
    names = card["inputs"]
    feeds: dict[str, np.ndarray] = {
        names[0]: rng.integers(1, len(card["pitch_vocab"]), (1, steps)),
        names[1]: rng.integers(1, len(card["duration_vocab"]), (1, steps)),
        names[2]: rng.uniform(-1, 1, (layers, 1, units)).astype(np.float32),
        names[3]: rng.uniform(-1, 1, (layers, 1, units)).astype(np.float32),
    }
    conditioning = card.get("conditioning")
    if conditioning:
        dim = int(conditioning["dim"])
        feeds[conditioning["input"]] = rng.uniform(0, 1, (1, steps, dim)).astype(np.float32)
    return feeds


def logit_difference(card: dict, one: str | Path, other: str | Path, runs: int = 32) -> float:
    """Largest absolute difference of the two graphs' logits on the same random inputs."""
    import onnxruntime as ort

    sessions = [
        ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (one, other)
    ]
    outputs = list(card["outputs"][:2])  # pitch and duration logits
    rng = np.random.default_rng(0)
    worst = 0.0
    for run in range(runs):
        feeds = _random_feeds(card, 1 + run % 16, rng)
        a, b = (s.run(outputs, feeds) for s in sessions)
        worst = max(worst, *(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True)))
    return worst


def quantize_card(card_path: str | Path) -> dict:
    """Quantize the LSTM weights of the card's graph in place of it (the float graph moves to
    :func:`float_source`); the updated card. Nothing is changed when a check fails."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    card_path = Path(card_path)
    card = json.loads(card_path.read_text())
    if not card.get("stateful"):
        raise QuantizeError(f"{card_path}: only the stateful step graph is quantized")
    if "quantization" in card:
        raise QuantizeError(
            f"{card_path}: already quantized (from {card['quantization']['source']})"
        )
    onnx_path = card_path.with_name(str(card["onnx"]))
    source = float_source(onnx_path)
    if source.exists():
        raise QuantizeError(f"{source} exists: move it away first (it would be overwritten)")
    if sha256_of(onnx_path) != card["sha256"]:
        raise QuantizeError(f"{onnx_path}: sha256 does not match the card")
    layers = int(card["state"]["layers"])
    counts = op_counts(onnx_path)
    if counts.get("LSTM", 0) != layers:
        raise QuantizeError(f"{onnx_path}: expected {layers} fused LSTM ops, found {counts}")

    staged = onnx_path.with_name(onnx_path.name + ".int8.tmp")
    anchored = onnx_path.with_name(onnx_path.name + ".anchored.tmp")
    try:
        graph = onnx.load(str(onnx_path))
        bounds = anchor_inputs(graph)
        onnx.checker.check_model(graph)
        onnx.save(graph, str(anchored))
        quantize_dynamic(
            str(anchored), str(staged), op_types_to_quantize=["LSTM"], weight_type=QuantType.QInt8
        )
        made = op_counts(staged)
        if made.get(QUANTIZED_OP, 0) != layers or made.get("LSTM", 0):
            raise QuantizeError(f"quantization left {made} (expected {layers} {QUANTIZED_OP})")
        if made.get("Loop", 0) or made.get("Scan", 0):
            raise QuantizeError("the quantized graph holds a Loop/Scan")
        difference = logit_difference(card, onnx_path, staged)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    finally:
        anchored.unlink(missing_ok=True)
    source_sha = card["sha256"]
    os.link(onnx_path, source)  # the float graph under its new name, before it is replaced
    staged.replace(onnx_path)
    card["quantization"] = {
        "method": (
            f"onnxruntime.quantization.quantize_dynamic: each LSTM's W and R as int8 with a "
            f"scale ({QUANTIZED_OP}, com.microsoft), inputs quantized per call; embeddings "
            "and heads float32; two constant input columns (+M, -M, zero weights) per LSTM fix "
            "the inputs' quantization range"
        ),
        "input_bounds": [round(b, 6) for b in bounds],
        "source": source.name,
        "source_sha256": source_sha,
        "source_size_bytes": source.stat().st_size,
        "max_abs_logit_diff": round(difference, 4),
        "command": f"notegen-train quantize {card_path}",
    }
    card["size_bytes"] = onnx_path.stat().st_size
    write_card(card_path, card)
    return json.loads(card_path.read_text())
