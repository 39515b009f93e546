"""The notes a cursor in play/sleep code hears before it: a document, a cursor, the context.

A live coder's phrase runs across ``2.times`` blocks and ``with_fx`` wrappers and comes round
again when the loop does; completion reads it in that order, with the sleeps as durations,
and hears the loops that play along with it.
"""

from __future__ import annotations

import numpy as np
import pytest
from notegen.lsp.config import Settings
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.reading import Reading
from notegen.notes import infer_style

PHRASE = """use_bpm 100
live_loop :mel do
  sleep 0.5
  play :g3
  sleep 0.5
  2.times do
    play :c4
    sleep 0.5
  end
  sleep 1
  play :a3
  sleep 0.5
  play|
  sleep 1
  play :e3
  sleep 2
end
""".replace("|", " ")
CURSOR = (12, 7)  # after `play ` (the `|`) in the middle of the loop


def context(text: str, line: int, character: int):
    view = DocumentView("file:///t.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    return note_context(view, line, character, reading, Settings().maxContext)


def heard(nc) -> list[tuple[int | float | None, float | None]]:
    return [(ev.pitch, ev.duration) for ev in nc.before]


def test_a_loop_is_heard_in_play_order_from_its_previous_pass():
    nc = context(PHRASE, *CURSOR)
    assert nc is not None and nc.local.ctx.slot == "note"
    # the previous pass's end (:e3, and the loop's opening sleep 0.5 before :g3 again),
    # :g3, the 2.times block twice (the sleep 1 after it lengthens its last note), :a3
    assert heard(nc) == [(52, 2.5), (55, 0.5), (60, 0.5), (60, 1.5), (57, 0.5)]
    assert nc.earlier == []  # the loop's own runs are in `before`, not read twice
    assert nc.cursor_time == 3.5  # beats into the loop's pass where the new note starts


def test_a_phrase_wrapped_in_with_fx_is_the_loops_phrase():
    text = PHRASE.replace("  sleep 0.5\n  play :g3", "  with_fx :reverb do\n  play :g3", 1)
    text = text.replace("  sleep 2\nend\n", "  sleep 2\n  end\nend\n")
    nc = context(text, CURSOR[0], CURSOR[1])
    assert nc is not None
    assert heard(nc) == [(52, 2.0), (55, 0.5), (60, 0.5), (60, 1.5), (57, 0.5)]


def test_a_block_that_repeats_inside_the_loop_hears_its_own_previous_pass_last():
    text = (
        "live_loop :a do\n  play :d4\n  sleep 1\n  4.times do\n    play :e4\n    sleep 0.5\n"
        "    play \n    sleep 0.5\n    play :g4\n    sleep 0.5\n  end\nend\n"
    )
    nc = context(text, 6, 9)
    assert nc is not None
    assert heard(nc) == [(62, 1.0), (67, 0.5), (64, 0.5)]


def test_other_loops_of_the_same_length_are_heard_as_other_voices():
    bass = "live_loop :bass do\n  play :c2\n  sleep 2\n  play :g2\n  sleep 2\nend\n"
    drift = "live_loop :arp do\n  play :e5\n  sleep 3\nend\n"
    once = "define :intro do\n  play :c6\n  sleep 4\nend\n"
    tune = (
        "live_loop :tune do\n  play :c4\n  sleep 1\n  play :d4\n  sleep 1\n"
        "  play \n  sleep 2\nend\n"
    )
    text = bass + drift + once + tune
    line = text.count("\n", 0, text.index("  play \n"))
    nc = context(text, line, 7)
    assert nc is not None and nc.setting is not None
    (other,) = nc.setting.others  # the 4-beat bass; not the 3-beat arp, not the define
    sounding = {
        float(t): float(p) for t, p in zip(other.onsets, other.pitches, strict=True) if -4 <= t < 4
    }
    assert sounding == {-4.0: 36.0, -2.0: 43.0, 0.0: 36.0, 2.0: 43.0}
    assert nc.cursor_time == 2.0  # the new note starts with the bass's :g2
    # the other loops' notes are the piece so far, not this voice's melody
    assert heard(nc) == [(60, 1.0), (62, 1.0)]
    assert len(nc.earlier) == 3  # the other blocks' notes: the piece so far, each on its own


def test_a_loop_alone_hears_no_other_voice_and_its_pass_is_not_summed(monkeypatch):
    """Only another loop's length is set against the voice's own: with no other loop there
    is nothing to set it against (its sum over every note cost a 160,000-note loop's first
    completion after each reading ~5 ms)."""
    from notegen.model import ensemble

    sums: list[int] = []
    whole = ensemble.total_beats
    monkeypatch.setattr(ensemble, "total_beats", lambda evs: sums.append(len(evs)) or whole(evs))
    drift = "live_loop :arp do\n  play :e5\n  sleep 3\nend\n"
    nc = context(PHRASE, *CURSOR)
    assert nc is not None and nc.setting is not None and nc.setting.others == () and sums == []
    nc = context(drift + PHRASE, CURSOR[0] + 4, CURSOR[1])  # another loop: both lengths
    assert nc is not None and nc.setting is not None and nc.setting.others == () and len(sums) == 2


def test_top_level_runs_are_one_voice_read_once():
    text = (
        "play :c4\nsleep 1\nplay :d4\nsleep 1\nin_thread do\n  play :c2\n  sleep 4\nend\n"
        "play :e4\nsleep 1\nplay \nsleep 1\n"
    )
    nc = context(text, 10, 5)
    assert nc is not None
    assert heard(nc) == [(60, 1.0), (62, 1.0), (64, 1.0)]
    assert [s.pitches.tolist() for s in nc.earlier] == [[36.0]]  # the thread: piece so far


def test_a_chord_loop_is_heard_with_every_tone():
    chords = (
        "live_loop :chords do\n  play [:c3, :e3, :g3]\n  sleep 2\n"
        "  play_chord [:f3, :a3]\n  sleep 2\nend\n"
    )
    tune = "live_loop :tune do\n  play :e4\n  sleep 2\n  play \n  sleep 2\nend\n"
    text = chords + tune
    line = text.count("\n", 0, text.index("  play \n"))
    nc = context(text, line, 7)
    assert nc is not None and nc.setting is not None

    def sounding_at(time: float) -> list[float]:
        found = [v.pitches[v.onsets == time] for v in nc.setting.others]
        return sorted(float(p) for p in np.concatenate(found) if p == p)

    assert sounding_at(2.0) == [53.0, 57.0]  # the F chord sounds where the new note starts
    assert sounding_at(0.0) == [48.0, 52.0, 55.0]


def test_a_define_called_in_a_loop_comes_round_again():
    text = (
        "define :riff do\n  play :e4\n  sleep 1\n  play \n  sleep 1\n  play :b4\n  sleep 1\nend\n"
        "live_loop :go do\n  riff\nend\n"
    )
    nc = context(text, 3, 7)
    assert nc is not None
    assert heard(nc) == [(71, 1.0), (64, 1.0)]  # :b4 of the previous call, then :e4
    once = text.replace("live_loop :go do\n  riff\nend\n", "riff\n")
    assert heard(context(once, 3, 7)) == [(64, 1.0)]  # called once: nothing came before


def test_a_define_called_in_the_loop_plays_where_it_is_called():
    text = (
        "define :dow do\n  play :d3\n  sleep 0.75\n  play :f3\n  sleep 0.75\nend\n"
        "live_loop :go do\n  dow\n  play :c3\n  sleep 0.25\n  play :d3\n  sleep 0.75\n"
        "  play \n  sleep 1\n  dow\n  sleep 1\nend\n"
    )
    line = text.count("\n", 0, text.index("  play \n"))
    nc = context(text, line, 7)
    assert nc is not None
    # the previous pass's second `dow` (its last note lasts the loop's final sleep 1 too),
    # then this pass: `dow`, :c3, :d3
    assert heard(nc) == [(50, 0.75), (53, 1.75), (50, 0.75), (53, 0.75), (48, 0.25), (50, 0.75)]
    assert nc.cursor_time == 2.5


def test_continue_melody_follows_the_loop_in_play_order():
    from notegen.lsp.play_lines import continue_history
    from notegen.sonicpi import read

    text = PHRASE.replace("  play|\n  sleep 1\n", "")
    arrays = read(text)
    last = max((a for a in arrays if a.kind == "play"), key=lambda a: a.span.start)
    history = continue_history(arrays, last)
    # :g3, the 2.times block twice, then the run being continued: :a3, :e3
    assert [(ev.pitch, ev.duration) for ev in history] == [
        (55, 0.5),
        (60, 0.5),
        (60, 1.5),
        (57, 0.5),
        (52, 2.0),
    ]


def test_continue_melody_follows_the_same_order_from_the_servers_reading():
    """The server's reading of the same text has the voices already: the history made from
    them is the one made from the arrays."""
    import pickle

    from notegen.lsp.play_lines import continue_history
    from notegen.lsp.reading import Reading
    from notegen.notes import infer_style
    from notegen.sonicpi import read

    text = PHRASE.replace("  play|\n  sleep 1\n", "") + (
        "live_loop :bass do\n  play :c2\n  sleep 2\n  play :g2\n  sleep 2\nend\n"
    )
    arrays = read(text)
    reading = pickle.loads(pickle.dumps(Reading(1, read(text), infer_style(text), text)))
    for run in (a for a in arrays if a.kind == "play"):
        made = continue_history(arrays, run)
        assert continue_history(arrays, run, reading.play_voices) == made
        assert made


def test_at_most_eight_other_parts_are_heard_the_nearest_loops_first():
    from notegen.model.ensemble import MAX_OTHERS

    loops = [f"live_loop :l{i} do\n  play {40 + i}\n  sleep 2\nend\n" for i in range(12)]
    tune = "live_loop :tune do\n  play 72\n  sleep 1\n  play \n  sleep 1\nend\n"
    text = "".join(loops[:6]) + tune + "".join(loops[6:])
    line = text.count("\n", 0, text.index("  play \n"))
    nc = context(text, line, 7)
    assert nc is not None and len(nc.setting.others) == MAX_OTHERS == 8
    heard_parts = sorted(int(v.pitches[0]) for v in nc.setting.others)
    assert heard_parts == [42, 43, 44, 45, 46, 47, 48, 49]  # four loops each side


def test_a_name_assigned_at_the_top_of_the_file_gives_the_loops_notes_their_pitch():
    # `shift` is assigned far above the loop (the local reading of the loop's lines alone
    # would not know it): the notes before the cursor still have their pitches
    text = (
        "shift = 12\nroot = :c3\n\n"
        + "\n" * 10
        + (
            "live_loop :bass do\n"
            "  play root+shift\n"
            "  sleep 1\n"
            "  play :e3+shift\n"
            "  sleep 1\n"
            "  play \n"
            "  sleep 1\n"
            "end\n"
        )
    )
    nc = context(text, 18, 7)
    assert nc is not None and nc.local.ctx.slot == "note"
    assert heard(nc) == [(60, 1.0), (64, 1.0)]
    assert nc.local.doc_span(nc.local.array.span).start == text.index("play root")


@pytest.mark.parametrize(
    "text,line,after",
    [
        (PHRASE, 12, 52),  # the next line of the run: `play :e3`
        # the run's last note: the next run of the loop (the 2.times block's :c4)
        (
            "live_loop :a do\n  play :g3\n  sleep 1\n  play \n  sleep 1\n"
            "  2.times do\n    play :c4\n    sleep 1\n  end\nend\n",
            3,
            60,
        ),
        # the loop's last note: the loop comes round to its first note
        ("live_loop :a do\n  play :g3\n  sleep 1\n  play \n  sleep 1\nend\n", 3, 55),
        # a 2.times block's last note: the block's first note plays again
        (
            "live_loop :a do\n  2.times do\n    play :d4\n    sleep 1\n    play \n"
            "    sleep 1\n  end\n  play :g3\n  sleep 1\nend\n",
            4,
            62,
        ),
        # a loop still being written (no `end`): more notes are coming, not the first again
        ("live_loop :a do\n  play :g3\n  sleep 1\n  play \n  sleep 1\n", 3, None),
        # a melody that plays once ends there
        ("in_thread do\n  play :g3\n  sleep 1\n  play \n  sleep 1\nend\n", 3, None),
        ("play :g3\nsleep 1\nplay \nsleep 1\n", 2, None),
    ],
    ids=["next-line", "next-run", "loop-comes-round", "times-again", "unclosed", "thread", "top"],
)
def test_the_note_heard_after_the_cursor_where_it_is_written(text, line, after):
    col = len(text.split("\n")[line])
    nc = context(text, line, col)
    assert nc is not None and nc.local.ctx.slot == "note"
    assert (nc.after.pitch if nc.after is not None else None) == after


def test_each_loops_pass_is_counted_once_per_reading_whichever_cursor_asks(monkeypatch):
    """A file of loops of three lengths: each cursor's loop hears the loops of its own length
    (found by comparing pass lengths), and each loop's length is summed once for the
    reading, not again at every new cursor."""
    from notegen.model import ensemble

    loops = [f"live_loop :l{i} do\n  play {40 + i}\n  sleep {1 + i % 3}\nend\n" for i in range(9)]
    text = "".join(loops)
    view = DocumentView("file:///t.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    summed: list[float] = []
    total_beats = ensemble.total_beats
    monkeypatch.setattr(
        ensemble, "total_beats", lambda events: summed.append(1) or total_beats(events)
    )
    heard = []
    for i in range(9):
        nc = note_context(view, 4 * i + 1, 7, reading, Settings().maxContext)
        assert nc is not None
        heard.append(sorted(int(v.pitches[0]) for v in nc.setting.others))
    assert heard == [[40 + j for j in range(9) if j % 3 == i % 3 and j != i] for i in range(9)]
    assert 0 < len(summed) <= 9  # (one sum a loop: before, each cursor summed its own and more)
