"""The data the reader hands out: spans, note and number tokens, arrays and cursor contexts.

Everything is a plain dataclass so the LSP layer, the training corpus and the tests can build,
compare and print them without knowing how the reader found them. Offsets are Python ``str``
indices (code points); the LSP layer converts to UTF-16 where a client needs it.

Spans and tokens are values: nothing changes one once made, and they hash by their fields. They
are not ``frozen`` dataclasses only because a frozen dataclass is slow to make (its ``__init__``
sets each field through ``object.__setattr__``: 955 against 220 ns for a 5-field one, measured),
and the reader makes ~4 of them per note it reads (tokens of the lexer among them): on a real
piece's 600-note line that was ~20 % of reading the cursor's array.
"""

from __future__ import annotations

import bisect
import re
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from notegen.melody import Event, shared

ArrayKind = Literal[
    "voice", "play_pattern_timed", "play_pattern", "ring", "assign", "array", "bare", "play"
]
"""Where a note array was found.

``voice``: ``aN[k]=[...]``; ``play_pattern_timed``/``play_pattern``: the notes argument;
``ring``: ``(ring ...)``, ``ring(...)``, ``[...].ring``; ``assign``: ``name = [...]``;
``array``: any other array literal holding notes (``play [:c4, :e4]``, ``[...].choose``);
``bare``: a line of comma-separated symbols outside any bracket (the seed's training file);
``play``: a run of ``play``/``sleep`` statements in one block (:mod:`notegen.sonicpi.statements`).
"""


@dataclass(slots=True, unsafe_hash=True)
class Span:
    """Half-open range ``[start, end)`` of absolute ``str`` offsets."""

    start: int
    end: int

    def __contains__(self, offset: object) -> bool:
        return isinstance(offset, int) and self.start <= offset < self.end

    def text(self, source: str) -> str:
        return source[self.start : self.end]


LINE_BREAK = re.compile(r"\r\n|\n|\r")
"""Where lines end, as LSP counts them: ``\\r\\n``, ``\\n`` or a lone ``\\r``."""


def count_line_breaks(text: str, start: int = 0, end: int | None = None) -> int:
    """How many line breaks :data:`LINE_BREAK` finds in ``text[start:end]`` (``\\r\\n``
    counts one), counted at C speed and without a copy: ``findall`` walked a generated
    100,000-note block (800 kB) in ~5.4 ms on the event loop, which a completion of another
    document waited for."""
    end = len(text) if end is None else end
    breaks = text.count("\n", start, end)
    if text.find("\r", start, end) == -1:  # (most files; a search for one character is ~40x
        return breaks  # quicker than a count of it: 0.01 against 0.4 ms in 800 kB)
    return breaks + text.count("\r", start, end) - text.count("\r\n", start, end)


_BIG = 65_536
"""Texts at least this long keep their line starts in a slot of their own."""
_last: list[tuple[str, Sequence[int]] | None] = [None, None]
"""The latest text asked about (the very object) and its line starts: ``[0]`` of a short
text, ``[1]`` of a long one. Apart, the small regions the reader reads around a cursor (a
window of a long line, a block of statements) do not push out a whole document's starts,
which the next keystroke's splice asks for again (5 ms for a 5 MB document, every keystroke)."""


_FIND_LINES = 64
"""Lines found one ``find`` at a time before short ones are left to numpy."""
_FIND_CHUNK = 1 << 16
"""Characters numpy looks through at a time: the whole 800 kB of the 200,000-note document
at once made two 800 kB temporaries, ~400 page faults where the heap was just trimmed (the
server trims it when idle; ~4 µs a fault on the test VM), where chunks reuse the same few
blocks."""


def line_starts(text: str) -> Sequence[int]:
    """Offset of the first character of every line of ``text`` (callers never change the
    list: the latest one is shared).

    The server asks this per document version (per keystroke), twice: the didChange splice
    for the text it edits, then the new version's view; the latest answer is kept, and a
    splice that keeps the lines (:func:`remember_line_starts`) hands the new text's over (the
    2,000-line benchmark piece: ~0.1 ms each time). Lines are found with ``str.find``
    (memchr), and past the first :data:`_FIND_LINES` lines, when they are short, with numpy (a
    third of the loop's time for the benchmark piece: 0.07 vs 0.19 ms); numpy alone read
    all of a 5 MB one-line array: 5.5 ms where two ``find`` calls take 0.3."""
    slot = int(len(text) >= _BIG)
    last = _last[slot]
    if last is not None and last[0] is text:
        return last[1]
    starts: Sequence[int]
    if "\r" not in text:
        found = [0]
        pos = text.find("\n")
        while pos != -1:
            found.append(pos + 1)
            if len(found) == _FIND_LINES and pos < _FIND_LINES * 1024 and text.isascii():
                starts = _short_lines(text, found)  # the rest at numpy's speed
                break
            pos = text.find("\n", pos + 1)
        else:
            starts = found
    else:
        starts = [0, *(m.end() for m in LINE_BREAK.finditer(text))]
    _last[slot] = (text, starts)
    return starts


