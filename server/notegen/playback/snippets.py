"""Short Sonic Pi programs that play what the user points at, and a map back to the document.

A note array is played *unrolled*: one ``play`` line per note, then its ``sleep``. Sonic Pi
reports an error with the line it happened on, so when a note is invalid the error names the
line of that very note, and :attr:`Snippet.origins` turns it into the note's place in the
document. A whole block is sent as written (it is the user's own, playable code) and maps line
for line; a voice is sent as its own lines only (its arrays and the loop that plays them).
When Sonic Pi names an invalid note from a loop's ``play aN[i][j]`` line, :meth:`Snippet.locate`
finds that note in the arrays the snippet plays. Every snippet knows how long it should sound,
so playback and recordings can be checked and bounded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from notegen.notes import MAX_SONIC_PI_NOTE, NOTE_RE, REST_SYMBOLS, NoteError, note_to_midi
from notegen.sonicpi.types import NoteArray, Span

__all__ = [
    "DEFAULT_BEATS",
    "DEFAULT_BPM",
    "Snippet",
    "array_snippet",
    "block_snippet",
    "phrase_snippet",
    "voice_snippet",
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
    played: tuple[NoteArray, ...] = ()
    """The document's arrays this snippet plays, in the order it plays them."""

    def origin(self, line: int | None) -> Span | None:
        """The document span behind snippet line ``line`` (0-based), if any."""
        if line is None or not 0 <= line < len(self.origins):
            return None
        return self.origins[line]

    def locate(self, line: int | None, message: str) -> Span | None:
        """Where in the document an error Sonic Pi reported on snippet line ``line`` belongs.

        An invalid note (``Invalid note: :H4``) is pointed at the note itself: on the error's
        own line when it is written there, else (a loop's ``play aN[i][j]``) its first
        occurrence in the arrays that line plays, in playing order. Otherwise the line.
        """
        origin = self.origin(line)
        name = invalid_note_name(message)
        if name is None:
            return origin
        if origin is not None:
            for array in self.played:
                for token in array.notes:
                    if (
                        _same_note(token.text, name)
                        and origin.start <= token.span.start < origin.end
                    ):
                        return token.span
        code_lines = self.code.split("\n")
        text = code_lines[line] if line is not None and 0 <= line < len(code_lines) else ""
        named = {int(n) for n in re.findall(r"\ba(\d+)\s*\[", text)}
        for pool in (
            [a for a in self.played if a.voice in named and a.kind == "voice"],
            list(self.played),
        ):
            for array in pool:
                for token in array.notes:
                    if _same_note(token.text, name):
                        return token.span
        return origin


_INVALID_NOTE = re.compile(r"Invalid note: (:?[^\s,)\]]+)")


def invalid_note_name(message: str) -> str | None:
    """The note Sonic Pi's ``Invalid note: :H4`` error names (its ``inspect``), if any."""
    found = _INVALID_NOTE.search(message)
    return found.group(1) if found else None


def _same_note(text: str, name: str) -> bool:
    """Whether a document element is the note Sonic Pi names (``:H4`` / ``"H4"`` / ``H4``)."""
    return text.strip().strip("\"'").lstrip(":") == name.strip("\"'").lstrip(":")


def play_order(arrays: Sequence[NoteArray]) -> tuple[NoteArray, ...]:
    """Arrays in the order their loops play them: per voice, sections in turn; others as
    they stand in the document."""
    return tuple(
        sorted(
            arrays,
            key=lambda a: (
                a.voice is None,
                a.voice or 0,
                a.section or 0,
                a.span.start,
            ),
        )
    )


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
        self.seconds = 0.0

    def tempo(self, bpm: float) -> None:
        """Change tempo for what follows (a voice's next section), keeping ``seconds`` exact."""
        if bpm != self.bpm:
            self.seconds += self.beats * 60.0 / self.bpm
            self.beats = 0.0
            self.bpm = bpm
            self.lines.append(f"use_bpm {_fmt(bpm)}")
            self.origins.append(None)

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
            self.seconds + self.beats * 60.0 / self.bpm,
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
    return replace(builder.build(), played=(array,))


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
        if not math.isfinite(note) or not 0 <= note <= MAX_SONIC_PI_NOTE:
            raise ValueError(
                f"note {index + 1} is {note!r}; MIDI notes are 0-{MAX_SONIC_PI_NOTE} in Sonic Pi"
            )
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
    return Snippet(code, tuple(origins), seconds, bpm, play_order(inside))


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


# --- one voice ------------------------------------------------------------------------------

_OPENER_AT_START = re.compile(r"^\s*(?:for|while|until|if|unless|case|begin|def)\b")
_DO = re.compile(r"\bdo\b")
_END = re.compile(r"\bend\b")


