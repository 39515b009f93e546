"""Melodies written as statements: a document of play/sleep lines, what the reader sees."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from notegen.melody import Event
from notegen.notes import NoteStyle
from notegen.sonicpi import context_at, read
from notegen.sonicpi.statement_writer import melody_lines, next_loop_name, render_live_loop
from notegen.sonicpi.statements import PlayRun

LOOP = """\
use_bpm 90
live_loop :melody do
  use_synth :pluck
  play :e4, release: 0.5
  sleep 0.5
  sample :bd_haus
  play :g4
  play :b4
  sleep 0.25
  sleep 0.25
  play chord(:e3, :minor), release: 2
  sleep 1
  synth :beep, note: :a4
  sleep 1
end
"""


def runs(text: str) -> list[PlayRun]:
    return [a for a in read(text) if isinstance(a, PlayRun)]


def test_a_run_of_play_and_sleep_is_a_melody_of_notes_and_durations():
    (run,) = runs(LOOP)
    assert run.kind == "play" and run.name == "melody" and run.block.kind == "live_loop"
    assert run.events() == [
        Event(64, 0.5),  # play :e4 / sleep 0.5 (the sample between is ignored)
        Event(71, 0.5),  # two plays = a chord, top note; two sleeps add up
        Event(59, 1.0),  # chord(:e3, :minor) = e3 g3 b3, top note b3
        Event(69, 1.0),  # synth :beep, note: :a4
    ]
    assert run.notes[1].chord == (67, 71)
    assert run.notes[2].chord == (52, 55, 59)
    assert run.bpm == 90.0
    assert run.indent == "  "


def test_times_blocks_are_read_once_with_their_repeat_count():
    text = (
        "live_loop :a do\n  play 60\n  sleep 1\n"
        "  4.times do\n    play 62\n    sleep 0.5\n  end\nend\n"
    )
    first, inner = runs(text)
    assert [e.pitch for e in first.events()] == [60]
    assert inner.block.kind == "times" and inner.block.repeat == 4
    assert inner.events() == [Event(62, 0.5)]


def test_use_bpm_starts_a_new_run_with_its_tempo():
    text = "play 60\nsleep 1\nuse_bpm 120\nplay 62\nsleep 1\n"
    slow, fast = runs(text)
    assert slow.bpm is None and fast.bpm == 120.0
    assert [e.pitch for e in fast.events()] == [62]


def test_play_chord_arrays_and_names_assigned_once():
    text = (
        "key = :e3\n"
        "play_chord [:c4, :e4, :g4]\nsleep 1\n"
        "play [:d4, :f4]\nsleep 1\n"
        "play key + 7\nsleep 1\n"
        "play notes.tick\nsleep 1\n"
    )
    (run,) = runs(text)
    assert [n.midi for n in run.notes] == [67, 65, 59, None]
    assert run.notes[3].dynamic and run.notes[3].error is None  # code: no pitch, no error
    assert [e.pitch for e in run.events()] == [67, 65, 59]


def test_control_moves_a_synth_to_a_new_note():
    text = "s = synth :hollow, note: :e2, sustain: 8\nsleep 4\ncontrol s, note: :g2\nsleep 4\n"
    (run,) = runs(text)
    assert run.events() == [Event(40, 4.0), Event(43, 4.0)]
    ctx = context_at("control s, note: \n", 0, 17)
    assert ctx is not None and ctx.slot == "note"


def test_invalid_notes_carry_sonic_pis_error():
    (run,) = runs("live_loop :x do\n  play :h4\n  sleep 1\nend\n")
    assert run.notes[0].error is not None and "Invalid note" in run.notes[0].error


def test_comments_strings_and_samples_are_not_melodies():
    text = '# play :c4\n# sleep 1\nputs "play :c4"\nsample :bd_haus\nsleep 1\n'
    assert runs(text) == []


# -- the cursor ---------------------------------------------------------------------------------

DOC = "\n".join(
    [
        "live_loop :melody do",
        "  sample :bd_haus",
        "  play :e4, release: 0.5",
        "  sleep 0.5",
        "  play :g4, release: 0.5",
        "  sleep 0.25",
        "  play :",
        "  sleep ",  # the cursor after `sleep `
        "  use_synth :",
        "  # play :c4",
        "end",
        "",
    ]
)


def at(line: int, character: int):
    return context_at(DOC, line, character)


def test_after_play_the_cursor_waits_for_a_note_with_the_melody_before_it():
    ctx = at(6, 8)  # `  play :|`
    assert ctx is not None and ctx.slot == "note" and ctx.partial == ":"
    assert ctx.history == [Event(64, 0.5), Event(67, 0.25)]


def test_after_sleep_the_cursor_waits_for_beats():
    ctx = at(7, 8)
    assert ctx is not None and ctx.slot == "sleep" and ctx.partial == ""
    assert [t.text for t in ctx.before] == [":e4", ":g4"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_the_blank_line_after_a_run_takes_the_next_statements_at_any_line_end(newline: str):
    """A lone carriage return ends a line for editors and LSP as ``\\n`` does."""
    text = "live_loop :a do\n  play :e4\n  sleep 0.5\n\nend\n".replace("\n", newline)
    ctx = context_at(text, 3, 0)
    assert ctx is not None and ctx.slot == "line"
    assert [t.text for t in ctx.before] == [":e4"]


@pytest.mark.parametrize(
    ("line", "character"),
    [(1, 10), (1, 17), (8, 13), (9, 10), (2, 14), (2, 6)],
    ids=["sample-name", "sample-end", "use_synth", "comment", "options", "play-word"],
)
def test_no_context_where_a_note_cannot_go(line, character):
    assert at(line, character) is None


# -- writing ------------------------------------------------------------------------------------


def test_lines_spell_notes_like_the_file_and_fold_rests_into_sleeps():
    events = [Event(64, 0.5), Event(None, 0.5), Event(67, 0.25), Event(60.5, 1)]
    lower = NoteStyle(case="lower")
    assert melody_lines(events, lower, options=", release: 0.5") == [
        "play :e4, release: 0.5",
        "sleep 1",
        "play :g4, release: 0.5",
        "sleep 0.25",
        "play 60.5, release: 0.5",
        "sleep 1",
    ]
    assert melody_lines(events[:1], numeric=True) == ["play 64", "sleep 0.5"]


def test_a_generated_live_loop_reads_back_to_the_same_notes():
    events = [Event(64, 0.5), Event(66, 0.5), Event(None, 1.0), Event(67, 1.0), Event(24, 2)]
    text = render_live_loop("notegen", events, 96, NoteStyle(case="lower"))
    (run,) = runs(text)
    assert run.bpm == 96.0 and run.name == "notegen"
    assert run.events() == [Event(64, 0.5), Event(66, 1.5), Event(67, 1.0), Event(24, 2.0)]


def test_loop_names_do_not_clash():
    assert next_loop_name("") == "notegen"
    assert next_loop_name("live_loop :notegen do\nend\nlive_loop :notegen3 do") == "notegen4"


def test_generated_code_passes_ruby_syntax_check(tmp_path):
    ruby = shutil.which("ruby")
    assert ruby is not None, "ruby is not installed (listed in .ci/apt-packages.txt)"
    events = [Event(64, 0.5), Event(-3, 0.5), Event(None, 1.0), Event(67, 1.0)]
    path = tmp_path / "loop.rb"
    path.write_text(render_live_loop("notegen2", events, 120, NoteStyle()))
    check = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert [e.pitch for e in runs(path.read_text())[0].events()] == [64, -3, 67]


def test_in_a_loop_the_notes_after_the_cursor_were_heard_before_it():
    body = (
        "  play :c4\n  sleep 1\n  play :d4\n  sleep 1\n  play \n  sleep 1\n  play :f4\n  sleep 1\n"
    )
    looped = context_at("live_loop :a do\n" + body + "end\n", 5, 7)
    once = context_at("in_thread do\n" + body + "end\n", 5, 7)
    assert [e.pitch for e in looped.history] == [65, 60, 62]  # the previous pass ends on f4
    assert [e.pitch for e in once.history] == [60, 62]


class _Reads(list):  # type: ignore[type-arg]
    """A token list that counts how often a token is looked at."""

    reads = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        type(self).reads += 1
        return super().__getitem__(index)


@pytest.mark.parametrize("blank", ["\n", "# a comment\n", "=begin\n=end\n"])
def test_a_run_of_blank_or_comment_lines_is_read_once(blank: str):
    """Each newline of a run looked ahead to the run's end: 40,000 blank or comment lines
    took 50 s to read. A token is now looked at a bounded number of times."""
    from notegen.sonicpi.reader import parse
    from notegen.sonicpi.statements import _statements

    text = "play 60\n" + blank * 5000 + "sleep 1\n"
    doc = parse(text)
    doc.sig = _Reads(doc.sig)
    _Reads.reads = 0
    assert len(_statements(doc)) == 2
    assert _Reads.reads < 10 * len(doc.sig)


STATEMENT_PIECES = [
    "play :e4",
    "play 60",
    "play 60.5",
    "play :r",
    "play :zz9",
    "play :E4",
    "sleep 0.25",
    "sleep 1",
    "sleep :e4",
    "sleep 1e3",
    "play :c4; sleep 1",
    "play 60 # a comment",
    "play :e4 if one_in(2)",
    "play :e4,\n  release: 2",
    "sleep \\\n  0.5",
    "play notes.tick",
    "notes = (ring :e4, :g4)",
    "key = :e3",
    "play key",
    "s = play 60",
    "use_bpm 120",
    "sample :bd_haus",
    "live_loop :a do",
    "4.times do",
    "in_thread do",
    "end",
    "define :play do",
    "define :sleep do",
    "play",
    "sleep",
    "tick",
    "",
    "# play :c4",
]


def test_plain_play_and_sleep_lines_read_as_the_general_reader_reads_them(monkeypatch):
    # `play :e4` / `sleep 0.25`, two tokens, take a shorter way through the reader (a long
    # block of them is read on every keystroke); every document of mixed statements, blocks,
    # names, ticks and a `define :play` reads the same with it and without it
    import random

    from notegen.sonicpi import statements

    rng = random.Random(7)
    documents = [
        "\n".join(rng.choice(STATEMENT_PIECES) for _ in range(rng.randrange(1, 40)))
        for _ in range(400)
    ]
    documents.append(LOOP)
    fast = [runs(text) for text in documents]
    monkeypatch.setattr(statements, "_plain_line", lambda *args: None)
    general = [runs(text) for text in documents]
    assert fast == general
    assert sum(len(r) for r in fast) > 200  # (the documents hold runs to compare)
