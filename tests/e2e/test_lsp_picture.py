"""The melody's picture through the real server: hover on a note array, generate/continue previews.

Checked by what the picture shows (its bars), not by pixels: one strong bar per note of the
hovered voice, the cursor's note marked, the other voice's notes faint.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from fixtures.lsp_editor import Editor, server_command, start_editor
from lsprotocol import types
from notegen.lsp.pianoroll import ADDED, CURSOR, FOCUS, OTHER
from notegen.sonicpi import read

SONG = """\
use_bpm 90
a1=[]
b1=[]
a1[0]=[:C4, :D4, :E4, :r, :G4]
b1[0]=[1,1,1,1,2]
a2=[]
b2=[]
a2[0]=[:C3,:G3,:C3]
b2[0]=[2,2,2]
"""
NS = "{http://www.w3.org/2000/svg}"


@pytest_asyncio.fixture
async def pictured(tiny_model: Path) -> AsyncIterator[Editor]:
    client, ed = await start_editor(server_command(tiny_model), {"pianoRoll": True})
    yield ed
    await client.shutdown_session()
    await client.stop()


def fills(svg: str) -> list[str]:
    return [r.get("fill") for r in ET.fromstring(svg).iter(f"{NS}rect")]


async def hover(editor: Editor, uri: str, line: int, character: int) -> types.Hover | None:
    return await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
    )


def svg_of(markdown: str) -> str:
    found = re.search(r"!\[piano roll\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, markdown[:300]
    return base64.b64decode(found.group(1)).decode()


async def test_hover_on_a_note_shows_the_voice_with_that_note_marked(pictured: Editor):
    uri = pictured.open(SONG)
    h = await hover(pictured, uri, 3, len("a1[0]=[:C4, :D4, :E"))
    assert h is not None
    assert "**:E4** — MIDI 64" in h.contents.value  # the facts stay, the picture comes below
    drawn = fills(svg_of(h.contents.value))
    assert drawn.count(CURSOR) == 1  # :E4
    assert drawn.count(FOCUS) == 3  # :C4, :D4, :G4 (the rest is a gap)
    assert drawn.count(OTHER) == 3  # voice 2, faint


async def test_hover_between_notes_still_pictures_the_array(pictured: Editor):
    uri = pictured.open(SONG)
    h = await hover(pictured, uri, 3, len("a1[0]=[:C4,"))
    drawn = fills(svg_of(h.contents.value))
    assert drawn.count(CURSOR) + drawn.count(FOCUS) == 4


async def test_no_picture_unless_the_client_asks_for_one(editor: Editor):
    uri = editor.open(SONG)
    h = await hover(editor, uri, 3, len("a1[0]=[:C4, :D4, :E"))
    assert h is not None and "data:image" not in h.contents.value
    assert await hover(editor, uri, 3, len("a1[0]=[:C4,")) is None


async def test_a_generate_preview_pictures_the_block_and_changes_nothing(pictured: Editor):
    uri = pictured.open(SONG)
    result = await pictured.command(
        "notegen.generateMelody",
        {"uri": uri, "length": 12, "seed": 5, "preview": True},
    )
    assert pictured.texts[uri] == SONG and pictured.versions[uri] == 1
    block = [a for a in read(result["text"]) if a.kind == "voice" and a.voice == 3]
    sounding = sum(1 for a in block for n in a.notes if n.midi is not None)
    drawn = fills(result["svg"])
    assert drawn.count(ADDED) == sounding and drawn.count(OTHER) == 3 + 4
    assert result["picture"].startswith("data:image/svg+xml;base64,")

    applied = await pictured.command(
        "notegen.generateMelody", {"uri": uri, "length": 12, "seed": 5}
    )
    assert applied["applied"] and result["text"].strip() in pictured.texts[uri]
    lines = pictured.texts[uri].split("\n")
    assert lines[applied["startLine"]].strip(), "startLine points at the block"
    assert applied["endLine"] - applied["startLine"] == result["text"].strip().count("\n")


async def test_a_continue_preview_shows_the_new_notes_after_the_old(pictured: Editor):
    uri = pictured.open(SONG)
    result = await pictured.command(
        "notegen.continueMelody",
        {"uri": uri, "position": {"line": 3, "character": 8}, "count": 6, "preview": True},
    )
    assert pictured.texts[uri] == SONG
    drawn = fills(result["svg"])
    assert drawn.count(FOCUS) == 4 and result["notes"] == 6
    assert 0 < drawn.count(ADDED) <= 6  # rests are gaps
