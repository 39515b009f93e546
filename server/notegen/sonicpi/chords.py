"""Sonic Pi's ``chord(tonic, name)``: the intervals of its chord names, so the reader can tell
which notes ``play chord(:e3, :minor)`` plays (and which is on top, the melody note).

The intervals are those of Sonic Pi's ``chord.rb`` (ported there from Overtone); names that
are not bare Ruby symbols (``"7"``, ``"m7b5"``) are written as strings in code.
"""

from __future__ import annotations

_MAJOR = (0, 4, 7)
_MINOR = (0, 3, 7)
_MAJOR7 = (0, 4, 7, 11)
_DOM7 = (0, 4, 7, 10)
_MINOR7 = (0, 3, 7, 10)
_AUG = (0, 4, 8)
_DIM = (0, 3, 6)
_DIM7 = (0, 3, 6, 9)
_HALFDIM = (0, 3, 6, 10)

CHORD_INTERVALS: dict[str, tuple[int, ...]] = {
    "1": (0,),
    "5": (0, 7),
    "+5": (0, 4, 8),
    "m+5": (0, 3, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
    "7sus2": (0, 2, 7, 10),
    "7sus4": (0, 5, 7, 10),
    "7-5": (0, 4, 6, 10),
    "7+5": (0, 4, 8, 10),
    "m7+5": (0, 3, 8, 10),
    "9": (0, 4, 7, 10, 14),
    "m9": (0, 3, 7, 10, 14),
    "m7+9": (0, 3, 7, 10, 14),
    "maj9": (0, 4, 7, 11, 14),
    "9sus4": (0, 5, 7, 10, 14),
    "6*9": (0, 4, 7, 9, 14),
    "m6*9": (0, 3, 9, 7, 14),
    "7-9": (0, 4, 7, 10, 13),
    "m7-9": (0, 3, 7, 10, 13),
    "7-10": (0, 4, 7, 10, 15),
    "7-11": (0, 4, 7, 10, 16),
    "7-13": (0, 4, 7, 10, 20),
    "9+5": (0, 10, 13),
    "m9+5": (0, 10, 14),
    "7+5-9": (0, 4, 8, 10, 13),
    "m7+5-9": (0, 3, 8, 10, 13),
    "11": (0, 4, 7, 10, 14, 17),
    "m11": (0, 3, 7, 10, 14, 17),
    "maj11": (0, 4, 7, 11, 14, 17),
    "11+": (0, 4, 7, 10, 14, 18),
    "m11+": (0, 3, 7, 10, 14, 18),
    "13": (0, 4, 7, 10, 14, 17, 21),
    "m13": (0, 3, 7, 10, 14, 17, 21),
    "add2": (0, 2, 4, 7),
    "add4": (0, 4, 5, 7),
    "add9": (0, 4, 7, 14),
    "add11": (0, 4, 7, 17),
    "add13": (0, 4, 7, 21),
    "madd2": (0, 2, 3, 7),
    "madd4": (0, 3, 5, 7),
    "madd9": (0, 3, 7, 14),
    "madd11": (0, 3, 7, 17),
    "madd13": (0, 3, 7, 21),
    "major": _MAJOR,
    "maj": _MAJOR,
    "M": _MAJOR,
    "minor": _MINOR,
    "min": _MINOR,
    "m": _MINOR,
    "major7": _MAJOR7,
    "dom7": _DOM7,
    "7": _DOM7,
    "M7": _MAJOR7,
    "minor7": _MINOR7,
    "m7": _MINOR7,
    "augmented": _AUG,
    "a": _AUG,
    "diminished": _DIM,
    "dim": _DIM,
    "i": _DIM,
    "diminished7": _DIM7,
    "dim7": _DIM7,
    "i7": _DIM7,
    "halfdim": _HALFDIM,
    "halfdiminished": _HALFDIM,
    "m7b5": _HALFDIM,
    "m7-5": _HALFDIM,
}


def chord_notes(tonic: int | float, name: str, octaves: int = 1) -> tuple[int | float, ...] | None:
    """The MIDI notes of ``chord(tonic, name, num_octaves: octaves)``; ``None`` for an unknown
    name (Sonic Pi raises "Unknown chord name")."""
    intervals = CHORD_INTERVALS.get(name)
    if intervals is None or octaves < 1:
        return None
    return tuple(tonic + i + 12 * o for o in range(octaves) for i in intervals)
