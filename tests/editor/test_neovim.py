"""notegen through a real editor: Neovim, configured with the README's OWN snippet.

The README has one Lua snippet per Neovim range (0.7–0.9, 0.10, 0.11+, nvim-lspconfig), each
after a ``<!-- nvim-snippet: NAME -->`` marker, and a common part they share. This test asks the
installed Neovim its version (Debian's 0.7.2 here and on CI), takes the README's common snippet
and the one for that version *verbatim*, and runs them as ``init.lua`` — followed only by
``nvim/drive.lua``, which plays the user: opens a Rails controller (no server may start), then a
Sonic Pi file (the snippet starts ``notegen-lsp``), asks for completions inside a note array,
presses the README's ``\\mg`` to generate a melody, and presses it again in a new empty file.
``notegen-lsp`` comes from ``PATH`` as the README says; the test model from ``$NOTEGEN_MODEL``.
So the documentation cannot drift from what works.

By hand, the other snippets run the same way on another Neovim: ``NOTEGEN_NVIM`` names its
binary, ``NOTEGEN_NVIM_SNIPPET`` a snippet to use instead of the version's own, and
``NOTEGEN_NVIM_LSPCONFIG`` a checkout of nvim-lspconfig, put first on ``runtimepath`` with its
plugin file sourced (what a plugin manager does) for the ``lspconfig`` snippet.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fixtures.editor_song import NOTE_LINE, SONG, assert_song_with_generated_voice
from notegen.notes import infer_style, note_to_midi, spell
from notegen.sonicpi import read

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
README = REPO / "README.md"
SERVER_DIR = Path(sys.executable).parent  # holds notegen-lsp

RAILS = """class PostsController < ApplicationController
  SCALE = [:c, :d, :e, :f]

  def index
    sleep 1
    @posts = Post.all
  end
