"""The whole piece through the real server: every voice form, nothing in comments or strings,
exact positions whatever the line endings, valid code from ghost text, phrases and commands,
blocks written in the piece's form, key, tempo and place."""

from __future__ import annotations

import re

import pytest
from fixtures.ruby import ruby_ok
from lsprotocol import types
from notegen.sonicpi import read

LATE_ENTRIES = """\
use_bpm 200
a1=[:c4,:e4,:g4,:c5,:bf4,:g4]
b1=[1,1,1,1,1,2]
a2=[:r,:r,:r,:G3,:C4,:E4]
b2=[1,1,1,1,1,2]
a3=[]
b3=[]
in_thread do
  play_pattern_timed a1, b1
end
in_thread do
  play_pattern_timed a2, b2
end
sleep 12
puts "done"
"""


def counts(text: str) -> dict[str, tuple[int, int | None]]:
    return {
        a.name: (len(a.notes), None if a.durations is None else len(a.durations.values))
        for a in read(text)
        if a.kind == "voice" and a.name
    }


def notes(items: list[types.CompletionItem]) -> list[types.CompletionItem]:
    return [i for i in items if i.kind == types.CompletionItemKind.Value]


# -- every voice form -----------------------------------------------------------------------


async def test_plain_voices_of_rests_and_empty_ones_are_completed(editor):
    uri = editor.open(LATE_ENTRIES)
    mostly_rests = LATE_ENTRIES.splitlines()[3].index(":G3")
    assert notes(await editor.complete(uri, 3, mostly_rests - 1, ","))
    assert notes(await editor.complete(uri, 5, len("a3=["), "["))  # a3=[|]
    assert notes(await editor.complete(uri, 3, len("a2=["), "["))  # before the first rest


async def test_plain_voices_are_diagnosed_like_indexed_ones(editor):
    uri = editor.open("a1=[:c4,:d4,:e4]\nb1=[1,1]\n")
    diags = await editor.diagnostics(uri)
    assert [(d.code, d.range.start.line) for d in diags] == [("length-mismatch", 1)]


async def test_correct_pieces_get_no_diagnostics(editor):
    text = (
        'voices=[["Grand Piano","Grand Piano","piano-p-",0,:c1,:c8]]\n'
        "Last = 4\n"
        "a1[0]=[:c4,:d4,:e4]\n"
        "b1[0]=[1,1,1+Last]\n"
        "b1[0][2] = tempo * 2\n"
    )
    uri = editor.open(text)
    assert await editor.diagnostics(uri) == []


async def test_continue_grows_a_plain_voice_and_its_durations_together(editor, tmp_path):
    uri = editor.open(LATE_ENTRIES)
    result = await editor.command(
        "notegen.continueMelody", {"uri": uri, "position": {"line": 3, "character": 8}, "count": 5}
    )
    assert result["applied"] is True
    after = editor.texts[uri]
    assert counts(after)["a2"] == (11, 11)
    assert counts(after)["a1"] == (6, 6)
    ok, why = ruby_ok(tmp_path, after)
    assert ok, why


# -- nothing in comments, block comments, strings and heredocs -------------------------------

HIDDEN = """\
a1[0]=[:c4,:d4]
# a2[0]=[:c4,:d4,
=begin
a3[0]=[:c4,:d4,
=end
s = "a4[0]=[:c4,:d4,"
h = <<~NOTES
  a5[0]=[:c4,:d4,
NOTES
a6[0]=[:e4,:f4]
"""


async def test_nothing_is_offered_in_comments_strings_and_heredocs(editor):
    uri = editor.open(HIDDEN)
    lines = HIDDEN.splitlines()
    for line in (1, 3, 5, 7):
        col = lines[line].rindex(",") + 1
        assert await editor.complete(uri, line, col, ",") == [], lines[line]
        assert await editor.ghost_item(uri, line, col) is None, lines[line]
    assert notes(await editor.complete(uri, 9, lines[9].rindex("]"), ","))


# -- line endings and UTF-16 -----------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
async def test_continue_edits_the_line_it_was_asked_on_whatever_the_line_endings(editor, newline):
    text = newline.join(["# 🎵 a tune", "use_bpm 90", "a1=[:c4,:d4]", "b1=[1,1]", ""])
    uri = editor.open(text)
    result = await editor.command(
        "notegen.continueMelody", {"uri": uri, "position": {"line": 2, "character": 5}, "count": 3}
    )
    assert result["applied"] is True
    lines = re.split(r"\r\n|\n|\r", editor.texts[uri])
    assert lines[:2] == ["# 🎵 a tune", "use_bpm 90"]
    assert lines[2].startswith("a1=[:c4,:d4,") and lines[2].count(",") == 4
    assert lines[3].startswith("b1=[1,1,") and lines[3].count(",") == 4
    assert counts(editor.texts[uri]) == {"a1": (5, 5)}


