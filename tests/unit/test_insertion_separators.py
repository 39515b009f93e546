"""Text inserted before an element that follows the cursor ends with the document's separator.

Each case is a document and a cursor; every completion item's edit and the ghost text are
applied the LSP way (the item's text replaces its range) and the result is read back with the
project's reader: the elements before and after the cursor are still there, unchanged, with
only whole, valid notes between them, and the array is closed exactly once. In ``play``/``sleep``
lines whose value is already written after the cursor nothing is offered.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fixtures.lsp_editor import apply_text_edits
from lsprotocol import types
from notegen.lsp import completion, ghost_durations, inline
from notegen.lsp.config import Settings
from notegen.lsp.context import NoteContext, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.edits import cursor_range
from notegen.lsp.reading import Reading
from notegen.notes import infer_style
from notegen.sonicpi import read
from notegen.sonicpi.types import NoteArray


def at(text: str, line: int, character: int) -> tuple[DocumentView, NoteContext | None]:
    view = DocumentView("file:///t.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    return view, note_context(view, line, character, reading, Settings().maxContext)


def array(text: str, name: str) -> NoteArray:
    return next(a for a in read(text) if a.name == name)


@dataclass(frozen=True)
class Case:
    text: str
    line: int
    character: int
    before: tuple[str, ...]
    """The elements that stay before the insertion (as written)."""
    after: tuple[str, ...]
    """The elements that stay after it."""
    name: str = "a1[0]"


CASES = {
    "first element": Case(
        "use_bpm 70\na1[0]=[:C4,:D4,:E4]\nb1[0]=[1,1,1]\n", 1, 7, (), (":C4", ":D4", ":E4")
    ),
    "right after a comma": Case(
        "use_bpm 70\na1[0]=[:C4,:D4,:E4]\nb1[0]=[1,1,1]\n", 1, 11, (":C4",), (":D4", ":E4")
    ),
    "before a chord": Case(
        "a1[0]=[:C4, [:E4, :G4], :D4]\nb1[0]=[1,1,1]\n", 0, 12, (":C4",), ("[:E4, :G4]", ":D4")
    ),
    "next element on the next line": Case(
        "a1[0]=[:C4,:D4,\n  :E4, :F4]\nb1[0]=[1,1,1,1]\n", 0, 15, (":C4", ":D4"), (":E4", ":F4")
    ),
    "next element after a comment": Case(
        "a1[0]=[:C4, # first\n  :D4, :E4]\nb1[0]=[1,1,1]\n", 0, 12, (":C4",), (":D4", ":E4")
    ),
    "a partial before a comma": Case(
        "a1[0]=[:C4,:C,:D4,:E4]\nb1[0]=[1,1,1]\n", 0, 13, (":C4",), (":D4", ":E4")
    ),
    "in a ring": Case("mel = (ring :c4, :d4)\n", 0, 17, (":c4",), (":d4",), name="mel"),
    "in an unclosed array": Case(
        "a1[0]=[:C4, :D4, :E4\nb1[0]=[1,1,1]\n", 0, 12, (":C4",), (":D4", ":E4")
    ),
}


def check(case: Case, new_text: str, inserted: int | None = None) -> list[str]:
    """The elements now between ``before`` and ``after`` (asserting everything else)."""
    found = array(new_text, case.name)
    texts = [n.text for n in found.notes]
    assert all(n.error is None and not n.dynamic for n in found.notes), texts
    assert tuple(texts[: len(case.before)]) == case.before, texts
    assert tuple(texts[len(texts) - len(case.after) :]) == case.after, texts
    middle = texts[len(case.before) : len(texts) - len(case.after)]
    assert middle, texts
    assert all(n.chord is None for n in found.notes[len(case.before) :][: len(middle)])
    if inserted is not None:
        assert len(middle) == inserted, (middle, inserted)
    # nothing closes the array early: whatever closed it before still does, once
    unmatched = case.text.count("]") - case.text.count("[")
    assert new_text.count("]") - new_text.count("[") == unmatched
    assert new_text.count(")") == case.text.count(")")
    return middle


@pytest.mark.parametrize("name", CASES)
def test_every_completion_item_keeps_the_following_elements_apart(engine, name):
    case = CASES[name]
    view, nc = at(case.text, case.line, case.character)
    assert nc is not None
    items = completion.complete(engine, nc, Settings(), cursor_range(view, nc))
    assert items
    for item in items:
        assert isinstance(item.text_edit, types.TextEdit)
        applied = apply_text_edits(case.text, [item.text_edit])
        middle = check(case, applied)
        assert middle == [n.strip() for n in item.label.split(",")]


@pytest.mark.parametrize("name", CASES)
def test_ghost_text_keeps_the_following_elements_apart(engine, name):
    case = CASES[name]
    view, nc = at(case.text, case.line, case.character)
    assert nc is not None
    found = inline.ghost(engine, nc, Settings())
    assert found is not None
    edit = types.TextEdit(range=cursor_range(view, nc), new_text=found.text)
    check(case, apply_text_edits(case.text, [edit]), inserted=len(found.events))


def first_note(engine, text: str, line: int, character: int) -> str:
    """The cursor's line once the first item is applied, its note written ``X``."""
    view, nc = at(text, line, character)
    assert nc is not None
    items = completion.complete(engine, nc, Settings(), cursor_range(view, nc))
    note = items[0]
    assert isinstance(note.text_edit, types.TextEdit)
    applied = apply_text_edits(text, [note.text_edit]).splitlines()[line]
    assert applied[character : character + len(note.label)] == note.label
    return applied[:character] + "X" + applied[character + len(note.label) :]


