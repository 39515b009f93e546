"""notegen through VS Code: the extension's own checks, then a real VS Code driven end to end.

The extension (``vscode-extension/``, TypeScript) is built here exactly as it ships: ``npm ci``,
``tsc --noEmit``, eslint, its node:test unit tests, and ``vsce package`` (offline) into a .vsix.
Then code-server 4.139 (VS Code 1.139 in a browser, installed once into a cache by
``.ci/install-vscode-deps.sh``) installs that .vsix and headless Chromium drives it
(``vscode-extension/test/e2e/run.ts``) as a newcomer: a workspace with a Rails-like controller
and a Sonic Pi file, ``python3`` without notegen, the project's ``.venv`` with it. The controller
opens first (no server starts), the song next (one message, "Choose interpreter", the picker
finds ``.venv``), then completion, the piano-roll hover, Generate melody with its preview and
the revealed block, ghost text accepted with its durations, Continue melody, Play, the Settings
editor from the status item, a crash, silence back in the controller, and a file in a folder
that ``notegen.folderModels`` maps to a model of ``notegen.modelsDir`` (the status item names
it). The driver records what the editor showed; the tests below check it with the project's
own Sonic Pi reader and read the pictures by what they show (their bars), not by pixels.

Screenshots land in ``vscode-extension/.cache/e2e/``; with ``NOTEGEN_UPDATE_SCREENSHOTS=1`` they
are also copied into ``vscode-extension/media/`` for the extension's README (take them with the
shipped model: ``NOTEGEN_E2E_MODEL=models/notegen.json``; CI uses a tiny model built here).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import notegen
import pytest
from fixtures.editor_song import NOTE_LINE, SONG, assert_song_with_generated_voice
from notegen.lsp import pianoroll
from notegen.lsp.config import parse_settings
from notegen.notes import infer_style, note_to_midi, spell
from notegen.sonicpi import read

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXT = REPO / "vscode-extension"
SERVER_SOURCES = Path(notegen.__file__).resolve().parents[1]  # this checkout's server/
ARTIFACTS = EXT / ".cache" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")

RAILS = """class PostsController < ApplicationController
  before_action :set_post, only: [:show, :edit]
  SCALE = [:c, :d, :e, :f]

  def index
    @posts = Post.all
  end
end
"""
RAILS_CURSOR = (2, len("  SCALE = [:c, :d, "))
CURSOR = (NOTE_LINE, len("a1[0]=[:ef4,:f4,:g4,"))  # inside the note array, after a comma
GHOST_CURSOR = (NOTE_LINE, len("a1[0]=[:ef4,:f4,:g4,:af4,:bf4,:c5,:bf4,:af4,:g4,:f4"))
FUGUE = """use_bpm 80
a1=[]
b1=[]
a1[0]=[:c4,:d4,:e4,:f4,:g4]
b1[0]=[1,1,1,1,2]
in_thread do
  play_pattern_timed a1[0], b1[0]
end
"""
SLIP_SENSITIVITY = "high"
SEED = 7
LENGTH = 32  # the default the palette offers first (as the code action and the CLI)
MAX_ITEMS_AFTER_CHANGE = 3


def _run(cmd: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a build step; a failure shows the step's own output, which says what broke."""
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} ran over {timeout}s\n{exc.stdout}\n{exc.stderr}")
    if done.returncode != 0:
        output = f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        pytest.fail(f"{' '.join(cmd)} exited {done.returncode}\n{output}")
    return done


def _bin(name: str) -> str:
    return str(EXT / "node_modules" / ".bin" / name)


