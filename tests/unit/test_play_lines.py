"""Completion and ghost text in play/sleep runs: a document, a cursor, the expected items."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from lsprotocol import types
from notegen.lsp import completion, inline
from notegen.lsp.config import Settings
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.reading import Reading
from notegen.model.sampling import softmax
from notegen.notes import infer_style
from notegen.sonicpi import read

DOC = "\n".join(
    [
        "live_loop :melody do",
        "  use_synth :pluck",
        "  play :e4, release: 0.3",
        "  sleep 0.5",
        "  play :g4, release: 0.3",
        "  sleep 0.5",
        "  play ",  # the cursor after `play `
        "  sleep ",
        "",
        "end",
        "",
    ]
)


def context(text: str, line: int, character: int):
    view = DocumentView("file:///t.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    return note_context(view, line, character, reading, Settings().maxContext)


def items_at(engine, text, line, character):
    nc = context(text, line, character)
    if nc is None:
        return None
    where = types.Range(types.Position(line, character), types.Position(line, character))
    return completion.complete(engine, nc, Settings(), where)


def with_habits(model, probs: np.ndarray, played: list[int]) -> np.ndarray:
    """The model's distribution mixed with the voice's pitch counts, as in arrays."""
    probs = (1 - completion.HABIT_WEIGHT) * probs
    for pitch in played:
        probs[model.pitch_vocab.index(pitch)] += completion.HABIT_WEIGHT / len(played)
    return probs


def first_three(best: list[int], played: int) -> list[int]:
    """The model's three best, the note just played among them (third if it was lower)."""
    return best[:3] if played in best[:3] else [*best[:2], played]


def test_after_play_the_items_are_the_models_notes_without_the_rest(engine):
    # the loop is still being written (no `end` yet): nothing is heard after the cursor
    text = DOC.replace("end\n", "")
    items = items_at(engine, text, 6, 7)
    nc = context(text, 6, 7)
    assert nc.after is None
    assert [(ev.pitch, ev.duration) for ev in nc.history] == [(64, 0.5), (67, 0.5)]
    probs = softmax(engine.model.run(nc.history)[0][-1])
    probs[0] = 0.0  # <bos>
    # mixed with the voice's habits as in arrays: each played pitch's share at HABIT_WEIGHT
    probs = with_habits(engine.model, probs, [64, 67])
    probs[1] = 0.0  # the rest: no item
    best = [engine.model.pitch_of(int(i)) for i in np.argsort(-probs, kind="stable")[:3]]
    from notegen.notes import NoteStyle, spell

    expected = [spell(p, NoteStyle(case="lower")) for p in first_three(best, 67)]
    assert [i.label for i in items[:3]] == expected
    assert all(i.label != ":r" for i in items)
    assert all(i.text_edit.new_text == i.label for i in items)  # no comma, just the note


def leading_into(engine, before: list, beats: float, after: int, played: int) -> list[int]:
    """The model's ten best notes (habits mixed in) re-ranked by P(note) * P(written next
    note | before, note), the note just played among the first three."""
    from notegen.melody import Event

    model = engine.model
    probs = softmax(model.run(before)[0][-1])
    probs[0] = 0.0
    probs = with_habits(model, probs, [ev.pitch for ev in before])
    probs[1] = 0.0
    ten = [model.pitch_of(int(i)) for i in np.argsort(-probs, kind="stable")[:10]]
    nxt = model.pitch_id(after)

    def joint(note: int) -> float:
        then = softmax(model.run([*before, Event(note, beats)])[0][-1])
        return float(probs[model.pitch_vocab.index(note)] * then[nxt])

    return first_three(sorted(ten, key=lambda n: -joint(n)), played)


LOOP = """live_loop :riff do
  play :e4
  sleep 0.5
  play :g4
  sleep 0.5
  play|
  sleep 1
  play :c5
  sleep 0.5
end
""".replace("|", " ")  # the cursor after `play `


@pytest.mark.parametrize(
    "text,after",
    [
        (LOOP, 72),  # `play :c5` is written after the cursor
        (LOOP.replace("  play :c5\n  sleep 0.5\n", ""), 64),  # the loop comes round to :e4
    ],
    ids=["next-line", "loop-comes-round"],
)
def test_a_note_written_after_the_cursor_ranks_the_notes_that_lead_into_it(engine, text, after):
    from notegen.notes import NoteStyle, spell

    nc = context(text, 5, 7)
    assert nc.after is not None and nc.after.pitch == after
    before = list(nc.before)  # in play order: the rest of the previous pass first
    expected = leading_into(engine, before, 1.0, after, played=67)
    items = items_at(engine, text, 5, 7)
    assert [i.label for i in items[:3]] == [spell(p, NoteStyle(case="lower")) for p in expected]


