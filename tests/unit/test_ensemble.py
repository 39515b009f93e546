"""A document's voices on one time line: what each voice hears of the others."""

from __future__ import annotations

import numpy as np
from notegen.conditioning import OTHERS, condition_rows
from notegen.ensemble import document_lines, document_setting

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
