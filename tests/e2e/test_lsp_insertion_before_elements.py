"""Insertions through the real server where something is already written after the cursor.

Before an element of an array, completion items and ghost text end with the file's separator
(and do not close the array); before the value of a ``play``/``sleep`` line an item replaces
that value whole and no ghost text is shown; an unclosed ring is closed with ``)``. Every edit
is applied as an editor applies it and the result is read back with the project's reader.
"""

from __future__ import annotations

from fixtures.lsp_editor import apply_text_edits
from lsprotocol import types
from notegen.sonicpi import read
from notegen.sonicpi.types import NoteArray

SONG = """\
use_bpm 70
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4]
b1[0]=[0.5,1,2]
in_thread do
  play_pattern_timed a1[0], b1[0]
end
"""
AFTER_FIRST_COMMA = (3, len("a1[0]=[:C4,"))

LOOP = "live_loop :a do\n  play :c4\n  sleep 0.5\n  play :d4\n  sleep 0.5\nend\n"


def accepted(text: str, item: types.InlineCompletionItem) -> str:
    assert isinstance(item.insert_text, str) and item.range is not None
    return apply_text_edits(text, [types.TextEdit(range=item.range, new_text=item.insert_text)])


def voice(text: str, name: str = "a1[0]") -> NoteArray:
    return next(a for a in read(text) if a.name == name)


def written(array: NoteArray) -> list[str]:
    assert all(n.error is None and not n.dynamic for n in array.notes), array.notes
    return [n.text for n in array.notes]


async def test_completion_after_a_comma_before_a_note_keeps_the_notes_apart(editor):
    uri = editor.open(SONG)
    await editor.diagnostics(uri)
    items = await editor.complete(uri, *AFTER_FIRST_COMMA, ",")
    assert items
    for item in items:
        assert isinstance(item.text_edit, types.TextEdit)
        notes = written(voice(apply_text_edits(SONG, [item.text_edit])))
        new = [n.strip() for n in item.label.split(",")]
        assert notes == [":C4", *new, ":D4", ":E4"]


async def test_ghost_text_before_the_first_note_keeps_the_notes_apart(editor):
    uri = editor.open(SONG)
    item = await editor.ghost_item(uri, 3, len("a1[0]=["))
    assert item is not None

    notes = written(voice(accepted(SONG, item)))

    assert notes[-3:] == [":C4", ":D4", ":E4"] and len(notes) > 3
    assert accepted(SONG, item).splitlines()[3].endswith(",:C4,:D4,:E4]")  # the file's ","


async def test_an_accepted_mid_array_ghost_and_its_command_keep_the_voice_whole(editor):
    uri = editor.open(SONG)
    await editor.diagnostics(uri)
    item = await editor.ghost_item(uri, *AFTER_FIRST_COMMA)
    assert item is not None and item.command is not None
    editor.change(uri, accepted(SONG, item))
    added = len(voice(editor.texts[uri]).notes) - 3

    outcome = await editor.command(item.command.command, *(item.command.arguments or []))

    assert outcome == {"applied": True, "added": added, "reason": ""}
    after = voice(editor.texts[uri])
    notes = written(after)
    assert after.durations is not None
    beats = [v.text for v in after.durations.values]
    assert len(notes) == len(beats) == 3 + added
    assert notes[0] == ":C4" and notes[-2:] == [":D4", ":E4"]
    assert beats[0] == "0.5" and beats[-2:] == ["1", "2"]
    assert beats[1:-2] == item.command.arguments[0]["durations"]


async def test_before_a_play_or_sleep_value_an_item_replaces_it_and_no_ghost_is_shown(editor):
    uri = editor.open(LOOP)
    for line, head in [(1, "  play "), (2, "  sleep ")]:
        items = await editor.complete(uri, line, len(head))
        assert items
        for item in items:
            assert isinstance(item.text_edit, types.TextEdit)
            assert apply_text_edits(LOOP, [item.text_edit]).splitlines()[line] == head + item.label
        assert await editor.ghost_item(uri, line, len(head)) is None


async def test_ghost_text_closes_an_unclosed_ring_with_a_parenthesis(editor):
    text = "use_bpm 70\nmel = (ring :c4, :d4, "
    uri = editor.open(text)
    item = await editor.ghost_item(uri, 1, len("mel = (ring :c4, :d4, "))
    assert item is not None
    assert isinstance(item.insert_text, str) and item.insert_text.endswith(")")

    ring = voice(accepted(text, item), "mel")

    assert ring.kind == "ring" and ring.closed
    assert written(ring)[:2] == [":c4", ":d4"] and len(ring.notes) > 2