@pytest.fixture(scope="module")
def built() -> Path:
    """Install the extension's npm dependencies (when the lock file changed) and build it."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: the VS Code extension needs Node.js 20+ and npm")
    lock = hashlib.sha256((EXT / "package-lock.json").read_bytes()).hexdigest()
    stamp = EXT / "node_modules" / ".notegen-lock-sha256"
    if not stamp.exists() or stamp.read_text() != lock:
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], 600, cwd=EXT)
        stamp.write_text(lock)
    _run(["npm", "run", "--silent", "package"], 300, cwd=EXT)
    _run([_bin("tsc"), "-p", "tsconfig.test.json"], 300, cwd=EXT)
    vsix = EXT / "dist" / "notegen.vsix"
    assert vsix.is_file(), "vsce package wrote no .vsix"
    return vsix


def test_typescript_typechecks_without_errors(built: Path):
    _run([_bin("tsc"), "--noEmit", "-p", "tsconfig.json"], 300, cwd=EXT)
    _run([_bin("tsc"), "--noEmit", "-p", "tsconfig.test.json"], 300, cwd=EXT)


def test_eslint_reports_nothing(built: Path):
    done = _run([_bin("eslint"), "--max-warnings", "0", "."], 300, cwd=EXT)
    assert done.stdout.strip() == ""


def test_unit_tests_of_the_typescript_helpers_pass(built: Path):
    done = _run(["node", "--test", "out/test/unit/"], 300, cwd=EXT)
    passed = re.search(r"^# pass (\d+)$", done.stdout, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", done.stdout, re.MULTILINE)
    assert passed and failed, done.stdout[-3000:]
    assert int(failed.group(1)) == 0
    assert int(passed.group(1)) >= 40, "the unit tests were not all found"


def test_vsix_ships_the_bundle_readme_and_screenshots_only(built: Path):
    names = set(zipfile.ZipFile(built).namelist())
    assert "extension/dist/extension.js" in names
    assert "extension/package.json" in names
    assert "extension/readme.md" in {n.lower() for n in names}
    for shot in ("completion.png", "generate-melody.png", "piano-roll-hover.png"):
        assert f"extension/media/{shot}" in names
    assert not any("node_modules" in n or n.endswith(".ts") for n in names), sorted(names)
    manifest = json.loads(zipfile.ZipFile(built).read("extension/package.json"))
    commands = {c["command"]: c["title"] for c in manifest["contributes"]["commands"]}
    assert commands["notegen.palette.generateMelody"] == "Generate melody"
    assert commands["notegen.restartServer"] == "Restart server"
    settings = manifest["contributes"]["configuration"]["properties"]
    for key in (
        "modelPath",
        "temperature",
        "topK",
        "topP",
        "maxItems",
        "phraseLength",
        "maxContext",
        "inlineSuggestions",
        "sonicPi.host",
        "sonicPi.port",
        "server.command",
        "server.pythonPath",
    ):
        prop = settings[f"notegen.{key}"]
        assert "default" in prop and (prop.get("description") or prop.get("markdownDescription"))
    # One type per setting: ["string", "null"] made the Settings editor show no text box.
    assert all(isinstance(prop["type"], str) for prop in settings.values()), settings
    assert settings["notegen.enable"]["enum"] == ["auto", "always", "never"]
    assert settings["notegen.enable"]["scope"] == "resource"
    # Activation on Ruby is cheap JavaScript; the server waits for a Sonic Pi file (see e2e).
    assert "workspaceContains:**/*.rb" not in manifest["activationEvents"]
    assert f"extension/{manifest['icon']}" in names
    assert manifest["publisher"] != "notegen"


# -- the real editor -------------------------------------------------------------------------


def _tiny_model() -> ModuleType:
    path = REPO / "tests" / "fixtures" / "tiny_model.py"
    spec = importlib.util.spec_from_file_location("notegen_tiny_model_vscode", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _install_code_server() -> dict[str, str]:
    done = _run(["bash", str(REPO / ".ci" / "install-vscode-deps.sh")], 1500)
    paths = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    for key in ("NOTEGEN_NODE24", "NOTEGEN_CODE_SERVER"):
        assert Path(paths[key]).is_file(), f"{key} missing after install: {paths}"
    return paths


def _python_without_notegen(tmp: Path) -> str:
    """A real interpreter on which `import notegen` fails: a bare venv of the system Python."""
    venv = tmp / "bare-venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], 120)
    python = venv / "bin" / "python"
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as code-server runs
    probe = subprocess.run([str(python), "-c", "import notegen"], capture_output=True, env=clean)
    assert probe.returncode != 0, "the bare venv can import notegen"
    return str(python)


@pytest.fixture(scope="module")
def vscode(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run the whole editor session once; every test reads its recorded outcome."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed: `apt-get install chromium` (.ci/apt-packages.txt)")
    paths = _install_code_server()
    tmp = tmp_path_factory.mktemp("vscode")
    # NOTEGEN_E2E_MODEL=models/notegen.json takes the README screenshots with the shipped model.
    model = os.environ.get("NOTEGEN_E2E_MODEL") or str(
        _tiny_model().build_tiny_model(tmp / "model", seed=5)[0]
    )
    models_dir = tmp / "models"  # notegen.modelsDir: a second model, "baroque"
    _tiny_model().build_tiny_model(models_dir, name="baroque", seed=11)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    config = {
        "node": paths["NOTEGEN_NODE24"],
        "codeServer": paths["NOTEGEN_CODE_SERVER"],
        "vsix": str(built),
        "chromium": str(CHROMIUM),
        "workDir": str(tmp / "work"),
        "outDir": str(ARTIFACTS),
        "serverPython": sys.executable,
        "serverPythonPath": str(SERVER_SOURCES),
        "railsDocument": RAILS,
        "railsCursor": list(RAILS_CURSOR),
        "modelPath": str(Path(model).resolve()),
        "modelsDir": str(models_dir),
        "folderDocument": FUGUE,
        "slipSensitivity": SLIP_SENSITIVITY,
        "pythonWithoutNotegen": _python_without_notegen(tmp),
        "document": SONG,
        "cursor": list(CURSOR),
        "ghostCursor": list(GHOST_CURSOR),
        "typeAtCursor": "",
        "seed": SEED,
        "maxItemsAfterChange": MAX_ITEMS_AFTER_CHANGE,
        "timeoutSeconds": 420,
    }
    config_path = tmp / "e2e.json"
    config_path.write_text(json.dumps(config))
    done = subprocess.run(
        ["node", "out/test/e2e/run.js", str(config_path)],
        cwd=EXT,
        capture_output=True,
        text=True,
        timeout=540,
        stdin=subprocess.DEVNULL,
    )
    result_path = ARTIFACTS / "result.json"
    assert result_path.exists(), f"the driver wrote no result\n{done.stdout}\n{done.stderr[-6000:]}"
    result = json.loads(result_path.read_text())
    if result.get("error"):
        logs = sorted(ARTIFACTS.glob("*notegen.log"))
        log_tail = logs[0].read_text()[-5000:] if logs else "(no notegen log)"
        pytest.fail(
            f"{result['error']}\nsteps: {result['steps']}\ndriver:\n{done.stderr[-4000:]}\n"
            f"notegen output channel:\n{log_tail}\nscreenshots: {ARTIFACTS}"
        )
    result["defaultModel"] = Path(model).stem
    if os.environ.get("NOTEGEN_UPDATE_SCREENSHOTS") == "1":
        for shot in result["screenshots"]:
            shutil.copy(shot, EXT / "media" / Path(shot).name)
    return result


def test_the_vsix_installs_and_the_server_starts_in_vs_code(vscode: dict[str, Any]):
    assert vscode["steps"] == [
        "installed",
        "code-server",
        "workbench",
        "railsQuiet",
        "missingServerExplained",
        "interpreterChosen",
        "completed",
        "melodyPictured",
        "generated",
        "ghostText",
        "continued",
        "phraseAccepted",
        "played",
        "settingsPushed",
        "restartedAfterCrash",
        "railsSilent",
        "modelShown",
    ]
    errors = [t for t in vscode["notificationsBeforeFailure"] if "error" in t.lower()]
    assert errors == [], "VS Code showed errors while notegen was working"


def test_typing_in_a_note_array_offers_notegen_notes_in_the_documents_spelling(
    vscode: dict[str, Any],
):
    style = infer_style(SONG)
    notes = [label for label in vscode["completionLabels"] if "," not in label]
    assert len(notes) >= 5, vscode["completionLabels"]
    for label in notes:
        assert spell(note_to_midi(label), style) == label, f"{label} is not in the doc's spelling"
    # The focused item's detail is notegen's: probability, MIDI number, suggested duration.
    assert re.search(r"%.*MIDI \d+.*beat", vscode["completionDetail"]), vscode["completionDetail"]


def test_generate_melody_from_the_palette_asks_then_inserts_a_playable_block(
    vscode: dict[str, Any], tmp_path: Path
):
    prompts = vscode["generatePrompts"]
    assert "cannot start" not in " ".join(prompts)
    assert [p.split(" | ")[-1][:20] for p in prompts[:2]] == [
        "How many notes shoul",
        "Key of the melody",
    ]
    assert "Temperature" in prompts[2] and "Random seed" in prompts[3]
    text = vscode["documentAfterGenerate"]
    assert_song_with_generated_voice(text, LENGTH, tmp_path)


def test_ghost_text_continues_the_array_after_a_comma(vscode: dict[str, Any]):
    ghost = vscode["ghostText"].replace("\u00a0", " ").strip().strip(",")
    first = ghost.split(",")[0].strip()
    assert note_to_midi(first) is not None or first in (":r", ":rest"), ghost


def test_accepted_ghost_text_keeps_every_note_with_a_duration(vscode: dict[str, Any]):
    """Tab alone: the inline item's command adds the durations (no quick fix is used)."""
    before = next(a for a in read(vscode["documentAfterGenerate"]) if a.name == "a1[0]")
    after = next(a for a in read(vscode["documentAfterGhost"]) if a.name == "a1[0]")
    assert len(after.notes) > len(before.notes), "Tab did not accept the ghost text"
    assert after.durations is not None
    assert len(after.durations.values) == len(after.notes), "b1[0] did not get the durations"
    assert [v.text for v in after.durations.values[: len(before.notes)]] == [
        v.text for v in before.durations.values
    ]
    assert all(v.value is not None and v.value > 0 for v in after.durations.values)


