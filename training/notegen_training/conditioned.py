"""Training examples with conditioning rows: single melodies and the voices of pieces.

Each example is ``(pitch ids, duration ids, rows)`` with one :mod:`notegen.model.conditioning` row
per target event: the row of event i describes its onset (other voices sounding, beat, bar), the
events and beats left to the melody's end. Rows are built by the same function the server uses.

Single melodies get the "alone" input and an unknown bar position: the shared extract keeps the
metre but not where the first note falls in the bar (checked on the chorale sopranos: neither
"starts on the downbeat" nor "ends on a barline" holds for most), so guessing would teach noise.
A piece's voice gets the other voices and the piece's metre.

Every epoch, :func:`augment` hides parts of the rows at random so that the network also works
where the server does not know them: the end (completion inside a melody), the metre (Sonic Pi
code has none), the other voices (a voice scored alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from notegen.melody import Event
from notegen.model.conditioning import (
    Metre,
    VoiceTimes,
    alone,
    condition_rows,
    onsets_of,
    transpose_rows,
    unknown_end,
    unknown_metre,
)

from .corpus import Melody
from .tokens import Vocab
from .voices_corpus import Piece

Example = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Hiding:
    """Probabilities of hiding each part of the rows of one example in one epoch.

    The end: both distances hidden (completion), only the beats (generating N notes), only
    the notes, or neither (the rest of the time)."""

    both_ends: float = 0.5
    beats_only: float = 0.25
    notes_only: float = 0.15
    metre: float = 0.3
    others: float = 0.15


def rows_for(
    events: Sequence[Event],
    start: float = 0.0,
    others: Sequence[VoiceTimes] = (),
    metre: Metre | None = None,
    default: float = 1.0,
) -> np.ndarray:
    """Rows ``[T, COND_DIM]`` for the events of one melody, its end known."""
    onsets = onsets_of(events, start, default)
    count = len(events)
    return condition_rows(
        onsets[:count], others, metre, notes_left=count - np.arange(count), end=onsets[count]
    )


def melody_example(melody: Melody, vocab: Vocab) -> Example:
    pitch, duration = vocab.encode(melody.events)
    return pitch, duration, rows_for(melody.events, default=vocab.default_duration)


def piece_examples(piece: Piece, vocab: Vocab) -> list[Example]:
    """One example per voice, the piece's other voices as context."""
    times = [VoiceTimes.of(v.events, v.start, vocab.default_duration) for v in piece.voices]
    metre = Metre(piece.bar_beats, piece.bar_phase) if piece.bar_beats else None
    out = []
    for i, voice in enumerate(piece.voices):
        if len(voice.events) < 2:
            continue
        others = times[:i] + times[i + 1 :]
        pitch, duration = vocab.encode(voice.events)
        rows = rows_for(voice.events, voice.start, others, metre, vocab.default_duration)
        out.append((pitch, duration, rows))
    return out


def augment(rows: np.ndarray, shift: int, hiding: Hiding, rng: np.random.Generator) -> np.ndarray:
    """The rows of one example for one epoch: transposed with its notes, parts hidden."""
    rows = transpose_rows(rows, shift)
    draw = rng.random()
    beats_end = hiding.both_ends + hiding.beats_only
    hide_notes = draw < hiding.both_ends or beats_end <= draw < beats_end + hiding.notes_only
    hide_beats = draw < beats_end
    if hide_notes or hide_beats:
        rows = unknown_end(rows, notes=hide_notes, beats=hide_beats)
    if rng.random() < hiding.metre:
        rows = unknown_metre(rows)
    if rng.random() < hiding.others:
        rows = alone(rows)
    return rows
