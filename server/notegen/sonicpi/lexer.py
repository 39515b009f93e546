"""A forgiving Ruby lexer: just enough of Ruby to find note arrays in Sonic Pi code.

It knows what hides code (comments, ``=begin``/``=end``, strings with ``#{...}``
interpolation, ``%w[...]`` literals, heredocs, ``__END__``) and what tells a symbol (``:c4``)
from a label (``sustain:``) or a ternary. It never raises: text that is being typed (an
unclosed string, a lone ``:``) becomes tokens too, so the reader can still see the cursor's
surroundings. Newlines are tokens because statements and the seed's bare lines end there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal[
    "sym",  # :name or :"quoted" (value = the name)
    "num",  # 12, 0.5, 1e3, 1_000
    "ident",  # names, keywords, @ivars, $globals
    "str",  # any string-like literal (value = its text when it has no interpolation)
    "op",  # punctuation and operators
    "nl",  # end of a line (also ';')
    "comment",  # '# ...' and =begin/=end blocks
]


@dataclass(slots=True, unsafe_hash=True)  # a value, not frozen only for speed (see types)
class Token:
    kind: TokenKind
    start: int
    end: int
    value: str
    space_before: bool = False
    """Whitespace (or start of line) right before the token: Ruby's lexer cares, so do we."""


NAME_START = r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]"
r"""A name's first character: an ASCII letter, ``_``, or any character past ASCII, i.e.
``[A-Za-z_\u0080-\U0010ffff]`` written as the ASCII characters it leaves out. That class
took 5-7 ms to compile each time it was written (Python's ``re`` builds its table of every
character up to U+10FFFF), ~32 ms of the lexer's patterns, at the start of the server and of
every child process; this one ~0.3 ms."""
NAME_CHAR = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"
r"""A name's later characters: :data:`NAME_START`'s and the digits
(``[A-Za-z0-9_\u0080-\U0010ffff]``)."""

