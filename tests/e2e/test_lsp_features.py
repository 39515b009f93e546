"""Inline completion, hover, diagnostics and code actions through the real server."""

from __future__ import annotations

import re

from lsprotocol import types

SONG = """\
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:Ef5,:r]
b1[0]=[0.5,0.5,1,1,2]
c1=[70]
"""


async def test_inline_ghost_text_continues_the_array(editor):
    uri = editor.open(SONG)
    col = SONG.splitlines()[2].rindex("]")
    result = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri),
            position=types.Position(2, col),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
        )
    )
    assert result is not None
    items = result.items if isinstance(result, types.InlineCompletionList) else result
    assert len(items) == 1
    text = items[0].insert_text
    assert isinstance(text, str)
    notes = text.removeprefix(",").split(",")
    assert text.startswith(",")  # after :r a new note needs a comma (this file writes ",")
    assert len(notes) == 8  # phraseLength
    assert all(re.fullmatch(r":[A-G][sf]?-?\d+|:r", n) for n in notes), notes


async def test_inline_nothing_outside_arrays(editor):
    uri = editor.open(SONG)
    result = await editor.client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri),
            position=types.Position(4, 2),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
        )
    )
    assert not result or not getattr(result, "items", result)


async def test_hover_shows_midi_frequency_and_probability(editor):
    uri = editor.open(SONG)
    col = SONG.splitlines()[2].index(":Ef5") + 2
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(2, col))
    )
    assert hover is not None
    value = hover.contents.value
    assert "MIDI 75" in value
    assert "622.25 Hz" in value
    assert re.search(r"Model: \d+\.\d% likely here", value), value
    assert hover.range.start.character == col - 2


async def test_hover_outside_a_note_is_empty(editor):
    uri = editor.open(SONG)
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(3, 8))
    )
    assert hover is None


BROKEN = """\
a1=[]
b1=[]
a1[0]=[:C4,:H4,:E4,:Cs5]
b1[0]=[0.5,-1,:x]
a1[1]=[:C4,:D4
"""


async def test_diagnostics_as_sonic_pi_sees_them(editor):
    uri = editor.open(BROKEN)
    diags = await editor.diagnostics(uri)
    by_code = {}
    for d in diags:
        by_code.setdefault(d.code, []).append(d)
    invalid = by_code["invalid-note"]
    assert len(invalid) == 1
    assert invalid[0].message.startswith("Invalid note: :H4")
    assert invalid[0].range.start == types.Position(2, 11)
    assert by_code["negative-duration"][0].range.start == types.Position(3, 11)
    assert "not a number" in by_code["invalid-duration"][0].message
    mismatch = by_code["length-mismatch"][0]
    assert "4 notes" in mismatch.message and "3 durations" in mismatch.message
    assert "sleep nil" in mismatch.message
    assert mismatch.severity == types.DiagnosticSeverity.Error


async def test_diagnostics_follow_edits(editor):
    uri = editor.open(BROKEN)
    await editor.diagnostics(uri)
    editor.client.diagnostics.pop(uri)
    editor.change(uri, BROKEN.replace(":H4", ":D4"))
    diags = await editor.diagnostics(uri)
    assert not [d for d in diags if d.code == "invalid-note"]


async def test_code_actions_offer_continue_inside_arrays(editor):
    uri = editor.open(SONG)
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(2, 9), types.Position(2, 9)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    # (pygls' client structures CodeAction|Command unions as Command: compare titles.)
    titles = {a.title.split(" (")[0] for a in actions}
    assert {"Continue melody", "Generate melody"} <= titles
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(4, 1), types.Position(4, 1)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    titles = {a.title.split(" (")[0] for a in actions}
    assert "Continue melody" not in titles
    assert "Generate melody" in titles
