"""notegen against Sonic Pi 5's own language server: the spider server of sonic-pi-net/sonic-pi
(v5.0.0-beta-1 development branch, pinned in .ci/start-sonic-pi-5.sh), headless on Debian's
scsynth, started with the command line Sonic Pi's daemon gives it (random ports and token).

What is not Sonic Pi's own: Tau (its Erlang side, for Link, MIDI and cues) is replaced by
.ci/fake-tau.py, and the daemon and GUI are not run. Everything notegen talks to (``/run-code``,
``/ping``, ``/version``, recording, errors, ``run_file``) is the real spider server. Its home
holds a stale ``daemon.log`` from an earlier, exited Sonic Pi, as after a restart. The server is
started for this module and stopped after it; a Sonic Pi that cannot start FAILS these tests.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.lsp_editor import server_command, start_editor
from notegen.melody import Event
from notegen.playback.render import analyse_wav
from notegen.playback.snippets import voice_snippet
from notegen.playback.sonic_pi_client import MAX_MESSAGE_BYTES
from notegen.sonicpi import read, render_block

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START = ROOT / ".ci" / "start-sonic-pi-5.sh"
STALE_PORT = 34728
STALE_DAEMON_LOG = f"""\
[2026-12-01 20:00:00] Welcome to the Daemon Booter
[2026-12-01 21:00:00] ----
[2026-12-01 21:00:00] Selected ports:
[2026-12-01 21:00:00] {{"spider-listen-to-gui"=>{STALE_PORT}, "gui-listen-to-spider"=>34729}}
[2026-12-01 21:00:00] Token: -777
[2026-12-01 21:00:00] Daemon Booter is now exiting.
[2026-11-30 10:00:01] 34700 34729 {STALE_PORT} 4556 4560 34730 34731 -777
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("sonic-pi-5")
    logs = state / "home" / ".sonic-pi" / "log"
    logs.mkdir(parents=True)
    (logs / "daemon.log").write_text(STALE_DAEMON_LOG)
    env = {**os.environ, "PYTHON": sys.executable}
    boot = subprocess.run(
        ["bash", str(START), str(state)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    if boot.returncode != 0:
        pytest.fail(f"Sonic Pi 5 did not start ({START}):\n{boot.stdout}\n{boot.stderr}")
    print(f"sonic-pi-5: {boot.stdout.strip()}", file=sys.stderr)
    try:
        yield state / "home"
    finally:
        subprocess.run(["bash", str(START), "--stop", str(state)], check=False, timeout=60)


def notegen(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notegen.playback.play_cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SONIC_PI_HOME": str(home)},
    )


MELODY = [
    [Event(60, 0.5), Event(64, 0.5), Event(67, 0.5), Event(None, 0.5), Event(72, 1.0)],
    [Event(71, 0.5), Event(67, 0.5), Event(64, 1.0)],
]
EXPECTED_S = (0.5 * 4 + 1.0) * 60 / 120 + (0.5 * 2 + 1.0) * 60 / 90


def test_a_generated_block_plays_in_the_sonic_pi_found_from_its_running_server(
    home: Path, tmp_path: Path
) -> None:
    source = tmp_path / "block.rb"
    source.write_text(render_block(1, MELODY, [120, 90]))

    done = notegen(home, "play", str(source))

    assert done.returncode == 0, done.stderr
    assert "Sonic Pi 5.0.0-beta-1 at 127.0.0.1:" in done.stdout
    assert "found from its running server" in done.stdout
    assert f":{STALE_PORT}," not in done.stdout  # not the exited instance's daemon.log


def test_play_h4_comes_back_on_its_line(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "h4.rb"
    source.write_text("use_bpm 240\nplay :C4\nsleep 0.25\nplay :H4\nsleep 0.25\n")

    done = notegen(home, "play", str(source))

    assert done.returncode == 1
    assert f"{source}:4: Sonic Pi error: Invalid note: :H4" in done.stderr


def test_a_voice_bigger_than_a_datagram_reports_its_invalid_note_at_the_note(
    home: Path, tmp_path: Path
) -> None:
    sections = [[Event(60 + (i * 7 + k) % 12, 0.125) for k in range(400)] for i in range(5)]
    piece = render_block(1, sections, [960] * 5) + render_block(2, [[Event(48, 1.0)]], [60])
    piece = "live_loop :other do\n  sleep 1\nend\n" + piece.replace(":G4,", ":H4,", 1)
    source = tmp_path / "piece.rb"
    source.write_text(piece)
    line = next(n for n, text in enumerate(piece.splitlines(), 1) if ":H4" in text)
    assert len(voice_snippet(piece, read(piece), 1).code.encode()) > MAX_MESSAGE_BYTES

    done = notegen(home, "play", str(source), "--voice", "1")

    assert done.returncode == 1, done.stderr
    assert f"{source}:{line}: Sonic Pi error: Invalid note: :H4" in done.stderr
    played = notegen(home, "play", str(source), "--voice", "2")
    assert played.returncode == 0, played.stderr


def test_render_records_the_block_as_long_as_its_notes(home: Path, tmp_path: Path) -> None:
    source, wav = tmp_path / "block.rb", tmp_path / "block.wav"
    source.write_text(render_block(1, MELODY, [120, 90]))

    done = notegen(home, "render", str(source), "--wav", str(wav))

    assert done.returncode == 0, done.stderr
    stats = analyse_wav(wav)
    assert stats.seconds == pytest.approx(EXPECTED_S, abs=0.15)
    assert stats.rms > 0.01


PIECE = (
    "a1=[]\nb1=[]\n"
    "a1[0]=[:C4,:E4,:G4]\nb1[0]=[0.5,0.5,1]\n"
    "live_loop :drums do\n  sample :bd_haus\n  sleep 0.5\nend\n"
    "a1[1]=[:A4,:H4]\nb1[1]=[1,1]\n"
    "c1=[240,240]\n"
    "in_thread do\n"
    "  for i in 0..a1.length-1\n"
    "    use_bpm c1[i]\n"
    "    for j in 0..a1[i].length-1\n"
    "      play a1[i][j], release: b1[i][j]\n"
    "      sleep b1[i][j]\n"
    "    end\n"
    "  end\n"
    "end\n"
)


async def test_the_editor_plays_a_voice_and_marks_its_invalid_note(
    home: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real notegen-lsp process: "Play voice 1" finds Sonic Pi 5, sends only the voice, and
    Sonic Pi's error from the loop's ``play`` line becomes a diagnostic on the ``:H4`` itself."""
    monkeypatch.setenv("SONIC_PI_HOME", str(home))
    client, editor = await start_editor(server_command(tiny_model))
    try:
        uri = editor.open(PIECE)
        result = await editor.command(
            "notegen.playInSonicPi",
            {"uri": uri, "position": {"line": 2, "character": 8}, "voice": True},
        )
        assert result["played"] is True and result["listening"] is True, result
        assert result["endpoint"].startswith("Sonic Pi 5.0.0-beta-1 at 127.0.0.1:")
        found = []
        for _ in range(400):  # Sonic Pi answers within seconds; the server publishes then
            found = [d for d in client.diagnostics.get(uri, []) if d.source == "Sonic Pi"]
            if found:
                break
            await asyncio.sleep(0.05)
        (diagnostic,) = found
        line = PIECE.splitlines().index("a1[1]=[:A4,:H4]")
        assert (diagnostic.range.start.line, diagnostic.range.start.character) == (line, 11)
        assert (diagnostic.range.end.line, diagnostic.range.end.character) == (line, 14)
        assert "Invalid note: :H4" in diagnostic.message
    finally:
        await client.shutdown_session()
        await client.stop()
