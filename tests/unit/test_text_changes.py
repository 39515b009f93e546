"""Many changes of one didChange go in together, and give the text that splicing them in one
by one gives: the same lines (``\\n``, ``\\r\\n``, a lone ``\\r``), the same clamping, the same
UTF-16 columns. A long line is held in pieces while changes inside it go in, and a change
rewrites only the pieces it touches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types
from notegen.lsp.protocol import NotegenProtocol, _splice
from notegen.lsp.text_changes import MANY_CHANGES, PIECE, _Pieces, apply_changes, split_lines
from notegen.sonicpi.types import LINE_BREAK, line_starts
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

CHARACTERS = st.sampled_from(["a", ":", "C", "4", ",", " ", "\n", "\r", "\r\n", "é", "😀"])
TEXTS = st.lists(CHARACTERS, max_size=40).map("".join)


def change(line: int, character: int, end_line: int, end_character: int, text: str) -> Any:
    return types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(line, character), types.Position(end_line, end_character)),
        text=text,
    )


CHANGES = st.builds(
    change,
    st.integers(0, 8),
    st.integers(0, 12),
    st.integers(0, 8),
    st.integers(0, 12),
    st.lists(CHARACTERS, max_size=6).map("".join),
)


def one_by_one(text: str, changes: list[Any]) -> str:
    doc = TextDocument("file:///t.rb", text)
    for each in changes:
        assert _splice(doc, each)
    return doc.source


@given(TEXTS, st.lists(CHANGES, min_size=1, max_size=30), st.sampled_from([PIECE, 1, 3]))
def test_changes_applied_together_give_what_splicing_each_gives(text, changes, piece):
    # (pieces of 1 or 3 characters: every line of these short texts is a long one)
    together, done = apply_changes(text, changes, piece)
    remembered = line_starts(together)
    assert remembered == [0, *(m.end() for m in LINE_BREAK.finditer(together))]
    assert together == one_by_one(text, changes[:done])
    if done < len(changes):  # it stops at the first change that is pygls' to apply
        doc = TextDocument("file:///t.rb", together)
        assert not _splice(doc, changes[done])


def test_a_lone_carriage_return_meeting_a_line_feed_makes_one_line_break():
    # "y" deleted: the "\r" that ended line 0 and the "\n" that ended line 1 are now one
    # break, so the next change's line 1 is the empty last line
    changes = [change(1, 0, 1, 1, ""), change(1, 0, 1, 0, "z")]
    assert apply_changes("x\ry\n", changes) == ("x\r\nz", 2)
    assert split_lines("x\r\nz") == ["x\r\n", "z"]


def test_a_column_counts_utf16_units_and_a_position_past_the_end_is_the_end():
    text = "a1[0]=[:C4, 😀, :E4]\n"
    after_emoji = len("a1[0]=[:C4, ") + 2  # (the emoji is two UTF-16 units)
    changes = [change(0, after_emoji, 0, after_emoji, "!"), change(9, 0, 9, 0, "# end")]
    assert apply_changes(text, changes) == ("a1[0]=[:C4, 😀!, :E4]\n# end", 2)


def test_a_change_inside_a_long_line_rewrites_only_the_pieces_it_touches():
    line = _Pieces("a1[0]=[" + ":C4," * 40 + ":E4]\r\n", size=16)
    before = list(line.pieces)
    at = len("a1[0]=[") + 4 * 20  # the 21st note, in the sixth piece
    line.replace(at, at + 3, ":G5")
    assert line.text() == "a1[0]=[" + ":C4," * 20 + ":G5," + ":C4," * 19 + ":E4]\r\n"
    changed = [k for k, piece in enumerate(line.pieces) if piece is not before[k]]
    assert changed == [5] and len(line.pieces) == len(before)


def test_a_column_in_a_long_line_counts_utf16_units_across_its_pieces():
    line = _Pieces("😀" * 10 + "é" * 10 + "\n", size=4)
    line.replace(2 * 6, 2 * 10 + 2, "x")  # after six emoji, up to the second é
    assert line.text() == "😀" * 6 + "x" + "é" * 8 + "\n"
    line.replace(99, 99, "!")  # past the end: the end of the line, before its break
    assert line.text() == "😀" * 6 + "x" + "é" * 8 + "!\n"


def test_many_changes_inside_a_five_megabyte_line_go_in_piece_by_piece():
    """A multi-cursor edit of 1,000 notes in a 5 MB one-line array: each change copied the
    whole line (13 s, the server reading no message meanwhile)."""
    text = "a1[0]=[" + ":C4," * 1_250_000 + "]\n"
    at = [len("a1[0]=[") + 4 * k * 1000 for k in range(1000)]
    changes = [change(0, c, 0, c + 3, ":D4") for c in reversed(at)]
    together, done = apply_changes(text, changes)
    assert done == 1000 and together == one_by_one_string(text, at)


def one_by_one_string(text: str, at: list[int]) -> str:
    chars = list(text)
    for c in at:
        chars[c : c + 3] = ":D4"
    return "".join(chars)


class Discard:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def test_many_changes_in_one_message_reach_the_document_through_the_protocol():
    """A multi-cursor edit: a note typed at the start of each of 40 arrays in one message."""
    server = LanguageServer("test", "0", protocol_cls=NotegenProtocol)
    protocol = server.protocol
    protocol.set_writer(Discard())
    lines = [f"a1[{k}]=[:C4, :E4]" for k in range(40)]

    def receive(message: dict[str, Any]) -> None:
        protocol.receive_body(json.dumps({"jsonrpc": "2.0", **message}).encode())

    async def run() -> str:
        params = {"processId": None, "rootUri": None, "capabilities": {}}
        receive({"id": 0, "method": "initialize", "params": params})
        receive({"method": "initialized", "params": {}})
        uri = "file:///t.rb"
        opened = {"uri": uri, "languageId": "ruby", "version": 1, "text": "\n".join(lines)}
        receive({"method": "textDocument/didOpen", "params": {"textDocument": opened}})
        at = len("a1[0]=[")
        edits = [
            {
                "range": {
                    "start": {"line": k, "character": at + (k >= 10)},
                    "end": {"line": k, "character": at + (k >= 10)},
                },
                "text": ":G4, ",
            }
            for k in range(40)
        ]
        assert len(edits) >= MANY_CHANGES
        receive(
            {
                "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": 2}, "contentChanges": edits},
            }
        )
        await asyncio.sleep(0)
        return server.workspace.get_text_document(uri).source

    text = asyncio.run(run())
    assert text == "\n".join(line.replace("=[", "=[:G4, ") for line in lines)
