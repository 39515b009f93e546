"""Where a text's comments and strings lie (``Quoted``): no note context there.

Kept from the parse a view makes once per version, it answers for later cursors without
reading the text again; it must answer as the parse's tokens do.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from notegen.sonicpi.lexer import Token
from notegen.sonicpi.quoted import Quoted
from notegen.sonicpi.reader import parse, read_with_quoted

TEXT = """\
a1=[:C4,:E4] # [:G4]
x = "a #{:C4} b"
y = :"c4"
z = <<~EOS
  :D4
EOS
=begin
play :e4
=end
play :e4
"""


def held(text: str) -> str:
    """The text with every offset a ``Quoted`` holds shown as ``^`` (newlines kept)."""
    quoted = read_with_quoted(text)[1]
    return "".join(
        ("^" if quoted.holds(k) else " ") if ch != "\n" else "\n" for k, ch in enumerate(text)
    )


def test_comments_strings_and_quoted_symbols_hold_their_insides() -> None:
    assert held(TEXT).split("\n") == [
        "              ^^^^^^",  # a comment: after its "#", to its end
        "     ^^^^^^^^^^^",  # a string, interpolation and all, up to its closing quote
        "     ^^^^",  # a quoted symbol
        "     ^^^^^",  # a heredoc's opening word...
        " ^^^^",  # ... its body ...
        "^^^",  # ... and the word that ends it
        " ^^^^^",  # =begin ... =end
        "^^^^^^^^",
        "^^^^",
        "        ",  # code
        "",
    ]


def reference(tokens: list[Token], text: str, offset: int) -> bool:
    """The walk over every token that the cursor context made before ``Quoted``: its
    answers are the specification."""
    for tok in tokens:
        if tok.start >= offset:
            break
        if tok.kind == "comment" and offset <= tok.end:
            return True
        if tok.kind == "str" and offset < tok.end:
            return True
        quoted_sym = tok.kind == "sym" and text[tok.start + 1 : tok.start + 2] in ("'", '"')
        if quoted_sym and offset < tok.end:
            return True
    return False


PIECES = [
    "play :e4",
    "sleep 0.5",
    "# note [:C4]",
    '"a #{b} c"',
    "'q'",
    ':"s4"',
    ":'t'",
    "x = <<~EOS\n  body #{y}\nEOS",
    "=begin\n:C4\n=end",
    "%w[a b]",
    "[:C4, :r]",
    '"open',
    "#",
    "\n",
    "\r\n",
    "\r",
    " ",
    "é",
    "😀",
    "__END__\nrest",
]


@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_it_answers_as_the_tokens_do_at_every_offset(pieces: list[str]) -> None:
    text = "".join(pieces)
    doc = parse(text)
    quoted = Quoted(doc.tokens, doc.text)
    for offset in range(len(text) + 2):
        assert quoted.holds(offset) == reference(doc.tokens, doc.text, offset), offset


@pytest.mark.parametrize("offset", [0, 1, 5, 100])
def test_no_tokens_hold_nothing(offset: int) -> None:
    assert not Quoted((), "").holds(offset)
