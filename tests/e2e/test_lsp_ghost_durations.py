"""Accepting ghost text in ``a1[0]`` keeps the voice whole: ``b1[0]`` gets the new notes'
durations, through the command the inline item carries (run by the editor after inserting).

Each test plays the editor's part as VS Code does it: ask for ghost text, insert the item's
text as one edit, then run the item's command; the server answers with ``workspace/applyEdit``
and the editor applies it. A command that arrives stale changes nothing.
"""

from __future__ import annotations

from fixtures.lsp_editor import Editor, apply_text_edits
from fixtures.ruby import ruby_ok
from lsprotocol import types
from notegen.sonicpi import read

SONG = """\
use_bpm 90
a1=[]
b1=[]
a1[0]=[:C4, :D4, :E4, :F4]
b1[0]=[0.5, 0.5, 1, 0.5]
in_thread do
  a1.length.times do |s|
    a1[s].length.times do |i|
      play a1[s][i]
      sleep b1[s][i]
    end
  end
end
"""
END_OF_NOTES = (3, len("a1[0]=[:C4, :D4, :E4, :F4"))

UNCLOSED = """\
a1=[]
b1=[]
a1[0]=[:C4,:E4,:G4,
b1[0]=[1,1,2]
in_thread do
  play_pattern_timed a1[0], b1[0]
end
"""
UNCLOSED_END = (2, len("a1[0]=[:C4,:E4,:G4,"))


async def ghost(editor: Editor, uri: str, line: int, character: int) -> types.InlineCompletionItem:
    item = await editor.ghost_item(uri, line, character)
    assert item is not None, "no ghost text"
    return item


def accept(editor: Editor, uri: str, item: types.InlineCompletionItem) -> None:
    """Tab: the item's text replaces its range, as one change."""
    assert isinstance(item.insert_text, str) and item.range is not None
    edit = types.TextEdit(range=item.range, new_text=item.insert_text)
    editor.change(uri, apply_text_edits(editor.texts[uri], [edit]))


async def run_command(editor: Editor, item: types.InlineCompletionItem) -> dict:
    assert item.command is not None, "the item carries no command"
    return await editor.command(item.command.command, *(item.command.arguments or []))


def voice(text: str, name: str = "a1[0]"):
    return next(a for a in read(text) if a.name == name)


async def test_accepted_ghost_text_adds_its_notes_durations_to_the_paired_array(editor, tmp_path):
    uri = editor.open(SONG)
    await editor.diagnostics(uri)
    item = await ghost(editor, uri, *END_OF_NOTES)
    accept(editor, uri, item)
    added = len(voice(editor.texts[uri]).notes) - 4
    assert added > 0

    outcome = await run_command(editor, item)

    assert outcome == {"applied": True, "added": added, "reason": ""}
    after = voice(editor.texts[uri])
    assert after.durations is not None
    assert len(after.durations.values) == len(after.notes) == 4 + added
    assert [v.text for v in after.durations.values[:4]] == ["0.5", "0.5", "1", "0.5"]
    assert all(v.value is not None and v.value > 0 for v in after.durations.values)
    # The durations written are the ones the model gave the notes (named in the command).
    assert [v.text for v in after.durations.values[4:]] == item.command.arguments[0]["durations"]
    assert editor.texts[uri].splitlines()[4].startswith("b1[0]=[0.5, 0.5, 1, 0.5, ")
    ok, why = ruby_ok(tmp_path, editor.texts[uri])
    assert ok, why
    editor.client.diagnostics.pop(uri, None)
    assert not [d for d in await editor.diagnostics(uri) if d.code == "length-mismatch"]


async def test_the_edit_is_pinned_to_the_version_it_checked(editor):
    uri = editor.open(SONG)
    item = await ghost(editor, uri, *END_OF_NOTES)
    accept(editor, uri, item)
    await run_command(editor, item)
    change = editor.applied[-1].edit.document_changes[0]
    assert change.text_document.version == editor.versions[uri] - 1  # the accepted version


async def test_a_command_run_again_adds_nothing(editor):
    uri = editor.open(SONG)
    item = await ghost(editor, uri, *END_OF_NOTES)
    accept(editor, uri, item)
    await run_command(editor, item)
    text = editor.texts[uri]

    again = await run_command(editor, item)

    assert again["applied"] is False and again["added"] == 0
    assert editor.texts[uri] == text


async def test_a_command_for_text_that_was_not_accepted_changes_nothing(editor):
    uri = editor.open(SONG)
    item = await ghost(editor, uri, *END_OF_NOTES)
    applied = len(editor.applied)

    outcome = await run_command(editor, item)  # same version: nothing was inserted

    assert outcome["applied"] is False
    assert len(editor.applied) == applied and editor.texts[uri] == SONG