def newline_of(text: str) -> str:
    """The document's line ending (``\\r\\n``, a lone ``\\r`` or ``\\n``), for text we add."""
    if "\r\n" in text:
        return "\r\n"
    if "\r" in text and "\n" not in text:
        return "\r"
    return "\n"


def line_start_before(text: str, offset: int) -> int:
    """Where the line holding ``offset`` starts (after ``\\n``, ``\\r\\n`` or a lone ``\\r``)."""
    start = text.rfind("\n", 0, offset) + 1
    cr = text.rfind("\r", start, offset)  # (only back to the \n)
    return start if cr == -1 else cr + 1


def line_end_at(text: str, offset: int) -> int:
    """Where the line holding ``offset`` ends: its line break (the ``\\r`` of ``\\r\\n``),
    or the text's end."""
    end = text.find("\n", offset)
    end = len(text) if end == -1 else end
    cr = text.find("\r", offset, end)  # (only up to the \n: no search to a big text's end)
    return end if cr == -1 else cr


def next_line_start(text: str, end: int) -> int:
    """Where the line after the one ending at ``end`` (:func:`line_end_at`) starts."""
    return end + 2 if text.startswith("\r\n", end) else end + 1


def _short_lines(text: str, found: list[int]) -> Sequence[int]:
    """``found``, the first lines' starts, and those of the rest of ``text`` (ASCII, its lines
    short), found by numpy a chunk at a time. Past :data:`MOVE_FROM_LINES` lines they stay in
    an array (:class:`ArrayStarts`): as a list, the 400,000 of a 4.8 MB document of ``play``
    lines took ~8 ms more to make and ~11 MB more to hold (measured)."""
    import numpy as np

    chunks = [
        np.flatnonzero(np.frombuffer(text[at : at + _FIND_CHUNK].encode("ascii"), np.uint8) == 10)
        + (at + 1)
        for at in range(found[-1], len(text), _FIND_CHUNK)
    ]
    if len(found) + sum(map(len, chunks)) < MOVE_FROM_LINES:
        for chunk in chunks:
            found += chunk.tolist()
        return found
    return ArrayStarts(np.concatenate([np.asarray(found, np.int64), *chunks]))


def remember_line_starts(text: str, starts: Sequence[int]) -> None:
    """``text``'s line starts, known to its maker (:func:`line_starts` will give them)."""
    _last[int(len(text) >= _BIG)] = (text, starts)


MOVE_FROM_LINES = 4096
"""Line starts from this many up are moved by an edit (:func:`moved_starts`) without a copy."""


def moved_starts(starts: Sequence[int], line: int, shift: int) -> Sequence[int]:
    """The line starts of a text edited inside ``line`` (no line break written or removed):
    ``starts`` with those of the lines after it moved by ``shift``. Many lines are read
    through a :class:`MovedStarts`: a copy, moved, cost every keystroke ~12 ms in a 4.8 MB
    document of 400,000 ``play``/``sleep`` lines (measured)."""
    if shift == 0:
        return starts
    if isinstance(starts, MovedStarts):
        return starts.moved(line, shift)
    if len(starts) < MOVE_FROM_LINES:
        return [*starts[: line + 1], *(s + shift for s in starts[line + 1 :])]
    return MovedStarts(starts, line, shift)


