"""A ``ruby`` document with lone-CR line endings is served as the same text with ``\\n`` is.

Which ``.rb`` files are Sonic Pi is decided from their text (notegen.lsp.coexistence); a lone
CR ends a line for LSP and for the server's reader, but recognition only started lines after
``\\n``: a lone-CR piece whose first line was a comment got no diagnostics, hover or completion.
"""

from __future__ import annotations

import pytest
from lsprotocol import types

LINES = ["# my tune", "a1=[]", "b1=[]", "a1[0]=[:C4,:H4,:E4,", "b1[0]=[1,-1,1]", ""]
ON_C4 = (3, len("a1[0]=[:C"))
AFTER_LAST_COMMA = (3, len("a1[0]=[:C4,:H4,:E4,"))


async def served(editor, newline: str) -> tuple[list[tuple], str, list[str]]:
    """Diagnostics (code, message, range), hover on ``:C4``, completion labels after the comma
    (the notes and phrases)."""
    uri = editor.open(newline.join(LINES), f"song{len(newline)}{ord(newline[0])}.rb", "ruby")
    diagnostics = await editor.diagnostics(uri)
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(*ON_C4))
    )
    assert hover is not None, f"no hover with {newline!r} line endings"
    items = await editor.complete_with_phrases(uri, *AFTER_LAST_COMMA, ",")
    found = [(d.code, d.message, d.range.start, d.range.end) for d in diagnostics]
    return found, hover.contents.value, [i.label for i in items]


@pytest.mark.parametrize("newline", ["\r", "\r\n"], ids=["CR", "CRLF"])
async def test_a_piece_is_served_the_same_whatever_its_line_endings(editor, newline):
    diagnostics, hover, labels = await served(editor, newline)
    expected_diagnostics, expected_hover, expected_labels = await served(editor, "\n")

    codes = {code for code, *_ in diagnostics}
    assert {"invalid-note", "negative-duration"} <= codes, diagnostics
    assert diagnostics == expected_diagnostics
    assert "MIDI 60" in hover and hover == expected_hover
    assert labels and labels == expected_labels
