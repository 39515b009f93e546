"""Where a new voice goes so that it plays *with* the piece, and why.

A Sonic Pi piece runs top to bottom: ``in_thread``/``live_loop`` start at once, but a top-level
``sleep 64``, ``play_pattern_timed a1, b1`` or ``16.times do ... sleep ... end`` holds the main
thread, and anything written after it starts only when it is done. A generated voice is
therefore inserted after the last voice definition and the statements that start its playback,
and before the first blocking top-level statement after them (or at the end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from notegen.sonicpi.reader import _Doc, parse

_VOICE_NAME = re.compile(r"[abc][0-9]+")
_OPENERS = frozenset({"def", "class", "module", "begin", "case", "if", "unless", "while", "until"})
_LOOP_HEADS = frozenset({"while", "until", "for"})
_THREADS = frozenset({"in_thread", "live_loop", "define", "defonce", "comment", "def", "at"})
_BLOCKING_HEADS = frozenset(
    {
        "sleep",
        "sync",
        "play",
        "play_pattern",
        "play_pattern_timed",
        "play_chord",
        "sample",
        "loop",
        "wait",
    }
)
_BLOCKING_WORDS = frozenset({"sleep", "sync", "play", "play_pattern", "play_pattern_timed"})


@dataclass(frozen=True, slots=True)
class Statement:
    """A top-level statement: its first word and its token range ``[first, stop)``."""

    head: str
    first: int
    stop: int


@dataclass(frozen=True, slots=True)
class Placement:
    offset: int
    """Where the new voice's block starts (a line start, or the end of the text)."""
    why: str


def top_level_statements(doc: _Doc) -> list[Statement]:
    """Statements at depth 0 (a ``do ... end`` block belongs to the statement that opens it)."""
    sig = doc.sig
    inside = _bracket_depths(doc)
    out: list[Statement] = []
    depth = 0
    first: int | None = None
    loop_line = False
    for i, tok in enumerate(sig):
        if tok.kind == "nl":
            loop_line = False
            if depth == 0 and first is not None and not inside[i]:
                out.append(Statement(_head(doc, first), first, i))
                first = None
            continue
        if first is None and depth == 0:
            first = i
        if tok.kind != "ident":
            continue
        line_start = i == 0 or sig[i - 1].kind == "nl"
        if tok.value == "do":
            if loop_line:
                loop_line = False
            else:
                depth += 1
        elif tok.value == "end":
            depth = max(0, depth - 1)
        elif line_start and tok.value in _OPENERS:
            depth += 1
            loop_line = tok.value in _LOOP_HEADS
        elif line_start and tok.value == "for":
            depth += 1
            loop_line = True
    if first is not None:
        out.append(Statement(_head(doc, first), first, len(sig)))
    return out


def _bracket_depths(doc: _Doc) -> list[int]:
    """For each token, how many closed brackets hold it (a newline there continues)."""
    delta = [0] * (len(doc.sig) + 1)
    for opener, group in doc.groups.items():
        if group.closer is not None:
            delta[opener + 1] += 1
            delta[group.closer] -= 1
    depths, level = [], 0
    for d in delta[:-1]:
        level += d
        depths.append(level)
    return depths


def _head(doc: _Doc, first: int) -> str:
    tok = doc.sig[first]
    return tok.value if tok.kind == "ident" else ""


def _mentions_voice(doc: _Doc, st: Statement) -> bool:
    return any(
        t.kind == "ident" and _VOICE_NAME.fullmatch(t.value) for t in doc.sig[st.first : st.stop]
    )


def _blocking(doc: _Doc, st: Statement) -> bool:
    """Holds the main thread: ``sleep``, ``play...``, ``loop``, or a block that sleeps."""
    if st.head in _BLOCKING_HEADS:
        return True
    if st.head in _THREADS:
        return False
    body = doc.sig[st.first : st.stop]
    has_block = any(t.kind == "ident" and t.value == "do" for t in body) or st.head in (
        "while",
        "until",
        "for",
    )
    return has_block and any(t.kind == "ident" and t.value in _BLOCKING_WORDS for t in body)


def _line_of(doc: _Doc, offset: int) -> int:
    return doc.text.count("\n", 0, offset) + 1


def never_runs(doc: _Doc, offset: int) -> str | None:
    """What hides ``offset`` from Ruby, when code put there would never run: a ``=begin``
    block, a string or heredoc that goes on past it, or the data after ``__END__``."""
    for tok in doc.tokens:
        heredoc_body = tok.kind == "str" and doc.text[tok.start] not in "\"'%<?`"  # no quote
        if tok.start > offset or (tok.start == offset and not heredoc_body):
            return None
        if tok.kind == "str" and tok.end >= offset:  # (a heredoc's terminator line is its own)
            return "a string or heredoc"
        if tok.kind == "comment" and tok.end > offset:
            if tok.value.startswith("__END__"):
                return "the data after __END__"
            return "a =begin comment block" if tok.value.startswith("=begin") else None
    return None


def _before_end_marker(doc: _Doc) -> int:
    """Where code may still be added at the end: before ``__END__`` when there is one."""
    for tok in reversed(doc.tokens):
        if tok.kind == "comment" and tok.value.startswith("__END__"):
            return tok.start
        if tok.kind != "nl":
            break
    return len(doc.text)


def new_voice_placement(text: str | _Doc) -> Placement:
    """Where ``generateMelody`` (without a position) inserts a new voice, and why."""
    doc = parse(text) if isinstance(text, str) else text
    statements = top_level_statements(doc)
    last_voice = max(
        (k for k, st in enumerate(statements) if _mentions_voice(doc, st)), default=None
    )
    if last_voice is None:
        return Placement(_before_end_marker(doc), "at the end: the piece has no aN voices yet")
    k = last_voice
    if _blocking(doc, statements[k]):
        # `play_pattern_timed a1, b1` at top level: the new voice must start before it
        while (
            k > 0 and _mentions_voice(doc, statements[k - 1]) and _blocking(doc, statements[k - 1])
        ):
            k -= 1
        st = statements[k]
        return Placement(
            _line_start(doc, doc.sig[st.first].start),
            f"before line {_line_of(doc, doc.sig[st.first].start)} "
            f"(`{_snippet(doc, st)}`): it plays the piece's voices on the main thread, "
            "so a voice written after it would only start once they end",
        )
    for st in statements[k + 1 :]:
        if _blocking(doc, st):
            return Placement(
                _line_start(doc, doc.sig[st.first].start),
                f"after the last voice and its playback, before line "
                f"{_line_of(doc, doc.sig[st.first].start)} (`{_snippet(doc, st)}`), "
                "which holds the main thread: written after it, the voice would start late",
            )
    end = statements[k].stop
    at = doc.sig[end].end if end < len(doc.sig) else len(doc.text)
    return Placement(at, "after the last voice and its playback, at the end of the piece")


def _line_start(doc: _Doc, offset: int) -> int:
    return doc.text.rfind("\n", 0, offset) + 1


def _snippet(doc: _Doc, st: Statement) -> str:
    start = doc.sig[st.first].start
    end = doc.text.find("\n", start)
    line = doc.text[start : end if end != -1 else len(doc.text)].strip()
    return line if len(line) <= 40 else line[:37] + "..."
