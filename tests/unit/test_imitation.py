"""Imitation: a voice's next pitch from another voice that played its recent intervals."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
from notegen.melody import Event
from notegen.model.conditioning import Setting, VoiceTimes
from notegen.model.context_cache import ContextCache
from notegen.model.ensemble import document_lines, document_setting
from notegen.model.imitation import FIRST, REST, ImitationMixture, imitation_marginal, intervals
from notegen.model.network import MelodyModel
from notegen.model.rhythm import LENGTH_EDGES

# voice 1 plays the subject on C; voice 2 answers it a fifth higher, on G, four beats later
CANON = """\
a1[0]=[:c4, :d4, :e4, :c4, :g4, :f4, :e4, :d4]
b1[0]=[1, 1, 1, 1, 1, 1, 1, 1]
a2[0]=[:r, :g4, :a4, :b4, :g4, :d5, :c5, :b4]
b2[0]=[4, 1, 1, 1, 1, 1, 1, 1]
"""
PITCHES = list(range(36, 97))
VOCAB = ["<bos>", "rest", *PITCHES]


def test_a_voice_is_read_as_intervals_and_rests() -> None:
    midi = np.array([60, 62, np.nan, 59, 59, 67], np.float64)
    assert intervals(midi).tolist() == [FIRST, 2, REST, -3, 0, 8]


def test_an_answer_a_fifth_higher_follows_the_subject_s_intervals() -> None:
    """Voice 2 has played the rest and G A B G; voice 1 went C D E C then up a fifth to G:
    from voice 2's G the expert proposes D5."""
    setting = document_setting(CANON, 2)
    own = np.array([np.nan, 67, 69, 71, 67], np.float64)
    length, q = imitation_marginal(own, setting, VOCAB, 16)
    assert length == 4  # its first note, +2, +2, -4 (the rest before it matches nothing)
    assert q is not None and int(np.argmax(q)) == VOCAB.index(74) and q.max() == 1.0
    # alone, or against voices that never play these intervals, it says nothing
    assert imitation_marginal(own, Setting(), VOCAB, 16) == (0, None)
    other = Setting(others=(VoiceTimes.of([Event(60, 1.0)] * 8),))
    assert imitation_marginal(own, other, VOCAB, 16) == (0, None)


def with_imitation(card: Path, directory: Path, weight: float = 0.8) -> Path:
    directory.mkdir(exist_ok=True)
    spec = json.loads(card.read_text())
    shutil.copy(card.with_suffix(".onnx"), directory / card.with_suffix(".onnx").name)
    weights = (0.0, *([weight] * len(LENGTH_EDGES)))
    spec["imitation_mixture"] = ImitationMixture(16, weights).to_card()
    out = directory / card.name
    out.write_text(json.dumps(spec))
    return out


def test_the_served_pitches_of_an_answer_follow_the_subject(model, tiny, tmp_path) -> None:
    """Read as the server reads the canon, voice 2's last three notes are each at least the
    expert's weight likely (the tiny network alone: about 1 in 60); evaluation scores it."""
    from notegen_training.corpus import Melody
    from notegen_training.evaluate import score_stateful

    imitating = MelodyModel.load(with_imitation(tiny[0], tmp_path / "imitation"))
    (_, voice2) = document_lines(CANON)
    setting = document_setting(CANON, 2)
    served, _ = imitating.log_probs(voice2.events, setting)
    plain, _ = model.log_probs(voice2.events, setting)
    truth = [imitating.pitch_id(e.pitch) for e in voice2.events]
    for t in (5, 6, 7):
        assert np.exp(served[t, truth[t]]) >= 0.8
        assert np.exp(plain[t, truth[t]]) < 0.2
    assert np.allclose(imitating.log_probs(voice2.events)[0], model.log_probs(voice2.events)[0])
    card = imitating.path.with_suffix(".json")
    scores = score_stateful(card, [Melody("canon#a2", voice2.events)], [setting])
    rows = served[: len(truth), 1:]
    rows = rows - np.log(np.exp(rows).sum(axis=1, keepdims=True))
    bits = -rows[np.arange(len(truth)), np.array(truth) - 1] / np.log(2)
    notes = np.array([e.pitch is not None for e in voice2.events])
    assert scores["model"].summary()["pitch_bits"] == round(float(bits[notes].mean()), 4)


def test_a_cached_context_hears_the_subject_after_an_edit(tmp_path) -> None:
    """Voice 1's fifth note changes from G to A, where voice 2 does not hear it (the cache's
    key is what it hears): voice 2's cached context is offered the new answer, a sixth above
    its G instead of a fifth."""
    from fixtures.tiny_model import build_tiny_model
    from notegen.model.conditioning import COND_DIM

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    imitating = MelodyModel.load(with_imitation(card, tmp_path / "imitation", 0.9))
    subject = [60, 62, 64, 60, 67, 65]
    mine = [Event(None, 3.0), Event(None, 4.0), *(Event(p, 1.0) for p in (67, 69, 71, 67))]
    cache = ContextCache(imitating)
    ids = cache.ids(mine)
    for fifth, expected in ((67, 74), (69, 76)):
        notes = [Event(p, 1.0) for p in subject[:4]] + [Event(fifth, 1.0), Event(65, 1.0)]
        setting = Setting(others=(VoiceTimes.of(notes),))
        primed = cache.prime_ids(ids, (), setting)
        assert imitating.pitch_of(int(primed.pitch_logits.argmax())) == expected
    assert cache.hits == 1


def test_tune_imitation_trusts_long_matches_in_canons(tiny, tmp_path) -> None:
    from notegen_training.cli import main
    from notegen_training.voices_corpus import Piece, Voice

    card = with_imitation(tiny[0], tmp_path / "fit", 0.0)
    rng = np.random.default_rng(0)
    path = tmp_path / "canons.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        for i in range(6):
            subject = (60 + np.cumsum(rng.integers(-3, 4, 24))).tolist()
            leader = Voice("S", 0.0, [Event(int(p), 1.0) for p in subject])
            follower = Voice("A", 4.0, [Event(int(p) - 5, 1.0) for p in subject])
            piece = Piece(f"fixture/canon{i}#0", [leader, follower], "fixture", bar_beats=4.0)
            handle.write(json.dumps(piece.to_json()) + "\n")
    assert main(["tune-imitation", str(card), str(path)]) == 0
    mixture = MelodyModel.load(card).imitation
    assert mixture is not None and mixture.weights[0] == 0.0
    assert mixture.weights[-1] > 0.8  # a match of 10 intervals or more: the canon goes on