def _depth_change(line: str) -> int:
    """Blocks a line opens minus those it closes (line-level Ruby, comments and strings
    ignored roughly: enough for the loops people write around note arrays)."""
    code = re.sub(r"\"[^\"]*\"|'[^']*'", '""', line).split("#", 1)[0]
    opens = 1 if _OPENER_AT_START.match(code) else len(_DO.findall(code))
    return opens - len(_END.findall(code))


def _block_lines(lines: list[str], first: int) -> int | None:
    """The last line of the ``do ... end`` block opened on line ``first``."""
    depth = 0
    for number in range(first, len(lines)):
        depth += _depth_change(lines[number])
        if depth <= 0:
            return number
    return None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset)


_USE_SYNTH = re.compile(r"^\s*use_synth\s+:\w+\s*(?:#.*)?$")


def voice_snippet(text: str, arrays: Sequence[NoteArray], voice: int) -> Snippet:
    """Play voice ``voice`` alone: only its own lines, nothing between them.

    Its ``aN=[]``/``bN=[]`` declarations, its ``aN[k]``/``bN[k]`` arrays, its ``cN`` tempo line
    and the ``in_thread`` loop that plays ``aN`` (the form notegen writes and Robin Newman's
    pieces use), plus the last plain ``use_synth :name`` before them, each line mapped back to
    the document. A voice without such a loop of its own
    (or whose loop also plays other voices) is played unrolled, section by section at its
    ``cN`` tempo, one line per note. Raises ``ValueError`` when the voice has no notes.
    """
    mine = play_order([a for a in arrays if a.voice == voice and a.kind == "voice" and a.notes])
    if not mine:
        raise ValueError(f"voice {voice} has no notes to play")
    lines = text.split("\n")
    wanted: set[int] = set()
    for array in mine:
        end = array.durations.span.end if array.durations else array.span.end
        first = _line_of(text, array.span.start)
        wanted.update(range(first, _line_of(text, max(array.span.start, end - 1)) + 1))
        if array.durations is not None:
            start = _line_of(text, array.durations.span.start)
            wanted.update(range(start, _line_of(text, array.durations.span.end - 1) + 1))
    first_line = min(wanted)
    declared: set[str] = set()
    for number, line in enumerate(lines[:first_line]):
        found = re.match(rf"^\s*([abc]){voice}\s*=\s*\[", line)
        if found is not None:
            declared.add(found.group(1))
            wanted.add(number)
    tempo = re.compile(rf"^\s*c{voice}\s*=\s*\[")
    last = max(wanted)
    for number in range(last + 1, len(lines)):
        if tempo.match(lines[number]):
            wanted.add(number)
            declared.add("c")
            break
    loop = _own_loop(lines, max(wanted) + 1, voice)
    complete = {"a", "b"} <= declared and all(a.durations is not None for a in mine)
    if loop is None or not complete or ("c" not in declared and f"c{voice}" in loop[2]):
        return _unrolled_voice(mine)
    wanted.update(range(loop[0], loop[1] + 1))
    synth = [n for n in range(first_line) if _USE_SYNTH.match(lines[n])]
    if synth:  # the piece's instrument, when it is named plainly before the voice
        wanted.add(synth[-1])
    chosen = sorted(wanted)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    code = "\n".join(lines[n] for n in chosen) + "\n"
    origins = tuple(Span(offsets[n], offsets[n] + len(lines[n])) for n in chosen)
    bpm = next((a.bpm for a in mine if a.bpm), None) or DEFAULT_BPM
    return Snippet(code, origins, voices_seconds(mine), bpm, mine)


def _own_loop(lines: list[str], start: int, voice: int) -> tuple[int, int, str] | None:
    """First ``in_thread``/``live_loop`` block after ``start`` that ``play``s ``aN`` and no
    other voice: (first line, last line, its text). A loop that hands the notes to the piece's
    own functions (``bosc 0,a1[i],...``) needs code outside the voice: not its own."""
    for number in range(start, len(lines)):
        if not re.match(r"^\s*(?:in_thread|live_loop)\b.*\bdo\b", lines[number]):
            continue
        last = _block_lines(lines, number)
        if last is None:
            return None
        body = "\n".join(lines[number : last + 1])
        voices = {int(v) for v in re.findall(r"\ba(\d+)\s*\[", body)}
        plays = re.search(rf"\bplay[\s(]+a{voice}\s*\[", body) is not None
        if voices == {voice} and plays:
            return number, last, body
        if voice in voices:
            return None
    return None


def _unrolled_voice(arrays: tuple[NoteArray, ...]) -> Snippet:
    builder = _Builder(_bpm(arrays[0].bpm))
    for array in arrays:
        builder.tempo(_bpm(array.bpm))
        for index, token in enumerate(array.notes):
            if not token.text.strip():
                continue
            beats = array.durations.duration_for(index) if array.durations else None
            builder.note(_one_line(token.text), _beats(beats), token.span)
    return replace(builder.build(), played=arrays)
