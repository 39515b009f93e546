"""In a client that runs no item commands (Neovim's omnifunc), accepting a phrase in ``a1[0]``
adds notes only; the quick fix adds the durations they lack. (Clients that run the item's
command get them at once: tests/e2e/test_lsp_ghost_durations.py.)"""

from __future__ import annotations

from fixtures.lsp_editor import apply_text_edits
from lsprotocol import types
from notegen.lsp.documents import DocumentView
from notegen.lsp.quick_fixes import add_missing_durations
from notegen.sonicpi import read

SONG = """\
use_bpm 90
a1=[]
b1=[]
a1[0]=[:C4, :D4, :E4, :F4]
b1[0]=[0.5, 0.5, 1, 0.5]
"""
END_OF_NOTES = (3, len("a1[0]=[:C4, :D4, :E4, :F4"))


async def test_a_phrase_then_the_quick_fix_leaves_equal_counts(editor):
    uri = editor.open(SONG)
    await editor.diagnostics(uri)
    items = await editor.complete_with_phrases(uri, *END_OF_NOTES, ",")
    phrase = next(i for i in items if "," in i.label)
    editor.client.diagnostics.pop(uri)
    editor.change(uri, apply_text_edits(editor.texts[uri], [phrase.text_edit]))
    mismatch = [d for d in await editor.diagnostics(uri) if d.code == "length-mismatch"]
    assert len(mismatch) == 1, "the phrase added notes and no durations"

    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=mismatch[0].range,
            context=types.CodeActionContext(diagnostics=mismatch),
        )
    )
    # (pygls' client structures CodeAction|Command unions as Command: the title is what
    # survives; the edit itself is applied by the server's own function below.)
    titles = [a.title for a in actions if a.title.startswith("Add ")]
    assert titles == [f"Add {len(phrase.label.split(','))} missing durations (0.5 beats each)"]
    view = DocumentView(uri, editor.versions[uri], editor.texts[uri])
    fixes = add_missing_durations(view, mismatch, True)
    assert [f.title for f in fixes] == titles and fixes[0].kind == types.CodeActionKind.QuickFix
    editor.client.diagnostics.pop(uri)
    editor._apply(types.ApplyWorkspaceEditParams(edit=fixes[0].edit))

    voice = next(a for a in read(editor.texts[uri]) if a.voice == 1 and a.section == 0)
    assert voice.durations is not None
    assert len(voice.durations.values) == len(voice.notes) > 4
    assert [v.value for v in voice.durations.values[:4]] == [0.5, 0.5, 1, 0.5]
    assert not [d for d in await editor.diagnostics(uri) if d.code == "length-mismatch"]


async def test_no_quick_fix_without_the_mismatch(editor):
    uri = editor.open(SONG)
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(4, 7), types.Position(4, 7)),
            context=types.CodeActionContext(diagnostics=await editor.diagnostics(uri)),
        )
    )
    assert not [a for a in actions if a.title.startswith("Add ")]
