"""Positions through the real server: UTF-16 columns and LSP's line breaks, whatever the text.

An editor and the server must agree on where every position is. LSP lines end at ``\\n``,
``\\r\\n`` or a lone ``\\r`` only, and columns count UTF-16 code units unless both sides agree
on another encoding; the server agrees to UTF-16 alone (every client supports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import SERVER, rpc
from lsprotocol import types
from notegen.sonicpi import read

NON_ASCII = 'a1=[]\nb1=[]\nputs "é🎵"; a1[0]=[:C4,:E4,:G4]\nb1[0]=[1,1,1]\n'
"""``:E4`` is at code points 22-25 of line 2, UTF-16 columns 23-26 (the emoji is two units)."""


@pytest.mark.parametrize("offered", [["utf-8"], ["utf-32"], ["utf-8", "utf-32"], ["utf-16"]])
def test_the_server_answers_in_utf16_whatever_the_client_offers(
    tiny_model: Path, tmp_path: Path, offered: list[str]
) -> None:
    client = rpc.RpcClient(
        [str(SERVER), "--model", str(tiny_model)], cwd=tmp_path, stderr_path=tmp_path / "log"
    )
    try:
        capabilities: dict[str, Any] = {
            "textDocument": {"hover": {"contentFormat": ["markdown"]}},
            "general": {"positionEncodings": offered},
        }
        result = client.initialize(tmp_path, initialization_options={}, capabilities=capabilities)
        assert result["capabilities"]["positionEncoding"] == "utf-16"
        uri = (tmp_path / "song.rb").as_uri()
        client.did_open(uri, NON_ASCII)
        hover = client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 24}},
            timeout=10,
        )
        assert hover["contents"]["value"].startswith("**:E4**")
        assert hover["range"] == {
            "start": {"line": 2, "character": 23},
            "end": {"line": 2, "character": 26},
        }
    finally:
        client.close()


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x85"])
async def test_an_edit_after_a_character_that_is_no_line_break_lands_where_the_editor_has_it(
    editor: Any, separator: str
) -> None:
    text = f"# melody é{separator}by me\na1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4]\nb1[0]=[1,1,1]\n"
    uri = editor.open(text)
    editor.insert(uri, 3, 7, ":D4,")  # a1[0]=[:D4,:C4,:E4,:G4]
    editor.insert(uri, 4, 7, "2,")  # b1[0]=[2,1,1,1]
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(3, 8))
    )
    assert hover is not None and "**:D4**" in hover.contents.value
    result = await editor.command(
        "notegen.continueMelody",
        {"uri": uri, "position": {"line": 3, "character": 12}, "count": 2, "seed": 1},
    )
    assert result["applied"] is True and result["notes"] == 2
    (array,) = [a for a in read(editor.texts[uri]) if a.voice == 1 and a.kind == "voice"]
    assert [t.text for t in array.notes[:4]] == [":D4", ":C4", ":E4", ":G4"]
    assert len(array.notes) == 6 and len(array.durations.values) == 6
    assert [t.text for t in array.durations.values[:4]] == ["2", "1", "1", "1"]
    assert editor.texts[uri].startswith(f"# melody é{separator}by me\n")


def test_a_generation_for_a_closed_document_never_lands_in_its_reopened_text(
    song_server: Any, tmp_path: Path
) -> None:
    """Editors number versions afresh on every open: the file opened again is at version 1
    again. A generation computed for the old text must not be applied to the new one."""
    client = song_server
    uri = (tmp_path / "song.rb").as_uri()
    pending = client.send(
        "workspace/executeCommand",
        {
            "command": "notegen.generateMelody",
            "arguments": [{"uri": uri, "length": 3000, "position": {"line": 3, "character": 0}}],
        },
    )
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    reopened = "live_loop :melody do\n  play :e4\n  sleep 0.5\nend\n"
    client.did_open(uri, reopened, version=1)  # (the command's work has barely begun)
    with pytest.raises(rpc.RpcError) as caught:
        pending.wait(120)
    assert caught.value.error["code"] == -32801  # ContentModified
    assert client.applied_edits == []
    hover = client.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}},
        timeout=10,
    )
    assert hover is not None and "MIDI 64" in hover["contents"]["value"]