end
"""
CURSOR = (NOTE_LINE, len("a1[0]=[:ef4,:f4,:g4,"))  # inside the note array, after a comma
END_OF_NOTES = (NOTE_LINE, len("a1[0]=[:ef4,:f4,:g4,:af4,:bf4,:c5,:bf4,:af4,:g4,:f4"))
AS_YOU_TYPE = ("0.11",)
"""Snippets with completion as you type (``vim.lsp.completion``): the driver also types ``,``
at the end of a note array, picks the longest phrase in the menu, and the phrase's command
must give ``b1[0]`` its durations."""
README_LENGTH = 32  # what the README's <leader>mg asks for


def readme_snippets() -> dict[str, str]:
    """Every ``<!-- nvim-snippet: NAME -->`` Lua block of the README, by name."""
    found = re.findall(
        r"<!-- nvim-snippet: ([\w.]+) -->\s*```lua\n(.*?)```", README.read_text(), re.DOTALL
    )
    return dict(found)


def snippet_for(version: tuple[int, int]) -> str:
    """The README section a Neovim of ``version`` should use."""
    if version >= (0, 11):
        return "0.11"
    if version >= (0, 10):
        return "0.10"
    if version >= (0, 7):
        return "0.7"
    raise AssertionError(f"Neovim {version} is older than any the README supports (0.7)")


def nvim_version(nvim: str) -> tuple[int, int]:
    out = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"NVIM v(\d+)\.(\d+)", out)
    assert found, out
    return int(found.group(1)), int(found.group(2))


def _tiny_model() -> ModuleType:
    path = REPO / "tests" / "fixtures" / "tiny_model.py"
    spec = importlib.util.spec_from_file_location("notegen_tiny_model_nvim", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def neovim_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the whole editor session once; every test reads its recorded outcome."""
    nvim = os.environ.get("NOTEGEN_NVIM") or shutil.which("nvim")
    if nvim is None:
        pytest.fail(
            "nvim is not installed: `apt-get install neovim` (listed in .ci/apt-packages.txt)"
        )
    tmp = tmp_path_factory.mktemp("neovim")
    card, _weights = _tiny_model().build_tiny_model(tmp / "model", seed=5)
    work = tmp / "project"
    work.mkdir()
    (work / "song.rb").write_text(SONG)
    (work / "phrase.rb").write_text(SONG)
    (work / "posts_controller.rb").write_text(RAILS)
    snippets = readme_snippets()
    section = os.environ.get("NOTEGEN_NVIM_SNIPPET") or snippet_for(nvim_version(nvim))
    plugin = ""
    if section == "lspconfig":
        lspconfig = os.environ.get("NOTEGEN_NVIM_LSPCONFIG")
        assert lspconfig, "the lspconfig snippet needs NOTEGEN_NVIM_LSPCONFIG (a checkout)"
        plugin = (
            f"-- the plugin manager's part\nvim.opt.runtimepath:prepend({json.dumps(lspconfig)})\n"
            "vim.cmd('runtime! plugin/lspconfig.lua')\n"
        )
    init = tmp / "init.lua"
    init.write_text(
        f"{plugin}-- README.md, common part\n{snippets['common']}\n"
        f"-- README.md, Neovim {section}\n{snippets[section]}\n"
        f"dofile({json.dumps(str(HERE / 'nvim' / 'drive.lua'))})\n"
    )
    result_path = tmp / "result.json"
    config = {
        "rails": str(work / "posts_controller.rb"),
        "doc": str(work / "song.rb"),
        "empty": str(work / "new_piece.rb"),
        "cursor": list(CURSOR),
        "phrase": str(work / "phrase.rb") if section in AS_YOU_TYPE else None,
        "end_of_notes": list(END_OF_NOTES),
        "result": str(result_path),
    }
    env = dict(
        os.environ,
        NOTEGEN_E2E=json.dumps(config),
        NOTEGEN_MODEL=str(card),
        PATH=f"{SERVER_DIR}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp / var.lower())
    completed = subprocess.run(
        [nvim, "--headless", "--noplugin", "-n", "-i", "NONE", "-u", str(init)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result_path.exists(), (
        f"nvim wrote no result (exit {completed.returncode})\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
    result = json.loads(result_path.read_text())
    log = Path(result.get("lsp_log") or "")
    assert not result.get("error"), f"{result['error']}\nsteps: {result['steps']}\n" + (
        log.read_text()[-4000:] if log.is_file() else ""
    )
    result["section"] = section
    print(f"Neovim {result['nvim_version']}, the README's {section} snippet", file=sys.stderr)
    return result


def test_the_readme_has_a_snippet_for_every_supported_neovim():
    snippets = readme_snippets()
    assert set(snippets) == {"common", "0.7", "0.10", "0.11", "lspconfig"}
    assert "vim.lsp.start_client" in snippets["0.7"] and "omnifunc" in snippets["0.7"]
    assert "vim.lsp.start(" in snippets["0.10"] and "start_client" not in snippets["0.10"]
    assert "vim.lsp.config(" in snippets["0.11"] and "vim.lsp.enable(" in snippets["0.11"]
    assert "vim.lsp.completion.enable" in snippets["0.11"]
    assert "lspconfig" in snippets["lspconfig"]
    for name, code in snippets.items():
        assert "pip install notegen" not in code, name


def test_a_rails_controller_starts_no_server(neovim_run: dict[str, Any]):
    assert neovim_run["filetype_rails"] == "ruby"
    assert neovim_run["clients_after_rails"] == 0


def test_the_readme_snippet_for_this_neovim_starts_notegen(neovim_run: dict[str, Any]):
    typed = ["phraseAccepted"] if neovim_run["section"] in AS_YOU_TYPE else []
    assert neovim_run["steps"] == [
        "rails",
        "initialized",
        "completed",
        "generated",
        "generatedInEmpty",
        *typed,
    ]
    assert neovim_run["client_name"] == "notegen" and neovim_run["attached"]
    assert neovim_run["clients_at_end"] == 1, "one server for every Sonic Pi buffer"
    assert neovim_run["server_alive"]
    assert neovim_run["server_capabilities"]["completionProvider"]
    if neovim_run["section"] in ("0.7", "0.10"):
        assert neovim_run["omnifunc"] == "v:lua.vim.lsp.omnifunc"


def test_completion_in_a_note_array_offers_notes_in_the_documents_spelling(
    neovim_run: dict[str, Any],
):
    assert "completion_error" not in neovim_run
    style = infer_style(SONG)
    assert (style.case, style.accidental, style.flat_letter) == ("lower", "flat", "f")
    notes = [item["label"] for item in neovim_run["completion"] if "," not in item["label"]]
    assert len(notes) >= 5, neovim_run["completion"]
    for label in notes:
        midi = note_to_midi(label)
        assert spell(midi, style) == label, f"{label} is not spelled like the document"
    # Ranked by probability: in sortText order the probability shown in detail never rises.
    ranked = sorted(
        (item for item in neovim_run["completion"] if item["label"] in notes),
        key=lambda item: item["sortText"],
    )
    shown = [float(re.search(r"([0-9.]+)\s*%", item["detail"]).group(1)) for item in ranked]
    assert shown == sorted(shown, reverse=True), ranked


def test_generate_command_inserts_a_playable_block_in_the_buffer(
    neovim_run: dict[str, Any], tmp_path: Path
):
    assert "command_error" not in neovim_run
    text = "\n".join(neovim_run["lines"]) + "\n"
    assert_song_with_generated_voice(text, README_LENGTH, tmp_path)


def test_in_a_new_empty_file_the_melody_starts_on_the_first_line(neovim_run: dict[str, Any]):
    lines = neovim_run["empty_lines"]
    assert lines[0].strip(), f"the block starts with a blank line: {lines[:3]}"
    voices = [a for a in read("\n".join(lines) + "\n") if a.kind == "voice"]
    assert {a.voice for a in voices} == {1}
    assert sum(len(a.notes) for a in voices) == README_LENGTH


def test_a_phrase_picked_from_the_menu_as_you_type_brings_its_durations(
    neovim_run: dict[str, Any],
):
    """Neovim 0.11's ``vim.lsp.completion`` runs the item's command after inserting it."""
    if neovim_run["section"] not in AS_YOU_TYPE:
        assert "phrase_lines" not in neovim_run  # omnifunc runs no item command
        return
    text = "\n".join(neovim_run["phrase_lines"]) + "\n"
    voice = next(a for a in read(text) if a.name == "a1[0]")
    before = next(a for a in read(SONG) if a.name == "a1[0]")
    assert neovim_run["phrase"].count(",") + 1 == len(voice.notes) - len(before.notes)
    assert voice.durations is not None
    assert len(voice.durations.values) == len(voice.notes)