def test_the_separator_is_written_as_the_document_writes_it(engine):
    assert first_note(engine, "a1[0]=[:C4,:D4,:E4]\n", 0, 7) == "a1[0]=[X,:C4,:D4,:E4]"
    assert first_note(engine, "a1[0]=[:C4,:D4,:E4]\n", 0, 11) == "a1[0]=[:C4,X,:D4,:E4]"
    assert first_note(engine, "a1[0]=[:C4, :D4, :E4]\n", 0, 7) == "a1[0]=[X, :C4, :D4, :E4]"
    # the space already before the next element is its spacing: none added at the cursor
    assert first_note(engine, "a1[0]=[:C4, :D4, :E4]\n", 0, 11) == "a1[0]=[:C4,X, :D4, :E4]"
    # no blank at the end of a line; a space before a comment that follows
    assert first_note(engine, "a1[0]=[:C4, :D4,\n  :E4]\n", 0, 16) == "a1[0]=[:C4, :D4,X,"
    assert first_note(engine, "a1[0]=[:C4, # one\n  :E4]\n", 0, 12) == "a1[0]=[:C4, X, # one"


def test_a_chord_tone_before_a_tone_the_chord_holds_keeps_them_apart(engine):
    text = "a1[0]=[:C4, [:E4, :G4], :D4]\n"
    view, nc = at(text, 0, 13)  # right after the chord's `[`
    assert nc is not None and nc.local.ctx.in_chord
    items = completion.complete(engine, nc, Settings(), cursor_range(view, nc))
    assert items
    for item in items:
        assert isinstance(item.text_edit, types.TextEdit)
        notes = array(apply_text_edits(text, [item.text_edit]), "a1[0]").notes
        assert [n.text for n in notes[::2]] == [":C4", ":D4"]
        assert notes[1].error is None and notes[1].chord is not None
        assert len(notes[1].chord) == 3


def test_accepted_mid_array_ghost_then_its_command_keeps_the_voice_whole(engine):
    text = "use_bpm 70\na1[0]=[:C4,:D4,:E4]\nb1[0]=[0.5,1,2]\n"
    view, nc = at(text, 1, 11)  # right after the first comma, before :D4
    assert nc is not None
    found = inline.ghost(engine, nc, Settings())
    assert found is not None
    where = cursor_range(view, nc)
    command = ghost_durations.command_for(view, nc, found.text, found.events, where)
    assert command is not None and command.arguments is not None
    accepted = apply_text_edits(text, [types.TextEdit(range=where, new_text=found.text)])

    plan = ghost_durations.plan(DocumentView(view.uri, 2, accepted), command.arguments[0])

    assert plan.edits, plan.reason
    done = apply_text_edits(accepted, plan.edits)
    voice = array(done, "a1[0]")
    assert voice.durations is not None
    notes = [n.text for n in voice.notes]
    beats = [v.text for v in voice.durations.values]
    assert all(n.error is None for n in voice.notes)
    assert len(notes) == len(beats) == 3 + len(found.events)
    assert (notes[0], notes[-2:]) == (":C4", [":D4", ":E4"])
    assert (beats[0], beats[-2:]) == ("0.5", ["1", "2"])
    assert beats[1:-2] == command.arguments[0]["durations"]


LOOP = "live_loop :a do\n  play :c4\n  sleep 0.5\n  play :d4\n  sleep 0.5\nend\n"


@pytest.mark.parametrize(
    ("line", "character", "head"),
    [
        (1, 7, "  play "),  # play |:c4
        (1, 9, "  play "),  # play :c|4
        (2, 8, "  sleep "),  # sleep |0.5: a `1` inserted made `sleep 10.5`
        (2, 9, "  sleep "),  # sleep 0|.5
    ],
)
def test_an_item_replaces_the_play_or_sleep_value_written_after_the_cursor(
    engine, line, character, head
):
    view, nc = at(LOOP, line, character)
    assert nc is not None
    items = completion.complete(engine, nc, Settings(), cursor_range(view, nc))
    assert items
    for item in items:
        assert isinstance(item.text_edit, types.TextEdit)
        assert apply_text_edits(LOOP, [item.text_edit]).splitlines()[line] == head + item.label


def test_the_whole_written_value_is_replaced_with_what_follows_it_kept(engine):
    text = "live_loop :a do\n  play chord(:e4, :minor), release: 2\n  sleep 0.5\nend\n"
    view, nc = at(text, 1, 7)
    assert nc is not None
    items = completion.complete(engine, nc, Settings(), cursor_range(view, nc))
    assert items
    for item in items:
        assert isinstance(item.text_edit, types.TextEdit)
        line = apply_text_edits(text, [item.text_edit]).splitlines()[1]
        assert line == f"  play {item.label}, release: 2"


@pytest.mark.parametrize(("line", "character"), [(1, 7), (2, 8)])
def test_no_ghost_text_before_a_play_or_sleep_value_already_written(engine, line, character):
    _view, nc = at(LOOP, line, character)
    assert nc is not None
    assert inline.ghost(engine, nc, Settings()) is None
