"""Voices aligned in beats: what the other voices sound when a note starts, and how they relate.

In the voice form (``a1[k]``/``b1[k]`` … ``aN[k]``/``bN[k]``) every voice's section ``k`` starts
together, so a note's onset is the sum of the durations before it in its section. From that
timeline this module answers "what do the other voices sound here?" and keeps the two piece
statistics the slip checker weighs a note against: how often each interval class (pitch
difference mod 12) sounds between voices, and how often each pitch class is used at all.

Both statistics are counted per section, over a consonance prior, so a section's verdict depends
only on that section's text and can be cached with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from notegen.sonicpi.types import NoteArray

__all__ = [
    "IntervalStats",
    "Part",
    "Sounding",
    "parts_by_section",
    "pitch_class_name",
    "sounding",
]

_EPS = 1e-6

# Pseudo-counts per interval class (0 = unison/octave … 11 = major seventh) for notes attacked
# together and for notes held over: thirds, sixths, fifths and octaves are the rule in tonal
# part writing, seconds, sevenths and the tritone the exception (more so on common attacks).
_PRIOR_ATTACK = np.array([10, 0.6, 1.2, 8, 8, 3, 1, 10, 6, 8, 1.2, 0.6], np.float64)
_PRIOR_HELD = np.array([8, 1.5, 3, 7, 7, 4, 1.5, 8, 5, 7, 3, 1.5], np.float64)
_PRIOR_WEIGHT = 40.0

_SHARP_CLASS = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "A♭", "A", "B♭", "B")
_FLAT_CLASS = ("C", "D♭", "D", "E♭", "E", "F", "G♭", "G", "A♭", "A", "B♭", "B")
_SHARPS = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")


def pitch_class_name(midi: float, flats: bool | None = None) -> str:
    """A pitch class for messages: ``E♭``, ``F♯`` (sharps/flats as asked, else the usual)."""
    pc = round(midi) % 12
    if flats is None:
        return _SHARP_CLASS[pc]
    return (_FLAT_CLASS if flats else _SHARPS)[pc]


@dataclass
class Part:
    """One voice's section laid out in beats: the arrays the checker scores and aligns.

    ``index`` maps each event to its element in ``array.notes`` (every element is an event:
    parts with invalid or dynamic elements are not built). ``pitches`` holds the top note
    (``NaN`` for a rest), ``chords`` every pitch of an element.
    """

    voice: int
    section: int
    array: NoteArray
    pitches: np.ndarray
    chords: list[tuple[float, ...]]
    durations: np.ndarray
    onsets: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.onsets = np.concatenate([[0.0], np.cumsum(self.durations)[:-1]])

    @property
    def length(self) -> float:
        """The section's length in beats."""
        return float(self.durations.sum())

    def __len__(self) -> int:
        return len(self.pitches)

    def head(self, stop: int) -> Part:
        """The part's first ``stop`` events (same array, same onsets)."""
        return Part(
            self.voice,
            self.section,
            self.array,
            self.pitches[:stop],
            self.chords[:stop],
            self.durations[:stop],
        )


def _part(array: NoteArray) -> Part | None:
    """The part of an ``aN[k]`` (or plain ``aN``: section 0) array, or ``None`` when its beats
    are not all known."""
    if array.voice is None or array.durations is None:
        return None
    if not array.closed or not array.notes:
        return None
    durations = array.durations
    pitches: list[float] = []
    chords: list[tuple[float, ...]] = []
    beats: list[float] = []
    for i, tok in enumerate(array.notes):
        beat = durations.duration_for(i)
        if tok.error is not None or tok.dynamic or beat is None or not beat > 0:
            return None
        if tok.chord is not None:
            notes = tuple(float(m) for m in tok.chord if m is not None)
        else:
            notes = () if tok.midi is None else (float(tok.midi),)
        pitches.append(float("nan") if tok.midi is None else float(tok.midi))
        chords.append(notes)
        beats.append(float(beat))
    return Part(
        array.voice,
        array.section if array.section is not None else 0,
        array,
        np.asarray(pitches, np.float64),
        chords,
        np.asarray(beats, np.float64),
    )


def parts_by_section(arrays: Iterable[NoteArray]) -> dict[int, dict[int, Part]]:
    """``{section: {voice: part}}`` for every ``aN[k]`` (and plain ``aN``, as section 0) whose
    beats are known.

    The first non-empty assignment of a voice's section stands (as in the reader's history;
    ``a1=[]`` declarations are skipped); arrays with invalid notes, code, or missing durations
    are left out of the alignment.
    """
    out: dict[int, dict[int, Part]] = {}
    seen: set[tuple[int, int]] = set()
    for array in arrays:
        if array.kind != "voice" or array.voice is None or not array.notes:
            continue
        section = array.section if array.section is not None else 0
        key = (array.voice, section)
        if key in seen:
            continue
        seen.add(key)
        part = _part(array)
        if part is not None:
            out.setdefault(section, {})[array.voice] = part
    return out


