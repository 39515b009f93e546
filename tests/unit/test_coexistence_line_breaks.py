"""Recognising Sonic Pi counts lines as LSP does: they end at ``\\n``, ``\\r\\n`` or a lone
``\\r``, and at nothing else.

A lone-CR document (an old Mac editor's) whose first line was a comment was taken for other
Ruby: the sign lines were searched with ``^`` in MULTILINE mode, which starts a line only
after ``\\n``. U+2028, U+0085, form feed and the like are not LSP line breaks: the server
puts no line there, so neither does recognition.
"""

from __future__ import annotations

import pytest
from notegen.sonicpi.recognise import looks_like_sonic_pi

LINES = ["# my tune", "a1=[]", "b1=[]", "a1[0]=[:C4,:H4,:E4,", "b1[0]=[1,-1,1]", ""]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_a_sign_line_after_a_comment_counts_at_every_lsp_line_ending(newline: str) -> None:
    assert looks_like_sonic_pi(newline.join(LINES), "ruby")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize(
    "line", ["live_loop :drums do", "  play :c4", "use_bpm 120", "sample :bd_haus"]
)
def test_any_sign_line_counts_after_a_lone_cr(newline: str, line: str) -> None:
    assert looks_like_sonic_pi(f"# a piece{newline}{line}{newline}")


@pytest.mark.parametrize(
    "separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c"], ids=repr
)
def test_other_unicode_line_separators_do_not_start_a_line(separator: str) -> None:
    """Mid-line, after a comment's ``#``, these signs are comment text, as the server reads."""
    assert not looks_like_sonic_pi(f"# my tune{separator}a1[0]=[:C4,:E4]{separator}play :c4\n")


def test_a_comment_ends_at_a_lone_cr_for_a_statement_after_a_semicolon() -> None:
    """The ``;`` rule looks for a ``#`` on the statement's own line: a lone CR ends the one
    before it, so its comment does not hide the statement."""
    assert looks_like_sonic_pi("# my tune\rx = 1; play :c4\r")
    assert not looks_like_sonic_pi("x = 1 # later\r# slow; play :c4 later\r")
