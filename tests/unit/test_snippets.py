"""Snippets: what "Play in Sonic Pi" sends, and how Sonic Pi's line numbers map back."""

from __future__ import annotations

import pytest
from notegen.melody import Event
from notegen.playback.snippets import (
    array_snippet,
    block_snippet,
    phrase_snippet,
    voice_snippet,
    voices_seconds,
)
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


# --- one voice, and errors back to the note ----------------------------------------------------

PIECE = """\
use_synth :piano
a1=[]
b1=[]
a1[0]=[:C4,:E4]
b1[0]=[1,1]
live_loop :drums do
  sample :bd_haus
  sleep 0.5
end
a2=[]
b2=[]
a2[0]=[:C3]
b2[0]=[2]
a1[1]=[:G4,
  :H4]
b1[1]=[0.5,0.5]
c1=[60,120]
in_thread do
for i in 0..a1.length-1
use_bpm c1[i]
for j in 0..a1[i].length-1
play a1[i][j],sustain: b1[i][j]*0.9,release: b1[i][j]*0.1
sleep b1[i][j]
end
end
end
"""


def test_a_voice_is_its_arrays_and_its_own_loop_and_nothing_between() -> None:
    snippet = voice_snippet(PIECE, read(PIECE), 1)
    lines = PIECE.splitlines()
    kept = [0, 1, 2, 3, 4, 13, 14, 15, 16, *range(17, 26)]  # use_synth, then its own lines
    assert snippet.code == "\n".join(lines[n] for n in kept) + "\n"
    assert "live_loop" not in snippet.code and "a2" not in snippet.code
    assert snippet.seconds == pytest.approx(2.0 + 0.5)
    # every line maps back to its own line of the document
    index = LineIndex(PIECE)
    assert [index.position(s.start)[0] for s in snippet.origins if s] == kept


def test_an_invalid_note_reported_on_the_loops_play_line_points_at_the_note() -> None:
    snippet = voice_snippet(PIECE, read(PIECE), 1)
    play_line = snippet.code.splitlines().index(
        "play a1[i][j],sustain: b1[i][j]*0.9,release: b1[i][j]*0.1"
    )
    span = snippet.locate(play_line, "SonicPi::Note::InvalidNoteError\nInvalid note: :H4")
    assert span is not None and PIECE[span.start : span.end] == ":H4"
    assert LineIndex(PIECE).position(span.start)[0] == 14
    other = snippet.locate(play_line, "undefined method `foo'")  # not a note: the line
    assert other is not None and PIECE[other.start : other.end].startswith("play a1[i][j]")


def test_a_whole_file_maps_a_play_statements_invalid_note_to_its_own_line() -> None:
    doc = "use_bpm 120\nplay :C4\nsleep 1\nplay :H4\n"
    snippet = block_snippet(doc, Span(0, len(doc)), read(doc))
    span = snippet.locate(3, "Invalid note: :H4")
    assert span is not None and LineIndex(doc).position(span.start)[0] == 3


def test_a_voice_played_through_the_pieces_own_functions_is_unrolled() -> None:
    doc = (
        "define :bosc do |n, d|\n  osc '/x', n\nend\n"
        "a1=[]\nb1=[]\na1[0]=[:C4,:D4]\nb1[0]=[1,0.5]\na1[1]=[:E4]\nb1[1]=[2]\nc1=[60,120]\n"
        "in_thread do\n  for i in 0..a1.length-1\n    bosc a1[i], b1[i]\n  end\nend\n"
    )
    snippet = voice_snippet(doc, read(doc), 1)
    assert snippet.code == (
        "use_bpm 60\nplay :C4, release: 1\nsleep 1\nplay :D4, release: 0.5\nsleep 0.5\n"
        "use_bpm 120\nplay :E4, release: 2\nsleep 2\n"
    )
    assert snippet.seconds == pytest.approx(1.5 + 1.0)
    span = snippet.origin(6)
    assert span is not None and doc[span.start : span.end] == ":E4"


def test_a_voice_without_notes_is_refused() -> None:
    with pytest.raises(ValueError, match="voice 3 has no notes"):
        voice_snippet(PIECE, read(PIECE), 3)
