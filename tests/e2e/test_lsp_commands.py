"""generateMelody / continueMelody through the real server: applied edits, bad arguments."""

from __future__ import annotations

import pytest
from notegen.model.sampling import scale_pitch_classes
from notegen.notes import note_to_midi
from notegen.sonicpi import read
from pygls.exceptions import JsonRpcException

SONG = """\
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:F4]
b1[0]=[0.5,0.5,1,1]
c1=[70]
"""


def voice_arrays(text: str, voice: int):
    return [a for a in read(text) if a.voice == voice and a.kind == "voice"]


async def test_generate_inserts_a_block_that_reads_back(editor):
    uri = editor.open(SONG)
    result = await editor.command(
        "notegen.generateMelody",
        {
            "uri": uri,
            "position": {"line": 5, "character": 0},
            "length": 40,
            "seed": 11,
            "key": ":a",
            "scale": ":minor_pentatonic",
            "bpm": 96,
        },
    )
    assert result["applied"] is True
    assert result["voice"] == 2 and result["notes"] == 40
    text = editor.texts[uri]
    assert text.startswith(SONG)  # inserted after the existing code, nothing else touched
    arrays = voice_arrays(text, 2)
    notes = [tok for a in arrays for tok in a.notes]
    assert len(notes) == 40
    assert all(tok.error is None for tok in notes)
    allowed = scale_pitch_classes(9, "minor_pentatonic")
    assert all(tok.midi is None or tok.midi % 12 in allowed for tok in notes)
    for a in arrays:  # every section has as many durations as notes, all positive
        assert a.durations is not None
        assert len(a.durations.values) == len(a.notes)
        assert all(v.value and v.value > 0 for v in a.durations.values)
        assert a.bpm == 96
    assert "in_thread do" in text[len(SONG) :]
    # the edit named the version it was computed from
    change = editor.applied[-1].edit.document_changes[0]
    assert change.text_document.version == 1


async def test_same_seed_same_block(editor):
    first = editor.open(SONG, "one.rb")
    second = editor.open(SONG, "two.rb")
    for uri in (first, second):
        await editor.command("notegen.generateMelody", {"uri": uri, "length": 24, "seed": 5})
    assert editor.texts[first] == editor.texts[second]
    third = editor.open(SONG, "three.rb")
    await editor.command("notegen.generateMelody", {"uri": third, "length": 24, "seed": 6})
    assert editor.texts[third] != editor.texts[first]


async def test_continue_appends_notes_and_durations(editor):
    uri = editor.open(SONG)
    result = await editor.command(
        "notegen.continueMelody",
        {"uri": uri, "position": {"line": 2, "character": 10}, "count": 6, "seed": 2},
    )
    assert result["applied"] is True and result["notes"] == 6
    (array,) = voice_arrays(editor.texts[uri], 1)
    assert [t.text for t in array.notes[:4]] == [":C4", ":D4", ":E4", ":F4"]
    assert len(array.notes) == 10
    assert len(array.durations.values) == 10
    assert all(t.error is None for t in array.notes)


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        ({"length": 0}, "length"),
        ({"length": "many"}, "length"),
        ({"temperature": -1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"scale": ":majestic"}, "scale"),
        ({"key": ":h"}, "key"),
        ({"bpm": -5}, "bpm"),
        ({"seed_notes": [":c4", ":x9"]}, "seed_notes[1]"),
        ({"position": {"line": -1, "character": 0}}, "position.line"),
        ({"uri": "file:///not/open.rb"}, "uri"),
    ],
)
async def test_bad_generate_arguments_are_refused_and_change_nothing(editor, arguments, names):
    uri = editor.open(SONG)
    with pytest.raises(JsonRpcException) as caught:
        await editor.command("notegen.generateMelody", {"uri": uri, **arguments})
    assert caught.value.code == -32602  # InvalidParams
    assert caught.value.message.startswith(names + ":"), caught.value.message
    assert editor.applied == []
    assert editor.texts[uri] == SONG


async def test_continue_outside_an_array_is_refused(editor):
    uri = editor.open(SONG)
    with pytest.raises(JsonRpcException) as caught:
        await editor.command(
            "notegen.continueMelody", {"uri": uri, "position": {"line": 4, "character": 1}}
        )
    assert caught.value.message.startswith("position:")
    with pytest.raises(JsonRpcException) as caught:
        await editor.command("notegen.continueMelody", {"uri": uri, "count": 0, "position": {}})
    assert caught.value.code == -32602
    with pytest.raises(JsonRpcException):
        await editor.command("notegen.continueMelody", uri, 3)  # not one object
    assert editor.applied == []


async def test_seed_notes_open_the_block(editor):
    uri = editor.open("")
    await editor.command(
        "notegen.generateMelody",
        {"uri": uri, "length": 8, "seed": 1, "seed_notes": [":e4", "g4", 72]},
    )
    notes = [t.midi for a in voice_arrays(editor.texts[uri], 1) for t in a.notes]
    assert notes[:3] == [note_to_midi(":e4"), note_to_midi("g4"), 72]
    assert len(notes) == 8
