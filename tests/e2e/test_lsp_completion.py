"""Completion through the real server: notes inside arrays, nothing outside."""

from __future__ import annotations

import re

from lsprotocol import types

SONG = """\
use_synth :piano
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:F4,:G4]
b1[0]=[0.5,0.5,0.5,0.5,1]
puts "hello"
"""

NOTE = re.compile(r"\A(:[A-G][sb]?-?\d+|:r)\Z")


async def test_note_items_inside_an_array(editor):
    uri = editor.open(SONG)
    line = 3
    col = SONG.splitlines()[line].rindex("]")
    items = await editor.complete(uri, line, col, ",")
    notes = [i for i in items if i.kind == types.CompletionItemKind.Value]
    assert notes, "expected note suggestions inside a1[0]"
    assert all(NOTE.match(i.label) for i in notes), [i.label for i in notes]
    # ranked: sortText follows probability
    probs = [float(i.detail.split("%")[0]) for i in notes]
    assert probs == sorted(probs, reverse=True)
    assert [i.sort_text for i in notes] == sorted(i.sort_text for i in notes)
    # after :G4 a new note needs a leading comma, written as this file writes them
    assert all(i.text_edit.new_text.startswith(",:") for i in notes)


async def test_nothing_outside_note_arrays(editor):
    uri = editor.open(SONG)
    assert await editor.complete(uri, 0, 5) == []
    assert await editor.complete(uri, 5, 7) == []
    assert await editor.complete(uri, 4, 8, ",") == []  # a duration array is not a note array
