"""Slip hints through the real server with the shipped model: a four-voice chorale with two
wrong notes; each gets a hint, its quick fixes and "Ignore here", and a voice playing alone in
another section is not checked."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from fixtures.lsp_editor import Editor, server_command, start_editor
from lsprotocol import types
from notegen.lsp.documents import DocumentView
from notegen.lsp.slip_hints import actions

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
SOPRANO = "E5 F5 D5 C5 C5 D5 B4 C5 E5 F5 D5 E5 F5 D5 E5 C5"
ALTO = "G4 A4 G4 G4 A4 A4 G4 G4 G4 A4 G4 G4 A4 G4 G4 E4"
TENOR = "E4 C4 B3 E4 E4 F4 D4 E4 C4 C4 B3 C4 C4 B3 E4 G3"
BASS = "C3 F3 G3 C3 A2 D3 G2 C3 C3 F3 G3 C3 F3 G3 C3 C3"


def piece() -> str:
    """Played twice; slips: the soprano's second-pass E5 as Ef5 (over C–E–G) and the alto's
    G4 at index 13 as Gs4 (over G–B–D). Section 1 is the soprano alone, with a wrong note."""
    voices = [(SOPRANO + " " + SOPRANO).split(), (ALTO + " " + ALTO).split()]
    voices += [(TENOR + " " + TENOR).split(), (BASS + " " + BASS).split()]
    voices[0][30] = "Ef5"
    voices[1][13] = "Gs4"
    lines = []
    for number, notes in enumerate(voices, start=1):
        lines.append(f"a{number}[0]=[{','.join(':' + n for n in notes)}]")
        lines.append(f"b{number}[0]=[{','.join(['1'] * len(notes))}]")
    alone = SOPRANO.replace("B4", "Bf4").split()
    lines.append(f"a1[1]=[{','.join(':' + n for n in alone)}]")
    lines.append(f"b1[1]=[{','.join(['1'] * len(alone))}]")
    return "\n".join(lines) + "\n"


async def hints_when(
    editor: Editor, uri: str, ready: Callable[[list[types.Diagnostic]], bool]
) -> list[types.Diagnostic]:
    """The slip hints of ``uri`` once they satisfy ``ready`` (the check runs in the background,
    after the reading's own diagnostics)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60.0
    while loop.time() < deadline:
        hints = [d for d in editor.client.diagnostics.get(uri, []) if d.code == "slip"]
        if ready(hints):
            return hints
        await asyncio.sleep(0.05)
    raise TimeoutError(f"slip hints of {uri} never became ready")


def covered(editor: Editor, uri: str, diag: types.Diagnostic) -> str:
    view = DocumentView(uri, editor.versions[uri], editor.texts[uri])
    start = view.offset_at(diag.range.start.line, diag.range.start.character)
    end = view.offset_at(diag.range.end.line, diag.range.end.character)
    return view.text[start:end]


async def test_wrong_notes_get_hints_fixes_and_ignore_here():
    client, editor = await start_editor(server_command(SHIPPED))
    try:
        uri = editor.open(piece())
        hints = await hints_when(editor, uri, lambda h: len(h) >= 2)
        assert sorted(covered(editor, uri, h) for h in hints) == [":Ef5", ":Gs4"]
        assert all(h.severity == types.DiagnosticSeverity.Hint for h in hints)
        assert all(h.range.start.line in (0, 2) for h in hints)  # not the soprano alone
        flat = next(h for h in hints if covered(editor, uri, h) == ":Ef5")
        assert flat.message.startswith("E♭5 against C–E–G in the other voices; E5 is ")
        sharp = next(h for h in hints if covered(editor, uri, h) == ":Gs4")
        assert sharp.message.startswith("A♭4 against G–B–D in the other voices; G4 is ")

        offered = await editor.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri),
                range=sharp.range,
                context=types.CodeActionContext(diagnostics=[sharp]),
            )
        )
        titles = [a.title for a in offered]
        assert titles[:2] == ["Change :Gs4 to :G4", "Ignore here (keep :Gs4)"]
        # (pygls' client keeps only the titles of CodeAction|Command unions: the edits are the
        # server's own function's, applied as the client would.)
        view = DocumentView(uri, editor.versions[uri], editor.texts[uri])
        ignore = actions(view, [sharp], True)[1]
        editor._apply(types.ApplyWorkspaceEditParams(edit=ignore.edit))
        assert editor.texts[uri].splitlines()[2].endswith("  # notegen: ignore 13")
        left = await hints_when(
            editor, uri, lambda h: [covered(editor, uri, d) for d in h] == [":Ef5"]
        )
        assert len(left) == 1  # the ignored note is silent, the other one still hinted

        view = DocumentView(uri, editor.versions[uri], editor.texts[uri])
        fix = actions(view, left, True)[0]
        assert fix.title == "Change :Ef5 to :E5" and fix.is_preferred
        editor._apply(types.ApplyWorkspaceEditParams(edit=fix.edit))
        assert editor.texts[uri].splitlines()[0].count(":Ef5") == 0
    finally:
        await client.shutdown_session()
        await client.stop()