_IDENT_RE = re.compile(NAME_START + NAME_CHAR + r"*[?!]?")
_SYM_NAME_RE = re.compile(
    r"(?:" + NAME_START + NAME_CHAR + r"*[?!=]?"
    r"|\[\]=?|\*\*|[+\-*/%<>!~^&|]|<=>|==|===|=~|<<|>>|<=|>=|[+-]@)"
)
_NUM_RE = re.compile(
    r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9]+)?r?i?"
)
_OPS = (
    "**=",
    "...",
    "<=>",
    "===",
    "<<=",
    ">>=",
    "&&=",
    "||=",
    "**",
    "==",
    "!=",
    ">=",
    "<=",
    "&&",
    "||",
    "<<",
    ">>",
    "=>",
    "->",
    "..",
    "::",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "|=",
    "&=",
    "=~",
    "!~",
    "&.",
)
_OPS_BY_FIRST: dict[str, tuple[str, ...]] = {
    c: tuple(op for op in _OPS if op[0] == c) for c in {op[0] for op in _OPS}
}
_PERCENT_RE = re.compile(r"%[wWiIqQrsx]?[\[({<|!/]")
_HEREDOC_RE = re.compile(r"<<([~-]?)(['\"`]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_CLOSERS = {"[": "]", "(": ")", "{": "}", "<": ">"}
_RUN_STARTS = frozenset(":0123456789")
# Tokens after which '/' , '%', '<<' and '?' are operators, not the start of a literal.
_VALUE_END = {"num", "str", "sym"}


_ELEMENT = (
    r"(?::[A-Za-z_][A-Za-z0-9_]*(?![?!=]|" + NAME_CHAR + r")"
    r"|[0-9]+(?:\.[0-9]+)?(?![.]|" + NAME_CHAR + r"))"
)
_ELEMENTS_RE = re.compile(_ELEMENT + r"(?:," + _ELEMENT + r")*")
"""A run of plain note-array elements (``:C4,:Ds4,:r,60,0.5``) with nothing else between
them: the tokens the main loop would make, found by one match (a real piece's voice lines
are runs of hundreds; the main loop cost ~4 µs a token)."""
FAST_RUNS = True
"""Read such runs at once (``False``: token by token; the two must give the same tokens)."""


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` in order, comments included; never raises."""
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.tokens: list[Token] = []
        self.space = True
        self.pending_heredocs: list[tuple[str, bool]] = []

    # -- helpers -------------------------------------------------------------------------
    def emit(self, kind: TokenKind, start: int, end: int, value: str | None = None) -> None:
        self.tokens.append(
            Token(kind, start, end, self.text[start:end] if value is None else value, self.space)
        )
        self.space = False

    def read_elements(self) -> None:
        """A run of plain elements right after a ``,`` (:data:`_ELEMENTS_RE`), as the main
        loop reads them: ``:name`` a symbol (after a comma, never a label), a decimal a number,
        the commas operators, none with a space before it."""
        m = _ELEMENTS_RE.match(self.text, self.pos)
        if m is None:
            return
        pos, tokens = self.pos, self.tokens
        for element in m.group().split(","):
            end = pos + len(element)
            if element[0] == ":":
                tokens.append(Token("sym", pos, end, element[1:], False))
            else:
                tokens.append(Token("num", pos, end, element, False))
            tokens.append(Token("op", end, end + 1, ",", False))
            pos = end + 1
        tokens.pop()  # (the run ends with an element, not a comma)
        self.pos = m.end()
        self.space = False

    def prev_significant(self) -> Token | None:
        for tok in reversed(self.tokens):
            if tok.kind != "comment":
                return tok
        return None

    def value_before(self) -> bool:
        """Whether the previous token ends a value (so an operator may follow)."""
        prev = self.prev_significant()
        if prev is None or prev.kind == "nl":
            return False
        if prev.kind in _VALUE_END:
            return True
        if prev.kind == "ident":
            return prev.value not in _KEYWORDS_BEFORE_VALUE
        return prev.kind == "op" and prev.value in (")", "]", "}")

    def at_line_start(self, pos: int) -> bool:
        return pos == 0 or self.text[pos - 1] == "\n"

    # -- main loop -----------------------------------------------------------------------
    def run(self) -> list[Token]:
        text = self.text
        n = len(text)
        while self.pos < n:
            ch = text[self.pos]
            start = self.pos
            if ch == ",":  # the commonest token of a note array (no longer operator starts so)
                self.pos += 1
                self.emit("op", start, self.pos)
                if FAST_RUNS and self.pos < n and text[self.pos] in _RUN_STARTS:
                    self.read_elements()
                continue
            if ch == "\n":
                self.pos += 1
                self.emit("nl", start, self.pos)
                self.space = True
                if self.pending_heredocs:
                    self.read_heredoc_bodies()
                continue
            if ch in " \t\r\f\v":
                self.pos += 1
                self.space = True
                continue
            if ch == "\\" and text.startswith("\n", self.pos + 1):
                self.pos += 2  # line continuation
                self.space = True
                continue
            if (
                ch == "="
                and self.at_line_start(start)
                and text.startswith("=begin", start)
                and (len(text) == start + 6 or text[start + 6] in " \t\r\n")
            ):
                self.read_block_comment()
                continue
            if (
                ch == "_"
                and self.at_line_start(start)
                and text.startswith("__END__", start)
                and (text[start + 7 : start + 8] in ("", "\n", "\r"))
            ):
                self.emit("comment", start, n)
                self.pos = n
                continue
            if ch == "#":
                end = text.find("\n", start)
                end = n if end < 0 else end
                self.emit("comment", start, end)
                self.pos = end
                continue
            if ch == ";":
                self.pos += 1
                self.emit("nl", start, self.pos)
                continue
            if ch in "\"'`":
                self.read_string(ch, ch, interpolate=ch != "'")
                continue
            if ch == ":" and self.read_symbol():
                continue
            if "0" <= ch <= "9":
                m = _NUM_RE.match(text, start)
                assert m is not None
                self.pos = m.end()
                self.emit("num", start, self.pos)
                continue
            if ch == "%" and self.percent_literal_here(start):
                m = _PERCENT_RE.match(text, start)
                assert m is not None
                self.read_percent(m.end() - 1)
                continue
            if ch == "/" and not self.value_before():
                self.read_regex()
                continue
            if ch == "<" and text.startswith("<<", start):
                m = _HEREDOC_RE.match(text, start)
                if m is not None and (m.group(1) or m.group(2) or not self.value_before()):
                    self.pending_heredocs.append((m.group(3), bool(m.group(1))))
                    self.pos = m.end()
                    self.emit("str", start, self.pos, "")
                    continue
            if (
                ch == "?"
                and not self.value_before()
                and start + 1 < n
                and not (text[start + 1].isspace())
                and (start + 2 >= n or not (text[start + 2].isalnum() or text[start + 2] == "_"))
            ):
                self.pos = start + 2  # character literal ?a
                self.emit("str", start, self.pos, text[start + 1])
                continue
            if ch in "@$":
                m = _IDENT_RE.match(text, start + 1 + (text[start + 1 : start + 2] == "@"))
                self.pos = m.end() if m else start + 1
                self.emit("ident", start, self.pos)
                continue
            m = _IDENT_RE.match(text, start)
            if m is not None:
                end = m.end()
                # `foo?:` is a ternary, `a ?b :c` is rare: keep '?'/'!' only when not before '='.
                if (
                    text[end - 1] in "?!"
                    and text.startswith("=", end)
                    and not text.startswith("==", end)
                ):
                    end -= 1
                self.pos = end
                self.emit("ident", start, end)
                continue
            self.pos = start + 1
            for op in _OPS_BY_FIRST.get(ch, ()):
                if text.startswith(op, start):
                    self.pos = start + len(op)
                    break
            self.emit("op", start, self.pos)
        if self.pending_heredocs:
            self.pending_heredocs.clear()
        return self.tokens

    def percent_literal_here(self, start: int) -> bool:
        """``%w[a b]`` starts a literal where no value precedes, or after ``cmd %w[``."""
        if _PERCENT_RE.match(self.text, start) is None:
            return False
        if not self.value_before():
            return True
        return self.space and self.prev_ident_is_command()

    def read_regex(self) -> None:
        """``/.../`` literal; an unclosed one stops at the end of its line, not of the file."""
        start = self.pos
        line_end = self.text.find("\n", start)
        line_end = len(self.text) if line_end < 0 else line_end
        end, _, _ = self.scan_string(start + 1, "/", "/", interpolate=True)
        self.pos = min(end, line_end) if end > line_end else end
        self.emit("str", start, self.pos, "")

    def prev_ident_is_command(self) -> bool:
        """``puts /x/`` or ``foo %w[a]``: an identifier, a space, then a literal."""
        prev = self.prev_significant()
        return (
            prev is not None and prev.kind == "ident" and prev.value not in _KEYWORDS_BEFORE_VALUE
        )

    # -- literals ------------------------------------------------------------------------
    def read_block_comment(self) -> None:
        start = self.pos
        m = re.compile(r"^=end(?:[ \t\r].*)?$", re.M).search(self.text, start)
        end = len(self.text) if m is None else m.end()
        self.emit("comment", start, end)
        self.pos = end

    def read_symbol(self) -> bool:
        """``:name``, ``:"quoted"``, ``:+``; a label colon or ``::`` is an operator instead."""
        text, start = self.text, self.pos
        nxt = text[start + 1 : start + 2]
        if nxt == ":":
            return False
        prev = self.tokens[-1] if self.tokens else None
        # `sustain: 1`, `sustain:1`, `{a: 1}`: a label's colon touches its name.
        if (
            prev is not None
            and not self.space
            and prev.end == start
            and (prev.kind in ("ident", "str") or (prev.kind == "num"))
        ):
            return False
        if nxt in ('"', "'"):
            self.pos = start + 1
            end, value, plain = self.scan_string(start + 2, nxt, nxt, interpolate=nxt == '"')
            self.pos = end
            self.emit("sym", start, end, value if plain else "")
            return True
        m = _SYM_NAME_RE.match(text, start + 1)
        if m is None:
            # A lone ':' (being typed, or a ternary): a symbol with an empty name.
            self.pos = start + 1
            ternary = nxt in (" ", "\t")  # `a ? b : c`; `[:c4, :` at a line end is being typed
            if not ternary and (self.space or prev is None or prev.kind in ("op", "nl")):
                self.emit("sym", start, self.pos, "")
            else:
                self.emit("op", start, self.pos)
            return True
        end = m.end()
        name = text[start + 1 : end]
        if name.endswith("=") and (text.startswith(">", end) or text.startswith("=", end)):
            end -= 1  # `:a=>1`, `:a==b`
            name = name[:-1]
        self.pos = end
        self.emit("sym", start, end, name)
        return True

    def read_string(self, open_ch: str, close_ch: str, interpolate: bool) -> None:
        start = self.pos
        end, value, plain = self.scan_string(start + 1, open_ch, close_ch, interpolate)
        self.pos = end
        self.emit("str", start, end, value if plain else "")

    def read_percent(self, delim_pos: int) -> None:
        start = self.pos
        open_ch = self.text[delim_pos]
        close_ch = _CLOSERS.get(open_ch, open_ch)
        kind = self.text[start + 1 : delim_pos]
        interpolate = kind not in ("w", "i", "q", "s")
        end, value, plain = self.scan_string(delim_pos + 1, open_ch, close_ch, interpolate)
        self.pos = end
        self.emit("str", start, end, value if plain else "")

    def scan_string(
        self, pos: int, open_ch: str, close_ch: str, interpolate: bool
    ) -> tuple[int, str, bool]:
        """Scan to after the closing delimiter; returns (end, content, has_no_interpolation).

        Unclosed strings run to the end of the text, as Ruby reads them.
        """
        text, n = self.text, len(self.text)
        depth = 1
        plain = True
        chars: list[str] = []
        while pos < n:
            ch = text[pos]
            if ch == "\\" and pos + 1 < n:
                chars.append(text[pos + 1])
                pos += 2
                continue
            if interpolate and ch == "#" and text.startswith("{", pos + 1):
                plain = False
                pos = self.skip_interpolation(pos + 2)
                continue
            if ch == close_ch and open_ch != close_ch:
                depth -= 1
                if depth == 0:
                    return pos + 1, "".join(chars), plain
            elif ch == close_ch:
                return pos + 1, "".join(chars), plain
            elif ch == open_ch:
                depth += 1
            chars.append(ch)
            pos += 1
        return n, "".join(chars), plain

    def skip_interpolation(self, pos: int) -> int:
        """Skip Ruby code inside ``#{...}`` (nested braces and strings) to after its ``}``."""
        text, n = self.text, len(self.text)
        depth = 1
        while pos < n:
            ch = text[pos]
            if ch in "\"'":
                pos, _, _ = self.scan_string(pos + 1, ch, ch, interpolate=ch == '"')
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return pos + 1
            pos += 1
        return n

    def read_heredoc_bodies(self) -> None:
        """Heredoc bodies start on the line after ``<<~ID``; they are string, not code."""
        text, n = self.text, len(self.text)
        for ident, indented in self.pending_heredocs:
            start = self.pos
            pos = start
            while pos < n:
                end = text.find("\n", pos)
                line_end = n if end < 0 else end
                line = text[pos:line_end]
                if (line.strip() if indented else line.rstrip("\r")) == ident:
                    pos = line_end
                    break
                pos = n if end < 0 else end + 1
            self.pos = pos
            if pos > start:
                self.emit("str", start, pos, "")
        self.pending_heredocs.clear()


_KEYWORDS_BEFORE_VALUE = frozenset(
    {
        "if",
        "unless",
        "while",
        "until",
        "and",
        "or",
        "not",
        "return",
        "when",
        "case",
        "in",
        "then",
        "else",
        "elsif",
        "do",
        "puts",
        "print",
        "p",
        "yield",
        "begin",
    }
)
