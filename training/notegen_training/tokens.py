"""Events ⇄ token ids, following ``models/FORMAT.md``.

Pitch ids: 0 = ``<bos>`` (start of melody, also padding), 1 = rest, then one id per MIDI number
of ``[lo, hi]``. Notes outside the range move by octaves into it and fractional MIDI is rounded,
so any Sonic Pi melody can be fed to the model. Durations snap to the nearest value of a fixed
set in log space (a dotted quarter is as far from a quarter as an eighth is from a sixteenth),
capped at both ends; unknown durations (bare note lists) use ``default_duration``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from notegen.melody import Event

BOS = 0
REST = 1

DEFAULT_PITCH_RANGE = (36, 96)
"""C2..C7: the corpus spans 48..93, the margin leaves room for transposition augmentation."""

DEFAULT_DURATIONS: tuple[float, ...] = (
    0.0625,
    0.083333,
    0.125,
    0.166667,
    0.25,
    0.333333,
    0.375,
    0.5,
    0.666667,
    0.75,
    1.0,
    1.25,
    1.5,
    1.75,
    2.0,
    2.5,
    3.0,
    3.5,
    4.0,
    5.0,
    6.0,
    8.0,
    12.0,
    16.0,
)
"""Every duration with 5+ occurrences in the training melodies (beats), triplets included."""


@dataclass(frozen=True)
class Vocab:
    """The two vocabularies of a model; the card stores exactly these fields."""

    pitch_range: tuple[int, int] = DEFAULT_PITCH_RANGE
    durations: tuple[float, ...] = DEFAULT_DURATIONS
    default_duration: float = 1.0
    _log_mid: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lo, hi = self.pitch_range
        if lo > hi:
            raise ValueError(f"empty pitch range {self.pitch_range}")
        if list(self.durations) != sorted(set(self.durations)) or self.durations[0] <= 0:
            raise ValueError("durations must be positive, ascending and distinct")
        logs = np.log(np.asarray(self.durations, dtype=np.float64))
        object.__setattr__(self, "_log_mid", (logs[1:] + logs[:-1]) / 2)

    @property
    def pitch_vocab(self) -> list[str | int]:
        lo, hi = self.pitch_range
        return ["<bos>", "rest", *range(lo, hi + 1)]

    @property
    def duration_vocab(self) -> list[str | float]:
        return ["<bos>", *self.durations]

    @property
    def n_pitch(self) -> int:
        return self.pitch_range[1] - self.pitch_range[0] + 3

    @property
    def n_duration(self) -> int:
        return len(self.durations) + 1

    def fold_pitch(self, midi: float) -> int:
        """Round, then move by octaves into the range (the contract for context notes)."""
        lo, hi = self.pitch_range
        value = round(midi)
        while value < lo:
            value += 12
        while value > hi:
            value -= 12
        return max(lo, value)  # a range narrower than an octave still yields a valid id

    def pitch_id(self, midi: float | None) -> int:
        if midi is None:
            return REST
        return self.fold_pitch(midi) - self.pitch_range[0] + 2

    def pitch_of(self, pitch_id: int) -> int | None:
        """MIDI number of an id (``None`` for rest); ``<bos>`` is not a pitch."""
        if pitch_id == REST:
            return None
        if pitch_id == BOS or not 0 <= pitch_id < self.n_pitch:
            raise ValueError(f"pitch id {pitch_id} is not a note or rest")
        return pitch_id - 2 + self.pitch_range[0]

    def duration_id(self, beats: float | None) -> int:
        """Nearest duration in log space, capped; ``None`` or non-positive → the default."""
        if beats is None or not math.isfinite(beats) or beats <= 0:
            beats = self.default_duration
        return int(np.searchsorted(self._log_mid, math.log(beats))) + 1

    def duration_of(self, duration_id: int) -> float:
        if not 1 <= duration_id < self.n_duration:
            raise ValueError(f"duration id {duration_id} is not a duration")
        return self.durations[duration_id - 1]

    def encode(self, events: Sequence[Event]) -> tuple[np.ndarray, np.ndarray]:
        """Pitch and duration ids of a melody, without ``<bos>``."""
        pitches = np.fromiter((self.pitch_id(e.pitch) for e in events), np.int64, len(events))
        durations = np.fromiter(
            (self.duration_id(e.duration) for e in events), np.int64, len(events)
        )
        return pitches, durations

    def to_card(self) -> dict[str, object]:
        return {
            "pitch_vocab": self.pitch_vocab,
            "pitch_range": list(self.pitch_range),
            "duration_vocab": self.duration_vocab,
            "default_duration": self.default_duration,
        }

    @classmethod
    def from_card(cls, card: dict[str, object]) -> Vocab:
        lo, hi = card["pitch_range"]  # type: ignore[misc]
        durations = tuple(float(d) for d in card["duration_vocab"][1:])  # type: ignore[index]
        return cls((int(lo), int(hi)), durations, float(card["default_duration"]))  # type: ignore[arg-type]


def transpose_ids(pitch_ids: np.ndarray, shift: int) -> np.ndarray:
    """Shift note ids by ``shift`` semitones; ``<bos>`` and rest stay. Caller keeps it in range."""
    out = pitch_ids.copy()
    out[out >= 2] += shift
    return out


def shift_bounds(pitch_ids: np.ndarray, vocab: Vocab) -> tuple[int, int]:
    """The semitone shifts that keep every note of a melody inside the vocabulary."""
    notes = pitch_ids[pitch_ids >= 2]
    if notes.size == 0:
        return 0, 0
    return 2 - int(notes.min()), vocab.n_pitch - 1 - int(notes.max())


def with_bos(ids: Iterable[int]) -> np.ndarray:
    """Prepend ``<bos>``: the model input for a melody whose targets are ``ids``."""
    return np.concatenate([[BOS], np.asarray(list(ids), dtype=np.int64)]).astype(np.int64)