def test_an_accepted_phrase_item_brings_its_durations(vscode: dict[str, Any]):
    """A phrase picked from the completion list: its command fills b1[0] (no quick fix)."""
    before = next(a for a in read(vscode["documentBeforePhrase"]) if a.name == "a1[0]")
    after = next(a for a in read(vscode["documentAfterPhrase"]) if a.name == "a1[0]")
    assert len(after.notes) - len(before.notes) == len(vscode["phraseLabel"].split(","))
    assert after.durations is not None and before.durations is not None
    assert len(after.durations.values) == len(after.notes), "b1[0] did not get the durations"
    assert [v.text for v in after.durations.values[: len(before.notes)]] == [
        v.text for v in before.durations.values
    ]


def test_continue_melody_appends_notes_and_matching_durations(vscode: dict[str, Any]):
    assert "How many notes" in vscode["continuePrompt"]
    before = next(a for a in read(vscode["documentAfterGhost"]) if a.voice == 1)
    after = next(a for a in read(vscode["documentAfterContinue"]) if a.voice == 1)
    added = len(after.notes) - len(before.notes)
    assert added == 8, "the default is notegen.phraseLength (8) notes"
    assert all(note.error is None for note in after.notes)
    assert after.durations is not None and len(after.durations.values) == len(after.notes)
    assert [n.text for n in after.notes[: len(before.notes)]] == [n.text for n in before.notes]


