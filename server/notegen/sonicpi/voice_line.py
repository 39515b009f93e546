"""A voice's line of plain notes (``a1[0]=[:C4,:D4,:r,60``) read without the general reader.

The local reader runs at every keystroke on the cursor's line, or on a window of a long one:
in real pieces and in generated voices that is a line of a few hundred plain notes, and the
general reader (lexer, bracket groups, elements, evaluation, the statements' scans) costs
~7 µs a note there, ~1.9 ms for 230. Such a line is read here by two regular expressions and
a memo of each distinct element's note. Anything else on the line (a chord, a comment, a
string, ``.ring``, a second statement, a line break but a CRLF line's last ``\r``) is left to
the general reader, which gives the same array for the lines read here (``FAST_VOICE_LINES``,
tested both ways).
"""

from __future__ import annotations

import re

from notegen.sonicpi.reader import read
from notegen.sonicpi.types import NoteArray, NoteToken, Span

FAST_VOICE_LINES = True
"""Read plain voice lines here (``False``: always the general reader; the two must agree)."""

_HEAD = re.compile(r"[ \t]*(a([0-9]+)(?:\[([0-9]+)\])?)[ \t]*=[ \t]*\[")
"""``a1[0]=[`` or ``a1 = [`` at the line's start: a voice's section (or the whole voice)."""
_ELEMENT = r"(?::[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?)"
"""A note symbol (or any symbol: its note says if Sonic Pi plays it) or a plain number."""
_BODY = re.compile(rf"(?:[ \t]*(?:{_ELEMENT}[ \t]*)?,)*[ \t]*(?:{_ELEMENT}[ \t]*)?(\][ \t]*)?")
"""Elements, commas and blanks only, then maybe the closing bracket and blanks."""
_CORE = re.compile(r"[^, \t\]]+")

_NOTES: dict[str, tuple[int | float | None, str | None, None, bool]] = {}
"""An element's (midi, error, chord, dynamic) by its text, as the general reader reads it alone:
a lone symbol or number means the same wherever it stands."""
_MEMO_LIMIT = 4096
"""Distinct elements kept (a piece has a few dozen); past it the memo starts again."""


def read_voice_line(text: str) -> NoteArray | None:
    """The one voice array that makes up ``text``, as :func:`notegen.sonicpi.reader.read`
    gives it; ``None`` when ``text`` is anything but a plain voice line."""
    if not FAST_VOICE_LINES:
        return None
    head = _HEAD.match(text)
    if head is None:
        return None
    end = len(text) - 1 if text.endswith("\r") else len(text)  # (a CRLF file's line)
    body = _BODY.fullmatch(text, head.end(), end)
    if body is None:
        return None
    opening = head.end() - 1
    close = body.start(1) if body.group(1) is not None else None
    if close is not None:
        content_end = close
    elif end == len(text) or text[head.end() - 1 : end].rstrip(" \t")[-1] in ",[":
        content_end = len(text)  # (an open list after a comma goes on past a line break)
    else:
        content_end = end  # (else the line break ends it)
    cores = [
        (m.group(), m.start(), m.end())
        for m in _CORE.finditer(text, head.end(), min(content_end, end))
    ]
    known = _NOTES
    if len(known) > _MEMO_LIMIT:
        known.clear()  # (never between the two loops: every core is known in the second)
    for core, _, _ in cores:
        if core not in known:
            _note_of(core)
    notes = [  # (positional: text, span, midi, error, chord, dynamic)
        NoteToken(core, Span(a, b), *known[core]) for core, a, b in cores
    ]
    name, voice, section = head.group(1), int(head.group(2)), head.group(3)
    return NoteArray(
        kind="voice",
        name=name,
        voice=voice,
        section=int(section) if section is not None else None,
        span=Span(opening, close + 1 if close is not None else content_end),
        open=opening,
        close=close,
        content_start=head.end(),
        content_end=content_end,
        notes=notes,
        name_span=Span(head.start(1), head.end(1)),
    )


def _note_of(core: str) -> None:
    """What the general reader makes of ``core`` as a voice's one element (memoised)."""
    arrays = read(f"a1=[{core}]")
    token = arrays[0].notes[0]
    _NOTES[core] = token.midi, token.error, None, token.dynamic