def edited_starts(
    starts: Sequence[int], line: int, end_line: int, at: int, text: str, shift: int
) -> Sequence[int]:
    """The line starts of a text where ``text`` replaced the stretch from offset ``at`` (in
    ``line``) to a place in ``end_line``, ``shift`` characters longer, when no ``\\r`` is in
    ``text`` or just before ``at`` (so no line break was joined or split): those up to
    ``line``, those of ``text``'s line breaks, then those after ``end_line``, moved. Pressing
    Enter in a 4.8 MB document of 400,000 lines found them all again, ~3 ms twice (the
    splice, then the new version's view)."""
    added = []
    found = text.find("\n")
    while found != -1:
        added.append(at + found + 1)
        found = text.find("\n", found + 1)
    if isinstance(starts, MovedStarts):
        starts = starts.copy()
    if isinstance(starts, ArrayStarts):
        import numpy as np

        array = starts.array
        return ArrayStarts(
            np.concatenate(
                [array[: line + 1], np.asarray(added, np.int64), array[end_line + 1 :] + shift]
            )
        )
    return [*starts[: line + 1], *added, *(s + shift for s in starts[end_line + 1 :])]


class _Starts(Sequence[int]):
    """A line table that is not a list: an index reads an int, a slice a list."""

    __slots__ = ()

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> list[int]: ...

    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return self._slice(index)
        return self._item(index)

    @abstractmethod
    def _item(self, index: int) -> int: ...

    @abstractmethod
    def _slice(self, index: slice) -> list[int]: ...


class MovedStarts(_Starts):
    """Line starts read through those of an earlier text, the lines after ``line`` moved by
    ``shift``: what typing inside one line makes. The next edit in the same line moves them
    further; one in another line copies them once (:meth:`moved`). Immutable, as a text's
    line starts are (the event loop hands them to the inference thread)."""

    __slots__ = ("_base", "_line", "_shift")

    def __init__(self, base: Sequence[int], line: int, shift: int) -> None:
        self._base, self._line, self._shift = base, line, shift

    def moved(self, line: int, shift: int) -> Sequence[int]:
        """These starts after an edit inside ``line`` that moved the lines after it by ``shift``."""
        if line == self._line:
            return MovedStarts(self._base, line, self._shift + shift)
        return MovedStarts(self.copy(), line, shift)

    def copy(self) -> Sequence[int]:
        """The starts held on their own (a list, or an array under an :class:`ArrayStarts`)."""
        if isinstance(self._base, ArrayStarts):
            return self._base.moved(self._line, self._shift)
        cut, shift = self._line + 1, self._shift
        return [*self._base[:cut], *(s + shift for s in self._base[cut:])]

    def __iter__(self) -> Iterator[int]:
        return iter(self.copy())

    def __len__(self) -> int:
        return len(self._base)

    def _item(self, index: int) -> int:
        value = self._base[index]
        if index < 0:
            index += len(self._base)
        return value + self._shift if index > self._line else value

    def _slice(self, index: slice) -> list[int]:
        return list(self.copy()[index])


class ArrayStarts(_Starts):
    """Line starts held in a numpy array (int64), read as ints: many lines
    (:func:`_short_lines`)."""

    __slots__ = ("array",)

    def __init__(self, array: Any) -> None:
        self.array = array

    def moved(self, line: int, shift: int) -> ArrayStarts:
        """A copy, the starts of the lines after ``line`` moved by ``shift``."""
        array = self.array.copy()
        array[line + 1 :] += shift
        return ArrayStarts(array)

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self) -> Iterator[int]:
        return iter(self.array.tolist())

    def _item(self, index: int) -> int:
        return int(self.array[index])

    def _slice(self, index: slice) -> list[int]:
        return self.array[index].tolist()  # type: ignore[no-any-return]


def line_end(text: str, starts: Sequence[int], line: int) -> int:
    """Offset just past the last character of ``line`` (before its line break)."""
    if line + 1 >= len(starts):
        return len(text)
    end = starts[line + 1] - 1
    if text[end] == "\n" and end > starts[line] and text[end - 1] == "\r":
        end -= 1
    return end


