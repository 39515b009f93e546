"""A missing or corrupt model, bad settings, odd text: the server says so and keeps working."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from fixtures.lsp_editor import server_command, start_editor
from lsprotocol import types

SONG = """\
a1=[]
b1=[]
a1[0]=[:C4,:H4,:E4]
b1[0]=[1,1,1]
"""


async def wait_for(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError
        await asyncio.sleep(0.05)


CARD = (
    '{"pitch_vocab": ["<bos>", "rest", 60, 62], "duration_vocab": ["<bos>", 1.0],'
    ' "state": {"layers": 1, "units": 4}}'
)
EXPECTED = {
    "missing": "not found",
    "corrupt": "not a valid ONNX model",
    "fifo": "is a FIFO, not a regular file",  # opening it would block for ever
    "device": "is a device, not a regular file",  # /dev/zero: read until memory runs out
}


@pytest.mark.parametrize("kind", list(EXPECTED))
async def test_bad_model_is_reported_and_the_rest_keeps_working(tmp_path: Path, kind: str):
    model = tmp_path / "broken.onnx"
    if kind == "corrupt":
        model.write_bytes(b"this is not an onnx graph")
        model.with_suffix(".json").write_text(CARD)
    elif kind == "fifo":
        os.mkfifo(model.with_suffix(".json"))
    elif kind == "device":
        model.symlink_to("/dev/zero")
        model.with_suffix(".json").write_text(CARD)
    client, editor = await start_editor(server_command(model))
    try:
        await wait_for(lambda: client.messages)
        message = client.messages[0]
        assert message.type == types.MessageType.Error
        named = model.with_suffix(".json") if kind in ("missing", "fifo") else model
        assert str(named) in message.message
        assert EXPECTED[kind] in message.message
        uri = editor.open(SONG)
        diags = await editor.diagnostics(uri)
        assert [d.code for d in diags] == ["invalid-note"]
        hover = await client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(2, 8))
        )
        assert "MIDI 60" in hover.contents.value and "Model unavailable" in hover.contents.value
        assert await editor.complete(uri, 2, 10, ",") == []
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_bad_settings_are_reported_and_replaced(tiny_model: Path):
    client, editor = await start_editor(
        server_command(tiny_model), {"maxItems": 3, "temperature": "hot", "topP": 7}
    )
    try:
        await wait_for(lambda: len(client.messages) >= 2)
        text = " ".join(m.message for m in client.messages)
        assert "notegen.temperature" in text and "notegen.topP" in text
        uri = editor.open("a1=[]\na1[0]=[:C4,:E4]\n")
        items = await editor.complete(uri, 1, 14, ",")
        assert len([i for i in items if i.kind == types.CompletionItemKind.Value]) == 3
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"notegen": {"maxItems": 5}})
        )
        items = await editor.complete(uri, 1, 14, ",")
        assert len([i for i in items if i.kind == types.CompletionItemKind.Value]) == 5
    finally:
        await client.shutdown_session()
        await client.stop()


ODD_TEXTS = [
    "",
    "[",
    "a1[0]=[",
    "a1[0]=[:C4,,,:",
    'a1[0]=[:c4, "#{',
    "a1[0]=[:😀4, :C4\r\n:D4]",
    "=begin\na1[0]=[:C4\n=end\n",
    "a" * 5000 + "[" * 300 + "]" * 10,
    "a1[0]=[:C4]\u2028a1[1]=[:D4, :E99999999999, 1e400, -7]",
    "\x00\x01\x02 a1[0] = [ :C4 , ( ring :D4 , :E4 ) ]",
]


async def test_never_dies_on_odd_text(editor):
    for n, text in enumerate(ODD_TEXTS):
        uri = editor.open(text, f"odd{n}.rb")
        lines = text.split("\n")
        for line in range(len(lines)):
            for character in range(0, len(lines[line]) + 2, max(1, len(lines[line]) // 7)):
                await editor.complete(uri, line, character, ",")
                await editor.client.text_document_hover_async(
                    types.HoverParams(
                        types.TextDocumentIdentifier(uri), types.Position(line, character)
                    )
                )
    # still alive and useful
    uri = editor.open("a1=[]\na1[0]=[:C4,:E4]\n", "alive.rb")
    assert await editor.complete(uri, 1, 14, ",")