def test_numbers_when_the_run_writes_numbers(engine):
    text = "live_loop :a do\n  play 64\n  sleep 1\n  play 67\n  sleep 1\n  play \nend\n"
    items = items_at(engine, text, 5, 7)
    assert items and all(i.label.isdigit() for i in items)


def test_after_sleep_the_items_are_durations_most_likely_first(engine):
    items = items_at(engine, DOC, 7, 8)
    nc = context(DOC, 7, 8)
    probs = softmax(nc.prime(engine.cache).dur_logits)
    probs[0] = 0.0
    best = engine.model.duration_of(int(np.argmax(probs)))
    from notegen.sonicpi import format_duration

    assert items[0].label == format_duration(best) and items[0].preselect


@pytest.mark.parametrize(
    "text,line,character",
    [
        ("live_loop :a do\n  sample :bd\n  sleep 1\nend\n", 1, 12),
        ("live_loop :a do\n  use_synth :\n  play 60\n  sleep 1\nend\n", 1, 13),
        ("live_loop :a do\n  play 60 # play \n  sleep 1\nend\n", 1, 17),
        ('live_loop :a do\n  puts "play "\n  play 60\n  sleep 1\nend\n', 1, 13),
    ],
    ids=["sample", "use_synth", "comment", "string"],
)
def test_no_items_where_a_note_cannot_go(engine, text, line, character):
    assert items_at(engine, text, line, character) is None


def test_a_note_on_the_line_after_its_play_and_a_backslash_takes_a_note(engine):
    text = "live_loop :a do\n  play :c4\n  sleep 1\n  play \\\n    :e\nend\n"
    items = items_at(engine, text, 4, 6)
    assert items and all(item.label.lower().startswith(":e") for item in items)


def test_a_duration_array_beside_play_runs_is_no_statement_and_is_not_read_as_one(
    engine, monkeypatch
):
    """A cursor in ``b1[0]=[...]`` takes no note; the play/sleep reader, which reads up to
    120 lines each way around the cursor, is not run for it (on real pieces' long lines it
    cost ~25-50 ms a request to find nothing)."""
    durations = ",".join(["1.0", "0.5", "0.5"] * 100)
    text = "sleep 0.2 # the others start\n\na1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4]\n"
    text += "b1[0]=[" + durations + "]\n" + DOC
    line = text.split("\n").index("b1[0]=[" + durations + "]")
    read: list[int] = []
    statements = DocumentView._statement_context

    def spy(self, at: int, col: int):  # type: ignore[no-untyped-def]
        read.append(at)
        return statements(self, at, col)

    monkeypatch.setattr(DocumentView, "_statement_context", spy)
    for character in (7, 11, 400, 7 + len(durations)):
        assert context(text, line, character) is None
    assert read == []
    assert context(text, line + 7, 7) is not None and read == [line + 7]  # `  play |` is


def test_ghost_text_writes_the_next_lines_in_the_runs_style(engine, tmp_path):
    nc = context(DOC, 8, 0)  # the blank line after `sleep `
    assert nc is not None and nc.local.ctx.slot == "line"
    ghost = inline.ghost_text(engine, nc, Settings(phraseLength=3))
    lines = ghost.split("\n")
    assert lines[0].startswith("  play :") and lines[0].endswith(", release: 0.3")
    assert all(line.startswith("  play :") or line.startswith("  sleep ") for line in lines)
    # accepted, the document still parses and reads back to the suggested notes
    accepted = DOC.replace("\n\nend", "\n" + ghost + "\nend")
    (run,) = [a for a in read(accepted) if a.kind == "play"]
    written = [ln.split()[1].rstrip(",") for ln in lines if ln.strip().startswith("play")]
    assert [n.text for n in run.notes[-len(written) :]] == written
    ruby = shutil.which("ruby")
    assert ruby is not None, "ruby is not installed (listed in .ci/apt-packages.txt)"
    path = tmp_path / "song.rb"
    path.write_text(accepted.replace("  play \n  sleep \n", ""))
    check = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_ghost_after_play_completes_the_note_then_sleeps_and_plays(engine):
    text = "live_loop :a do\n  play :e4\n  sleep 0.5\n  play \nend\n"
    nc = context(text, 3, 7)
    ghost = inline.ghost_text(engine, nc, Settings(phraseLength=2))
    first, *rest = ghost.split("\n")
    assert first.startswith(":") and rest[0].startswith("  sleep ")
    # with the sleep already written below, only the note
    nc = context(DOC, 6, 7)
    assert "\n" not in inline.ghost_text(engine, nc, Settings())


