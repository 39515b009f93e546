"""What the server knows about each open document, cached per version.

pygls keeps the text (incremental sync). This module adds, per document version, the things
every feature needs and that would be too slow to recompute per request in a large file:

* positions: LSP ``(line, UTF-16 character)`` ⇄ Python ``str`` offsets, for that version;
* a *local* cursor context: the reader runs on the few lines around the cursor (the array being
  edited), not on the whole file, so a completion costs the same in a 20-line sketch and in a
  2,000-line piece;
* the whole-file reading's note arrays (``notegen.sonicpi.read``), computed off the event
  loop; what the server keeps of a reading for completions is :mod:`notegen.lsp.reading`'s.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from notegen import sonicpi
from notegen.sonicpi.commas import commas_between
from notegen.sonicpi.context import context_at_offset
from notegen.sonicpi.reader import _Doc, lone_cr_as_lf, parse, read_doc
from notegen.sonicpi.statements import SLOT_HEADS, top_assignments
from notegen.sonicpi.types import (
    CursorContext,
    NoteArray,
    NoteToken,
    Span,
    line_end,
    line_starts,
)

log = logging.getLogger(__name__)

MAX_READING_CHARS = 4_000_000
"""Above this a document is never read whole: a 5 MB file took ~40 s of CPU (holding the
GIL most of it, so every completion waited) and ~800 MB per reading. Completion and hover
only need the cursor's lines; 200,000 notes with durations are ~2.5 M characters. Commands
that read the whole file (generate, continue, play, add durations) refuse such a file."""
REGION_LINES = 40
"""How many lines above/below the cursor a multi-line array may reach for the local reader."""
FAR_ARRAY_CHARS = 1 << 20
"""How far above a cursor whose :data:`REGION_LINES` lines all continue an array its opening
bracket is looked for (:meth:`DocumentView._far_window_context`)."""
STATEMENT_LINES = 120
"""How far above/below the cursor the local reader looks for a run of play/sleep lines."""
STATEMENT_NEXT = 4
"""Lines read below the cursor in a block whose first line is out of reach above."""
STATEMENT_STEP = 60
"""Where the lines read above the cursor start in a longer block: at a multiple of this, so
typing down the block reads from the same line (its notes start where the cached contexts
start) for this many lines. From the line ``STATEMENT_LINES`` above the cursor, each new
``play`` line moved the context's first note: a 400,000-line block, never read whole, read
the network over its ~60 notes at every keystroke (~2 ms)."""
LONG_LINE_CHARS = 65_536
"""A cursor line longer than this is read through a window, never whole (a 5 MB one-line
array took the local reader ~40 s per completion)."""
WINDOW_CHARS = 2_048
"""The window's least reach before the cursor on a long line (≥ 256 notes as typically
written, the default ``maxContext``; callers ask for more with ``reach``). The reader costs
~4 µs per character, so this is what bounds a completion on a long line."""
WINDOW_LINE_CHARS = 1_024
"""A line longer than this that holds one array (a voice of a few thousand notes, as
generateMelody writes it) is read through a window too: read whole, 5,000 notes on one
line cost each completion there ~130 ms (measured). Real pieces write voices of 200-1,000
notes on one line (1-5 kB): on a 2.6 kB line (625 notes) the cursor's reading took 8.5 ms
whole and 5.4 ms through the window near its end, 7.0 and 2.4 ms near its start (it was
4 kB; the same items at 1,720 cursors of the real pieces' 300-8,192-character lines)."""
WINDOW_AFTER_CHARS = 512
"""How far past the cursor a window reaches (to the next comma): past a chord the cursor is in."""
WINDOW_AFTER_PLAIN_CHARS = 32
"""... in a line holding one array with no chords: past the element at the cursor. Reading
512 characters there read ~100 notes that nothing asks about, ~1 ms per request."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what LSP positions count by default)."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_to_index(line: str, character: int) -> int:
    """``str`` index in ``line`` of a UTF-16 column (clamped to the line)."""
    if character <= 0:
        return 0
    if line.isascii():
        return min(character, len(line))
    units = 0
    for i, ch in enumerate(line):
        if units >= character:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def _read_arrays(
    text: str, uri: str, version: int | None
) -> tuple[list[NoteArray], sonicpi.Quoted]:
    """The note arrays and quoted spans of ``text`` (none, logged, if the reader fails)."""
    try:
        return sonicpi.read_with_quoted(text)
    except Exception:  # the reader should never raise; never let it kill a feature
        log.exception("reader failed on %s (version %s)", uri, version)
        return [], sonicpi.Quoted((), text)


class DocumentView:
    """One version of one document: text, line table, and the readings made of it."""

    def __init__(self, uri: str, version: int | None, text: str) -> None:
        self.uri = uri
        self.version = version
        self.text = text
        self._starts: Sequence[int] | None = None
        self._arrays: list[NoteArray] | None = None
        self._quoted: sonicpi.Quoted | None = None
        """Where the comments and strings lie, from the parse :meth:`arrays` made."""
        self._lock = threading.Lock()
        mark = _plain_mark
        self._plain_below = mark[1] if mark is not None and mark[0] is text else 0
        """No ``<<`` and no ``=begin`` lies wholly before this offset (see :meth:`hidden`)."""
        self.last_cursor: tuple[Any, ...] | None = None
        """The last cursor context asked of this version, with what it was asked with
        (:func:`notegen.lsp.context.note_context`)."""

    def forget_cursor(self) -> None:
        """Drop :attr:`last_cursor` (it holds the reading it was made with)."""
        self.last_cursor = None

    # -- positions ---------------------------------------------------------------------------

    @property
    def starts(self) -> Sequence[int]:
        """Offset of the first character of every line (``\\n``, ``\\r\\n`` or lone ``\\r``)."""
        if self._starts is None:
            self._starts = line_starts(self.text)
        return self._starts

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_text(self, line: int) -> str:
        """Text of ``line`` without its ``\\n`` ('' past the end)."""
        starts = self.starts
        if line < 0 or line >= len(starts):
            return ""
        return self.text[starts[line] : line_end(self.text, starts, line)]

    def offset_at(self, line: int, character: int) -> int:
        """``str`` offset of an LSP position (UTF-16 column), clamped into the document."""
        starts = self.starts
        if line < 0:
            return 0
        if line >= len(starts):
            return len(self.text)
        if self.text.isascii():  # (known without a scan: no copy of a long line)
            length = line_end(self.text, starts, line) - starts[line]
            return starts[line] + min(max(character, 0), length)
        return starts[line] + utf16_to_index(self.line_text(line), character)

    def position_at(self, offset: int) -> tuple[int, int]:
        """LSP ``(line, UTF-16 character)`` of a ``str`` offset."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        if self.text.isascii():  # columns are offsets: no copy of the line up to the offset
            return line, offset - start
        return line, utf16_len(self.text[start:offset])

    # -- whole-file reading --------------------------------------------------------------------

    @property
    def arrays_ready(self) -> bool:
        return self._arrays is not None

    def arrays(self, keep: bool = True) -> list[NoteArray]:
        """Every note array of this version (computed once; slow on big files: not on the loop).

        ``keep=False``: where this version has none yet, read them for this caller only. A
        big generation asked before the server's reading of the new text (its child reads
        the text itself) read them for its form alone, and this view kept them: the server
        held 163.6 MB after ``lsp_latency.py``'s generations, 153.9 MB since (one run each)."""
        if not keep and not self.arrays_ready:
            return _read_arrays(self.text, self.uri, self.version)[0]
        return self._read()[0]

    def quoted(self) -> sonicpi.Quoted:
        """Where this version's comments and strings lie (read with :meth:`arrays`)."""
        return self._read()[1]

    def _read(self) -> tuple[list[NoteArray], sonicpi.Quoted]:
        with self._lock:
            if self._arrays is None or self._quoted is None:
                self._arrays, self._quoted = _read_arrays(self.text, self.uri, self.version)
            return self._arrays, self._quoted

    def parsed(self) -> _Doc:
        """A parse of this version for a command that needs its tokens (not kept: ~15 MB for
        a 20,000-note file); the view's arrays are read from it when it has none yet, so
        such a command parses the text once, not twice."""
        doc = parse(self.text)
        with self._lock:
            if self._arrays is None or self._quoted is None:
                self._arrays, self._quoted = read_doc(doc), sonicpi.Quoted(doc.tokens, doc.text)
        return doc

    def forget_arrays(self) -> None:
        """Drop the whole-file reading's token objects (the next :meth:`arrays` re-reads)."""
        with self._lock:
            self._arrays = None
            self._quoted = None

    def array_at(self, offset: int) -> NoteArray | None:
        """The note array whose span holds ``offset`` (whole-file reading)."""
        found = None
        for array in self.arrays():
            inside = array.span.start <= offset <= array.span.end
            if inside and (found is None or array.span.start >= found.span.start):
                found = array  # innermost
        return found

    def token_at(self, offset: int) -> tuple[NoteArray, int, NoteToken] | None:
        """The note element under ``offset`` with its array and index (whole-file reading)."""
        for array in self.arrays():
            if not (array.span.start <= offset <= array.span.end):
                continue
            for index, token in enumerate(array.notes):
                if token.span.start <= offset <= token.span.end:
                    return array, index, token
        return None

    # -- local cursor context -----------------------------------------------------------------

    def region_around(self, line: int) -> tuple[int, int]:
        """Lines ``[first, last]`` that hold the bracket the cursor line may be inside.

        Walks up from the cursor line while the text from there to the end of the cursor line
        has more ``]`` than ``[`` (the array opened earlier), and down while brackets opened
        before stay open — at most :data:`REGION_LINES` each way. Single-line arrays, the common
        case, give just the cursor line.
        """
        first, last, _ = self._region(line)
        return first, last

    def _region(self, line: int) -> tuple[int, int, bool]:
        """:meth:`region_around`, and whether its walk up stopped at :data:`REGION_LINES`
        with every line above ending with a comma (an array may be open further up)."""
        n = self.line_count
        line = min(max(line, 0), n - 1)
        first = line
        depth = _depth(self.line_text(line))
        commas = True  # every line walked ends with a comma (an array's elements go on)
        while depth <= 0 and first > 0 and line - first < REGION_LINES:
            above = self.line_text(first - 1)
            ends = above.rstrip().endswith(",")
            if "[" not in above and "(" not in above and not ends:
                break
            commas = commas and ends
            first -= 1
            depth += _depth(above)
        # (single-line arrays, ``a1[3]=[...]`` one a line, walk 40 lines too: not that)
        cut_short = commas and depth <= 0 and first > 0 and line - first >= REGION_LINES
        if depth <= 0 and first != line:
            first = line  # nothing open above: the cursor line stands alone
            depth = _depth(self.line_text(line))
        last = line
        while depth > 0 and last + 1 < n and last - line < REGION_LINES:
            last += 1
            depth += _depth(self.line_text(last))
        return first, last, cut_short

    def local_context(
        self, line: int, character: int, reach: int = WINDOW_CHARS, elements: int = 0
    ) -> LocalContext | None:
        """Cursor context from the reader run on :meth:`region_around` only (on a long
        line: a window reaching ``reach`` characters, and no more than ``elements`` elements
        when given, before the cursor).

        Spans are moved back to document offsets. Returns ``None`` outside note arrays or on
        any reader failure (logged): a completion is then simply not offered.
        """
        if line < 0 or line >= self.line_count:
            return None
        if self.hidden(self.starts[line]):
            return None  # in a =begin block or a heredoc that starts above
        length = self._line_length(line)
        if length > LONG_LINE_CHARS:
            return self._window_context(line, character, reach, elements)
        first, last, cut_short = self._region(line)
        if cut_short:  # in an array opened more than REGION_LINES lines above?
            found = self._far_window_context(line, character, reach, elements)
            if found is not None:
                return found
        if length > WINDOW_LINE_CHARS and first == last == line:
            found = self._window_context(line, character, reach, elements, whole_array=True)
            if found is not None:
                return found
        base = self.starts[first]
        end = self.starts[last + 1] - 1 if last + 1 < self.line_count else len(self.text)
        region = self.text[base:end]
        col = utf16_to_index(self.line_text(line), character)
        try:
            ctx = sonicpi.context_at(region, line - first, col)
        except Exception:
            log.exception("context_at failed in %s at %s:%s", self.uri, line, character)
            return None
        if ctx is None or ctx.slot != "array":
            if not self._may_be_statement(first, last, line):
                return None
            return self._statement_context(line, col)
        return LocalContext(ctx=ctx, base=base, offset=self.starts[line] + col)

    def _may_be_statement(self, first: int, last: int, line: int) -> bool:
        """Whether a ``play``/``sleep`` context could hold the cursor: its line is blank
        (the next statements go there) or one of the lines ``first..last`` of its region, or
        those it continues with a backslash, names a statement that takes a note or beats.
        Else the statement reader, which reads up to :data:`STATEMENT_LINES` lines each way,
        would only find nothing: in a duration array (``b1[4]=[1.0,...]``) of a real piece's
        long lines that cost each request ~25-50 ms."""
        if not self.line_text(line).strip():
            return True
        while first > 0 and line - first < HEAD_LINES:
            if not self.line_text(first - 1).rstrip().endswith("\\"):
                break
            first -= 1
        start = self.starts[first]
        end = self.starts[last + 1] if last + 1 < self.line_count else len(self.text)
        text = self.text
        if not any(text.find(word, start, end) != -1 for word in SLOT_HEADS):
            return False  # (C-speed substring searches first; the regex only where one is)
        return _STATEMENT_HEAD.search(text, start, end) is not None

    def hidden(self, offset: int) -> bool:
        """:func:`hidden_above` for this text, remembering how far it is plain code: a cursor
        that jumps around the same version searches only past what was searched already
        (``=begin`` up to the cursor cost ~50 µs per completion in the 170 kB benchmark
        piece, ~0.2-0.4 ms in the 800 kB one). The next version starts from the mark too,
        up to its edit (:func:`remember_plain_splice`): typing searches only what it typed."""
        global _plain_mark
        if offset <= self._plain_below:
            return False
        text, start = self.text, max(0, self._plain_below - 5)  # (a needle across the mark)
        if not may_hide(text, start, offset):
            self._plain_below = offset
            _plain_mark = (text, offset)
            return False
        return hidden_above(text, offset)

    def _line_length(self, line: int) -> int:
        starts = self.starts
        end = starts[line + 1] - 1 if line + 1 < len(starts) else len(self.text)
        return end - starts[line]

    def _window_context(
        self, line: int, character: int, reach: int, elements: int = 0, whole_array: bool = False
    ) -> LocalContext | None:
        """The local reader on a window of a long line: the array's head (``a1[0]=[``, or a
        ring's, ``play (ring ``, whichever opens first) plus the elements from about
        ``reach`` characters before the cursor to a few after.

        The head tells the reader which array this is; the cut falls after a comma, so the
        window holds whole elements; ``skipped`` counts the elements left out before it (their
        durations are looked up by index). Work and memory are bounded by the window, not the
        line. With ``elements`` the window starts no earlier than that many commas before the
        cursor: the reader costs ~13 µs per note, and ``reach`` characters of ``:C4,`` are
        twice the notes a context keeps. With ``whole_array`` (a line the region reader could
        read whole) only the line's one array is read so: it holds no chord, the line nothing
        after it but a comment, and the cursor is inside it; else ``None`` (the region reader
        reads the line: another array on it, ``.ring``, ``play_pattern_timed``'s durations).
        """
        text, start = self.text, self.starts[line]
        end = start + self._line_length(line)
        if text.isascii():
            cursor = start + min(max(character, 0), end - start)
        else:
            cursor = start + utf16_to_index(text[start:end], character)
        limit = min(end, start + 256)
        equals = text.find("=", start, limit)
        after_equals = equals + 1 if equals != -1 else start
        bracket = text.find("[", after_equals, limit)
        ring = None if whole_array else _RING_HEAD.search(text, after_equals, limit)
        if ring is not None and (bracket == -1 or ring.start() < bracket):
            head_end = ring.end()  # ``play (ring :e4, ...).tick``: (its chords' brackets later)
        elif bracket != -1:
            head_end = bracket + 1
        else:
            return None  # no array opens early on this line: nothing to complete here
        if head_end > cursor:
            return None
        if whole_array and not _one_array_to_the_end(text, head_end, end, cursor):
            return None
        after = WINDOW_AFTER_CHARS if not whole_array else WINDOW_AFTER_PLAIN_CHARS
        return self._window(line, start, head_end, cursor, end, reach, elements, after)

    def _far_window_context(
        self, line: int, character: int, reach: int, elements: int
    ) -> LocalContext | None:
        """A cursor in an array opened more than :data:`REGION_LINES` lines above (a long
        melody written a bar a line): read as a long line's window is (:meth:`_window`), the
        head being the line that opens the array, up to its bracket. Else the region reader
        read the cursor's line alone, and the context was that line's notes. ``None`` when no
        array is open within :data:`FAR_ARRAY_CHARS` above, or the window is no array."""
        text, start = self.text, self.starts[line]
        end = start + self._line_length(line)
        cursor = self.offset_at(line, character)
        bracket = _unclosed_bracket(text, max(0, cursor - FAR_ARRAY_CHARS), start)
        if bracket is None:
            return None
        head_start = self.starts[bisect.bisect_right(self.starts, bracket) - 1]
        return self._window(
            line, head_start, bracket + 1, cursor, end, reach, elements, WINDOW_AFTER_CHARS
        )

    def _window(
        self,
        line: int,
        start: int,
        head_end: int,
        cursor: int,
        end: int,
        reach: int,
        elements: int,
        after: int,
    ) -> LocalContext | None:
        """The reader on ``text[start:head_end]`` (an array's head, up to its bracket) and the
        elements from about ``reach`` characters (and at most ``elements`` commas) before
        ``cursor`` to the first comma ``after`` characters past it (or ``end``, the end of
        the cursor's line ``line``)."""
        text = self.text
        cut = head_end
        if cursor - reach > head_end:
            comma = text.find(",", cursor - reach, cursor)
            cut = comma + 1 if comma != -1 else head_end
        if elements > 0 and cut < cursor:
            at = cursor
            for _ in range(elements):
                at = text.rfind(",", cut, at)
                if at == -1:
                    break
            if at != -1:
                cut = at + 1
        while cut > head_end:  # a cut inside a chord (``[:c4, |:e4]``): after the chord
            close = text.find("]", cut, cursor)
            opening = text.find("[", cut, cursor)
            if close == -1 or (opening != -1 and opening < close):
                break
            comma = text.find(",", close, cursor)
            if comma == -1:
                break
            cut = comma + 1
        stop = text.find(",", min(end, cursor + after), end)
        stop = end if stop == -1 else stop
        head = text[start:head_end]
        window = head + text[cut:stop]
        base = cut - len(head)  # window offsets past the head map to base + offset
        try:  # (an offset: a far array's window holds line breaks)
            ctx = context_at_offset(window, cursor - base)
        except Exception:
            log.exception("context_at failed in %s at line %s", self.uri, line)
            return None
        if ctx is None or ctx.slot != "array":
            return None
        skipped = commas_between(text, head_end, cut)  # (kept across keystrokes)
        return LocalContext(ctx=ctx, base=base, offset=cursor, skipped=skipped)

    def statement_region(self, line: int) -> tuple[int, int]:
        """Lines ``[first, last]`` around a ``play``/``sleep`` line: from the top-level line
        that opens its block to the one that closes it (at most :data:`STATEMENT_LINES` away
        below, and up to :data:`STATEMENT_STEP` lines more above: see there)."""
        first = line - STATEMENT_LINES
        first = max(0, first - first % STATEMENT_STEP)
        opened = first == 0
        above = self._top_lines(first, line)
        if above:
            first, opened = above[-1], True  # the line that opens the block (or ends the one above)
        # Below the cursor the block's later steps are its previous pass (a live_loop's), heard
        # before the steps above; read from the middle of a longer block (no live_loop line),
        # they are not, and only the next lines matter (a play's sleep).
        reach = STATEMENT_LINES if opened else STATEMENT_NEXT
        last = min(self.line_count - 1, line + reach)
        below = self._top_lines(line + 1, last + 1, nearest=True)
        if below:
            last = below[0]  # the top-level line that ends the block (or starts the next one)
        return first, last

    def _top_lines(self, lo: int, hi: int, nearest: bool = False) -> list[int]:
        """The lines ``lo <= k < hi`` that start a top-level statement other than a run's
        (their first character no space, not :data:`_RUN_WORDS`), in order; with
        ``nearest`` the first one only. Found by one search of the lines' text: line by line,
        the ~180 lines a ``play`` deep in a long block reads cost ~0.4 ms a keystroke."""
        hi = min(hi, self.line_count)
        if lo >= hi:
            return []
        text, starts = self.text, self.starts
        start, end = starts[lo], starts[hi] if hi < len(starts) else len(text)
        if text.find("\r", start, end) != -1 and text.count("\r", start, end) != text.count(
            "\r\n", start, end
        ):  # lone \r line ends (the search's ^ is after \n only): line by line
            found = []
            for k in range(lo, hi):
                line_text = self.line_text(k)
                if line_text[:1].strip() and not line_text.startswith(_RUN_WORDS):
                    found.append(k)
                    if nearest:
                        break
            return found
        found = []
        for match in _LINE_HEAD.finditer(text, start, end):
            if not text.startswith(_RUN_WORDS, match.start()):
                found.append(bisect.bisect_right(starts, match.start(), lo, hi) - 1)
                if nearest:
                    break
        return found

    def _statement_context(self, line: int, col: int) -> LocalContext | None:
        """A cursor in a run of ``play``/``sleep`` statements, read on its block's lines."""
        first, last = self.statement_region(line)
        start = self.starts[first]
        end = self.starts[last + 1] - 1 if last + 1 < self.line_count else len(self.text)
        # the assignments above the region come first (``key = :e3`` … ``play key``); spans
        # of the region keep mapping to the document: ``base`` moves back by their length
        prelude = lone_cr_as_lf(top_assignments(self.text, start, self.text[start:end]))
        base = start - len(prelude)
        try:
            ctx = sonicpi.context_at(
                prelude + self.text[start:end], line - first + prelude.count("\n"), col
            )
        except Exception:
            log.exception("context_at failed in %s at %s:%s", self.uri, line, col)
            return None
        if ctx is None or ctx.slot == "array":
            return None
        return LocalContext(ctx=ctx, base=base, offset=self.starts[line] + col)


_plain_mark: tuple[str, int] | None = None
"""The text (the very object) a view last searched for :meth:`DocumentView.hidden`, and how
far it is plain code. Only the latest is kept, as :func:`line_starts` keeps its line starts;
it is replaced whole, never changed in place (the event loop hands it on, the inference
thread reads it)."""


def remember_plain_splice(old: str, new: str, start: int) -> None:
    """``new`` is ``old`` edited from ``start`` on: what was plain code in ``old`` before
    ``start`` is in ``new`` too."""
    global _plain_mark
    mark = _plain_mark
    if mark is not None and mark[0] is old:
        _plain_mark = (new, min(mark[1], start))


_OPENS_HEREDOC = re.compile("<<")
_OPENS_BLOCK = re.compile("=begin")


def may_hide(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` holds a ``<<`` or an ``=begin``, either of which may
    open text the local reader must not read as code; at C speed. ``"<"`` first (a
    one-character search is memchr: a few µs for 800 kB), then the regular expressions'
    literal searches, which find these needles about twice as fast as ``str.find`` (0.26
    against 0.43-0.47 ms through the 200,000-note document: the "hidden" line of
    ``benchmarks/opening_intake.py``)."""
    if text.find("<", start, end) != -1 and _OPENS_HEREDOC.search(text, start, end):
        return True
    return _OPENS_BLOCK.search(text, start, end) is not None


def _word_line(text: str, word: str, lo: int, hi: int, last: bool = False) -> int:
    """Where the first (or the ``last``) line in ``lo..hi`` that starts with ``word`` starts,
    ``word`` followed by a blank, a line end or ``hi``: what ``^word(?=[ \\t\\r\\n]|$)``
    finds there, from a literal search of the line break before it. That pattern tried every
    character: ~20 ms for 4.8 MB above a cursor (measured), ~0.1 ms this way. -1: none."""
    needle, size = "\n" + word, len(word)

    def ends(at: int) -> bool:
        stop = at + size
        return stop <= hi and (stop == hi or text[stop] in " \t\r\n")

    starts = lo == 0 and text.startswith(word) and ends(0)
    if not last and starts:
        return 0
    at = (text.rfind if last else text.find)(needle, max(lo - 1, 0), hi)
    while at != -1 and not ends(at + 1):
        if last:
            at = text.rfind(needle, max(lo - 1, 0), at + size)
        else:
            at = text.find(needle, at + 1, hi)
    if at != -1:
        return at + 1
    return 0 if starts else -1


_HEREDOC = re.compile(r"<<([~-]?)(['\"`]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def hidden_above(text: str, offset: int) -> bool:
    """Whether ``offset`` (a line start) lies in a ``=begin`` block or a heredoc body that
    starts on an earlier line: the local reader, which sees only the lines around the cursor,
    would take that text for code."""
    if not may_hide(text, 0, offset):  # the common case, at C speed (the regexes below
        return False  # cost ~ms per MB)
    text = lone_cr_as_lf(text)
    begin = _word_line(text, "=begin", 0, offset, last=True)
    if begin != -1 and _word_line(text, "=end", begin + len("=begin"), offset) == -1:
        return True
    for m in _HEREDOC.finditer(text, 0, offset):
        dash, quote, ident = m.groups()
        if not (dash or quote or ident.isupper()):
            continue  # `x <<y` is more often a shift than a heredoc
        head_start = text.rfind("\n", 0, m.start()) + 1
        if "#" in text[head_start : m.start()]:
            continue  # in a comment
        body = text.find("\n", m.end())
        if body == -1 or body + 1 > offset:
            continue
        terminator = re.compile(
            rf"^[ \t]*{re.escape(ident)}[ \t]*\r?$" if dash else rf"^{re.escape(ident)}\r?$",
            re.MULTILINE,
        )
        if terminator.search(text, body + 1, offset) is None:
            return True
    return False


_STATEMENT_HEAD = re.compile(r"\b(?:" + "|".join(SLOT_HEADS) + r")\b")
"""A word that starts a statement with a note or beats slot."""
HEAD_LINES = 8
"""Lines above the cursor's, each ending with a backslash, that may hold the head of its
statement (``play \\`` with the note on the next line: the cursor's region does not reach
them). Only such a continuation puts a note on another line than its ``play``."""
_RUN_WORDS = ("#", "play", "sleep", "synth", "sample", "use_")
"""Top-level lines that may belong to a top-level run (the region reaches above them)."""
_LINE_HEAD = re.compile(r"^\S", re.MULTILINE)
"""A line's first character where it is no space: a top-level line (lines ending in
``\n`` or ``\r\n``)."""


def _one_array_to_the_end(text: str, head_end: int, end: int, cursor: int) -> bool:
    """The array opened just before ``head_end`` holds no brackets (chords: a window counts
    elements by commas) and closes on this line (which ends at ``end``), at or after
    ``cursor``, with nothing after it but blanks or a comment."""
    close = text.find("]", head_end, end)
    if close < cursor or text.find("[", head_end, end) != -1:
        return False
    rest = text[close + 1 : end].lstrip(" \t\r")
    return not rest or rest.startswith("#")


_RING_HEAD = re.compile(r"\(\s*ring[ \t]+|\bring[ \t]*\(")
"""A ring's head where a long line's window may start its notes: ``(ring `` or ``ring(``."""
_BRACKET = re.compile(r"[\[\]]")


def _unclosed_bracket(text: str, lo: int, hi: int) -> int | None:
    """Where the last ``[`` in ``text[lo:hi]`` still open at ``hi`` is (brackets in strings
    and comments are not told apart: the reader checks what is read there)."""
    depth = 0
    for at in reversed([m.start() for m in _BRACKET.finditer(text, lo, hi)]):
        if text[at] == "]":
            depth += 1
        elif depth:
            depth -= 1
        else:
            return at
    return None


def _depth(text: str) -> int:
    """Open minus closed brackets in a line (comments after ``#`` ignored, roughly)."""
    hash_at = text.find("#")
    if hash_at != -1 and "#{" not in text:
        text = text[:hash_at]
    return text.count("[") + text.count("(") - text.count("]") - text.count(")")


@dataclass
class LocalContext:
    """A reader context found in a region, and where that region starts in the document."""

    ctx: CursorContext
    base: int
    offset: int
    skipped: int = 0
    """Elements of the array before the region (a long line's window starts mid-array)."""

    def doc_span(self, span: Span) -> Span:
        return Span(span.start + self.base, span.end + self.base)

    @property
    def partial_span(self) -> Span:
        return self.doc_span(self.ctx.partial_span)

    @property
    def array(self) -> NoteArray:
        return self.ctx.array

    def array_close(self) -> int | None:
        close = self.ctx.array.close
        return None if close is None else close + self.base

    def content_end(self) -> int:
        return self.ctx.array.content_end + self.base
