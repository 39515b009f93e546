"""Small things a newcomer meets first: a generated block in an empty buffer, "1 beat"."""

from __future__ import annotations

import re

import pytest
from notegen.sonicpi import read

SONG = """\
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:F4,:G4,:A4,:G4,:F4]
b1[0]=[1,1,1,1,0.5,0.5,1,2]
c1=[70]
"""


@pytest.mark.parametrize(
    ("empty", "line"),
    [("", 0), ("\n", 0), ("\n", 1), ("\n\n\n", 2)],  # Neovim sends an empty buffer as "\n"
)
async def test_a_block_generated_into_an_empty_buffer_starts_on_the_first_line(
    editor, empty: str, line: int
):
    uri = editor.open(empty, "empty.rb")
    await editor.command(
        "notegen.generateMelody",
        {"uri": uri, "position": {"line": line, "character": 0}, "length": 8, "seed": 3},
    )
    text = editor.texts[uri]
    assert text.split("\n", 1)[0].strip(), f"the block starts with a blank line:\n{text!r}"
    assert next(a.voice for a in read(text) if a.kind == "voice") == 1


async def test_details_say_1_beat_and_2_beats(editor):
    uri = editor.open(SONG)
    items = await editor.complete(uri, 2, len("a1[0]=[:C4,"), ",")
    notes = [i for i in items if "," not in i.label]
    assert notes
    for item in notes:
        amount = re.search(r"· ([\d.]+) (beats?)$", item.detail or "")
        assert amount, item.detail
        assert (amount.group(2) == "beat") == (amount.group(1) == "1"), item.detail
        assert re.search(r"suggests [\d.]+ beats? for it", str(item.documentation))
