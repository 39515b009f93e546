"""Snippets: what "Play in Sonic Pi" sends, and how Sonic Pi's line numbers map back."""

from __future__ import annotations

import pytest
from notegen.melody import Event
from notegen.snippets import array_snippet, block_snippet, phrase_snippet, voices_seconds
from notegen.sonicpi import LineIndex, Span, read, render_block

DOC = """\
a1=[]
b1=[]
a1[0]=[:C4,:Ef4,
       :r,:G4]
b1[0]=[0.5,0.5,1,2]
c1=[120]
"""


def test_an_array_is_unrolled_one_note_per_line_with_its_durations_and_bpm() -> None:
    (array,) = [a for a in read(DOC) if a.voice == 1]
    snippet = array_snippet(array)
    assert snippet.code == (
        "use_bpm 120\n"
        "play :C4, release: 0.5\nsleep 0.5\n"
        "play :Ef4, release: 0.5\nsleep 0.5\n"
        "play :r, release: 1\nsleep 1\n"
        "play :G4, release: 2\nsleep 2\n"
    )
    assert snippet.seconds == pytest.approx(4 * 60 / 120)


def test_each_play_line_maps_back_to_its_note_in_the_document() -> None:
    (array,) = [a for a in read(DOC) if a.voice == 1]
    snippet = array_snippet(array)
    lines = LineIndex(DOC)
    assert snippet.origin(0) is None  # use_bpm
    span = snippet.origin(7)  # "play :G4"
    assert span is not None and DOC[span.start : span.end] == ":G4"
    assert lines.position(span.start) == (3, 10)
    assert snippet.origin(99) is None and snippet.origin(None) is None


def test_an_array_without_durations_plays_half_beats_at_60_bpm() -> None:
    (array,) = read("notes = [:c4, :e4]\n")
    snippet = array_snippet(array)
    assert snippet.code.splitlines()[0] == "use_bpm 60"
    assert snippet.seconds == pytest.approx(1.0)


def test_a_phrase_before_acceptance_is_checked_and_canonical() -> None:
    snippet = phrase_snippet(
        [":Cs4", "r", 67, [":C4", ":E4"], None], [0.25, 0.25, 0.5, 1, 1], bpm=90
    )
    assert snippet.code.splitlines()[1::2] == [
        "play :Cs4, release: 0.25",
        "play :r, release: 0.25",
        "play 67, release: 0.5",
        "play [:C4, :E4], release: 1",
        "play :r, release: 1",
    ]
    assert snippet.seconds == pytest.approx(3 * 60 / 90)


@pytest.mark.parametrize(
    ("notes", "durations", "message"),
    [
        ([":C4", "system('ls')"], None, "note 2"),
        ([":Cx4"], None, "not a Sonic Pi note name"),
        ([True], None, "not a note"),
        ([300], None, "0-231"),
        ([], None, "empty"),
        ([":C4"], [0], "positive"),
        ([":C4", ":D4"], [1], "one per note"),
    ],
)
def test_a_phrase_that_is_not_notes_is_refused(notes, durations, message) -> None:
    with pytest.raises(ValueError, match=message):
        phrase_snippet(notes, durations)


def test_a_block_is_sent_as_written_and_maps_line_for_line() -> None:
    block = render_block(3, [[Event(60, 1.0), Event(62, 1.0)], [Event(64, 2.0)]], [60, 120])
    doc = "# my piece\n" + block
    start = doc.index("a3=[]")
    snippet = block_snippet(doc, Span(start + 2, len(doc)), read(doc))  # mid-line start
    assert snippet.code == block
    assert snippet.seconds == pytest.approx(2.0 + 1.0)
    span = snippet.origin(2)
    assert span is not None and doc[span.start : span.end] == "a3[0]=[:C4,:D4]"


def test_voices_play_together_and_sections_in_turn() -> None:
    text = render_block(1, [[Event(60, 1.0)] * 4], 60) + render_block(2, [[Event(60, 1.0)]], 60)
    assert voices_seconds(read(text)) == pytest.approx(4.0)