def test_play_in_sonic_pi_plays_or_says_how_to_start_sonic_pi(vscode: dict[str, Any]):
    outcome = vscode["playOutcome"]
    assert outcome == "status bar: Sonic Pi playing" or "Start Sonic Pi" in outcome, outcome


def test_a_settings_change_reaches_the_running_server_without_reload(vscode: dict[str, Any]):
    before = [label for label in vscode["completionLabels"] if "," not in label]
    after = [label for label in vscode["completionLabelsAfterSettingChange"] if "," not in label]
    assert len(before) > MAX_ITEMS_AFTER_CHANGE
    assert 0 < len(after) <= MAX_ITEMS_AFTER_CHANGE


def test_a_crashed_server_is_restarted_and_completion_comes_back(vscode: dict[str, Any]):
    pids = vscode["serverPids"]
    assert len(pids) >= 2 and pids[-1] != pids[-2], pids
    notes = [label for label in vscode["completionLabelsAfterCrash"] if "," not in label]
    assert notes and all(note_to_midi(label) is not None for label in notes)


def test_a_python_without_notegen_gets_a_message_that_says_how_to_fix_it(
    vscode: dict[str, Any],
):
    message = vscode["missingServerMessage"]
    assert vscode["notificationsAtFailure"] == [message], "one clear message, no raw errors"
    assert "does not have the notegen server (Python package sonic-pi-notegen)" in message
    assert "-m pip install ./notegen" in message
    assert "pip install notegen" not in message, "PyPI's notegen is an unrelated project"
    assert "`" not in message, "notifications show backticks raw"
    assert "Choose interpreter" in message and "notegen.server.command" in message


def test_generate_with_the_server_down_says_why_before_asking_anything(vscode: dict[str, Any]):
    assert vscode["promptsWhileDown"] == []


