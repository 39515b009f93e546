"""Sonic Pi's chord and scale names: symbols that are music but not notes.

Code keeps them in arrays next to notes (``[[:a5, :M], [:gb5, :sus2]]`` for ``chord(c[0],
c[1])``, ``[:minor_pentatonic, :dorian].choose``), so in a plain array they are not invalid
notes. Only the names that can be written as bare Ruby symbols are listed.
"""

from __future__ import annotations

from notegen.scales import SCALES

CHORD_NAMES = frozenset(
    [
        "M",
        "m",
        "maj",
        "min",
        "major",
        "minor",
        "major6",
        "minor6",
        "major7",
        "minor7",
        "major9",
        "minor9",
        "major11",
        "minor11",
        "minor13",
        "M7",
        "m7",
        "m6",
        "m9",
        "m11",
        "m13",
        "maj9",
        "maj11",
        "dom7",
        "sus2",
        "sus4",
        "aug",
        "augmented",
        "dim",
        "diminished",
        "dim7",
        "diminished7",
        "i",
        "i7",
        "halfdim",
        "halfdiminished",
        "add2",
        "add4",
        "add9",
        "add11",
        "add13",
        "madd2",
        "madd4",
        "madd9",
        "madd11",
        "madd13",
    ]
)

MUSIC_NAMES = CHORD_NAMES | frozenset(SCALES)


def is_music_name(symbol: str) -> bool:
    """Whether ``:name`` is one of Sonic Pi's chord or scale names."""
    return symbol.strip().removeprefix(":") in MUSIC_NAMES
