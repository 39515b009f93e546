"""Many changes of one didChange go in together, and give the text that splicing them in one
by one gives: the same lines (``\\n``, ``\\r\\n``, a lone ``\\r``), the same clamping, the same
UTF-16 columns."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types
from notegen.lsp.protocol import NotegenProtocol, _splice
from notegen.lsp.text_changes import MANY_CHANGES, apply_changes, split_lines
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


@given(TEXTS, st.lists(CHANGES, min_size=1, max_size=30))
def test_changes_applied_together_give_what_splicing_each_gives(text, changes):
    together, done = apply_changes(text, changes)
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