def test_a_ruby_only_workspace_starts_no_server(vscode: dict[str, Any]):
    assert vscode["statusAfterRails"].startswith("waiting"), vscode["statusAfterRails"]
    assert "starting the server" not in vscode["logAfterRails"]


def test_the_picker_finds_the_projects_venv_and_the_server_then_runs(vscode: dict[str, Any]):
    rows = vscode["interpreterRows"]
    venv = [r for r in rows if ".venv/bin/python" in r]
    assert venv and "has notegen" in venv[0], rows
    assert any("no notegen" in r for r in rows), "python3 without notegen is listed as such"
    assert vscode["pythonPathChosen"].endswith("/songs/.venv/bin/python")
    states = vscode["statusStates"]
    assert states[-1] == "ready" and "failed" in states, states
    assert states.index("failed") < len(states) - 1
    assert "starting" in states[states.index("failed") :], states


def _bars(picture: str) -> list[str]:
    svg = base64.b64decode(picture.split(",", 1)[1]).decode()
    ns = "{http://www.w3.org/2000/svg}"
    return [r.get("fill") for r in ET.fromstring(svg).iter(f"{ns}rect")]


def test_the_hover_pictures_the_voice_with_the_cursor_note_marked(vscode: dict[str, Any]):
    assert vscode["hoverPictureWidth"] > 0, "the browser did not render the picture"
    bars = _bars(vscode["hoverPicture"])
    voice = next(a for a in read(SONG) if a.name == "a1[0]")
    assert bars.count(pianoroll.CURSOR) == 1
    assert bars.count(pianoroll.CURSOR) + bars.count(pianoroll.FOCUS) == len(voice.notes)
    assert bars.count(pianoroll.OTHER) == 0  # the only voice
    assert "MIDI" in vscode["hoverText"]


def test_generate_shows_a_preview_then_reveals_the_inserted_block(vscode: dict[str, Any]):
    bars = _bars(vscode["generatePreviewPicture"])
    new = [a for a in read(vscode["documentAfterGenerate"]) if a.voice == 2]
    sounding = sum(1 for a in new for n in a.notes if n.midi is not None)
    assert bars.count(pianoroll.ADDED) == sounding
    assert bars.count(pianoroll.OTHER) == len(read(SONG)[0].notes)  # voice 1, faint
    text = vscode["documentAfterGenerate"]
    block_lines = [i + 1 for i, line in enumerate(text.split("\n")) if line.startswith("a2")]
    visible = set(vscode["visibleLinesAfterGenerate"])
    assert block_lines[0] in visible and block_lines[-1] in visible, (block_lines, visible)


def test_settings_open_on_the_workspace_tab_with_text_boxes(vscode: dict[str, Any]):
    assert vscode["settingsTab"].startswith("Workspace"), vscode["settingsTab"]
    assert vscode["settingsTextBoxes"] == [
        "notegen.modelPath",
        "notegen.server.command",
        "notegen.server.pythonPath",
    ]


def test_a_rails_controller_gets_no_notes_and_no_melody_actions(vscode: dict[str, Any]):
    notes = [label for label in vscode["railsCompletion"] if note_to_midi(label) is not None]
    assert notes == [], vscode["railsCompletion"]
    assert not [t for t in vscode["railsCodeActions"] if "melody" in t.lower()]


def test_the_status_item_names_the_model_serving_the_file_in_front(vscode: dict[str, Any]):
    assert vscode["statusWithSong"] == f"ready: notegen: {vscode['defaultModel']}"
    # baroque/fugue.rb: notegen.folderModels → the "baroque" model of notegen.modelsDir.
    assert vscode["statusWithFolderModel"] == "ready: notegen: baroque"


def test_the_model_and_slip_settings_reach_the_server(vscode: dict[str, Any]):
    sent = json.loads(vscode["settingsSent"])
    assert sent["modelsDir"].endswith("/models")
    assert list(sent["folderModels"].values()) == ["baroque"]
    folder = next(iter(sent["folderModels"]))
    assert folder.endswith("/songs/baroque") and "${" not in folder, folder
    assert sent["slips"] == {"sensitivity": SLIP_SENSITIVITY, "allPieces": False}
    # The whole object, as the extension sends it, is what the server accepts without a warning.
    settings, warnings = parse_settings(sent)
    assert warnings == []
    assert settings.folderModels == ((folder, "baroque"),)
    assert settings.slips.sensitivity == SLIP_SENSITIVITY and settings.pianoRoll is True
