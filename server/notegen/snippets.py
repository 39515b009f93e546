"""Short Sonic Pi programs that play what the user points at, and a map back to the document.

A note array is played *unrolled*: one ``play`` line per note, then its ``sleep``. Sonic Pi
reports an error with the line it happened on, so when a note is invalid the error names the
line of that very note, and :attr:`Snippet.origins` turns it into the note's place in the
document. A whole block is sent as written (it is the user's own, playable code) and maps line
for line. Every snippet knows how long it should sound, so playback and recordings can be
checked and bounded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from notegen.notes import NOTE_RE, REST_SYMBOLS, NoteError, note_to_midi
from notegen.sonicpi.types import NoteArray, Span

__all__ = [
    "DEFAULT_BEATS",
    "DEFAULT_BPM",
    "Snippet",
    "array_snippet",
    "block_snippet",
    "phrase_snippet",
    "voices_seconds",
]

DEFAULT_BPM = 60.0
"""Sonic Pi's own default tempo."""
DEFAULT_BEATS = 0.5
"""Length of a note that has no duration (an array without its ``bN`` durations)."""
_MAX_NOTES = 2000


@dataclass(frozen=True)
class Snippet:
    """Code for ``/run-code``, and where each of its lines came from in the document.

    ``origins[i]`` is the document span that line ``i`` (0-based) of ``code`` plays, or
    ``None`` for lines the snippet added (``use_bpm``). ``seconds`` is how long the music
    lasts: notes × durations at ``bpm`` (for blocks: the longest voice).
    """

    code: str
    origins: tuple[Span | None, ...]
    seconds: float
    bpm: float

    def origin(self, line: int | None) -> Span | None:
        """The document span behind snippet line ``line`` (0-based), if any."""
        if line is None or not 0 <= line < len(self.origins):
            return None
        return self.origins[line]


def _beats(value: float | None) -> float:
    if value is None or not math.isfinite(value) or value <= 0:
        return DEFAULT_BEATS
    return float(value)


def _bpm(value: float | None) -> float:
    if value is None or not math.isfinite(value) or value <= 0:
        return DEFAULT_BPM
    return float(value)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Builder:
    def __init__(self, bpm: float) -> None:
        self.bpm = bpm
        self.lines: list[str] = [f"use_bpm {_fmt(bpm)}"]
        self.origins: list[Span | None] = [None]
        self.beats = 0.0

    def note(self, text: str, beats: float, origin: Span | None) -> None:
        # release = the note's own length, so the phrase ends when its last duration does.
        self.lines.append(f"play {text}, release: {_fmt(beats)}")
        self.origins.append(origin)
        self.lines.append(f"sleep {_fmt(beats)}")
        self.origins.append(origin)
        self.beats += beats

    def build(self) -> Snippet:
        return Snippet(
            "\n".join(self.lines) + "\n",
            tuple(self.origins),
            self.beats * 60.0 / self.bpm,
            self.bpm,
        )


def array_snippet(array: NoteArray, *, bpm: float | None = None) -> Snippet:
    """Play one note array with its durations (``DEFAULT_BEATS`` where it has none).

    Notes are written as they stand in the document, so Sonic Pi judges each one itself (an
    invalid symbol comes back as an error on that note's line). Tempo: ``bpm``, else the
    array's ``cN`` bpm, else Sonic Pi's 60.
    """
    notes = [tok for tok in array.notes if tok.text.strip()]
    if not notes:
        raise ValueError("the array has no notes to play")
    builder = _Builder(_bpm(bpm if bpm is not None else array.bpm))
    for index, token in enumerate(notes):
        beats = array.durations.duration_for(index) if array.durations else None
        builder.note(_one_line(token.text), _beats(beats), token.span)
    return builder.build()