async def test_a_stale_command_after_the_notes_changed_changes_nothing(editor):
    uri = editor.open(SONG)
    item = await ghost(editor, uri, *END_OF_NOTES)
    accept(editor, uri, item)
    # The user undid the acceptance and typed one note of their own instead.
    editor.change(uri, SONG.replace(":F4]", ":F4, :G4]"))
    applied = len(editor.applied)

    outcome = await run_command(editor, item)

    assert outcome["applied"] is False and "no longer there" in outcome["reason"]
    assert len(editor.applied) == applied
    assert ":G4]" in editor.texts[uri] and "b1[0]=[0.5, 0.5, 1, 0.5]" in editor.texts[uri]


async def test_durations_the_user_already_wrote_are_not_added_twice(editor):
    uri = editor.open(SONG)
    item = await ghost(editor, uri, *END_OF_NOTES)
    accept(editor, uri, item)
    added = len(voice(editor.texts[uri]).notes) - 4
    beats = ", ".join(["1"] * added)
    editor.change(uri, editor.texts[uri].replace("1, 0.5]", f"1, 0.5, {beats}]"))
    text = editor.texts[uri]

    outcome = await run_command(editor, item)

    assert outcome["applied"] is False and editor.texts[uri] == text


async def test_in_an_unclosed_array_the_durations_replace_the_comment_naming_them(editor, tmp_path):
    uri = editor.open(UNCLOSED)
    item = await ghost(editor, uri, *UNCLOSED_END)
    assert "# durations " in item.insert_text  # clients without the command still learn them
    accept(editor, uri, item)

    outcome = await run_command(editor, item)

    assert outcome["applied"] is True
    text = editor.texts[uri]
    assert "# durations" not in text
    after = voice(text)
    assert after.durations is not None
    assert len(after.durations.values) == len(after.notes) > 3
    assert [v.text for v in after.durations.values[:3]] == ["1", "1", "2"]
    ok, why = ruby_ok(tmp_path, text)
    assert ok, why


async def test_ghost_text_in_the_middle_of_a_voice_puts_its_durations_at_the_same_place(editor):
    song = SONG.replace("[:C4, :D4, :E4, :F4]", "[:C4, :D4, :E4, :F4, :G4]").replace(
        "[0.5, 0.5, 1, 0.5]", "[0.5, 0.5, 1, 0.5, 4]"
    )
    uri = editor.open(song)
    item = await ghost(editor, uri, *END_OF_NOTES)  # after :F4, before :G4
    accept(editor, uri, item)
    added = len(voice(editor.texts[uri]).notes) - 5

    await run_command(editor, item)

    after = voice(editor.texts[uri])
    assert after.durations is not None
    values = [v.text for v in after.durations.values]
    assert len(values) == len(after.notes) == 5 + added
    assert values[:4] == ["0.5", "0.5", "1", "0.5"] and values[-1] == "4"
    assert after.notes[-1].text == ":G4"


async def test_ghost_text_in_a_voice_without_a_duration_array_carries_no_command(editor):
    uri = editor.open("a1=[:C4, :D4, :E4, :F4]\nplay_pattern_timed a1, 0.5\n")
    await editor.diagnostics(uri)  # read: before its first reading the server cannot know
    item = await ghost(editor, uri, 0, len("a1=[:C4, :D4, :E4, :F4"))
    assert item.command is None


async def test_an_accepted_phrase_item_gets_its_durations_the_same_way(editor):
    uri = editor.open(SONG)
    await editor.diagnostics(uri)
    items = await editor.complete_with_phrases(uri, *END_OF_NOTES, ",")
    phrase = max((i for i in items if i.kind == types.CompletionItemKind.Snippet), key=len_label)
    notes_only = [i for i in items if i.kind != types.CompletionItemKind.Snippet]
    assert notes_only and all(i.command is None for i in notes_only)  # one note: typed on
    editor.change(uri, apply_text_edits(editor.texts[uri], [phrase.text_edit]))
    assert phrase.command is not None

    outcome = await editor.command(phrase.command.command, *phrase.command.arguments)

    assert outcome["applied"] is True
    after = voice(editor.texts[uri])
    assert after.durations is not None
    assert len(after.durations.values) == len(after.notes) == 4 + len(phrase.label.split(","))
    assert phrase.detail.endswith(", ".join(v.text for v in after.durations.values[4:]))


def len_label(item: types.CompletionItem) -> int:
    return len(item.label.split(","))
