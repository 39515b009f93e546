"""Evaluate the little arithmetic found in note and duration arrays, as Ruby would, never ``eval``.

Robin Newman's duration arrays hold ``55*4``, ``1.0-0.0625`` or ``1/3.0``; live coders write
``:d5+12``. Ruby's rules matter: ``1/3`` is integer division (0, and Sonic Pi then sleeps 0),
``-7/2`` floors to -4, an integer divided by zero is an error while a float one is Infinity.
Sonic Pi adds ``Symbol#+``/``Symbol#-`` (note arithmetic; a rest stays a rest).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from notegen.notes import NoteError, note_to_midi
from notegen.sonicpi.lexer import Token

Number = int | float


@dataclass(slots=True, unsafe_hash=True)  # a value, not frozen only for speed (see types)
class Result:
    """``value`` (``None`` = rest in note mode) or ``error`` saying why there is no value."""

    value: Number | None
    error: str | None = None
    dynamic: bool = False
    """The element is code (a variable, ``chord(...)``) whose value only Sonic Pi knows."""


class _Fail(Exception):
    """Internal: the expression has no value; the message says why."""


class _Dynamic(Exception):
    """Internal: the expression is code, not a literal; not an error."""


_REST = object()
_FAST_DIGITS = 300
"""Literals shorter than this take the fast path: every float-sized number (longer ones go
through the parser, which says why they have no value: Python reads at most 4,300 digits)."""
_MAX_INT = int(sys.float_info.max)
"""Past this an integer (``10**400``, a 400-digit literal) is no float: not a note Sonic Pi
plays or beats it sleeps, and every pitch and time is a float downstream."""


def evaluate(
    tokens: Sequence[Token],
    notes: bool = False,
    names: Mapping[str, Number] | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
) -> Result:
    """Evaluate one array element, ``tokens[start:stop]`` (read in place: an element may
    reach to the end of the file). ``notes``: symbols and ``nil`` are notes/rests (note mode).

    ``names`` are the piece's own constants (``Last = 4``, ``q = 0.5``): a name found there
    has its value, any other name is code only Sonic Pi can evaluate (``dynamic``, never an
    error). Never raises; malformed literal arithmetic gives a ``Result`` with an error.
    """
    toks = _Significant(tokens, start, len(tokens) if stop is None else min(stop, len(tokens)))
    if toks.at(0) is None:
        return Result(None, "empty element")
    if toks.at(1) is None:
        found = literal(toks.kept[0], notes)
        if found is not None:
            return found
    parser = _Parser(toks, notes, names or {})
    try:
        value = parser.expr()
        extra = toks.at(parser.pos)
        if extra is not None:
            if extra.kind in ("sym", "num", "str"):
                raise _Fail(f"missing comma before {extra.value!r}")
            raise _Dynamic
    except _Dynamic:
        return Result(None, None, dynamic=True)
    except _Fail as exc:
        return Result(None, str(exc))
    except (OverflowError, RecursionError, ValueError):
        return Result(None, f"cannot evaluate: {_text(toks)}")
    if value is _REST:
        return Result(None)
    assert isinstance(value, (int, float))
    if isinstance(value, float) and not math.isfinite(value):
        return Result(None, f"not a finite number: {_text(toks)}")
    if isinstance(value, int) and not -_MAX_INT <= value <= _MAX_INT:
        return Result(None, f"too big a number for a note or beats: {_text(toks)}")
    return Result(value)


def literal(tok: Token, notes: bool = False) -> Result | None:
    """:func:`evaluate` of an element that is ``tok`` alone, where that is the common case: a
    plain number (``0.5``, ``60``) or, with ``notes``, a note symbol (``:C4``, ``:r``);
    ``None``: only the parser can say. The reader asks it first for one-token elements (most
    of a piece's), without ``evaluate``'s set-up of a token run: reading the 20,000-note
    benchmark piece's arrays took 167-191 ms of CPU instead of 211-219 (medians of 15, four
    pairs in turns, measured)."""
    value = tok.value
    if tok.kind == "num" and len(value) < _FAST_DIGITS and value.replace(".", "", 1).isdigit():
        # (isdigit on ASCII-only lexer output)
        return Result(float(value) if "." in value else int(value))
    if notes and tok.kind == "sym" and value:
        return _symbol_note(tok)
    return None


_SYMBOL_NOTES: dict[str, Result] = {}
"""A note symbol's result by its name: a 20,000-note file holds a few dozen distinct ones."""


