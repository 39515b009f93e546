"""A piece's listening voices share one set of tables for what they hear: the whole ensemble's,
each listener's own voice skipped. The experts' answers are those of tables made for the
listener alone."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from notegen.model.conditioning import ENSEMBLES, Setting, VoiceTimes
from notegen.model.consonance import _Sounding, _Without
from notegen.model.imitation import _TEXTS, _text, imitation_marginal
from notegen.model.rhythm import ExcludedMatches, expert_marginals, rhythm_context

PITCHES = list(range(36, 97))
VOCAB = ["<bos>", "rest", *PITCHES]
DURATIONS = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])


class Reading:
    """Stands for the reading a registration lasts as long as."""


def voice(rng: np.random.Generator, notes: int, motif: list[int]) -> VoiceTimes:
    """A voice that plays variations of ``motif`` (so that the others' texts hold matches)
    with rests, on durations of the vocabulary and a few that are none of them."""
    pitches = np.array(
        [
            np.nan if rng.random() < 0.1 else 60 + motif[k % len(motif)] + 12 * rng.integers(-1, 2)
            for k in range(notes)
        ],
        np.float64,
    )
    lengths = rng.choice([*DURATIONS, 0.3], notes)
    ends = np.cumsum(lengths)
    return VoiceTimes(ends - lengths, ends, pitches)


def alone(voices: tuple[VoiceTimes, ...]) -> tuple[VoiceTimes, ...]:
    """The same voices as new objects: no registered ensemble holds them."""
    return tuple(VoiceTimes(v.onsets.copy(), v.ends.copy(), v.pitches.copy()) for v in voices)


@pytest.fixture
def piece() -> tuple[tuple[VoiceTimes, ...], Reading]:
    rng = np.random.default_rng(7)
    motifs = [[0, 2, 4, 5, 7], [0, 4, 7], [0, -1, -3, 2], [5, 4, 2, 0]]
    voices = [voice(rng, 60 + 15 * k, motifs[k % len(motifs)]) for k in range(5)]
    voices.insert(2, VoiceTimes(np.zeros(0), np.zeros(0), np.zeros(0)))  # a voice of no notes
    whole, owner = tuple(voices), Reading()
    ENSEMBLES.register(whole, owner)
    return whole, owner


def listeners(whole: tuple[VoiceTimes, ...]) -> list[tuple[int, tuple[VoiceTimes, ...]]]:
    return [(k, whole[:k] + whole[k + 1 :]) for k in range(len(whole))]


def test_each_listener_is_found_in_the_registered_ensemble(piece) -> None:
    whole, _owner = piece
    for k, others in listeners(whole):
        assert ENSEMBLES.split(others) == (whole, k)
    assert ENSEMBLES.split(alone(whole[1:])) is None
    assert ENSEMBLES.split(whole[2:]) is None  # two voices short


def test_imitation_hears_the_same_matches_through_the_ensemble_s_text(piece) -> None:
    whole, _owner = piece
    rng = np.random.default_rng(1)
    matched = 0
    for _k, others in listeners(whole):
        shared = Setting(others=others)
        own_alone = Setting(others=alone(others))
        assert isinstance(_TEXTS.get(others, _text), ExcludedMatches)
        for _ in range(40):
            source = whole[rng.integers(len(whole))].pitches
            if len(source) < 8:
                continue
            at = rng.integers(4, len(source))
            own = source[max(0, at - rng.integers(1, 12)) : at]
            got = imitation_marginal(own, shared, VOCAB, 16)
            expected = imitation_marginal(own, own_alone, VOCAB, 16)
            assert got[0] == expected[0]
            matched += expected[0] > 0
            if expected[1] is None:
                assert got[1] is None
            else:
                assert got[1] is not None and np.array_equal(got[1], expected[1])
    assert matched > 50  # (answers to compare, not silence)


def test_rhythm_hears_the_same_onsets_and_matches_through_the_ensemble_s_context(piece) -> None:
    whole, _owner = piece
    rng = np.random.default_rng(2)
    heard = crossed = 0
    for k, others in listeners(whole):
        shared = rhythm_context(Setting(others=others), DURATIONS)
        own_alone = rhythm_context(Setting(others=alone(others)), DURATIONS)
        assert shared is not None and own_alone is not None
        assert isinstance(shared.matches, ExcludedMatches) == bool(len(whole[k].onsets))
        onsets = np.concatenate([v.onsets for v in whole])
        for _ in range(40):
            onset = float(rng.choice(onsets)) + rng.choice([0.0, 0.00005, 0.1])
            own = rng.integers(0, len(DURATIONS), rng.integers(1, 14))
            got = expert_marginals(own, onset, shared, len(DURATIONS), 8)
            expected = expert_marginals(own, onset, own_alone, len(DURATIONS), 8)
            same, (own_len, q_own), (cross_len, q_cross) = got
            e_same, (e_own_len, e_own), (e_cross_len, e_cross) = expected
            assert (own_len, cross_len) == (e_own_len, e_cross_len)
            heard, crossed = heard + (e_same is not None), crossed + (e_cross_len > 0)
            for a, b in ((same, e_same), (q_own, e_own), (q_cross, e_cross)):
                assert (a is None) == (b is None)
                assert a is None or np.array_equal(a, b)
    assert heard > 50 and crossed > 50


def test_consonance_hears_the_same_pitches_through_the_ensemble_s_table(piece) -> None:
    whole, _owner = piece
    rng = np.random.default_rng(3)
    ends = np.concatenate([v.ends for v in whole])
    sounded = 0
    for k, others in listeners(whole):
        shared, own_alone = _Sounding(others), _Sounding(alone(others))
        assert isinstance(shared.voices, _Without) == bool(len(whole[k].onsets))
        for _ in range(60):
            point = float(rng.choice(ends)) - rng.choice([0.0, 0.1, 0.25])
            found = shared.at(others, point)
            assert found == own_alone.at(alone(others), point)
            sounded += len(found) > 1
    assert sounded > 100


def test_voices_on_other_beats_share_the_interval_text_alone(piece) -> None:
    """A listener with its own tempo hears the others' notes at other beats (their pitches
    the same arrays): only the interval text, made of pitches, is the ensemble's."""
    whole, _owner = piece
    slower = tuple(VoiceTimes(v.onsets * 1.5, v.ends * 1.5, v.pitches) for v in whole[1:])
    assert ENSEMBLES.split(slower) is None
    assert ENSEMBLES.split(slower, pitches=True) == (whole, 0)
    assert isinstance(_TEXTS.get(slower, _text), ExcludedMatches)
    own = whole[1].pitches[:6]
    got = imitation_marginal(own, Setting(others=slower), VOCAB, 16)
    expected = imitation_marginal(own, Setting(others=alone(slower)), VOCAB, 16)
    assert got[0] == expected[0] > 0
    assert got[1] is not None and expected[1] is not None
    assert np.array_equal(got[1], expected[1])


def test_a_registration_ends_with_its_reading() -> None:
    rng = np.random.default_rng(4)
    whole, owner = (voice(rng, 20, [0, 2]), voice(rng, 30, [0, 4])), Reading()
    before = len(ENSEMBLES)
    ENSEMBLES.register(whole, owner)
    ENSEMBLES.register(whole, owner)  # (once is enough)
    assert len(ENSEMBLES) == before + 1
    assert ENSEMBLES.split(whole[1:]) == (whole, 0)
    del owner
    gc.collect()
    assert len(ENSEMBLES) == before
    assert ENSEMBLES.split(whole[1:]) is None
    assert ENSEMBLES.split(whole[1:], pitches=True) is None


def test_an_ensemble_whose_voices_cannot_be_told_apart_is_not_registered() -> None:
    notes = np.array([60.0, 62.0])
    one = VoiceTimes(np.array([0.0, 1.0]), np.array([1.0, 2.0]), notes)
    twin = VoiceTimes(np.array([0.0, 1.0]), np.array([1.0, 2.0]), notes)  # the same pitches
    owner = Reading()
    ENSEMBLES.register((one, twin), owner)
    assert ENSEMBLES.split((one,), pitches=True) is None
    assert ENSEMBLES.split((twin,)) is None
