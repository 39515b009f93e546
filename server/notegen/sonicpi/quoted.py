"""Where a text's comments and strings lie: the places where no note context is.

A cursor inside a comment or a string has no note context, even where the text there looks
like notes. Asking the parse's token list costs a whole parse; a :class:`Quoted` keeps only
those tokens' extents (two integers each), so a view that has read its arrays once answers
for any later cursor of the same version without reading the text again.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable

from notegen.sonicpi.lexer import Token

__all__ = ["Quoted"]


class Quoted:
    """The comment and string tokens of one parse, as the offsets they hold.

    A comment holds the offsets after its first character up to and including its end (a
    cursor at the end of a ``#`` line is still in it); a string (or a quoted symbol,
    ``:"..."``) those after its opening quote and before its end.
    """

    __slots__ = ("_reach", "_starts")

    def __init__(self, tokens: Iterable[Token], text: str) -> None:
        """``tokens``: the lexer's, in text order (a heredoc's body after its line)."""
        wide = "i" if len(text) < 1 << 31 else "q"  # (4 bytes an offset: a view keeps these)
        self._starts = array(wide)
        self._reach = array(wide)
        """The furthest offset held by this token or any before it (a running maximum: the
        answer stays right should a token ever lie inside another)."""
        reach = -1
        for tok in tokens:
            if tok.kind == "comment":
                last = tok.end
            elif tok.kind == "str" or (
                tok.kind == "sym" and text[tok.start + 1 : tok.start + 2] in ("'", '"')
            ):
                last = tok.end - 1
            else:
                continue
            reach = max(reach, last)
            self._starts.append(tok.start)
            self._reach.append(reach)

    def holds(self, offset: int) -> bool:
        """Whether ``offset`` lies inside a comment or a string."""
        before = bisect_left(self._starts, offset)  # the tokens that start before it
        return before > 0 and self._reach[before - 1] >= offset
