"""Motif evidence: a passage that recurs elsewhere in the piece, in any voice and at any
transposition, vouches for the pitch that keeps its shape.

Spec: a subject of 13 notes enters in voice 1 and, a fifth lower, in voice 2; a slip in voice
2's entry breaks the long shape, the written pitch finds no other occurrence, the pitch that
restores the shape finds voice 1's.
"""

from __future__ import annotations

import numpy as np
from notegen.model.harmony import Part, parts_by_section
from notegen.model.motifs import PASSAGE_SPAN, MotifTable
from notegen.sonicpi import read

SUBJECT = ":G4,:C5,:B4,:C5,:D5,:E5,:D5,:C5,:B4,:A4,:G4,:A4,:B4"
ANSWER = ":C4,:F4,:E4,:F4,:G4,:A4,:G4,:F4,:E4,:D4,:C4,:D4,:E4"  # a fifth lower
ANSWER_SLIPPED = ":C4,:F4,:E4,:F4,:G4,:A4,:Af4,:F4,:E4,:D4,:C4,:D4,:E4"  # G4 -> A♭4


def voices(first: str, second: str) -> list[Part]:
    ones = ",".join(["1"] * 13)
    text = f"a1[0]=[{first}]\nb1[0]=[{ones}]\na2[0]=[{second}]\nb2[0]=[{ones}]\n"
    return list(parts_by_section(read(text))[0].values())


def test_a_slip_in_a_transposed_entry_breaks_the_long_shape():
    subject, answer = voices(SUBJECT, ANSWER_SLIPPED)
    table = MotifTable([subject, answer])
    written = answer.pitches[PASSAGE_SPAN]  # A♭4 = 68
    support = table.support(answer, PASSAGE_SPAN, np.array([written, written - 1, written + 1]))
    assert support[3].tolist() == [0.0, np.log(2), 0.0]  # only G4 recurs (in voice 1)


def test_a_clean_entry_is_vouched_for_by_the_other():
    subject, answer = voices(SUBJECT, ANSWER)
    table = MotifTable([subject, answer])
    written = answer.pitches[PASSAGE_SPAN]
    support = table.support(answer, PASSAGE_SPAN, np.array([written, written + 1]))
    assert support[3].tolist() == [np.log(2), 0.0]


def test_the_long_shape_needs_six_notes_on_each_side():
    subject, answer = voices(SUBJECT, ANSWER)
    table = MotifTable([subject, answer])
    edge = PASSAGE_SPAN - 1
    support = table.support(answer, edge, np.array([answer.pitches[edge]] * 2))
    assert support[3].tolist() == [0.0, 0.0]