def test_a_bass_line_is_read_in_the_models_register_and_answered_in_its_own(engine):
    from notegen.lsp.play_lines import register_shift
    from notegen.melody import Event
    from notegen.notes import NoteStyle, spell

    assert register_shift([Event(31), Event(33), Event(31)], 36, 96) == 36  # g1 -> g4
    assert register_shift([Event(67), Event(69)], 36, 96) == 0
    text = (
        "in_thread do\n  play :g1\n  sleep 1\n  play :a1\n  sleep 1\n"
        "  play :g1\n  sleep 1\n  play \nend\n"
    )
    items = items_at(engine, text, 7, 7)
    model = engine.model
    lo, hi = int(model.pitches.min()), int(model.pitches.max())
    shift = register_shift([Event(31), Event(33), Event(31)], lo, hi)
    probs = softmax(
        model.run([Event(31 + shift, 1.0), Event(33 + shift, 1.0), Event(31 + shift, 1.0)])[0][-1]
    )
    probs[0] = 0.0
    probs = with_habits(model, probs, [31 + shift, 33 + shift, 31 + shift])
    probs[1] = 0.0
    best = [model.pitch_of(int(i)) - shift for i in np.argsort(-probs, kind="stable")[:3]]
    expected = [spell(p, NoteStyle(case="lower")) for p in first_three(best, 31)]
    assert [i.label for i in items[:3]] == expected
    assert ":g1" in [i.label for i in items[:3]]  # answered in the bass's own octave


def test_the_local_reader_reads_the_block_around_the_cursor_only():
    text = "use_bpm 90\nlive_loop :a do\n  play 60\n  sleep 1\nend\n\nlive_loop :b do\nend\n"
    view = DocumentView("file:///t.rb", 1, text)
    assert view.statement_region(2) == (1, 4)  # `live_loop :a do` … `end`
    top = "play 60\nsleep 1\nplay 62\nsleep 1\nlive_loop :b do\nend\n"
    assert DocumentView("file:///t.rb", 1, top).statement_region(2) == (0, 4)


def test_typing_down_a_long_block_reads_it_from_the_same_line_for_a_while():
    # 1,000 play/sleep lines: the lines read above the cursor start at a multiple of 60, at
    # least 120 lines up, so the notes before the cursor keep their first note (and the
    # contexts cached for them) while new lines are typed
    text = "live_loop :a do\n" + "  play 60\n  sleep 1\n" * 500 + "end\n"
    view = DocumentView("file:///t.rb", 1, text)
    firsts = {line: view.statement_region(line)[0] for line in range(1, 1001)}
    assert all(firsts[line] == 0 for line in range(1, 121))  # the block's own first line
    assert all(60 <= line - firsts[line] - 60 < 120 for line in range(121, 1001))
    assert all(firsts[line] % 60 == 0 for line in range(1, 1001))
    assert [firsts[line] for line in (500, 539, 540, 599, 600)] == [360, 360, 420, 420, 480]


def test_below_the_cursor_the_rest_of_a_block_is_read_only_when_its_first_line_is_too():
    # the later steps of a live_loop are its previous pass, heard before the cursor's: read
    # to the block's end when the reader sees the loop; from the middle of a long block,
    # only the next few lines
    text = "live_loop :a do\n" + "  play 60\n  sleep 1\n" * 500 + "end\n"
    view = DocumentView("file:///t.rb", 1, text)
    assert view.statement_region(100) == (0, 220)
    assert view.statement_region(400) == (240, 404)
    assert view.statement_region(999) == (840, 1001)  # (the block's end)


PIECE = """\
key = :e3
use_bpm 120
live_loop :lead, sync: :met do
  use_synth :pluck
  sync :beat
  play key + 7, release: 0.2
  sleep 0.25
  4.times do
    play :e4
    sleep 0.5
  end
end
"""


