"""MusicXML and ABC through music21: each part (an ABC tune's voices are parts) a voice.

Ties are merged, grace notes dropped, chords give their top note, unpitched (percussion) notes
are not notes; repeats stay as written. Offsets are in quarter notes, which is what the project
calls beats. Time signatures and metronome marks give the metre and tempo changes.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from .errors import UnreadableFile
from .piece import Piece, Voice, monophonic, snap


def read_musicxml(path: Path, piece_id: str) -> tuple[list[Piece], dict[str, int]]:
    """The score of a ``.xml`` / ``.musicxml`` / ``.mxl`` file."""
    from music21 import converter

    try:
        score = converter.parse(str(path), forceSource=True, format="musicxml")
    except Exception as err:  # music21 raises many types for a broken file; all mean "unreadable"
        raise UnreadableFile(f"not readable MusicXML ({type(err).__name__}: {err})") from err
    return [piece_of(score, piece_id)], {}


def piece_of(score: Any, piece_id: str) -> Piece:
    """Voices, time signatures and tempos of a music21 score (or a lone part)."""
    from music21 import chord, meter, note, tempo

    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    voices: list[Voice] = []
    signatures: dict[float, tuple[int, int]] = {}
    tempos: dict[float, float] = {}
    for index, part in enumerate(parts):
        flat = part.stripTies().flatten()
        notes: list[tuple[float, float, int]] = []
        for element in flat.notes:
            if element.duration.isGrace:
                continue
            if isinstance(element, note.Note):
                midi = element.pitch.midi
            elif isinstance(element, chord.Chord) and element.pitches:
                midi = max(p.midi for p in element.pitches)
            else:
                continue  # unpitched percussion
            notes.append((float(element.offset), float(element.duration.quarterLength), int(midi)))
        for ts in flat.getElementsByClass(meter.TimeSignature):
            signatures[snap(float(ts.offset))] = (ts.numerator, ts.denominator)  # last wins
        for mark in flat.getElementsByClass(tempo.MetronomeMark):
            bpm = mark.getQuarterBPM()
            if bpm:
                tempos.setdefault(snap(float(mark.offset)), round(float(bpm), 3))
        voice = monophonic(f"p{index}", notes)
        if len(voice):
            voices.append(voice)
    if not voices:
        raise UnreadableFile("no notes")
    return Piece(piece_id, voices, sorted(signatures.items()), sorted(tempos.items()))


def split_abc(text: str) -> tuple[str, list[str]]:
    """The file header and each tune's text (a tune starts at an ``X:`` line, ABC 2.1 §2.2).

    A text without ``X:`` is one tune. Fields of the file header apply to every tune, so the
    caller prepends the header to each.
    """
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("X:")]
    if not starts:
        return "", [text]
    header = "\n".join(lines[: starts[0]])
    bounds = [*starts, len(lines)]
    return header, ["\n".join(lines[a:b]) for a, b in itertools.pairwise(bounds)]


def with_header(tune: str, header: str) -> str:
    """The tune with the file header's fields right after its ``X:`` line, before its own
    fields, so that the tune's own ``M:``/``L:``/``K:`` override the file's (ABC 2.1 §2.2.2)."""
    header = "\n".join(
        line for line in header.splitlines() if line.strip() and not line.startswith("%")
    )
    if not header:
        return tune
    first, _, rest = tune.partition("\n")
    return f"{first}\n{header}\n{rest}"


def read_abc(path: Path, piece_id: str) -> tuple[list[Piece], dict[str, int]]:
    """Every tune of an ABC file; a tune music21 cannot read is counted in ``bad_tunes``
    and the others are kept (a tune book with one typo still gives its other tunes)."""
    from music21 import converter

    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")  # old tune books are often Latin-1
    header, tunes = split_abc(text)
    pieces: list[Piece] = []
    bad: list[str] = []
    for index, tune in enumerate(tunes):
        try:
            score = converter.parse(with_header(tune, header), format="abc")
            if hasattr(score, "scores") and len(score.scores):
                score = score.scores[0]
            pieces.append(piece_of(score, f"{piece_id}#{index}"))
        except UnreadableFile as err:
            bad.append(f"tune {index + 1}: {err.reason}")
        except Exception as err:  # music21's ABC parser raises many types
            bad.append(f"tune {index + 1}: {type(err).__name__}: {err}")
    if not pieces:
        raise UnreadableFile("no readable ABC tune (" + "; ".join(bad[:3]) + ")")
    return pieces, {"bad_tunes": len(bad)}
