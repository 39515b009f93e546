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


# -- phrases: the notes at once, the phrase between requests -------------------------------


def snippets(items: list[types.CompletionItem]) -> list[types.CompletionItem]:
    return [i for i in items if i.kind == types.CompletionItemKind.Snippet]


async def test_the_first_list_at_a_cursor_is_its_notes_and_the_phrases_follow(editor):
    """A phrase is ~7 model steps: the first answer at a new cursor has the notes only, and
    the server computes the phrase once the client pauses, so the editor's next request
    there (the list is incomplete: it asks again at the next keystroke) offers it."""
    uri = editor.open(SONG)
    await editor.diagnostics(uri)  # (the file read: every answer hears the same piece)
    col = SONG.splitlines()[3].rindex("]")
    first = await editor.complete(uri, 3, col, ",")
    assert [i for i in first if i.kind == types.CompletionItemKind.Value]
    assert snippets(first) == []
    later = await editor.complete_with_phrases(uri, 3, col, ",")
    assert [i.label_details.description for i in snippets(later)] == [
        "phrase · 4 notes",
        "phrase · 8 notes",
    ]
    assert [i.label for i in later if i.kind == types.CompletionItemKind.Value] == [
        i.label for i in first if i.kind == types.CompletionItemKind.Value
    ]


async def test_ghost_text_and_the_phrase_items_are_one_phrase(editor):
    """VS Code asks ghost text and completion at each keystroke: once the ghost text has its
    phrase, the completion list offers the same notes as phrase items, at once."""
    uri = editor.open(SONG)
    await editor.diagnostics(uri)  # (the file read: both hear the same piece)
    col = SONG.splitlines()[3].rindex("]")
    ghost = await editor.ghost(uri, 3, col)
    assert ghost is not None and ghost.startswith(",")
    items = snippets(await editor.complete(uri, 3, col, ","))
    longest = max(items, key=lambda i: len(i.label))
    assert longest.text_edit.new_text == ghost
    assert items[0].text_edit.new_text == ",".join(ghost.split(",")[:5])


async def test_a_phrase_left_behind_by_typing_on_is_not_offered_elsewhere(editor):
    """Typing on before the phrase is done drops it: the list at the new cursor is that
    cursor's own, and its phrase items, once in, continue the notes now written."""
    uri = editor.open(SONG)
    await editor.diagnostics(uri)
    col = SONG.splitlines()[3].rindex("]")
    await editor.complete(uri, 3, col, ",")
    editor.insert(uri, 3, col, ",:A4")
    items = await editor.complete_with_phrases(uri, 3, col + len(",:A4"), ",")
    ghost = await editor.ghost(uri, 3, col + len(",:A4"))
    assert max(snippets(items), key=lambda i: len(i.label)).text_edit.new_text == ghost