class LineIndex:
    """Converts between ``(line, character)`` positions and absolute offsets (code points).

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (LSP's rule). Out-of-range positions are
    clamped instead of raising, because editors send positions for text that may just have
    changed.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: Sequence[int] = line_starts(text)

    def offset(self, line: int, character: int) -> int:
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start = self.starts[line]
        end = line_end(self.text, self.starts, line)
        return start + min(max(character, 0), end - start)

    def position(self, offset: int) -> tuple[int, int]:
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]


@dataclass(slots=True, unsafe_hash=True)
class NoteToken:
    """One element of a note array, as Sonic Pi would play it.

    ``midi`` is the MIDI number, ``None`` for a rest (``:r``, ``:rest``, ``nil``) and also
    ``None`` when ``error`` says why Sonic Pi would reject the element. A chord (nested array)
    keeps every pitch in ``chord`` and its top note in ``midi``, the note a melody model hears.
    """

    text: str
    span: Span
    midi: int | float | None
    error: str | None = None
    chord: tuple[int | float | None, ...] | None = None
    dynamic: bool = False
    """Code whose value only Sonic Pi knows (``chord(:c4, :major)``, a variable): no pitch,
    but no error either."""

    @property
    def is_rest(self) -> bool:
        return self.midi is None and self.error is None and not self.dynamic


@dataclass(slots=True, unsafe_hash=True)
class NumberToken:
    """A duration (beats) or bpm element: its source text and the value Ruby computes."""

    text: str
    span: Span
    value: float | None
    error: str | None = None
    dynamic: bool = False
    """Code (a variable, a call) whose value only Sonic Pi knows: no value, no error."""


@dataclass(slots=True)
class DurationArray:
    """Durations that belong to a note array: ``bN[k]=[...]`` or ``play_pattern_timed``'s 2nd arg.

    ``scalar`` is true for ``play_pattern_timed notes, 0.5``: one value for every note.
    ``open``/``close`` are the bracket offsets (``None`` for a scalar or an unclosed array).
    """

    name: str | None
    span: Span
    values: list[NumberToken]
    open: int | None = None
    close: int | None = None
    scalar: bool = False

    def duration_for(self, index: int) -> float | None:
        """The duration of note ``index``; ``None`` where the array is too short or invalid."""
        if self.scalar:
            return self.values[0].value if self.values else None
        if 0 <= index < len(self.values):
            return self.values[index].value
        return None


@dataclass(slots=True)
class NoteArray:
    """A note array found in the source, with what belongs to it.

    ``span`` runs from the opening bracket to just after the closing one (for an unclosed array,
    to where the reader decided it must end). ``open``/``close`` are the offsets of the brackets
    (``close`` is ``None`` when unclosed; both are ``None`` for ``bare`` lines, which have no
    brackets). ``content_start``/``content_end`` bound the elements (after ``(ring``, inside
    the brackets). ``durations`` are the matching ``bN[k]`` or ``play_pattern_timed`` durations;
    ``bpm`` is ``cN[k]`` where the voice has one.
    """

    kind: ArrayKind
    name: str | None
    voice: int | None
    section: int | None
    span: Span
    open: int | None
    close: int | None
    content_start: int
    content_end: int
    notes: list[NoteToken] = field(default_factory=list)
    durations: DurationArray | None = None
    bpm: float | None = None
    name_span: Span | None = None

    @property
    def closed(self) -> bool:
        return self.close is not None or self.kind == "bare"

    def events(self) -> list[Event]:
        """Notes paired with their durations (``None`` where there is none), rests included.

        Elements Sonic Pi would reject (``error`` set) and code the reader cannot evaluate
        (``dynamic``) are left out: they carry no pitch.
        """
        return [
            shared(tok.midi, self.durations.duration_for(i) if self.durations else None)
            for i, tok in enumerate(self.notes)
            if tok.error is None and not tok.dynamic
        ]


@dataclass(slots=True)
class CursorContext:
    """What the cursor sits in, for completion and continuation.

    ``before`` are the complete note tokens before the cursor (``index`` = their count);
    ``partial`` is the token being typed, from its start up to the cursor (``""`` when none),
    and ``partial_span`` the whole token under the cursor (what a completion replaces);
    ``partial_token`` is that token when it already reads as a note (``:C3``), so a
    continuation can treat it as played. ``needs_comma``: a new note inserted at the cursor
    needs a leading comma (the cursor follows an element, e.g. right after ``:C3``).
    ``history`` is the model's context: the notes of earlier sections of the same voice (by
    section number), then ``before``, each with its duration where one is known.
    ``in_chord`` is true inside a nested (chord) array; ``before`` then still counts the
    outer array's elements.
    """

    array: NoteArray
    index: int
    before: list[NoteToken]
    history: list[Event]
    partial: str
    partial_span: Span
    needs_comma: bool
    durations: DurationArray | None
    duration_index: int
    partial_token: NoteToken | None = None
    in_chord: bool = False
    chord: tuple[int | float | None, ...] = ()
    """Inside a chord: the pitches it already holds (what a chord tone must fit)."""
    slot: Literal["array", "note", "sleep", "line"] = "array"
    """Where the cursor is: inside a note array, or in a run of ``play``/``sleep`` statements
    (:mod:`notegen.sonicpi.statements`): the note of a ``play``, the beats of a ``sleep``, or
    a blank line where the next statement goes."""
