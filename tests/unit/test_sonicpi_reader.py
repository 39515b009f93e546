"""The reader finds every note array, with its durations and tempo, in real-looking code."""

from __future__ import annotations

from pathlib import Path

import pytest
from notegen.melody import Event
from notegen.sonicpi import NoteArray, read

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sonicpi"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def pitches(arr: NoteArray) -> list[int | float | None]:
    return [n.midi for n in arr.notes]


def beats(arr: NoteArray) -> list[float | None]:
    assert arr.durations is not None
    return [v.value for v in arr.durations.values]


def voices(text: str) -> dict[str, NoteArray]:
    return {a.name: a for a in read(text) if a.kind == "voice" and a.name}


# --- the voice/section form ---------------------------------------------------------------


def test_voice_form_finds_each_section_with_durations_and_tempo() -> None:
    found = voices(fixture("voices.rb"))
    assert sorted(found) == ["a1[0]", "a1[1]", "a1[2]", "a2[0]"]
    counts = {name: (len(a.notes), len(a.durations.values)) for name, a in found.items()}
    assert counts == {"a1[0]": (10, 10), "a1[1]": (5, 5), "a1[2]": (5, 5), "a2[0]": (3, 3)}
    assert [(a.voice, a.section, a.bpm) for a in found.values()] == [
        (1, 0, 70.0),
        (1, 1, 72.5),
        (1, 2, 60.0),
        (2, 0, 70.0),
    ]


def test_voice_form_resolves_notes_chords_and_numbers() -> None:
    a10 = voices(fixture("voices.rb"))["a1[0]"]
    # :C4 :D4 :Ef4 :r [:C3,:Ef3,:G3] :Bf3 :As3 :fs4 60 61.5
    assert pitches(a10) == [60, 62, 63, None, 55, 58, 58, 66, 60, 61.5]
    chord = a10.notes[4]
    assert chord.text == "[:C3,:Ef3,:G3]" and chord.chord == (48, 51, 55) and chord.midi == 55
    assert all(n.error is None for n in a10.notes)


def test_durations_may_be_ruby_arithmetic() -> None:
    a10 = voices(fixture("voices.rb"))["a1[0]"]
    # 1, 0.5, 0.5, 1.0, 2, 55*4, 1.0-0.0625, 1/3.0, (1+1)*0.25, 1/3 (Ruby: integer division)
    assert beats(a10) == [1, 0.5, 0.5, 1, 2, 220, 0.9375, pytest.approx(1 / 3), 0.5, 0]
    assert [v.text for v in a10.durations.values][5:7] == ["55*4", "1.0-0.0625"]


def test_multi_line_arrays_with_comments_inside() -> None:
    a11 = voices(fixture("voices.rb"))["a1[1]"]
    assert pitches(a11) == [67, 65, 63, 62, 60]  # the [:A4, :B4] in the comment is not read
    assert beats(a11) == [0.5, 0.5, 1, 1, 2]


def test_rests_in_every_spelling() -> None:
    a12 = voices(fixture("voices.rb"))["a1[2]"]
    # :Bs3 :Cb5 :e :rest nil
    assert pitches(a12) == [60, 71, 64, None, None]
    assert [n.is_rest for n in a12.notes] == [False, False, False, True, True]


def test_comments_begin_end_blocks_and_strings_hide_arrays() -> None:
    names = {a.name for a in read(fixture("voices.rb"))}
    assert not names & {"a3[0]", "a4[0]", "a5[0]", "a6[0]"}


def test_events_pair_notes_with_durations() -> None:
    a2 = voices(fixture("voices.rb"))["a2[0]"]
    assert a2.events() == [Event(None, 2.0), Event(55, 1.0), Event(56, 1.0)]


def test_spans_point_at_the_brackets_and_the_name() -> None:
    text = "x=1\na1[0] = [:C4, :D4]\nb1[0]=[1,2]\n"
    (arr,) = read(text)
    assert text[arr.open] == "[" and text[arr.close] == "]"
    assert arr.span.text(text) == "[:C4, :D4]"
    assert arr.name_span is not None and arr.name_span.text(text) == "a1[0]"
    assert [n.span.text(text) for n in arr.notes] == [":C4", ":D4"]
    assert arr.durations is not None and arr.durations.span.text(text) == "[1,2]"


def test_durations_found_before_or_after_their_notes_and_single_bpm() -> None:
    text = "b3[0]=[0.5]\na3[0]=[:E4]\nc3[0]=96\n"
    (arr,) = read(text)
    assert beats(arr) == [0.5] and arr.bpm == 96.0


def test_invalid_notes_carry_sonic_pis_message() -> None:
    (arr,) = read("a1[0]=[:C4,:H4,:cx,:R]\n")
    assert [n.error is None for n in arr.notes] == [True, False, False, False]
    assert arr.notes[1].error is not None and arr.notes[1].error.startswith("Invalid note: :H4")
    assert "lower case" in (arr.notes[3].error or "")


def test_code_in_an_array_is_dynamic_not_an_error() -> None:
    (arr,) = read("a1[0]=[:C4, chord(:e3, :minor), x, :c4 + 12]\n")
    assert [(n.midi, n.dynamic, n.error) for n in arr.notes] == [
        (60, False, None),
        (None, True, None),
        (None, True, None),
        (72, False, None),
    ]
    assert arr.events() == [Event(60), Event(72)]


