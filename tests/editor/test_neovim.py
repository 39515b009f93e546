"""notegen through a real editor: Neovim's built-in LSP client, headless.

Neovim (Debian's package; CI installs it from .ci/apt-packages.txt) opens a Sonic Pi file,
attaches ``notegen-lsp``, asks for completions with the cursor inside a note array, then runs
``notegen.generateMelody`` and lets its own ``workspace/applyEdit`` handler change the buffer.
``nvim/init.lua`` records everything in a JSON file; here we check it:

* the completion items are notes spelled the way this document spells them (lower case, flats
  written with ``f``), so the user's style survives;
* the buffer afterwards holds a new, readable voice block: its note array has the requested
  length, every note is valid, and its duration array matches it — and Ruby accepts the file.
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
from notegen.notes import infer_style, note_to_midi, spell
from notegen.sonicpi import read

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SERVER = Path(sys.executable).parent / "notegen-lsp"

DOCUMENT = """use_bpm 100
a1=[]
b1=[]
a1[0]=[:ef4,:f4,:g4,:af4,:bf4,:c5,:bf4,:af4,:g4,:f4]
b1[0]=[0.5,0.5,0.5,0.5,1,0.5,0.5,0.5,0.5,1]
c1=[100]
in_thread do
  a1.length.times do |s|
    use_bpm c1[s]
    a1[s].length.times do |i|
      play a1[s][i]
      sleep b1[s][i]
    end
  end
end
"""
CURSOR = (3, len("a1[0]=[:ef4,:f4,:g4,"))  # inside the note array, after a comma
GENERATE = {"length": 16, "temperature": 0.9, "top_p": 0.95, "seed": 7, "bpm": 96}


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
    nvim = shutil.which("nvim")
    if nvim is None:
        pytest.fail(
            "nvim is not installed: `apt-get install neovim` (listed in .ci/apt-packages.txt)"
        )
    tmp = tmp_path_factory.mktemp("neovim")
    card, _weights = _tiny_model().build_tiny_model(tmp / "model", seed=5)
    doc = tmp / "song.rb"
    doc.write_text(DOCUMENT)
    result_path = tmp / "result.json"
    config = {
        "cmd": [str(SERVER), "--model", str(card)],
        "doc": str(doc),
        "cursor": list(CURSOR),
        "init_options": {"maxItems": 12},
        "generate": GENERATE,
        "result": str(result_path),
    }
    env = dict(os.environ, NOTEGEN_E2E=json.dumps(config))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(tmp / var.lower())
    completed = subprocess.run(
        [
            nvim,
            "--headless",
            "--noplugin",
            "-n",
            "-i",
            "NONE",
            "-u",
            str(HERE / "nvim" / "init.lua"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
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
    return result


def test_neovim_client_is_the_one_debian_ships(neovim_run: dict[str, Any]):
    assert neovim_run["steps"] == ["initialized", "completed", "generated"]
    assert neovim_run["server_alive"]
    assert neovim_run["server_capabilities"]["completionProvider"]


def test_completion_in_a_note_array_offers_notes_in_the_documents_spelling(
    neovim_run: dict[str, Any],
):
    assert "completion_error" not in neovim_run
    style = infer_style(DOCUMENT)
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
    assert text.startswith(DOCUMENT.rstrip("\n")), "the user's own lines were changed"
    arrays = read(text)
    new = [a for a in arrays if a.voice == 2]
    assert new, f"no voice 2 block in the buffer:\n{text}"
    melody = max(new, key=lambda a: len(a.notes))
    assert len(melody.notes) == GENERATE["length"]
    assert all(note.error is None for note in melody.notes)
    assert melody.durations is not None
    assert len(melody.durations.values) == GENERATE["length"]
    assert all(v.value is not None and v.value > 0 for v in melody.durations.values)
    assert "in_thread" in text[len(DOCUMENT) :]
    ruby = shutil.which("ruby")
    assert ruby is not None, "ruby is not installed (listed in .ci/apt-packages.txt)"
    song = tmp_path / "song.rb"
    song.write_text(text)
    check = subprocess.run([ruby, "-c", str(song)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