def _symbol_note(tok: Token) -> Result | None:
    """A lone note symbol (``:C4``, ``:r``) as the parser reads it, memoised by name;
    ``None`` when only the parser can say."""
    found = _SYMBOL_NOTES.get(tok.value)
    if found is not None:
        return found
    if tok.value in ("r", "rest"):
        result = Result(None)
    else:
        try:
            midi = note_to_midi(tok.value)
        except NoteError as exc:
            result = Result(None, _invalid_symbol_message(tok, exc))
        else:
            if not isinstance(midi, int):
                return None
            result = Result(midi)
    if len(_SYMBOL_NOTES) > 4096:
        _SYMBOL_NOTES.clear()
    _SYMBOL_NOTES[tok.value] = result
    return result


class _Significant:
    """An element's tokens without line breaks and comments, filtered as far as they are
    read: the parser stops at the first token that makes an element code, and an element
    of an unclosed bracket reaches to the end of the file (thousands of unclosed ``ring(``
    one inside another were read in time that grew with the square of their number)."""

    def __init__(self, tokens: Sequence[Token], start: int, stop: int) -> None:
        self.tokens = tokens
        self.read = start  # the next of tokens to look at
        self.stop = stop
        self.kept: list[Token] = []

    def at(self, k: int) -> Token | None:
        """The ``k``-th significant token, ``None`` past the last."""
        kept, tokens = self.kept, self.tokens
        while len(kept) <= k and self.read < self.stop:
            tok = tokens[self.read]
            self.read += 1
            if tok.kind not in ("nl", "comment"):
                kept.append(tok)
        return kept[k] if k < len(kept) else None


def _text(toks: _Significant) -> str:
    """The start of an element's text, for a message (at most 60 characters)."""
    out: list[str] = []
    size, k = 0, 0
    while size <= 60 and (tok := toks.at(k)) is not None:  # (joined: size - 1)
        out.append(tok.value)
        size += len(tok.value) + 1
        k += 1
    return " ".join(out)[:60]


def parse_number(literal: str) -> Number:
    """A Ruby numeric literal (``1_000``, ``0x1f``, ``2.5e-1``, ``3r``) as Python int/float."""
    body = literal.replace("_", "")
    if body.endswith("i"):
        raise _Fail(f"complex numbers are not durations or notes: {literal}")
    rational = body.endswith("r")
    body = body.removesuffix("r")
    low = body.lower()
    if low.startswith("0x"):
        value: Number = int(body[2:], 16)
    elif low.startswith("0b"):
        value = int(body[2:], 2)
    elif any(c in low for c in ".e"):
        value = float(body)
    elif len(body) > 1 and body.startswith("0") and body.isdigit():
        value = int(body, 8)  # Ruby reads 010 as octal
    else:
        value = int(body)
    return float(value) if rational else value