def _hint_facts(editor: Editor, uri: str, hints: list[types.Diagnostic]) -> list[tuple]:
    return sorted(
        (covered(editor, uri, h), h.range.start.line, h.message, str(h.data)) for h in hints
    )


async def test_a_check_in_a_child_process_gives_the_servers_hints_after_an_edit_too():
    """Big pieces are checked in a child process (``$NOTEGEN_CHILD_MIN_NOTES``: 0 sends this
    one there); its hints, and those after an edit (read with the evidence kept from the
    first check), are the ones the server finds itself."""
    found = []
    for threshold in ("0", str(10**9)):
        command = ["env", f"NOTEGEN_CHILD_MIN_NOTES={threshold}", *server_command(SHIPPED)]
        client, editor = await start_editor(command)
        try:
            uri = editor.open(piece())
            first = await hints_when(editor, uri, lambda h: len(h) >= 2)
            before = _hint_facts(editor, uri, first)
            lines = editor.texts[uri].splitlines(keepends=True)
            lines[2] = lines[2].replace(":Gs4", ":G4", 1)  # the alto's slip corrected
            editor.change(uri, "".join(lines))
            after = await hints_when(
                editor,
                uri,
                lambda h, e=editor, u=uri: [covered(e, u, d) for d in h] == [":Ef5"],
            )
            found.append((before, _hint_facts(editor, uri, after)))
        finally:
            await client.shutdown_session()
            await client.stop()
    apart, inside = found
    assert apart == inside
    assert [fact[0] for fact in apart[0]] == [":Ef5", ":Gs4"]


async def test_the_kept_evidence_lives_in_a_temporary_folder_gone_on_close_and_exit(tmp_path):
    """Each section's evidence is a file in the document's folder under one temporary folder of
    the server's (in ``$TMPDIR``): closing the document deletes its folder, and the server's
    exit the whole one."""
    for threshold in ("0", str(10**9)):  # checked in a child process, and in the server
        tmp = tmp_path / threshold
        tmp.mkdir()
        env = ["env", f"TMPDIR={tmp}", f"NOTEGEN_CHILD_MIN_NOTES={threshold}"]
        client, editor = await start_editor([*env, *server_command(SHIPPED)])
        try:
            uri = editor.open(piece())
            await hints_when(editor, uri, lambda h: len(h) >= 2)
            (root,) = ours(tmp)
            (folder,) = root.iterdir()
            kept = sorted(p.name for p in folder.iterdir())
            assert len(kept) == 1  # the chorale's section (the soprano alone is not checked)
            assert all(len(name) == 32 for name in kept)  # hex digests, nothing half written

            editor.client.text_document_did_close(
                types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri))
            )
            await editor.diagnostics(uri)  # the close's empty diagnostics: handled
            assert list(root.iterdir()) == []
        finally:
            await client.shutdown_session()
            await client.stop()
        assert ours(tmp) == []


def ours(tmp: Path) -> list[Path]:
    """The server's folders in ``tmp`` (onnxruntime leaves a ``.ses`` file of its own)."""
    return [p for p in tmp.iterdir() if p.name.startswith("notegen-")]