async def test_completion_replaces_exactly_the_typed_note_after_non_ascii_text(editor):
    line = "x = '𝄞é'; a1=[:c4,:e4,:G"
    uri = editor.open(line + "\nb1=[1,1,1]\n")
    utf16 = len(line.encode("utf-16-le")) // 2
    items = notes(await editor.complete(uri, 0, utf16))
    assert items
    edit = items[0].text_edit
    assert edit.range.start.character == utf16 - 2 and edit.range.end.character == utf16
    assert edit.new_text.lower().startswith(":g")  # in the case this document writes


# -- ghost text and phrases close what they open ---------------------------------------------

UNCLOSED = """\
a1=[]
b1=[]
a1[0]=[:C4,:E4,:G4,
b1[0]=[1,1,2]
in_thread do
  play_pattern_timed a1[0], b1[0]
end
"""


async def test_ghost_text_in_an_unclosed_array_closes_it_and_names_its_durations(editor, tmp_path):
    uri = editor.open(UNCLOSED)
    col = len("a1[0]=[:C4,:E4,:G4,")
    item = await editor.ghost_item(uri, 2, col)
    assert item is not None
    text = item.insert_text
    assert isinstance(text, str)
    assert "]  # durations " in text and text.endswith("(add to b1[0])")
    lines = UNCLOSED.splitlines()
    lines[2] = lines[2][:col] + text
    after = "\n".join(lines) + "\n"
    ok, why = ruby_ok(tmp_path, after)
    assert ok, why
    added = text.split("]")[0].count(":")
    assert counts(after)["a1[0]"] == (3 + added, 3)
    assert len(text.split("# durations ")[1].split(" (")[0].split(",")) == added


async def test_phrase_items_in_an_unclosed_array_close_it_too(editor, tmp_path):
    uri = editor.open(UNCLOSED)
    col = len("a1[0]=[:C4,:E4,:G4,")
    phrases = [
        i
        for i in await editor.complete_with_phrases(uri, 2, col, ",")
        if i.kind == types.CompletionItemKind.Snippet
    ]
    assert phrases
    for item in phrases:
        lines = UNCLOSED.splitlines()
        lines[2] = lines[2][:col] + item.text_edit.new_text
        ok, why = ruby_ok(tmp_path, "\n".join(lines) + "\n")
        assert ok, (item.text_edit.new_text, why)


async def test_inside_a_chord_only_chord_tones_and_no_ghost_melody(editor):
    text = "a1[0]=[:C4,[:E4,]]\nb1[0]=[1,1]\n"
    uri = editor.open(text)
    col = len("a1[0]=[:C4,[:E4,")
    assert await editor.ghost_item(uri, 0, col) is None
    items = notes(await editor.complete(uri, 0, col, ","))
    midis = [int(i.detail.split("MIDI ")[1].split(" ")[0]) for i in items]
    # triads holding E: C major, C-sharp minor, E major/minor, A major/minor
    assert all(m % 12 in {0, 1, 4, 7, 8, 9, 11} and m > 64 for m in midis), midis


# -- generateMelody: the piece's form, key, tempo, style and a place where it plays ----------


async def test_generated_voice_plays_with_the_piece_in_its_form_tempo_and_key(editor, tmp_path):
    uri = editor.open(LATE_ENTRIES)
    reply = await editor.command("notegen.generateMelody", {"uri": uri, "length": 12, "seed": 3})
    assert reply["applied"] is True
    after = editor.texts[uri]
    block = after[after.index("# notegen: voice 4") :]
    assert block.splitlines()[1].startswith("a4=[")  # the piece's plain form
    assert "use_bpm 200" in block
    assert after.index("# notegen: voice 4") < after.index("sleep 12")  # plays with the piece
    assert reply["startLine"] == after[: after.index("# notegen")].count("\n")
    assert "sleep 12" in reply["where"]
    assert reply["bpm"] == 200
    assert reply["key"] == ":c" and reply["scale"] in ("major", "mixolydian")
    assert reply["keyText"] in block.splitlines()[0]
    assert ", " not in block.split("in_thread")[0].split("\n", 1)[1]  # the piece writes ","
    assert counts(after)["a4"] == (12, 12)
    ok, why = ruby_ok(tmp_path, after)
    assert ok, why