def _one_line(text: str) -> str:
    """An element spanning lines (a chord written over two lines) as one line of code."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


NoteValue = str | int | float | None | Sequence[str | int | float | None]


def phrase_snippet(
    notes: Sequence[NoteValue],
    durations: Sequence[float | None] | None = None,
    *,
    bpm: float | None = None,
) -> Snippet:
    """Play a phrase that is not in the document yet (a completion before it is accepted).

    ``notes`` are Sonic Pi note names (``":Cs4"``, ``"r"``), MIDI numbers, ``None`` for a rest,
    or lists of those for chords. They come from outside the document, so each is checked
    (``ValueError`` naming the note) and written in a canonical form: nothing but notes is ever
    sent to Sonic Pi this way.
    """
    if not notes:
        raise ValueError("notes is empty: nothing to play")
    if len(notes) > _MAX_NOTES:
        raise ValueError(f"notes has {len(notes)} elements; at most {_MAX_NOTES} can be played")
    if durations is not None and len(durations) not in (0, len(notes)):
        raise ValueError(
            f"durations has {len(durations)} values for {len(notes)} notes; give one per note"
        )
    builder = _Builder(_bpm(bpm))
    for index, note in enumerate(notes):
        beats = durations[index] if durations else None
        if beats is not None and (
            isinstance(beats, bool)
            or not isinstance(beats, (int, float))
            or beats <= 0
            or not math.isfinite(beats)
        ):
            raise ValueError(f"duration {index + 1} is {beats!r}; durations are positive beats")
        builder.note(_note_code(note, index), _beats(beats), None)
    return builder.build()


def _note_code(note: NoteValue, index: int) -> str:
    if isinstance(note, (list, tuple)):
        if not note:
            raise ValueError(f"note {index + 1} is an empty chord")
        return "[" + ", ".join(_note_code(n, index) for n in note) + "]"
    if note is None:
        return ":r"
    if isinstance(note, bool):
        raise ValueError(f"note {index + 1} is {note!r}, not a note")
    if isinstance(note, (int, float)):
        if not math.isfinite(note) or not 0 <= note <= 231:
            raise ValueError(f"note {index + 1} is {note!r}; MIDI notes are 0-231 in Sonic Pi")
        return _fmt(note)
    if isinstance(note, str):
        name = note.strip().removeprefix(":")
        if name in REST_SYMBOLS:
            return ":r"
        if NOTE_RE.match(name) is None:
            raise ValueError(f"note {index + 1} is {note!r}, not a Sonic Pi note name")
        try:
            note_to_midi(name)
        except NoteError as exc:
            raise ValueError(f"note {index + 1}: {exc}") from exc
        return ":" + name
    raise ValueError(f"note {index + 1} is {note!r}, not a note")


def block_snippet(text: str, span: Span, arrays: Sequence[NoteArray] = ()) -> Snippet:
    """Play a block exactly as written: ``text[span]`` with every line mapped back.

    The block is the user's code (a generated block holds its arrays and ``in_thread`` loop),
    so nothing is rewritten; line ``i`` of the snippet is line ``i`` of the block. ``arrays``
    (the reader's arrays inside the block) give the expected length.
    """
    start = text.rfind("\n", 0, span.start) + 1  # whole lines, so indentation is kept
    code = text[start : span.end]
    if not code.strip():
        raise ValueError("the block is empty")
    origins: list[Span | None] = []
    offset = start
    for line in code.split("\n"):
        origins.append(Span(offset, offset + len(line)))
        offset += len(line) + 1
    if not code.endswith("\n"):
        code += "\n"
    inside = [a for a in arrays if span.start <= a.span.start and a.span.end <= span.end]
    seconds = voices_seconds(inside)
    bpm = next((a.bpm for a in inside if a.bpm), None) or DEFAULT_BPM
    return Snippet(code, tuple(origins), seconds, bpm)


def voices_seconds(arrays: Sequence[NoteArray]) -> float:
    """How long a set of voice arrays plays: sections in turn, voices at once (the longest).

    Each section lasts the sum of its durations at its own bpm (``cN``, else 60), which is
    what a generated block's loop does: ``play``/``sleep`` through ``aN[k]`` with ``bN[k]``
    under ``use_bpm cN[k]``.
    """
    per_voice: dict[object, float] = {}
    for array in arrays:
        if not array.notes:
            continue
        beats = sum(
            _beats(array.durations.duration_for(i) if array.durations else None)
            for i in range(len(array.notes))
        )
        key = array.voice if array.voice is not None else id(array)
        per_voice[key] = per_voice.get(key, 0.0) + beats * 60.0 / _bpm(array.bpm)
    return max(per_voice.values(), default=0.0)
