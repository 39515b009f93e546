"""A document's voices on one time line: what each voice hears of the others."""

from __future__ import annotations

import pickle

import numpy as np
from notegen.model.conditioning import OTHERS, condition_rows
from notegen.model.ensemble import document_lines, document_setting, setting_for

PIECE = """\
c1=[120, 120]
a1[0]=[:c4, :d4, :e4, :f4]
b1[0]=[1, 1, 1, 1]
a1[1]=[:g4, :a4]
b1[1]=[2, 2]
a2[0]=[:c3, :r, :g2]
b2[0]=[2, 1, 1]
c2=[60]
"""


def test_voices_join_their_sections_in_order_with_their_tempos() -> None:
    one, two = document_lines(PIECE)
    assert [e.pitch for e in one.events] == [60, 62, 64, 65, 67, 69]
    assert one.section_starts == [0, 4] and one.bpms == [120.0, 120.0]
    assert two.bpms == [60.0]


def test_other_voices_are_placed_on_this_voice_s_beats() -> None:
    setting = document_setting(PIECE, 1)
    (bass,) = setting.others
    # voice 2 at 60 bpm lasts 4 s; voice 1 at 120 bpm: its C3 (2 beats = 2 s) spans 4 beats
    assert bass.onsets.tolist() == [0.0, 4.0, 6.0]
    assert bass.ends.tolist() == [4.0, 6.0, 8.0]
    rows = condition_rows(np.array([0.0, 3.0, 4.0, 6.5]), setting.others)
    heard = [np.nonzero(r[OTHERS])[0].tolist() for r in rows]
    assert heard == [[0], [0], [], [7]]


def test_a_new_voice_hears_every_voice_and_a_lone_voice_hears_nothing() -> None:
    assert len(document_setting(PIECE, None).others) == 2
    assert document_setting("a1[0]=[:c4, :e4]\n", 1).others == ()


# Voice 1 has no cN: it plays at the use_bpm of its thread (120), as Sonic Pi plays it;
# voice 2 says c2=60.
THREADED = """\
a1=[:c4, :d4, :e4, :f4]
b1=[1, 1, 1, 1]
a2=[:c3, :g2]
b2=[2, 2]
c2=[60]
in_thread do
  use_bpm 120
  play_pattern_timed a1, b1
end
in_thread do
  play_pattern_timed a2, b2
end
"""


def test_the_servers_reading_times_voices_as_the_piece_reader_does() -> None:
    from notegen.lsp.documents import DocumentView
    from notegen.lsp.reading import Reading
    from notegen.notes import infer_style

    view = DocumentView("file:///t.rb", 1, THREADED)
    reading = Reading(1, view.arrays(), infer_style(THREADED), THREADED)
    (melody,) = reading.setting(2).others
    # voice 1's quarter notes at 120 bpm are half of voice 2's beats at 60 bpm
    assert melody.onsets.tolist() == [0.0, 0.5, 1.0, 1.5]
    for voice in (1, 2, None):
        served = reading.setting(voice).others
        measured = document_setting(THREADED, voice).others
        assert [o.onsets.tolist() for o in served] == [o.onsets.tolist() for o in measured]
        assert [o.ends.tolist() for o in served] == [o.ends.tolist() for o in measured]


THREE = PIECE + "a3[0]=[:e5, :g5, :c6]\nb3[0]=[1, 1, 2]\nc3=[120]\n"


def test_a_pieces_settings_share_each_voices_times_and_equal_those_made_alone() -> None:
    lines = document_lines(THREE)
    shared: dict = {}
    together = {n: setting_for(lines, n, shared=shared) for n in (1, 2, 3, None)}
    for number, setting in together.items():
        alone = setting_for(lines, number)
        assert len(setting.others) == len(alone.others)
        for have, want in zip(setting.others, alone.others, strict=True):
            for a, b in [(have.onsets, want.onsets), (have.ends, want.ends)]:
                assert np.array_equal(a, b)
            assert np.array_equal(have.pitches, want.pitches, equal_nan=True)
    # voice 3 as voices 1 and 2 hear it (on their own beats): one pitch array
    in_one, in_two = together[1].others[1], together[2].others[1]
    assert in_one.pitches is in_two.pitches and in_one.onsets is not in_two.onsets
    # a new voice is placed on voice 1's beats: it hears voices 2 and 3 as voice 1 does
    assert together[None].others[1:] == together[1].others


def test_a_voice_heard_by_many_keeps_its_times_once_and_is_moved_onto_each_listener_when_read() -> (
    None
):
    # six voices at six tempos: each hears the five others on its own beats
    text = "".join(
        f"c{n}=[{60 + 10 * n}]\na{n}[0]=[{', '.join([':c4', ':e4', ':r', ':g4'] * 50)}]\n"
        f"b{n}[0]=[{', '.join(['0.5', '1', '0.25', '1.5'] * 50)}]\n"
        for n in range(1, 7)
    )
    lines = document_lines(text)
    shared: dict = {}
    settings = [setting_for(lines, n, shared=shared) for n in range(1, 7)]
    heard_by_one, heard_by_two = settings[0].others[2], settings[1].others[2]  # voice 4
    assert heard_by_one.seconds is heard_by_two.seconds
    assert heard_by_one.pitches is heard_by_two.pitches
    assert not np.array_equal(heard_by_one.onsets, heard_by_two.onsets)  # other beats
    # read twice, the same values (each read moves the seconds again: nothing is kept)
    assert heard_by_one.onsets is not heard_by_one.onsets
    assert np.array_equal(heard_by_one.ends, heard_by_one.ends)
    # so a piece's settings, pickled as a reading is, hold each voice's times once, not once
    # per listener (five times here)
    assert len(pickle.dumps(settings)) < 2 * len(pickle.dumps(settings[0]))