class _Parser:
    """Recursive descent over Ruby's precedence: unary minus, ``**``, ``* / %``, ``+ -``."""

    def __init__(self, toks: _Significant, notes: bool, names: Mapping[str, Number]) -> None:
        self.toks = toks
        self.pos = 0
        self.notes = notes
        self.names = names
        self.depth = 0

    def peek(self) -> Token | None:
        return self.toks.at(self.pos)

    def take_op(self, *ops: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.value in ops:
            self.pos += 1
            return tok.value
        return None

    def expr(self) -> object:
        value = self.term()
        while (op := self.take_op("+", "-")) is not None:
            right = self.term()
            value = _apply(op, value, right)
        return value

    def term(self) -> object:
        value = self.unary()
        while (op := self.take_op("*", "/", "%")) is not None:
            right = self.unary()
            value = _apply(op, value, right)
        return value

    def unary(self) -> object:
        self.depth += 1
        if self.depth > 200:
            raise _Fail("expression nested too deeply")
        try:
            if (op := self.take_op("-", "+")) is not None:
                tok = self.peek()
                # Ruby folds `-2 ** 2` as -(2 ** 2) but `-x` binds tighter than `*`.
                value = self.unary()
                if op == "+":
                    return value
                if value is _REST or not isinstance(value, (int, float)):
                    raise _Fail(f"cannot negate {tok.value if tok else 'nothing'}")
                return -value
            return self.power()
        finally:
            self.depth -= 1

    def power(self) -> object:
        base = self.atom()
        if self.take_op("**") is not None:
            exponent = self.unary()  # right-associative
            return _apply("**", base, exponent)
        return base

    def atom(self) -> object:
        tok = self.peek()
        if tok is None:
            raise _Fail("expression ends too early")
        self.pos += 1
        if tok.kind == "num":
            return parse_number(tok.value)
        if tok.kind == "op" and tok.value == "(":
            value = self.expr()
            if self.take_op(")") is None:
                raise _Fail("unbalanced parenthesis")
            return value
        if self.notes and tok.kind == "sym":
            if tok.value in ("r", "rest"):
                return _REST
            try:
                midi = note_to_midi(tok.value)
            except NoteError as exc:
                raise _Fail(_invalid_symbol_message(tok, exc)) from None
            assert midi is not None
            return midi
        if self.notes and tok.kind == "ident" and tok.value == "nil":
            return _REST
        if not self.notes and tok.kind in ("sym", "str"):
            raise _Fail(f"{tok.value!r} is not a number")
        if tok.kind == "ident" and tok.value in self.names and not self._called(tok):
            return self.names[tok.value]
        if tok.kind == "op" and tok.value not in ("(", "[", "{", "-", "->", "*", "&", "!"):
            raise _Fail(f"expected a value, found {tok.value!r}")
        raise _Dynamic

    def _called(self, tok: Token) -> bool:
        """``name(...)`` or ``name.x`` is a call, not the constant's value."""
        nxt = self.peek()
        return nxt is not None and nxt.kind == "op" and nxt.value in ("(", ".", "&.", "[")


def _invalid_symbol_message(tok: Token, exc: NoteError) -> str:
    """Sonic Pi's own wording (``Invalid note: :x``) for a symbol written in the source."""
    msg = str(exc)
    if tok.start + 1 < tok.end and tok.value == "":
        return "Invalid note: quoted symbol with interpolation"
    return msg


def _apply(op: str, left: object, right: object) -> Number | object:
    if left is _REST:
        if op in ("+", "-"):
            return _REST  # Sonic Pi: `:r + 12` is still :r
        raise _Fail(f"a rest cannot take '{op}'")
    if right is _REST:
        raise _Fail("a rest cannot be used as a number")
    assert isinstance(left, (int, float)) and isinstance(right, (int, float))
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if isinstance(left, int) and isinstance(right, int):
            if right == 0:
                raise _Fail("divided by 0")
            return left // right  # Ruby: Integer#/ floors
        if right == 0:
            return math.copysign(math.inf, left) if left else math.nan
        return left / right
    if op == "%":
        if right == 0:
            if isinstance(left, int) and isinstance(right, int):
                raise _Fail("divided by 0")
            return math.nan
        return left % right  # Ruby and Python both floor the modulo
    if op == "**":
        if abs(right) > 10_000 or (isinstance(left, float) and abs(left) > 1e100):
            raise _Fail("exponent too large")
        result = left**right
        if isinstance(result, complex):
            raise _Fail("complex result")
        return result
    raise _Fail(f"unknown operator {op}")
