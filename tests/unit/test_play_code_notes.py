"""Play lines written the way live coders write them: a document, what the reader hears.

``play … do |s|`` (a note whose block runs in its own thread), a postfix condition
(``play :e4 if spread(3, 8).tick``), a note picked from a ring (``play notes.tick``,
``play :ds6 + [0, 3].look``, ``play chord(:e3, :m).tick``) and code whose note only Sonic Pi
knows (``.choose``, a block parameter); then completion and inserted lines in such code.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from lsprotocol import types
from notegen.lsp import completion, play_lines
from notegen.lsp.config import Settings
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.reading import Reading
from notegen.melody import Event
from notegen.notes import NoteStyle, infer_style
from notegen.sonicpi import read, statements
from notegen.sonicpi.play_order import play_voices
from notegen.sonicpi.statements import PlayRun, top_assignments


def runs(text: str) -> list[PlayRun]:
    return [a for a in read(text) if isinstance(a, PlayRun)]


def loop(*lines: str, above: str = "") -> str:
    return above + "live_loop :a do\n" + "".join(f"  {ln}\n" for ln in lines) + "end\n"


def pitches(run: PlayRun) -> list[int | float | None]:
    return [n.midi for n in run.notes]


# -- the reader -----------------------------------------------------------------------------------


def test_a_play_with_a_block_plays_its_note_and_the_block_is_a_thread_of_its_own():
    text = (
        "live_loop :bass do\n"
        "  play :b2, sustain: 1.7, note_slide: 2 do |s|\n"
        "    control s, note: :b1\n"
        "  end\n"
        "  sleep 2\n"
        "end\n"
    )
    outer, inner = runs(text)
    assert outer.block.kind == "live_loop" and pitches(outer) == [47]
    assert outer.plays[0].options == (("sustain", "1.7"), ("note_slide", "2"))
    assert inner.block.kind == "play" and pitches(inner) == [35]  # control s, note: :b1
    assert inner.outer is outer.block  # the same voice: b2, then it slides to b1
    assert outer.lines[0].block_end == text.index("  end\n") + len("  end")


def test_the_lines_of_a_block_with_a_parameter_are_read():
    text = (
        "key = :as2\n"
        "with_fx :reverb do |r|\n"
        "  play key - 4 do |s|\n"
        "    sleep 1.5\n"
        "    control s, note: key - 2\n"
        "    sleep 0.5\n"
        "  end\n"
        "  sleep 4\n"
        "  play key + 3\n"
        "  sleep 4\n"
        "end\n"
    )
    first, inner, last = runs(text)
    assert pitches(first) == [42]
    assert inner.lead == 1.5 and inner.events() == [Event(44, 0.5)]
    assert last.lead == 4.0 and last.events() == [Event(49, 4.0)]


def test_a_postfix_condition_still_plays_the_note_when_it_plays():
    text = (
        "live_loop :a do\n"
        "  play :e4, release: 0.1 if spread(3, 8).tick\n"
        "  sleep 0.25\n"
        "  play :g4 unless one_in(2)\n"
        "  sleep 0.25\n"
        "end\n"
    )
    (run,) = runs(text)
    assert run.events() == [Event(64, 0.25), Event(67, 0.25)]
    assert run.plays[0].options == (("release", "0.1"),)  # the condition is no option


def test_a_tick_plays_the_rings_notes_in_order_and_look_the_current_one():
    text = (
        "notes = (ring :e4, :g4, :b4)\n"
        "live_loop :a do\n"
        "  play notes.tick\n"
        "  sleep 0.5\n"
        "  play notes.tick + 12\n"
        "  sleep 0.5\n"
        "  play :c2 + [0, 2, 3].look\n"
        "  sleep 0.5\n"
        "  play notes.tick\n"
        "  sleep 0.5\n"
        "  play notes.tick\n"
        "  sleep 1\n"
        "end\n"
    )
    (run,) = runs(text)
    # ticks 0, 1 (look: still 1), 2, 3 (a ring wraps round)
    assert pitches(run) == [64, 67 + 12, 36 + 2, 71, 64]


def test_every_tick_of_the_thread_counts_and_named_ticks_count_apart():
    text = (
        "keys = [:e3, :g3, :a3]\n"
        "live_loop :a do\n"
        "  sample :bd_haus if spread(3, 8).tick\n"
        "  play keys.tick\n"
        "  sleep 0.5\n"
        "  play keys.tick(:k)\n"
        "  sleep 0.5\n"
        "  2.times do\n"
        "    play keys.tick\n"
        "    sleep 0.5\n"
        "  end\n"
        "  play keys.look\n"
        "  sleep 1\n"
        "end\n"
    )
    first, twice, last = runs(text)
    assert pitches(first) == [55, 52]  # the sample's spread took tick 0; `:k` starts at 0
    assert pitches(twice) == [57]  # the first time round (tick 2)
    assert pitches(last) == [52]  # the block ran twice: look = tick 3, round to e3
    # in play order the 2.times block is heard once: the second time plays another note
    (voice,) = play_voices(read(text))
    assert [e.pitch for e in voice.one_pass()] == [55, 52, 57, 52]


@pytest.mark.parametrize(
    "note,expected",
    [
        ("chord(:e3, :minor).tick", 52),
        ("(scale :e3, :minor_pentatonic).tick", 52),
        ("scale(:c4, :major, num_octaves: 2).reverse.tick", 84),
        ("[:c4, :d4].ring.tick", 60),
        ("(knit :e2, 2, :c2, 1).tick", 40),
        ("chord(notes.tick, :minor)", 71),  # e4 minor: e4 g4 b4, top note b4
        ("notes.choose", None),  # random: no pitch is made up
        ("notes.shuffle.tick", None),
        ("scale(:e3, :minor_pentatonic).choose", None),
        ("unknown.tick", None),
        ("[(chord :c4, :minor7), [:a3, :c4, :f4]].ring.tick", 70),  # a chord's top note
    ],
)
def test_a_pick_from_a_ring_of_known_notes(note, expected):
    text = loop(f"play {note}", "sleep 1", "play :a4", "sleep 1", above="notes = [:e4, :g4]\n")
    (run,) = runs(text)
    assert run.notes[0].midi == expected
    assert run.notes[0].dynamic == (expected is None)
    assert run.notes[1].midi == 69


@pytest.mark.parametrize(
    "note,expected",
    [
        ("chord(:e3, :minor, invert: 1)", (55, 59, 64)),  # e3 goes up an octave
        ("chord_invert(chord(:e3, :minor), -1)", (47, 52, 55)),  # b3 goes down
        ("(scale :c4, :major_pentatonic)", (60, 62, 64, 67, 69, 72)),  # a list: one chord
        ("notes", (64, 67)),
    ],
)
def test_a_list_of_known_notes_plays_them_all_at_once(note, expected):
    text = loop(f"play {note}", "sleep 1", "play :a4", "sleep 1", above="notes = [:e4, :g4]\n")
    (run,) = runs(text)
    assert run.notes[0].chord == expected and run.notes[0].midi == max(expected)


def test_a_name_has_the_value_last_assigned_above_it_in_its_block():
    text = (
        "live_loop :a do\n"
        "  c = chord(:e3, :minor)\n"
        "  play c.tick\n"
        "  sleep 1\n"
        "  c = :a2\n"
        "  play c + 12\n"
        "  sleep 1\n"
        "end\n"
        "live_loop :b do\n"
        "  c = [:g4, :b4]\n"
        "  play c.tick\n"
        "  sleep 1\n"
        "  play c.tick, amp: 0.5\n"
        "  sleep 1\n"
        "end\n"
    )
    a, b = runs(text)
    assert pitches(a) == [52, 57] and pitches(b) == [67, 71]


def test_a_name_changed_by_code_or_a_block_parameter_has_no_value():
    text = (
        "n = :e4\n"
        "live_loop :a do\n"
        "  play n\n"
        "  sleep 1\n"
        "  n += 2\n"
        "  play n\n"  # Sonic Pi knows; the reader does not make it up
        "  sleep 1\n"
        "  play :g4\n"
        "  sleep 1\n"
        "end\n"
        "[:c4, :d4].each do |n|\n"
        "  play n\n"
        "  sleep 1\n"
        "  play :a4\n"
        "  sleep 1\n"
        "end\n"
    )
    loop_run, each_run = runs(text)
    assert pitches(loop_run) == [64, None, 67] and loop_run.notes[1].dynamic
    assert pitches(each_run) == [None, 69] and each_run.notes[0].dynamic


def test_unknown_code_in_a_voice_with_written_notes_is_part_of_its_melody():
    text = loop(
        "play :e4",
        "sleep 0.5",
        "with_fx :echo do",
        "  play n",
        "  sleep 0.5",
        "end",
    )
    written, code = runs(text)
    assert pitches(code) == [None] and code.notes[0].dynamic and code.outer is written.outer


def test_a_run_whose_notes_are_all_unknown_code_is_no_melody():
    text = "live_loop :a do\n  play notes.choose\n  sleep 1\n  play n\n  sleep 1\nend\n"
    assert runs(text) == []


def test_ring_assignments_above_a_block_come_with_it_when_the_block_is_read_alone():
    text = (
        "key = :e3\n"
        "notes = [\n"
        "  :e4, :g4, # a ] in a comment\n"
        "  :b4\n"
        "]\n"
        "sc = (scale key, :minor_pentatonic).shuffle\n"
        "live_loop :a do\n"
        "  play notes.tick\n"
        "end\n"
    )
    prelude = top_assignments(text, text.index("live_loop"))
    assert prelude == text[: text.index("live_loop")]
    # given the block, only the rings it names (`sc` is not played there)
    block = text[text.index("live_loop") :]
    assert top_assignments(text, text.index("live_loop"), block) == prelude.replace(
        "sc = (scale key, :minor_pentatonic).shuffle\n", ""
    )
    assert top_assignments("notes = [\n  :e4,\n", 16) == ""  # unclosed: not copied


def test_far_down_a_long_document_the_assignments_come_from_its_head_and_above_the_block():
    # a piece's settings at its top, then ~400 kB of play lines: the block at the end still
    # knows them, and what was set just above it, but the search does not read everything
    # between (each completion makes it again)
    filler = "  play :e4\n  sleep 0.25\n" * 16_000
    text = (
        "key = :e3\n"
        "notes = (ring :e4, :g4)\n"
        "live_loop :long do\n" + filler + "end\n"
        "lost = 7\n" + filler + "shift = 12\n"
        "tune = [:c4, :d4]\n"
        "live_loop :a do\n"
        "  play notes.tick + shift\n"
        "  play tune.tick\n"
        "  play lost\n"
        "end\n"
    )
    above = text.index("live_loop :a")
    assert top_assignments(text, above, text[above:]) == (
        "key = :e3\nnotes = (ring :e4, :g4)\nshift = 12\ntune = [:c4, :d4]\n"
    )


def test_the_head_of_a_long_document_is_cut_at_a_line_end():
    # the head's last line is not read in part (`key = :e3` cut to `key = :e`)
    cut = statements._HEAD_CHARS
    text = "x = 1\n" + " " * (cut - 15) + "\nkey = :e3\n" + "  sleep 1\n" * 20_000
    assert text[cut - 2 : cut] == ":e"
    assert top_assignments(text, len(text)) == "x = 1\n"


# -- completion and inserted lines -----------------------------------------------------------------


def labels(engine, text: str, line: int, character: int) -> list[str] | None:
    view = DocumentView("file:///t.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    nc = note_context(view, line, character, reading, Settings().maxContext)
    if nc is None:
        return None
    where = types.Range(types.Position(line, character), types.Position(line, character))
    return [i.label for i in completion.complete(engine, nc, Settings(), where)]


def test_after_play_in_a_loop_of_ticks_the_items_follow_the_rings_notes(engine):
    ticks = loop(
        *["play notes.tick", "sleep 0.5"] * 3,
        "play ",
        above="notes = (ring :e4, :g4, :b4)\n",
    )
    written = loop(
        *["play :e4", "sleep 0.5", "play :g4", "sleep 0.5", "play :b4", "sleep 0.5"],
        "play ",
        above="notes = (ring :e4, :g4, :b4)\n",
    )
    got = labels(engine, ticks, 8, 7)
    assert got and got == labels(engine, written, 8, 7)


def test_after_play_in_a_block_line_the_items_follow_the_voice(engine):
    text = loop(
        "play :e4",
        "sleep 0.5",
        "play :g4",
        "sleep 0.5",
        "play :b4, note_slide: 1 do |s|",
        "  control s, note: :e5",
        "end",
        "sleep 1",
    )
    got = labels(engine, text, 5, 7)  # after `play ` on the block line
    assert got and all(label.startswith(":") for label in got)


def test_a_note_only_sonic_pi_knows_has_no_pitch_and_the_melody_around_it_is_the_context(
    engine,
):
    # `.choose` is random: the items are those of the same melody without that line's note
    chosen = loop(
        *["play :e4", "sleep 0.5", "play :g4", "sleep 0.5", "play [:c5, :d5].choose", "sleep 0.5"],
        "play ",
    )
    without = loop("play :e4", "sleep 0.5", "play :g4", "sleep 0.5", "play ")
    got = labels(engine, chosen, 7, 7)
    assert got and got == labels(engine, without, 5, 7)


def test_after_play_on_unknown_code_the_items_follow_the_voice_around_it(engine):
    lines = ["play :e4", "sleep 0.5", "play :g4", "sleep 0.5", "with_fx :echo do"]
    code = loop(*lines, "  play n", "  sleep 0.5", "end")
    typed = loop(*lines, "  play ", "  sleep 0.5", "end")
    got = labels(engine, code, 6, 9)  # the cursor before `n`: a note would replace it
    assert got and got == labels(engine, typed, 6, 9)
    # nothing written anywhere around: nothing to go on, no items (and no made-up pitch)
    assert not labels(engine, loop("play n", "sleep 0.5", "play m", "sleep 0.5"), 1, 7)


def test_continuing_after_a_play_with_a_block_writes_after_its_end_and_passes_ruby(tmp_path):
    text = loop(
        "play :e4",
        "sleep 0.5",
        "play :b3, note_slide: 1 do |s|",
        "  control s, note: :e4",
        "end",
    )
    outer = runs(text)[0]
    made = [Event(67, 0.5), Event(64, 1.0)]
    at, lines = play_lines.continuation_lines(text, outer, made, NoteStyle(case="lower"), False)
    assert text[:at].endswith("  end")
    written = text[:at] + lines + text[at:]
    assert lines == "\n  sleep 0.5\n  play :g4\n  sleep 0.5\n  play :e4\n  sleep 1"
    assert [pitches(r) for r in runs(written)] == [[64, 59], [64], [67, 64]]
    ruby = shutil.which("ruby")
    assert ruby is not None, "ruby is not installed (listed in .ci/apt-packages.txt)"
    path = tmp_path / "song.rb"
    path.write_text(written)
    check = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
