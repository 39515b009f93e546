"""play/sleep lines against a real Sonic Pi (Debian's sonic-pi-server 3.2.2, see
the session fixture ``sonic_pi`` of conftest.py boots it): a generated ``live_loop`` and a run
played by "Play in Sonic Pi" (the block under the cursor, once) run without error and play
exactly their notes."""

from __future__ import annotations

import re

import pytest
from notegen.lsp.play_lines import run_snippet
from notegen.melody import Event
from notegen.notes import NoteStyle
from notegen.playback.sonic_pi_client import SonicPiClient
from notegen.sonicpi import read
from notegen.sonicpi.statement_writer import render_live_loop
from notegen.sonicpi.statements import PlayRun

pytestmark = pytest.mark.slow

MELODY = [Event(64, 0.25), Event(67, 0.25), Event(None, 0.25), Event(72, 0.5)]


def played_notes(outcome) -> list[float]:
    text = " ".join(r.text for r in outcome.logs)
    out: list[float] = []
    for found in re.findall(r"note: (\[[^\]]*\]|[0-9.]+)", text):  # a chord logs a list
        out.extend(float(n) for n in re.findall(r"[0-9.]+", found))
    return out


def test_a_generated_live_loop_plays_its_notes_without_error(
    sonic_pi: SonicPiClient,
) -> None:
    loop = render_live_loop("notegen", MELODY, 240, NoteStyle(case="lower"))
    # One pass of the loop: its body, as Play in Sonic Pi plays a run.
    (run,) = [a for a in read(loop) if isinstance(a, PlayRun)]
    snippet = run_snippet(loop, run)
    outcome = sonic_pi.run(snippet.code, timeout=10)
    assert outcome.completed and outcome.errors == []
    assert played_notes(outcome) == [64.0, 67.0, 72.0]
    # The live_loop itself, as written into the document, loops without error until stopped.
    sonic_pi.run_code(loop)
    try:
        outcome = sonic_pi.run("sleep 1.5\n", timeout=10)
        assert outcome.errors == []
    finally:
        sonic_pi.stop_all_jobs()


def test_play_in_sonic_pi_plays_the_block_once_as_written(
    sonic_pi: SonicPiClient,
) -> None:
    doc = (
        "key = :e3\nuse_bpm 240\nlive_loop :lead, sync: :met do\n  use_synth :pluck\n"
        "  sync :beat\n  play key + 12, release: 0.2\n  sleep 0.25\n  2.times do\n"
        "    play chord(:c4, :major), release: 0.2\n    sleep 0.5\n  end\nend\n"
    )
    arrays = read(doc)
    run = next(a for a in arrays if isinstance(a, PlayRun))
    snippet = run_snippet(doc, run, arrays)
    outcome = sonic_pi.run(snippet.code, timeout=10)
    assert outcome.completed and outcome.errors == []
    assert sorted(played_notes(outcome)) == [60.0, 60.0, 64.0, 64.0, 64.0, 67.0, 67.0]


def test_ring_picks_and_a_play_with_a_block_play_the_notes_the_reader_reads(
    sonic_pi: SonicPiClient,
) -> None:
    doc = (
        "notes = [:e4, :g4,\n         :b4]\n"
        "use_bpm 240\n"
        "live_loop :riff do\n"
        "  play notes.tick, release: 0.1 if spread(3, 3).look\n"
        "  sleep 0.25\n"
        "  play notes.tick + 12, release: 0.1\n"
        "  sleep 0.25\n"
        "  play :b2, note_slide: 0.25, release: 0.3 do |s|\n"
        "    control s, note: :b1\n"
        "  end\n"
        "  sleep 0.5\n"
        "end\n"
    )
    arrays = read(doc)
    outer, inner = [a for a in arrays if isinstance(a, PlayRun)]
    assert [n.midi for n in outer.notes] == [64, 79, 47]  # the first time through
    assert [n.midi for n in inner.notes] == [35]
    # the loop's body once (the ring written over two lines above it comes along)
    snippet = run_snippet(doc, outer, arrays)
    assert "notes = [:e4, :g4,\n         :b4]\n" in snippet.code
    outcome = sonic_pi.run(snippet.code, timeout=10)
    assert outcome.completed and outcome.errors == []
    # every note the reader reads, no other: the control runs in the play's own thread,
    # so its log line may come first
    assert sorted(played_notes(outcome)) == [35.0, 47.0, 64.0, 79.0]
    # the play's block alone: the note and its thread, which needs `s`
    snippet = run_snippet(doc, inner, arrays)
    assert snippet.code.rstrip().endswith("control s, note: :b1\n  end")
    outcome = sonic_pi.run(snippet.code, timeout=10)
    assert outcome.completed and outcome.errors == []
    assert sorted(played_notes(outcome)) == [35.0, 47.0]
