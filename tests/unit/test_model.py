"""notegen.model.network: the ONNX graph is really stepped, state carries, bad files are named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.tiny_model import build_tiny_seed_model, numpy_reference
from notegen.melody import Event
from notegen.model.network import BOS, REST, MelodyModel, ModelError

MELODY = [Event(60, 1.0), Event(None, 0.5), Event(67, 2.0), Event(64, 0.25)]


def test_run_is_the_lstm_of_the_card(tiny, model):
    _, weights = tiny
    pitch_logits, dur_logits, _ = model.run(MELODY)
    pids, dids = model.encode(MELODY)
    ref_p, ref_d = numpy_reference(weights, [BOS, *pids], [BOS, *dids])
    assert pitch_logits.shape == (len(MELODY) + 1, len(model.pitch_vocab))
    np.testing.assert_allclose(pitch_logits[:, 1:], ref_p[:, 1:], atol=1e-4)
    np.testing.assert_allclose(dur_logits[:, 1:], ref_d[:, 1:], atol=1e-4)
    assert (pitch_logits[:, BOS] < -1e8).all()  # <bos> is never a prediction


def test_stepping_one_event_at_a_time_equals_one_run(model):
    full, _, _ = model.run(MELODY)
    state = model.initial_state()
    pids, dids = model.encode(MELODY)
    rows = []
    for p, d in zip([BOS, *pids], [BOS, *dids], strict=True):
        logits, _, state = model.step(np.array([p]), np.array([d]), state)
        rows.append(logits[0])
    np.testing.assert_allclose(np.array(rows), full, atol=1e-5)


def test_continuing_from_a_state_reads_only_new_events(model):
    whole, _, _ = model.run(MELODY)
    _, _, state = model.run(MELODY[:2])
    rest, _, _ = model.run(MELODY[2:], state)  # no <bos>: continues
    np.testing.assert_allclose(rest, whole[3:], atol=1e-5)


def test_out_of_range_and_odd_notes_are_folded_not_rejected(model):
    pids, dids = model.encode(
        [Event(130, 0.3), Event(-5, None), Event(61.6, 100.0), Event(float("inf"), -1.0)]
    )
    assert [model.pitch_of(int(p)) for p in pids] == [94, 43, 62, None]
    assert pids[3] == REST
    assert [model.duration_of(int(d)) for d in dids] == [0.25, 1.0, 4.0, 1.0]


def test_missing_card_names_the_file(tmp_path):
    with pytest.raises(ModelError, match=r"nothere\.json: model card not found"):
        MelodyModel.load(tmp_path / "nothere.onnx")


def test_corrupt_graph_names_the_file(tiny, tmp_path):
    card = json.loads(tiny[0].read_text())
    card.pop("sha256")
    (tmp_path / "bad.json").write_text(json.dumps({**card, "onnx": "bad.onnx"}))
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x01garbage")
    with pytest.raises(ModelError, match=r"bad\.onnx: not a valid ONNX model"):
        MelodyModel.load(tmp_path / "bad.json")


def test_checksum_mismatch_is_reported(tiny, tmp_path):
    card = json.loads(tiny[0].read_text())
    (tmp_path / "m.json").write_text(json.dumps({**card, "onnx": "m.onnx", "sha256": "0" * 64}))
    (tmp_path / "m.onnx").write_bytes(tiny[0].with_suffix(".onnx").read_bytes())
    with pytest.raises(ModelError, match="does not match the card"):
        MelodyModel.load(tmp_path / "m.onnx")


def test_card_vocabulary_must_match_the_graph(tiny, tmp_path):
    card = json.loads(tiny[0].read_text())
    card["pitch_vocab"] = card["pitch_vocab"][:-1]
    card.pop("sha256")
    (tmp_path / "v.json").write_text(json.dumps({**card, "onnx": "v.onnx"}))
    (tmp_path / "v.onnx").write_bytes(tiny[0].with_suffix(".onnx").read_bytes())
    with pytest.raises(ModelError, match=r"predicts .* pitches but the card lists"):
        MelodyModel.load(tmp_path / "v.json")


def test_seed_architecture_graph_rereads_its_window(tmp_path):
    seed = MelodyModel.load(build_tiny_seed_model(tmp_path))
    logits, durs, _ = seed.run([Event(60), Event(62), Event(64)])
    assert logits.shape == (4, len(seed.pitch_vocab))
    assert (np.exp(logits[:, 1:]).sum(axis=1) <= 1 + 1e-5).all()  # log of a softmax
    state = seed.initial_state()
    for row, note in zip(logits[1:], (60, 62, 64), strict=True):
        stepped, _, state = seed.step(np.array([seed.pitch_id(note)]), np.array([1]), state)
        np.testing.assert_allclose(stepped[0], row, atol=1e-5)
    assert state[0][0, -3:].tolist() == [seed.pitch_id(n) for n in (60, 62, 64)]
    assert (durs.argmax(axis=1) == seed.duration_id(0.5)).all()


def test_a_card_with_conditioning_feeds_the_setting_to_the_graph(tmp_path) -> None:
    """The same notes read alone and against another voice give other predictions; a card
    without the input (the fixture above) keeps working without one."""
    from fixtures.tiny_model import build_tiny_model
    from notegen.model.conditioning import COND_DIM, Setting, VoiceTimes
    from notegen.model.context_cache import ContextCache

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    model = MelodyModel.load(card)
    assert model.cond_dim == COND_DIM
    melody = [Event(60, 1.0), Event(64, 1.0), Event(67, 2.0)]
    bass = Setting(others=(VoiceTimes.of([Event(48, 4.0)]),))
    alone_lp, _ = model.log_probs(melody)
    with_bass, _ = model.log_probs(melody, bass)
    assert not np.allclose(alone_lp, with_bass)
    cache = ContextCache(model)
    ids = cache.ids(melody)
    for setting, expected in ((None, alone_lp), (bass, with_bass)):
        cache.prime_ids(ids[:1], (), setting)  # then continue from the cached prefix
        primed = cache.prime_ids(ids, (), setting)
        assert np.allclose(primed.pitch_logits, expected[-1], atol=1e-5)


def float_card(directory: Path) -> Path:
    """The shipped card, pointed at the float graph ``notegen-train quantize`` kept."""
    models = Path(__file__).resolve().parents[2] / "models"
    card = json.loads((models / "notegen.json").read_text())
    quantization = card.pop("quantization")
    (directory / quantization["source"]).symlink_to(models / quantization["source"])
    (directory / "notegen.tunes.npz").symlink_to(models / "notegen.tunes.npz")
    card.update(onnx=quantization["source"], sha256=quantization["source_sha256"])
    (directory / "float.json").write_text(json.dumps(card))
    return directory / "float.json"


@pytest.mark.parametrize("graph", ["shipped (int8)", "float"])
def test_two_threads_per_call_compute_exactly_what_one_does(graph, tmp_path):
    """The server reads with two ONNX Runtime threads per call: not one bit may change (the
    shipped graph's int8 LSTM is read on one thread whatever is asked: MelodyModel.quantized)."""
    shipped = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
    card = shipped if graph.startswith("shipped") else float_card(tmp_path)
    one, two = MelodyModel.load(card), MelodyModel.load(card, threads=2)
    assert one.quantized == graph.startswith("shipped")
    rng = np.random.default_rng(5)
    vp, vd = len(one.pitch_vocab), len(one.duration_vocab)
    for batch, steps in [(1, 1), (1, 20), (8, 8)]:
        pitches = rng.integers(2, vp, (batch, steps))
        durations = rng.integers(1, vd, (batch, steps))
        state = one.initial_state(batch)
        cond = rng.standard_normal((batch, steps, one.cond_dim)).astype(np.float32)
        a = one.step(pitches, durations, state, cond)
        b = two.step(pitches, durations, state, cond)
        for x, y in zip([a[0], a[1], *a[2]], [b[0], b[1], *b[2]], strict=True):
            assert np.array_equal(x, y)
