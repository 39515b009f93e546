"""Tokens of models/FORMAT.md: pitch ids, duration quantization, transposition bounds."""

from __future__ import annotations

import numpy as np
import pytest
from notegen.melody import Event
from notegen_training.tokens import BOS, REST, Vocab, shift_bounds, transpose_ids, with_bos

VOCAB = Vocab(pitch_range=(36, 96), durations=(0.25, 0.5, 0.75, 1.0, 2.0, 4.0))


def test_pitch_vocabulary_is_bos_rest_then_ascending_midi() -> None:
    assert VOCAB.pitch_vocab[:4] == ["<bos>", "rest", 36, 37]
    assert VOCAB.pitch_vocab[-1] == 96
    assert VOCAB.n_pitch == len(VOCAB.pitch_vocab) == 63
    assert VOCAB.pitch_id(None) == REST == 1
    assert VOCAB.pitch_id(36) == 2 and VOCAB.pitch_id(60) == 26
    assert VOCAB.pitch_of(26) == 60 and VOCAB.pitch_of(REST) is None
    with pytest.raises(ValueError):
        VOCAB.pitch_of(BOS)


@pytest.mark.parametrize(
    ("midi", "folded"),
    [(60, 60), (60.4, 60), (60.6, 61), (24, 36), (23, 35 + 12), (97, 85), (120, 96), (110, 86)],
)
def test_notes_outside_the_range_move_by_octaves_and_fractions_round(
    midi: float, folded: int
) -> None:
    assert VOCAB.fold_pitch(midi) == folded


@pytest.mark.parametrize(
    ("beats", "expected"),
    [
        (0.5, 0.5),
        (0.6, 0.5),  # log-midpoint of 0.5 and 0.75 is 0.612
        (0.62, 0.75),
        (1.4, 1.0),  # geometric mean of 1 and 2 is 1.414
        (1.42, 2.0),
        (0.01, 0.25),  # capped below
        (100.0, 4.0),  # capped above
        (None, 1.0),  # unknown (bare note lists) → default duration
        (0.0, 1.0),
        (-2.0, 1.0),
    ],
)
def test_durations_snap_to_the_nearest_value_in_log_space_capped(
    beats: float | None, expected: float
) -> None:
    assert VOCAB.duration_of(VOCAB.duration_id(beats)) == expected


def test_duration_vocabulary_starts_with_bos() -> None:
    assert VOCAB.duration_vocab == ["<bos>", 0.25, 0.5, 0.75, 1.0, 2.0, 4.0]
    assert VOCAB.duration_id(0.25) == 1


def test_encode_a_melody_without_bos_and_with_bos_prepended() -> None:
    pitch, duration = VOCAB.encode([Event(60, 1.0), Event(None, 0.5), Event(62, None)])
    assert pitch.tolist() == [26, REST, 28]
    assert duration.tolist() == [4, 2, 4]
    assert with_bos(pitch).tolist() == [BOS, 26, REST, 28]


def test_card_round_trip_keeps_the_vocabularies() -> None:
    again = Vocab.from_card(VOCAB.to_card())
    assert again.pitch_vocab == VOCAB.pitch_vocab
    assert again.duration_vocab == VOCAB.duration_vocab
    assert again.default_duration == 1.0


def test_transposition_moves_notes_only_and_bounds_keep_them_in_range() -> None:
    ids = np.array([BOS, REST, VOCAB.pitch_id(40), VOCAB.pitch_id(90)])
    assert transpose_ids(ids, 3).tolist() == [BOS, REST, VOCAB.pitch_id(43), VOCAB.pitch_id(93)]
    lo, hi = shift_bounds(ids, VOCAB)
    assert (lo, hi) == (-4, 6)  # 40 → 36 and 90 → 96 are the limits
    assert shift_bounds(np.array([REST, REST]), VOCAB) == (0, 0)


def test_bad_duration_sets_are_refused() -> None:
    with pytest.raises(ValueError):
        Vocab(durations=(1.0, 0.5))
    with pytest.raises(ValueError):
        Vocab(pitch_range=(60, 50))
