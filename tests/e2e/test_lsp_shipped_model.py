"""The same end-to-end path with the shipped model (models/notegen.json, committed)."""

from __future__ import annotations

from pathlib import Path

from fixtures.lsp_editor import server_command, start_editor
from lsprotocol import types
from notegen.sonicpi import read

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
SONG = "a1=[]\nb1=[]\na1[0]=[:E4,:D4,:C4,:D4,:E4,:E4,:E4]\nb1[0]=[1,1,1,1,1,1,2]\n"


async def test_shipped_model_completes_and_generates():
    client, editor = await start_editor(server_command(SHIPPED))
    try:
        uri = editor.open(SONG)
        col = SONG.splitlines()[2].rindex("]")
        items = await editor.complete(uri, 2, col, ",")
        notes = [i for i in items if i.kind == types.CompletionItemKind.Value]
        assert len(notes) == 12 and not client.messages  # loaded, no error shown
        result = await editor.command(
            "notegen.generateMelody", {"uri": uri, "length": 64, "seed": 7, "bpm": 100}
        )
        assert result["applied"] and result["voice"] == 2
        voice2 = [a for a in read(editor.texts[uri]) if a.voice == 2 and a.kind == "voice"]
        assert sum(len(a.notes) for a in voice2) == 64
        assert all(t.error is None for a in voice2 for t in a.notes)
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_a_melody_beside_a_voice_of_one_note_is_generated():
    """The rhythm experts' index of the other voices had no position with a follower:
    IndexError (-32603, with a traceback) for every generateMelody in the document."""
    client, editor = await start_editor(server_command(SHIPPED))
    try:
        uri = editor.open("a1=[]\nb1=[]\na1[0]=[500]\nb1[0]=[1]\n")
        for preview in (True, False):
            args = {"uri": uri, "length": 4, "seed": 1, "preview": preview}
            result = await editor.command("notegen.generateMelody", args)
            assert result["notes"] == 4
    finally:
        await client.shutdown_session()
        await client.stop()