def test_missing_comma_is_an_error() -> None:
    (arr,) = read("a1[0]=[:C4 :D4, :E4]\n")
    assert arr.notes[0].error is not None and "missing comma" in arr.notes[0].error
    assert len(arr.notes) == 2


def test_negative_octave_must_be_quoted_in_source() -> None:
    # In Ruby `:C-1` is `:C - 1`: Sonic Pi's Symbol#- makes it MIDI 59, not C in octave -1.
    (arr,) = read('a1[0]=[:C-1, :"C-1", :r+3]\n')
    assert pitches(arr) == [59, 0, None]


# --- other note arrays ----------------------------------------------------------------------


def test_live_coding_idioms() -> None:
    found = [(a.kind, a.name, pitches(a)) for a in read(fixture("live.rb"))]
    assert found == [
        ("assign", "melody", [60, 64, 67, 64]),
        ("ring", "bass", [36, 36, 31, 33]),
        ("ring", "pad", [52, 55, 59]),
        ("ring", "lead", [74, 86, 72]),  # :d5+12 and :d5-2 use Sonic Pi's Symbol#+/-
        ("assign", "chords", [67, 64]),  # chords: top notes
        ("play_pattern_timed", None, [60, 62, 64, 60]),
        ("play_pattern_timed", None, [67, 69]),
        ("play_pattern", None, [76, 74, 72]),
        ("play_pattern_timed", None, [60, 64, 67]),
        # play [:c4, :e4, :g4] with `play melody.tick` (the ring's first note, :c4): a chord
        ("play", "melody", [67]),
        ("array", None, [60, 64, 67]),  # play [:c4, :e4, :g4]
        ("play", "bass", [36]),  # play bass.tick: the first pass plays the ring's :c2
    ]
    # sample names and an all-number array with no note symbols are not note arrays
    assert not any(a.name in ("samples", "numbers") for a in read(fixture("live.rb")))


def test_play_pattern_timed_durations_array_or_single_number() -> None:
    timed = [a for a in read(fixture("live.rb")) if a.kind == "play_pattern_timed"]
    assert beats(timed[0]) == [0.5, 0.25, 0.25, 1]
    assert timed[1].durations is not None and timed[1].durations.scalar
    assert [timed[1].durations.duration_for(i) for i in range(2)] == [0.5, 0.5]
    assert beats(timed[2]) == [0.25, 0.25, 0.5]
    (pattern,) = [a for a in read(fixture("live.rb")) if a.kind == "play_pattern"]
    assert pattern.durations is None


def test_play_pattern_timed_with_variable_durations_has_none() -> None:
    (arr,) = read("play_pattern_timed [:c4, :d4], durs\n")
    assert arr.durations is None


def test_bare_lines_of_symbols() -> None:
    found = read(fixture("bare.rb"))
    assert [(a.kind, len(a.notes)) for a in found] == [("bare", 6), ("bare", 5), ("bare", 2)]
    assert pitches(found[0]) == [48, 47, 43, None, 75, 74]
    assert found[0].open is None and found[0].close is None


def test_a_lone_symbol_or_a_command_is_not_a_bare_line() -> None:
    assert read(":C4\nuse_synth :piano\nsample :bd_haus, :sn_dolf\n") == []


# --- code being typed -----------------------------------------------------------------------


def test_unclosed_array_ends_at_its_line() -> None:
    text = "a1[0]=[:C4,:D4,:E\nb1[0]=[1,1,1]\nplay 60\n"
    (arr,) = [a for a in read(text) if a.kind != "play"]  # `play 60` is a one-note run
    assert arr.close is None and pitches(arr) == [60, 62, 64]
    assert arr.span.text(text) == "[:C4,:D4,:E"
    assert beats(arr) == [1, 1, 1]


def test_unclosed_array_with_trailing_comma_stops_before_the_next_statement() -> None:
    text = "a1[0]=[:C4,:D4,\n\nb1[0]=[1,1]\n"
    (arr,) = read(text)
    assert arr.close is None and pitches(arr) == [60, 62]
    assert beats(arr) == [1, 1]


def test_unclosed_array_at_end_of_file() -> None:
    (arr,) = read("a1[0]=[:C4, :D4,")
    assert arr.close is None and pitches(arr) == [60, 62]


def test_unclosed_array_before_end_keyword() -> None:
    text = "live_loop :x do\n  play_pattern [:c4, :e4\nend\n"
    (arr,) = read(text)
    assert arr.kind == "play_pattern" and pitches(arr) == [60, 64]


def test_unclosed_string_hides_the_rest_as_ruby_would() -> None:
    assert read('puts "oops\na1[0]=[:C4]\n') == []


def test_empty_and_trailing_comma_arrays() -> None:
    found = voices("a1[0]=[]\nb1[0]=[]\na1[1]=[:C4,]\nb1[1]=[1,]\n")
    assert [len(a.notes) for a in found.values()] == [0, 1]
    assert beats(found["a1[1]"]) == [1]
