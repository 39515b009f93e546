"""play/sleep lines through the real server: completion, ghost text, hover, diagnostics,
continueMelody and generateMelody's live_loop form; inserted code passes ``ruby -c``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from lsprotocol import types
from notegen.sonicpi import read
from notegen.sonicpi.statements import PlayRun

LOOP = "\n".join(
    [
        "use_bpm 100",
        "live_loop :melody do",
        "  use_synth :pluck",
        "  play :e4, release: 0.3",
        "  sleep 0.5",
        "  play :g4, release: 0.3",
        "  sleep 0.5",
        "  play :a4, release: 0.3  # the last note",
        "  sleep 1",
        "end",
        "",
    ]
)


def runs(text: str) -> list[PlayRun]:
    return [a for a in read(text) if isinstance(a, PlayRun)]


def ruby_ok(text: str, tmp_path: Path) -> None:
    ruby = shutil.which("ruby")
    assert ruby is not None, "ruby is not installed (listed in .ci/apt-packages.txt)"
    path = tmp_path / "check.rb"
    path.write_text(text)
    check = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


async def test_completion_after_play_offers_notes_spelled_like_the_file(editor):
    uri = editor.open(LOOP)
    editor.insert(uri, 9, 0, "  play \n")
    items = await editor.complete(uri, 9, 7, trigger=" ")
    assert len(items) >= 3
    assert all(re.fullmatch(r":[a-g][s]?\d", i.label) for i in items), [i.label for i in items]
    assert items[0].text_edit.new_text == items[0].label


async def test_completion_after_sleep_offers_durations(editor):
    uri = editor.open(LOOP)
    editor.insert(uri, 9, 0, "  play :b4\n  sleep \n")
    items = await editor.complete(uri, 10, 8, trigger=" ")
    assert items and all(re.fullmatch(r"\d+(\.\d+)?", i.label) for i in items)
    assert items[0].preselect


async def test_no_completion_where_a_note_cannot_go(editor):
    uri = editor.open(LOOP)
    editor.insert(uri, 9, 0, "  sample :\n")
    assert await editor.complete(uri, 9, 10, trigger=":") == []
    assert await editor.complete(uri, 2, 13, trigger=":") == []  # use_synth :pluck
    assert await editor.complete(uri, 7, 30) == []  # in the comment


async def test_ghost_text_on_a_blank_line_continues_the_run(editor, tmp_path):
    uri = editor.open(LOOP)
    editor.insert(uri, 9, 0, "\n")
    text = await editor.ghost(uri, 9, 0)
    assert text is not None
    lines = text.split("\n")
    assert lines[0].startswith("  play :") and lines[0].endswith(", release: 0.3")
    accepted = editor.texts[uri].replace("  sleep 1\n\nend", "  sleep 1\n" + text + "\nend")
    ruby_ok(accepted, tmp_path)
    (run,) = runs(accepted)
    played = [ln.strip().split()[1].rstrip(",") for ln in lines if "play" in ln]
    assert [n.text for n in run.notes[3:]] == played


async def test_hover_on_a_play_note(editor):
    uri = editor.open(LOOP)
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(5, 9))
    )
    assert hover is not None
    assert "MIDI 67" in hover.contents.value
    assert re.search(r"Model: \d+\.\d% likely here", hover.contents.value)


async def test_invalid_play_note_is_diagnosed(editor):
    uri = editor.open(LOOP.replace("play :g4", "play :h4"))
    diags = await editor.diagnostics(uri)
    (diag,) = [d for d in diags if d.code == "invalid-note"]
    assert diag.range.start == types.Position(5, 7)
    assert "Invalid note" in diag.message


async def test_continue_melody_appends_lines_that_read_back(editor, tmp_path):
    uri = editor.open(LOOP)
    result = await editor.command(
        "notegen.continueMelody",
        {"uri": uri, "position": {"line": 5, "character": 4}, "count": 6, "seed": 3},
    )
    assert result["applied"] is True and result["notes"] == 6
    text = editor.texts[uri]
    assert text.startswith(LOOP.split("  sleep 1\n")[0])  # nothing before is touched
    assert "# the last note\n  sleep 1\n  play" in text  # after the run, comment kept
    ruby_ok(text, tmp_path)
    (run,) = runs(text)
    assert len(run.notes) >= 4 and all(n.error is None for n in run.notes)
    assert text.rstrip().endswith("end")


async def test_generate_melody_writes_a_live_loop(editor, tmp_path):
    uri = editor.open(LOOP)
    result = await editor.command(
        "notegen.generateMelody",
        {"uri": uri, "form": "live_loop", "length": 12, "seed": 5, "key": ":e", "bpm": 90},
    )
    assert result["applied"] is True and result["form"] == "live_loop"
    text = editor.texts[uri]
    assert text.startswith(LOOP)
    assert "live_loop :notegen do\n  use_bpm 90\n" in text
    ruby_ok(text, tmp_path)
    (new,) = [r for r in runs(text) if r.name == "notegen"]
    assert new.bpm == 90.0
    loop = text[text.index("live_loop :notegen") :]
    assert len(new.notes) == loop.count("\n  play ") >= 1  # every play line reads back
    assert all(n.midi is not None and n.error is None for n in new.notes)
    assert len(new.notes) <= result["notes"] == 12  # rests fold into the sleep before them


async def test_generate_melody_without_a_form_writes_in_the_documents_own(editor, tmp_path):
    # what an editor's plain "Generate melody" sends: no form. Play/sleep lines → a live_loop
    uri = editor.open(LOOP)
    result = await editor.command("notegen.generateMelody", {"uri": uri, "length": 8, "seed": 2})
    assert result["applied"] is True and result["form"] == "live_loop"
    text = editor.texts[uri]
    assert text.startswith(LOOP) and "live_loop :notegen do\n" in text
    ruby_ok(text, tmp_path)
    # a file with aN voices (or nothing yet) keeps getting a voice
    arrays = "a1 = [:c4, :d4, :e4]\nb1 = [1, 1, 1]\n" + LOOP
    uri = editor.open(arrays)
    result = await editor.command("notegen.generateMelody", {"uri": uri, "length": 8, "seed": 2})
    assert result["form"] == "voice" and "live_loop :notegen" not in editor.texts[uri]


async def test_generate_melody_rejects_an_unknown_form(editor):
    from pygls.exceptions import JsonRpcException

    uri = editor.open(LOOP)
    try:
        await editor.command("notegen.generateMelody", {"uri": uri, "form": "loop"})
    except JsonRpcException as exc:
        assert "form" in str(exc)
    else:  # pragma: no cover - the assertion below reports it
        raise AssertionError("an unknown form was accepted")
    assert editor.texts[uri] == LOOP


async def test_code_actions_on_play_lines(editor):
    uri = editor.open(LOOP)
    await editor.diagnostics(uri)  # the whole-file reading is done
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(5, 8), types.Position(5, 8)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    titles = [a.title for a in actions]
    assert "Continue melody (8 notes)" in titles  # the cursor is on a play note
    assert any(t.endswith("live_loop)") for t in titles)  # a file of play/sleep lines
    assert "Play in Sonic Pi" in titles
    plain = editor.open("a1=[]\na1[0]=[:C4,:D4]\n", "arrays.rb")
    await editor.diagnostics(plain)
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(plain),
            range=types.Range(types.Position(0, 0), types.Position(0, 0)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not any(a.title.endswith("live_loop)") for a in actions)


RIFF = "\n".join(
    [
        "notes = (ring :e4, :g4, :b4, :a4)",
        "live_loop :riff do",
        "  play notes.tick, release: 0.2 if spread(7, 8).look",
        "  sleep 0.25",
        "  play :d5, note_slide: 0.5 do |s|",
        "    control s, note: :e5",
        "  end",
        "  sleep 0.5",
        "end",
        "",
    ]
)


async def test_play_lines_written_as_live_coders_write_them(editor, tmp_path):
    """A note picked from a ring with a postfix condition (hover: its note the first time
    through), a play with a block: completion on the block's line offers notes;
    continueMelody writes after the block's ``end``."""
    uri = editor.open(RIFF)
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(2, 10))
    )
    assert hover is not None and "MIDI 64" in hover.contents.value  # notes.tick: :e4 first
    assert "first time through" in hover.contents.value
    items = await editor.complete(uri, 4, 7, trigger=" ")
    assert len(items) >= 3
    assert all(re.fullmatch(r":[a-g][s]?\d", i.label) for i in items), [i.label for i in items]
    result = await editor.command(
        "notegen.continueMelody",
        {"uri": uri, "position": {"line": 4, "character": 4}, "count": 4, "seed": 3},
    )
    assert result["applied"] is True and result["notes"] == 4
    text = editor.texts[uri]
    head = RIFF.split("  sleep 0.5\n")[0]
    assert text.startswith(head + "  sleep ")  # after the block's end, nothing moved
    assert text.endswith("  sleep 0.5\nend\n")
    ruby_ok(text, tmp_path)
    first, inner, added = runs(text)[:3]
    assert [n.midi for n in first.notes] == [64, 74]  # notes.tick: the ring's first, :d5
    assert [n.midi for n in inner.notes] == [76]  # control s, note: :e5
    assert len(added.notes) == 4 and all(n.midi is not None for n in added.notes)
