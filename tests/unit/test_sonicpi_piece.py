"""A piece as its authors write it: every voice form, tempo, key and style, read in full."""

from __future__ import annotations

import pytest
from notegen.sonicpi import read
from notegen.sonicpi.piece import read_piece
from notegen.sonicpi.tempo import voice_tempi

LATE_ENTRY = """\
use_bpm 96
a1=[:c4,:e4,:g4,:c5]
b1=[1,1,1,1]
a2=[:r,:r,:G3,:C4]
b2=[1,1,0.5,1.5]
a3=[:r,:r,:r,:r]
b3=[1,1,1,1]
a4=[]
b4=[]
in_thread do
  a1.length.times do |i|
    play a1[i]
    sleep b1[i]
  end
end
"""


def plain_voices(text: str) -> dict[str, tuple[int, int | None]]:
    return {
        a.name: (len(a.notes), None if a.durations is None else len(a.durations.values))
        for a in read(text)
        if a.kind == "voice" and a.name
    }


def test_plain_voices_are_read_whatever_their_rests_and_paired_with_their_durations() -> None:
    assert plain_voices(LATE_ENTRY) == {
        "a1": (4, 4),
        "a2": (4, 4),
        "a3": (4, 4),
        "a4": (0, 0),
    }


def test_a_plain_voice_of_mostly_rests_is_one_voice_and_its_chords_stay_inside() -> None:
    found = read("a1=[:c3,:r,[:e3,:g3],:r]\n")
    assert len(found) == 1
    assert [n.midi for n in found[0].notes] == [48, None, 55, None]
    assert found[0].notes[2].chord == (52, 55)
    assert (found[0].voice, found[0].section) == (1, None)


def test_empty_declarations_of_indexed_voices_are_not_voices() -> None:
    text = "a1=[]\nb1=[]\na1[0]=[:c4,:d4]\nb1[0]=[1,1]\n"
    assert plain_voices(text) == {"a1[0]": (2, 2)}


def test_names_the_piece_defines_are_evaluated() -> None:
    text = "Last = 4\nq = 0.5\na1[0]=[:c4,:d4,:e4]\nb1[0]=[q,1,1+Last]\n"
    (arr,) = read(text)
    assert [v.value for v in arr.durations.values] == [0.5, 1, 5]
    assert not any(v.error for v in arr.durations.values)


def test_a_name_with_more_than_one_value_is_code_not_an_error() -> None:
    text = "x = 1\nx = 2\nlen = rrand(1, 2)\na1=[:c4,:d4]\nb1=[x, len]\n"
    (arr,) = read(text)
    values = arr.durations.values
    assert [(v.value, v.error, v.dynamic) for v in values] == [(None, None, True)] * 2


def test_arrays_of_strings_or_mixed_data_are_not_note_arrays() -> None:
    text = (
        'voices=[["Grand Piano","Grand Piano","piano-p-",0,:c1,:c8]]\n'
        "pairs = [[:c4, 1], [:e4, 0.5]]\n"
        "chords = [[:c4, :e4], [:d4, :f4]]\n"
    )
    assert [a.name for a in read(text)] == ["chords"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_reads_the_same_arrays(newline: str) -> None:
    text = newline.join(["# :c4, :d4", "a1=[:c4,:e4]", "b1=[1,2]", "x = [:g4]"])
    found = read(text)
    assert [(a.name, [n.midi for n in a.notes]) for a in found] == [
        ("a1", [60, 64]),
        ("x", [67]),
    ]
    assert found[0].notes[1].span.text(text) == ":e4"


def test_tempo_is_cn_else_the_use_bpm_in_force_where_the_voice_plays_else_60() -> None:
    text = """\
use_bpm 120
a1=[:c4,:d4]
b1=[1,1]
c1=[90]
a2=[:e4,:f4]
b2=[1,1]
a3=[:g4]
b3=[2]
in_thread do
  use_bpm 200
  play_pattern_timed a2, b2
end
in_thread do
  play_pattern_timed a3, b3
end
with_bpm 75 do
  play_pattern_timed a1, b1
end
"""
    piece = read_piece(text)
    assert [(v.number, v.sections[0].bpm) for v in piece.voices] == [(1, 90), (2, 200), (3, 120)]
    assert read_piece("a1=[:c4]\nb1=[1]\n").voices[0].sections[0].bpm == 60
    assert voice_tempi("tempo = 96\nuse_bpm tempo\nplay a1[0]\n").voices == {1: 96}


def test_events_have_onsets_in_beats_and_seconds_section_after_section() -> None:
    text = "a1=[]\nb1=[]\na1[0]=[:c4,:r]\nb1[0]=[1,2]\na1[1]=[:e4]\nb1[1]=[1]\nc1=[60,120]\n"
    (voice,) = read_piece(text).voices
    assert voice.form == "indexed"
    assert [(e.onset, e.time, e.pitch, e.section) for e in voice.events] == [
        (0.0, 0.0, 60, 0),
        (1.0, 1.0, None, 0),
        (3.0, 3.0, 64, 1),
    ]
    assert voice.sounding_at(3.25).pitch == 64 and voice.sounding_at(4.0) is None
    assert voice.register == (60.0, 62.0, 64.0)


def test_the_piece_knows_its_form_key_and_style() -> None:
    piece = read_piece(LATE_ENTRY)
    assert piece.form == "plain"
    assert piece.bpm == 96
    assert (piece.key.tonic, piece.key.scale) == (0, "major")
    assert piece.style.separator == "," and piece.style.case == "lower"
