"""``notegen-train quantize``: the served graph gets int8 LSTM weights, the float graph is kept
beside it, the card says so, and nothing changes when the card cannot be quantized."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.tiny_model import build_tiny_model
from notegen.melody import Event
from notegen.model.conditioning import COND_DIM
from notegen.model.network import MelodyModel
from notegen_training.cli import main as train_main
from notegen_training.export import op_counts, sha256_of
from notegen_training.quantize import QUANTIZED_OP, QuantizeError, float_source, quantize_card

MELODY = [Event(60 + (i * 5) % 12, (0.5, 1.0, 0.25)[i % 3]) for i in range(24)]


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: sha256_of(p) for p in sorted(directory.iterdir())}


@pytest.fixture
def card(tmp_path: Path) -> Path:
    path, _ = build_tiny_model(tmp_path, seed=5, units=32, conditioning=COND_DIM)
    return path


def test_the_served_graph_gets_int8_lstms_and_the_float_graph_is_kept(card: Path) -> None:
    before = json.loads(card.read_text())
    float_logits, _, _ = MelodyModel.load(card).run(MELODY)

    after = quantize_card(card)

    onnx = card.with_name(after["onnx"])
    kept = float_source(onnx)
    assert kept.name == "tiny.fp32.onnx" and sha256_of(kept) == before["sha256"]
    assert op_counts(onnx).get(QUANTIZED_OP) == 2 and "LSTM" not in op_counts(onnx)
    assert after["sha256"] == sha256_of(onnx) != before["sha256"]
    assert after["size_bytes"] == onnx.stat().st_size
    q = after["quantization"]
    assert q["source"] == kept.name and q["source_sha256"] == before["sha256"]
    assert 0 < q["max_abs_logit_diff"] < 2  # (random weights of a 32-unit net: sensitive)
    # The server loads it (sha256 checked) and hears nearly what the float graph said.
    logits, _, _ = MelodyModel.load(card).run(MELODY)
    assert 0 < np.abs(logits[:, 1:] - float_logits[:, 1:]).max() < 1
    assert (logits[:, 1:].argmax(-1) == float_logits[:, 1:].argmax(-1)).mean() > 0.9


def test_quantizing_twice_is_refused_and_changes_nothing(card: Path) -> None:
    quantize_card(card)
    files = snapshot(card.parent)
    with pytest.raises(QuantizeError, match="already quantized"):
        quantize_card(card)
    assert snapshot(card.parent) == files


def test_a_file_in_the_float_graphs_place_is_never_overwritten(card: Path) -> None:
    float_source(card.with_suffix(".onnx")).write_bytes(b"mine")
    files = snapshot(card.parent)
    with pytest.raises(QuantizeError, match="exists"):
        quantize_card(card)
    assert snapshot(card.parent) == files


def test_the_command_line_says_why_and_exits_2(card: Path, capsys) -> None:
    assert train_main(["quantize", str(card)]) == 0
    assert json.loads(capsys.readouterr().out)["quantization"]["source"] == "tiny.fp32.onnx"
    assert train_main(["quantize", str(card)]) == 2
    assert "already quantized" in capsys.readouterr().err


def test_a_warm_start_from_the_quantized_graph_points_to_the_float_one(card: Path) -> None:
    from notegen_training.warm_start import onnx_weights

    quantize_card(card)
    with pytest.raises(ValueError, match=r"tiny\.fp32\.onnx"):
        onnx_weights(card.with_suffix(".onnx"))


def test_a_context_read_at_once_or_step_by_step_gives_the_same_state(card: Path) -> None:
    """The input columns fix the quantization range: chunking does not change a state."""
    quantize_card(card)
    model = MelodyModel.load(card)
    assert model.quantized
    pids, dids = model.encode(MELODY)
    cond = np.random.default_rng(1).uniform(0, 1, (1, len(pids), model.cond_dim))
    cond = cond.astype(np.float32)
    whole = model.step(pids[None], dids[None], model.initial_state(), cond)
    state = model.initial_state()
    for t in range(len(pids)):
        pl, _, state = model.step(pids[None, t], dids[None, t], state, cond[:, t])
    np.testing.assert_array_equal(pl, whole[0])
    np.testing.assert_array_equal(state[0], whole[2][0])


def test_rows_are_read_alone_unless_they_belong_together(card: Path) -> None:
    """Hidden states are rounded over the batch: rows of a context are read one by one (each
    as it would be alone); rows sampled together may share the call."""
    quantize_card(card)
    model = MelodyModel.load(card, threads=2)
    rng = np.random.default_rng(2)
    rows, steps = 5, 6
    pids = rng.integers(2, len(model.pitch_vocab), (rows, steps))
    dids = rng.integers(1, len(model.duration_vocab), (rows, steps))
    cond = rng.uniform(0, 1, (rows, steps, model.cond_dim)).astype(np.float32)
    h = rng.uniform(-0.9, 0.9, model.initial_state(rows)[0].shape).astype(np.float32)
    state = (h, h / 2)
    together = model.step(pids, dids, state, cond)
    for r in range(rows):
        alone = model.step(pids[r : r + 1], dids[r : r + 1], (h[:, [r]], h[:, [r]] / 2), cond[[r]])
        np.testing.assert_array_equal(alone[0][0], together[0][r])
        np.testing.assert_array_equal(alone[2][0][:, 0], together[2][0][:, r])
    joint = model.step(pids, dids, state, cond, joint=True)
    assert joint[0].shape == together[0].shape
    np.testing.assert_allclose(joint[0], together[0], atol=1.0)