@dataclass(frozen=True)
class Sounding:
    """What the other voices sound at one onset: pitches, and whether each starts there too."""

    pitches: tuple[float, ...]
    attack: tuple[bool, ...]


def sounding(part: Part, others: Sequence[Part]) -> list[Sounding]:
    """For each event of ``part``, the notes of ``others`` sounding at its onset."""
    per_note: list[tuple[list[float], list[bool]]] = [([], []) for _ in range(len(part))]
    for other in others:
        idx = np.searchsorted(other.onsets, part.onsets + _EPS, side="right") - 1
        for t, j in enumerate(idx.tolist()):
            if j < 0:
                continue
            onset = part.onsets[t]
            if onset >= other.onsets[j] + other.durations[j] - _EPS:
                continue  # the other voice has finished its section
            notes = other.chords[j]
            if not notes:
                continue
            attack = abs(other.onsets[j] - onset) < _EPS
            per_note[t][0].extend(notes)
            per_note[t][1].extend([attack] * len(notes))
    return [Sounding(tuple(p), tuple(a)) for p, a in per_note]


def entering(part: Part, others: Sequence[Part]) -> list[list[tuple[float, bool]]]:
    """For each event of ``part``, the notes of ``others`` that start while it sounds (after its
    onset), with whether each starts on a whole beat."""
    out: list[list[tuple[float, bool]]] = [[] for _ in range(len(part))]
    ends = part.onsets + part.durations
    for other in others:
        first = np.searchsorted(other.onsets, part.onsets + _EPS, side="left")
        stop = np.searchsorted(other.onsets, ends - _EPS, side="left")
        for t in range(len(part)):
            for j in range(int(first[t]), int(stop[t])):
                for midi in other.chords[j]:
                    out[t].append((midi, on_beat(other.onsets[j])))
    return out


class IntervalStats:
    """A section's harmony as the slip checker weighs it (log-probabilities, natural log).

    ``interval[strong][attack][ic]``: how likely interval class ``ic`` is between a note and a
    note sounding with it (``strong``: on a whole beat; ``attack``: both start together);
    ``pitch_class[pc]``: how likely each pitch class is in the section. Counts of the section
    itself over the consonance prior.
    """

    def __init__(self, parts: Sequence[Part]) -> None:
        attack = _PRIOR_ATTACK / _PRIOR_ATTACK.sum() * _PRIOR_WEIGHT
        held = _PRIOR_HELD / _PRIOR_HELD.sum() * _PRIOR_WEIGHT
        # [strong][attack][ic]: on the beat or off it, attacked together or held over
        counts = np.stack([np.stack([held, attack])] * 2)
        pcs = np.full(12, 1.0)
        for part in parts:
            others = [p for p in parts if p is not part]
            for t, here in enumerate(sounding(part, others)):
                strong = int(on_beat(part.onsets[t]))
                for midi in part.chords[t]:
                    pcs[round(midi) % 12] += 1
                    for other, att in zip(here.pitches, here.attack, strict=True):
                        ic = round(midi - other) % 12
                        # a pair attacked together is counted from both of its notes
                        counts[strong, int(att), ic] += 0.5 if att else 1.0
        self.interval = np.log(counts / counts.sum(axis=2, keepdims=True))
        self.pitch_class = np.log(pcs / pcs.sum())

    def harmony_score(self, candidates: np.ndarray, here: Sounding, strong: bool) -> np.ndarray:
        """Sum of interval log-probabilities of each candidate pitch against ``here``."""
        if not here.pitches:
            return np.zeros(len(candidates))
        others = np.asarray(here.pitches)
        attack = np.asarray(here.attack, dtype=np.int64)
        ics = np.rint(candidates[:, None] - others[None, :]).astype(np.int64) % 12
        return self.interval[int(strong), attack[None, :], ics].sum(axis=1)

    def held_score(self, candidates: np.ndarray, entering: list[tuple[float, bool]]) -> np.ndarray:
        """Sum of interval log-probabilities of the notes entering against each candidate held."""
        if not entering:
            return np.zeros(len(candidates))
        others = np.asarray([e[0] for e in entering])
        strong = np.asarray([e[1] for e in entering], dtype=np.int64)
        ics = np.rint(others[None, :] - candidates[:, None]).astype(np.int64) % 12
        return self.interval[strong[None, :], 0, ics].sum(axis=1)

    def fit(self, part: Part, here: Sequence[Sounding]) -> np.ndarray:
        """Per event of ``part``: the mean interval log-probability of the written note against
        what sounds with it (``NaN`` for rests, chords and notes sounding alone)."""
        out = np.full(len(part), np.nan)
        for t, sound in enumerate(here):
            if not sound.pitches or len(part.chords[t]) != 1:
                continue
            score = self.harmony_score(part.pitches[t : t + 1], sound, on_beat(part.onsets[t]))
            out[t] = float(score[0]) / len(sound.pitches)
        return out


def on_beat(onset: float) -> bool:
    """Whether an onset falls on a whole beat (where dissonance is rarest)."""
    return abs(onset - round(onset)) < _EPS
