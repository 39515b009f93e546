"""notegen against a real Sonic Pi: Debian's sonic-pi-server 3.2.2 on a dummy JACK device.

One Sonic Pi boots for the whole session (the ``sonic_pi`` fixture of conftest.py, shared by
every module: two clients would fight over the reply port; ``.ci/start-sonic-pi.sh``, about 4 s
here) and is stopped afterwards; a Sonic Pi already listening on 4557 is used as it is. CI
installs the packages (.ci/apt-packages.txt), so a Sonic Pi that cannot start FAILS these tests
rather than skipping them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mido
import pytest
from notegen.melody import Event
from notegen.playback.midi_file import read_midi
from notegen.playback.render import render_wav
from notegen.playback.snippets import array_snippet, block_snippet, phrase_snippet, voice_snippet
from notegen.playback.sonic_pi_client import MAX_MESSAGE_BYTES, SonicPiClient
from notegen.sonicpi import LineIndex, Span, read, render_block

pytestmark = pytest.mark.slow

MELODY = [
    [Event(60, 0.5), Event(64, 0.5), Event(67, 0.5), Event(None, 0.5), Event(72, 1.0)],
    [Event(71, 0.5), Event(67, 0.5), Event(64, 1.0)],
]
BPM = [120, 90]
EXPECTED_S = (0.5 * 4 + 1.0) * 60 / 120 + (0.5 * 2 + 1.0) * 60 / 90  # 1.5 s + 1.333 s


def test_generated_block_plays_without_error_and_sounds_as_long_as_its_notes(
    sonic_pi: SonicPiClient, tmp_path: Path
) -> None:
    block = render_block(1, MELODY, BPM)
    snippet = block_snippet(block, Span(0, len(block)), read(block))
    assert snippet.seconds == pytest.approx(EXPECTED_S)

    result = render_wav(
        sonic_pi, snippet.code, tmp_path / "block.wav", expected_seconds=snippet.seconds
    )

    assert result.errors == []
    assert result.completed
    # The sounding part of the recording: from the first note's onset to the end of the last
    # note's release, which the block ends exactly on its last duration.
    assert result.stats.seconds == pytest.approx(EXPECTED_S, abs=0.15)
    assert result.stats.rms > 0.01  # about -40 dBFS: clearly not silence
    assert result.stats.peak > 0.05


def test_invalid_note_comes_back_as_an_error_on_its_own_line(sonic_pi: SonicPiClient) -> None:
    doc = (
        "use_synth :pluck\na1=[]\nb1=[]\n"
        "a1[0]=[:C4,:E4,\n  :Cx4,:G4]\n"
        "b1[0]=[0.25,0.25,0.25,0.25]\n"
    )
    (array,) = [a for a in read(doc) if a.voice == 1]
    snippet = array_snippet(array, bpm=240)

    outcome = sonic_pi.run(snippet.code, timeout=10)

    assert outcome.completed
    (error,) = outcome.errors
    assert "Invalid note: :Cx4" in error.text
    span = snippet.origin(error.line)
    assert span is not None and doc[span.start : span.end] == ":Cx4"
    assert LineIndex(doc).position(span.start) == (4, 2)


def test_syntax_error_in_a_block_points_at_the_broken_line(sonic_pi: SonicPiClient) -> None:
    doc = "# intro\na1=[]\na1[0]=[:C4,:D4]\nin_thread do\n  play a1[0][0\n  sleep 1\nend\n"
    start = doc.index("a1=[]")
    snippet = block_snippet(doc, Span(start, len(doc)))

    outcome = sonic_pi.run(snippet.code, timeout=10)

    (error,) = outcome.errors
    assert error.kind == "syntax_error"
    span = snippet.origin(error.line)
    assert span is not None
    # Ruby notices the missing ']' on the line after it.
    assert LineIndex(doc).position(span.start)[0] in (4, 5)


def test_a_phrase_plays_exactly_its_notes(sonic_pi: SonicPiClient) -> None:
    snippet = phrase_snippet([":C4", "r", ":Ef4", 67], [0.25, 0.25, 0.25, 0.5], bpm=240)

    outcome = sonic_pi.run(snippet.code, timeout=10)

    assert outcome.completed and outcome.errors == []
    played = " ".join(r.text for r in outcome.logs)
    assert [n for n in ("note: 60.0", "note: 63.0", "note: 67.0") if n in played] == [
        "note: 60.0",
        "note: 63.0",
        "note: 67.0",
    ]


def test_stop_all_jobs_stops_a_piece_that_loops_forever(sonic_pi: SonicPiClient) -> None:
    sonic_pi.listen()
    sonic_pi.drain()
    sonic_pi.run_code("loop do\n  play 60, release: 0.1\n  sleep 0.25\nend\n")
    started = sonic_pi.wait_for(lambda r: r.kind == "started", 3)
    assert started is not None
    sonic_pi.stop_all_jobs()
    stopped = sonic_pi.wait_for(
        lambda r: r.kind in ("stopped", "completed") and r.job == started.job, 5
    )
    assert stopped is not None


def test_render_command_writes_wav_and_midi_of_a_file(
    sonic_pi: SonicPiClient, tmp_path: Path
) -> None:
    source = tmp_path / "tune.rb"
    source.write_text(render_block(1, MELODY, BPM))
    wav, mid = tmp_path / "tune.wav", tmp_path / "tune.mid"

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "notegen.playback.play_cli",
            "render",
            str(source),
            "--wav",
            str(wav),
            "--midi",
            str(mid),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert wav.exists() and mid.exists()
    voices, bpm = read_midi(mid)
    (steps,) = voices.values()
    assert [s.pitches for s in steps] == [
        (60.0,),
        (64.0,),
        (67.0,),
        (),
        (72.0,),
        (71.0,),
        (67.0,),
        (64.0,),
    ]
    seconds = sum(s.beats for s in steps) * 60 / bpm
    assert seconds == pytest.approx(EXPECTED_S, abs=1e-3)
    assert mido.MidiFile(str(mid)).length == pytest.approx(EXPECTED_S, abs=1e-3)
    assert "no Sonic Pi error" in done.stdout or "wrote" in done.stdout


def test_play_command_finds_the_running_server_and_names_the_notes_line(
    sonic_pi: SonicPiClient, tmp_path: Path
) -> None:
    """A voice bigger than one datagram (run through ``run_file``), with an invalid note: the
    error comes back at the note's line, and the found Sonic Pi is named."""
    sections = [[Event(60 + (i * 7 + k) % 12, 0.125) for k in range(400)] for i in range(5)]
    piece = render_block(1, sections, [960] * 5)
    piece = "live_loop :other do\n  sleep 1\nend\n" + piece.replace(":G4,", ":H4,", 1)
    source = tmp_path / "big.rb"
    source.write_text(piece)
    line = next(n for n, text in enumerate(piece.splitlines(), 1) if ":H4" in text)
    assert len(voice_snippet(piece, read(piece), 1).code.encode()) > MAX_MESSAGE_BYTES
    sonic_pi.release()  # the reply port is the command's now

    done = subprocess.run(
        [sys.executable, "-m", "notegen.playback.play_cli", "play", str(source), "--voice", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    assert "Sonic Pi 3.2.2 at 127.0.0.1:4557, found from its running server" in done.stderr
    assert f"{source}:{line}: Sonic Pi error: SonicPi::Note::InvalidNoteError" in done.stderr
