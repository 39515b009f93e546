"""Match brackets the way a reader of half-typed code would, and split groups into elements.

Ruby ignores newlines inside brackets, so a closed array may span many lines. While a user
types, though, an array is often not closed yet, and strict matching would swallow the rest of
the file. An open ``[`` or ``(`` therefore ends early (unclosed) where the code clearly moved on:

* a line break that cannot continue the array: the line does not end with ``,``, an opening
  bracket or an operator, and the next line does not start with ``]``, ``)``, ``,`` or ``.``;
* a new statement on a new line: an assignment (``b1[0]=...``) or a statement word
  (``end``, ``play``, ``sleep``, ``live_loop``...), after a line break inside the array;
* ``do``/``end`` anywhere, or a closing bracket of an outer group.

``{...}`` (blocks, hashes) is matched strictly: blocks hold statements and newlines.
"""

from __future__ import annotations

from dataclasses import dataclass

from notegen.sonicpi.lexer import Token

_OPENERS = {"[": "]", "(": ")", "{": "}"}
_CLOSERS = {"]": "[", ")": "(", "}": "{"}
_CONTINUE_AFTER = frozenset(
    {
        ",",
        "[",
        "(",
        "{",
        "+",
        "-",
        "*",
        "/",
        "%",
        "**",
        ".",
        "&.",
        "=>",
        "||",
        "&&",
        "<<",
        "==",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "|",
        "&",
        "^",
        "?",
        ":",
        "\\",
        "=",
        "..",
        "...",
    }
)
_CONTINUE_BEFORE = frozenset({"]", ")", "}", ",", ".", "&."})
_ASSIGN_OPS = frozenset(
    {"=", "+=", "-=", "*=", "/=", "%=", "**=", "||=", "&&=", "|=", "&=", "<<=", ">>="}
)
ALWAYS_STOP = frozenset({"do", "end"})
STATEMENT_WORDS = frozenset(
    {
        "def",
        "define",
        "defonce",
        "live_loop",
        "in_thread",
        "with_fx",
        "loop",
        "use_bpm",
        "use_synth",
        "use_synth_defaults",
        "use_random_seed",
        "play",
        "sleep",
        "sample",
        "play_pattern",
        "play_pattern_timed",
        "play_chord",
        "puts",
        "print",
        "if",
        "unless",
        "while",
        "until",
        "for",
        "begin",
        "rescue",
        "ensure",
        "elsif",
        "else",
        "when",
        "case",
        "return",
        "sync",
        "cue",
        "with_synth",
        "with_bpm",
        "comment",
        "uncomment",
        "load_sample",
        "set",
        "stop",
        "osc",
        "midi",
        "control",
        "with_transpose",
        "use_transpose",
        "class",
        "module",
        "require",
        "load",
        "run_file",
        "set_volume!",
        "use_debug",
        "use_real_time",
    }
)


@dataclass(slots=True)
class Group:
    """A bracketed group over the significant-token list.

    ``opener`` is the opening token's index, ``closer`` the closing token's index (``None``
    when unclosed), ``stop`` the index just past the group (``closer + 1`` or where an
    unclosed group was cut, which is then the index of the token that ended it).
    """

    opener: int
    closer: int | None
    stop: int
    char: str

    @property
    def inner_end(self) -> int:
        """Index just past the last element token."""
        return self.closer if self.closer is not None else self.stop


@dataclass(slots=True)
class _Frame:
    opener: int
    char: str
    last_nl: int | None = None


def match_groups(sig: list[Token]) -> dict[int, Group]:
    """Every bracket group of ``sig`` (tokens without comments), keyed by opener index."""
    groups: dict[int, Group] = {}
    stack: list[_Frame] = []
    i = 0
    n = len(sig)

    def close(frame: _Frame, closer: int | None, stop: int) -> None:
        groups[frame.opener] = Group(frame.opener, closer, stop, frame.char)

    while i < n:
        tok = sig[i]
        top = stack[-1] if stack else None
        soft = top is not None and top.char in "[("
        if tok.kind == "nl":
            if top is not None and soft and not _continues(sig, i, top):
                stack.pop()
                close(top, None, i)
                continue  # the newline may also end an outer group
            if top is not None:
                top.last_nl = i
            i += 1
            continue
        if tok.kind == "op" and tok.value in _OPENERS:
            stack.append(_Frame(i, tok.value))
            i += 1
            continue
        if tok.kind == "op" and tok.value in _CLOSERS:
            want = _CLOSERS[tok.value]
            if any(f.char == want for f in stack):
                while stack and stack[-1].char != want:
                    frame = stack.pop()
                    close(frame, None, i)
                frame = stack.pop()
                close(frame, i, i + 1)
            i += 1  # a stray closer is just a token
            continue
        if top is not None and soft:
            stmt = tok.kind == "op" and tok.value in _ASSIGN_OPS
            word = tok.kind == "ident" and tok.value in STATEMENT_WORDS and _line_start(sig, i)
            if top.last_nl is not None and (stmt or word):
                stack.pop()
                close(top, None, top.last_nl)
                i = top.last_nl  # re-read the cut lines at the outer level
                continue
            if tok.kind == "ident" and tok.value in ALWAYS_STOP:
                stack.pop()
                close(top, None, i)
                continue
        i += 1
    while stack:
        frame = stack.pop()
        close(frame, None, n)
    return groups


def _continues(sig: list[Token], nl: int, frame: _Frame) -> bool:
    """Whether the line break at ``nl`` keeps the open group of ``frame`` going."""
    prev = nl - 1
    while prev > frame.opener and sig[prev].kind == "nl":
        prev -= 1
    if prev == frame.opener:
        return True
    p = sig[prev]
    if p.kind == "op" and p.value in _CONTINUE_AFTER:
        return True
    # `(ring` + newline + notes: a command name right after '(' keeps going.
    if frame.char == "(" and prev == frame.opener + 1 and p.kind == "ident":
        return True
    nxt = nl + 1
    while nxt < len(sig) and sig[nxt].kind == "nl":
        nxt += 1
    if nxt >= len(sig):
        return False
    q = sig[nxt]
    return q.kind == "op" and q.value in _CONTINUE_BEFORE


def _line_start(sig: list[Token], i: int) -> bool:
    return i == 0 or sig[i - 1].kind == "nl"


def elements(
    sig: list[Token], groups: dict[int, Group], opener: int, skip: int = 0
) -> list[tuple[int, int]]:
    """Index ranges ``[a, b)`` of a group's comma-separated elements (newlines excluded).

    ``skip`` leaves out leading tokens (the ``ring`` of ``(ring ...)``). Empty elements
    (``[1,,2]``, a trailing comma) are dropped.
    """
    group = groups[opener]
    out: list[tuple[int, int]] = []
    start: int | None = None
    end = opener + 1
    i = opener + 1 + skip
    stop = group.inner_end
    while i < stop:
        tok = sig[i]
        if tok.kind == "nl":
            i += 1
            continue
        if tok.kind == "op" and tok.value == ",":
            if start is not None:
                out.append((start, end))
            start = None
            i += 1
            continue
        if start is None:
            start = i
        if tok.kind == "op" and tok.value in _OPENERS and i in groups:
            # a group cut at a newline stops *at* that newline, which stays outside
            i = max(groups[i].stop, i + 1)
            end = i
            continue
        i += 1
        end = i
    if start is not None:
        out.append((start, end))
    return out
