"""What the cursor sits in: which note array, the notes before it, the token being typed.

Completion and continuation ask this on every keystroke, on code that is mid-edit, so it
leans on the forgiving reader and never raises. Inside a comment or a string there is no note
context, even when the text there looks like notes.
"""

from __future__ import annotations

import re

from notegen.melody import Event, shared
from notegen.sonicpi.quoted import Quoted
from notegen.sonicpi.reader import lone_cr_as_lf, parse, read_doc
from notegen.sonicpi.statement_context import statement_context
from notegen.sonicpi.types import CursorContext, LineIndex, NoteArray, NoteToken, Span
from notegen.sonicpi.voice_line import read_voice_line

_PARTIAL_RE = re.compile(r"(?::?[A-Za-z_][A-Za-z0-9_]*(?:-[0-9]*)?|:|[0-9][0-9_.]*)\Z")
_WORD_AFTER_RE = re.compile(r"[A-Za-z0-9_]*")


def context_at(text: str, line: int, character: int) -> CursorContext | None:
    """The note-array context at an LSP-style position, or ``None`` outside note arrays."""
    try:
        offset = LineIndex(text).offset(line, character)
        return context_at_offset(text, offset)
    except RecursionError:  # pragma: no cover - pathological nesting
        return None


def context_at_offset(text: str, offset: int) -> CursorContext | None:
    """As :func:`context_at`, for an absolute offset (code points)."""
    line = read_voice_line(text)  # (the common case, without the general reader)
    if line is not None and line.content_start <= offset <= line.content_end:
        return _build(text, [line], line, offset)
    doc = parse(text)
    quoted = Quoted(doc.tokens, doc.text)
    if quoted.holds(offset):
        return None
    return context_in(text, read_doc(doc), quoted, offset)


def context_in(
    text: str, arrays: list[NoteArray], quoted: Quoted, offset: int
) -> CursorContext | None:
    """As :func:`context_at_offset`, from a reading of ``text`` already made: its arrays and
    where its comments and strings lie (:func:`notegen.sonicpi.read_with_quoted`)."""
    if quoted.holds(offset):
        return None
    array = _array_at([a for a in arrays if a.kind != "play"], offset)
    if array is None:  # play/sleep runs: lines as the reader saw them (a lone \r ends one)
        return statement_context(lone_cr_as_lf(text), arrays, offset)
    return _build(text, arrays, array, offset)


def _array_at(arrays: list[NoteArray], offset: int) -> NoteArray | None:
    """The innermost array whose elements region holds the offset (ends inclusive)."""
    best: NoteArray | None = None
    for arr in arrays:
        if arr.content_start <= offset <= arr.content_end and (
            best is None or arr.content_start >= best.content_start
        ):
            best = arr
    return best


def _build(text: str, arrays: list[NoteArray], array: NoteArray, offset: int) -> CursorContext:
    in_chord = False
    region_start = array.content_start
    outer_tokens = array.notes
    chord_token: NoteToken | None = None
    for tok in array.notes:
        if (
            tok.chord is not None
            and tok.span.start < offset
            and (offset < tok.span.end or (offset == tok.span.end and not tok.text.endswith("]")))
        ):
            chord_token = tok
            in_chord = True
            region_start = tok.span.start + 1
            break

    head = text[region_start:offset]
    m = _PARTIAL_RE.search(head)
    partial = m.group(0) if m else ""
    if (
        partial
        and not partial.startswith(":")
        and not partial[0].isdigit()
        and (_touches_word_before(text, offset - len(partial), region_start))
    ):
        partial = ""
    partial_start = offset - len(partial)
    after = _WORD_AFTER_RE.match(text, offset)
    partial_end = after.end() if (partial and after) else offset
    partial_span = Span(partial_start, partial_end)

    partial_token: NoteToken | None = None
    before: list[NoteToken] = []
    for tok in outer_tokens:
        if tok is chord_token:
            break
        if tok.span.start >= partial_start:
            if partial and tok.span.start == partial_start and chord_token is None:
                partial_token = tok if tok.error is None and not tok.dynamic else None
            break
        if tok.span.end > partial_start:
            break  # the partial is the tail of this element (``:c4+1``): not complete yet
        before.append(tok)

    prefix = text[region_start:partial_start]
    stripped = _strip_comments(prefix).rstrip()
    last = stripped[-1:] if stripped else ""
    if partial:
        needs_comma = partial_token is not None
    else:
        needs_comma = bool(stripped) and last not in ",[("
        if array.kind == "ring" and array.open is not None and not stripped:
            needs_comma = False

    index = sum(1 for _ in before)
    history = _history(arrays, array, before)
    return CursorContext(
        array=array,
        index=index,
        before=before,
        history=history,
        partial=partial,
        partial_span=partial_span,
        needs_comma=needs_comma,
        durations=array.durations,
        duration_index=index,
        partial_token=partial_token,
        in_chord=in_chord,
        chord=chord_token.chord or () if chord_token is not None else (),
    )


def _touches_word_before(text: str, pos: int, floor: int) -> bool:
    """``x.ab``: a bare word glued to something before is not a note being typed."""
    return pos > floor and (text[pos - 1].isalnum() or text[pos - 1] in "._")


def _strip_comments(prefix: str) -> str:
    """Drop ``# ...`` comments from a slice of array content (strings inside are rare)."""
    return re.sub(r"#[^\n]*", "", prefix)


def _history(arrays: list[NoteArray], array: NoteArray, before: list[NoteToken]) -> list[Event]:
    """Earlier sections of the same voice (by section number), then the notes before."""
    events: list[Event] = []
    if array.kind == "voice" and array.voice is not None and array.section is not None:
        earlier = [
            a
            for a in arrays
            if a.kind == "voice"
            and a.voice == array.voice
            and a.section is not None
            and a.section < array.section
            and a is not array
        ]
        earlier.sort(key=lambda a: (a.section, a.span.start))
        seen: set[int] = set()
        for a in earlier:
            if a.section in seen:
                continue  # a section assigned twice: the first one stands in for it
            seen.add(a.section)  # type: ignore[arg-type]
            events.extend(a.events())
    for i, tok in enumerate(before):
        if tok.error is not None or tok.dynamic:
            continue
        dur = array.durations.duration_for(i) if array.durations else None
        events.append(shared(tok.midi, dur))
    return events