def test_a_cursor_in_a_piece_of_many_loops_reads_the_loops_its_context_can_reach():
    # 60 loops of 25 notes: the piece so far is the loops above, but a context holds at most
    # maxContext (256) notes, so only the last loops that reach that far back are read (the
    # same ones wherever the cursor is in its own loop: its context starts where it did)
    loops = [
        f"live_loop :l{k} do\n"
        + "".join(f"  play {60 + (k + i) % 12}\n  sleep 0.5\n" for i in range(25))
        + "end\n"
        for k in range(60)
    ]
    text = "use_bpm 100\n" + "".join(loops)
    view = DocumentView("file:///t.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text), text)
    line = text[: text.index("live_loop :l59")].count("\n") + 5  # `play` of its 3rd note
    nc = note_context(view, line, len("  play "), reading, 256)
    assert nc is not None
    above = [s for s in reading.summaries if s.kind == "play" and s.start < text.index(":l59")]
    assert len(nc.before) == 2 + 22  # (and the previous pass: the notes after the 3rd)
    assert len(above) == 59 and nc.earlier == above[-11:]  # 11 x 25 notes: past 256
    # eight notes typed into the loop: the same loops are read (the window starts where it
    # did: the cached states still serve)
    more = text.replace(
        "live_loop :l59 do\n", "live_loop :l59 do\n" + "  play 70\n  sleep 0.5\n" * 8
    )
    view2 = DocumentView("file:///t.rb", 2, more)
    reading2 = Reading(2, view2.arrays(), infer_style(more), more)
    typed = note_context(view2, line + 16, len("  play "), reading2, 256)
    assert typed is not None and len(typed.before) == len(nc.before) + 8
    assert [s.start for s in typed.earlier] == [s.start for s in nc.earlier]
    # another cursor in the loop hears the same other loops: the very tuple, whose experts'
    # tables (memoised per tuple of voices) are found again, not made at every keystroke
    other = note_context(view, line + 4, len("  play "), reading, 256)
    assert other is not None and other.setting is not None and nc.setting is not None
    assert other.setting.others is nc.setting.others and len(nc.setting.others) > 0


def test_play_in_sonic_pi_plays_the_block_under_the_cursor_once():
    from notegen.lsp.play_lines import run_snippet

    arrays = read(PIECE)
    loop_run, times_run = [a for a in arrays if a.kind == "play"]
    body = run_snippet(PIECE, loop_run, arrays)
    # the loop's body once (a live_loop would never end), after the assignment it uses;
    # `sync` would wait for a cue that never comes: left blank
    assert body.code.split("\n") == [
        "use_bpm 120",
        "key = :e3",
        "  use_synth :pluck",
        "",
        "  play key + 7, release: 0.2",
        "  sleep 0.25",
        "  4.times do",
        "    play :e4",
        "    sleep 0.5",
        "  end",
        "",
    ]
    lines = PIECE.split("\n")
    assert [PIECE[o.start : o.end] if o else None for o in body.origins] == [
        None,
        *lines[0:1],
        *lines[3:11],
    ]
    assert body.seconds == (0.25 + 4 * 0.5) * 60 / 120
    times = run_snippet(PIECE, times_run, arrays)  # an N.times block: as written, N times
    assert times.code.split("\n")[2:6] == lines[7:11]
    assert times.seconds == 4 * 0.5 * 60 / 120


def test_ghost_after_a_typed_sleep_keeps_it_and_writes_the_next_lines(engine):
    text = "live_loop :a do\n  play :e4\n  sleep 1\nend\n"
    nc = context(text, 2, 9)  # `  sleep 1|`
    ghost = inline.ghost_text(engine, nc, Settings(phraseLength=2))
    first, *rest = ghost.split("\n")
    assert first == "1"  # not replaced by a longer duration that starts with 1
    assert rest[0].startswith("  play :")


def _region_line_by_line(view: DocumentView, line: int) -> tuple[int, int]:
    """:meth:`DocumentView.statement_region` as it read the lines one by one."""
    from notegen.lsp.documents import _RUN_WORDS, STATEMENT_LINES, STATEMENT_NEXT, STATEMENT_STEP

    first = line - STATEMENT_LINES
    first = max(0, first - first % STATEMENT_STEP)
    opened = first == 0
    for k in range(line - 1, first - 1, -1):
        text = view.line_text(k)
        if text[:1].strip() and not text.startswith(_RUN_WORDS):
            first, opened = k, True
            break
    last = min(view.line_count - 1, line + (STATEMENT_LINES if opened else STATEMENT_NEXT))
    for k in range(line + 1, last + 1):
        text = view.line_text(k)
        if text[:1].strip() and not text.startswith(_RUN_WORDS):
            last = k
            break
    return first, last


def test_the_block_around_a_cursor_is_found_as_reading_line_by_line_finds_it():
    # one search of the lines' text finds the lines that open and close the block; line
    # ends \n, \r\n and a lone \r, indents of tabs and other spaces, top-level runs, comments
    import random

    pieces = [
        "  play 60", "  sleep 1", "play 62", "sleep 0.5", "live_loop :a do", "end", "",
        "\tplay 64", "\u00a0play 65", "\x0cend", "# note", "use_bpm 90", "sample :bd",
        "synth :beep, note: 60", "4.times do", "  end", "x = 1", "define :d do",
    ]  # fmt: skip
    rng = random.Random(11)
    checked = 0
    for _ in range(150):
        ends = rng.choice(["\n", "\r\n", "\n", "\r"])
        count = rng.randrange(1, 400)
        text = ends.join(rng.choice(pieces) for _ in range(count)) + rng.choice(["", ends])
        view = DocumentView("file:///t.rb", 1, text)
        for line in rng.sample(range(view.line_count), min(12, view.line_count)):
            assert view.statement_region(line) == _region_line_by_line(view, line), (ends, line)
            checked += 1
    assert checked > 1000
