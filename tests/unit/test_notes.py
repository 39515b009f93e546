"""Sonic Pi's note grammar: symbol → MIDI, rejections, spelling back, and a document's style."""

from __future__ import annotations

import pytest
from notegen.notes import (
    DEFAULT_STYLE,
    NoteError,
    NoteStyle,
    infer_style,
    is_rest,
    midi_to_hz,
    note_to_midi,
    spell,
    style_for_key,
)


@pytest.mark.parametrize(
    ("symbol", "midi"),
    [
        (":C4", 60),
        ("C4", 60),
        (":c4", 60),
        (":e", 64),  # default octave 4
        (":Cb4", 59),
        (":Bs4", 72),
        (":C-1", 0),
        (":Ef5", 75),
        (":eF5", 75),
        (":Eb5", 75),
        (":EB5", 75),
        (":Fs3", 54),
        (":fS3", 54),
        (":C-", 12),  # Ruby: "-".to_i == 0
        (":A4", 69),
        (":a0", 21),
        (":G9", 127),
        (":C10", 132),
        (":c007", 96),  # "007".to_i == 7
        (":Es4", 65),
        (":Fb4", 64),
        (":B-2", -1),
    ],
)
def test_symbols_resolve_as_sonic_pi_does(symbol: str, midi: int) -> None:
    assert note_to_midi(symbol) == midi


@pytest.mark.parametrize("rest", [":r", "r", ":rest", "rest", None])
def test_rests_are_none(rest: str | None) -> None:
    assert note_to_midi(rest) is None


def test_is_rest_matches_exact_lower_case_names_only() -> None:
    assert is_rest(":r") and is_rest("rest")
    assert not is_rest(":R") and not is_rest(":Rest") and not is_rest(":c4")


@pytest.mark.parametrize("number", [60, 61.5, 0, -3, 127.25])
def test_numbers_are_midi_notes_as_they_are(number: float) -> None:
    assert note_to_midi(number) == number


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (":h4", "a note starts with a letter a–g"),
        (":R", "rests are written in lower case"),
        (":Rest", "rests are written in lower case"),
        (":cx4", "only an octave number may follow"),
        (":c#4", "only an octave number may follow"),
        (":cs4.5", "only an octave number may follow"),
        (":css4", "only an octave number may follow"),
        (":c4-", "only an octave number may follow"),
        (":", "empty note name"),
        ("", "empty note name"),
        ("60", "a note starts with a letter"),  # text is a name; 60 (a number) is a note
        ("::c4", "a note starts with a letter"),
        (":c 4", "only an octave number may follow"),
    ],
)
def test_rejected_symbols_say_why(bad: str, reason: str) -> None:
    with pytest.raises(NoteError) as info:
        note_to_midi(bad)
    assert str(info.value).startswith("Invalid note: ")
    assert reason in str(info.value)


@pytest.mark.parametrize("bad", [True, float("nan"), float("inf"), [60], object()])
def test_non_notes_are_rejected(bad: object) -> None:
    with pytest.raises(NoteError):
        note_to_midi(bad)  # type: ignore[arg-type]


STYLES = [
    NoteStyle(accidental=acc, flat_letter=fl, case=case, rest=rest)  # type: ignore[arg-type]
    for acc in ("sharp", "flat")
    for fl in ("f", "b")
    for case in ("upper", "lower")
    for rest in (":r", ":rest")
]


@pytest.mark.parametrize("style", STYLES, ids=repr)
def test_spelling_round_trips_every_midi_number_in_every_style(style: NoteStyle) -> None:
    for midi in range(-24, 141):
        symbol = spell(midi, style)
        assert note_to_midi(symbol) == midi, symbol
    assert note_to_midi(spell(None, style)) is None


def test_spelling_follows_the_style() -> None:
    assert spell(61, NoteStyle(accidental="sharp")) == ":Cs4"
    assert spell(63, NoteStyle(accidental="flat", flat_letter="f")) == ":Ef4"
    assert spell(63, NoteStyle(accidental="flat", flat_letter="b", case="lower")) == ":eb4"
    assert spell(None, NoteStyle(rest=":rest")) == ":rest"
    assert spell(0) == ":C-1"
    assert spell(60.5) == "60.5"  # microtones have no symbol


def test_infer_style_reads_robin_newmans_habits() -> None:
    doc = "a1[0]=[:C3,:Bf2,:Ef3,:r,:G3]\nb1[0]=[1,1,1,1,1]\n"
    style = infer_style(doc)
    assert (style.accidental, style.flat_letter, style.case) == ("flat", "f", "upper")
    assert (style.separator, style.whole_float) == (",", False)
    assert style.pitch_names == ("C", "", "", "Ef", "", "", "", "G", "", "", "Bf", "")


def test_infer_style_reads_live_coders_habits() -> None:
    doc = "live_loop :x do\n  play (ring :cs4, :fs4, :e4, :rest).tick\n  sleep 0.5\nend\n"
    style = infer_style(doc)
    assert (style.accidental, style.case, style.rest) == ("sharp", "lower", ":rest")
    assert style.separator == ", "


def test_each_pitch_class_is_spelled_as_the_document_spells_it() -> None:
    # mostly sharps, but B-flat is always written :Bf: a suggested B-flat must be :Bf too
    doc = "a1[0]=[:Cs4,:Fs4,:Gs4,:Bf4,:Bf4,:Bf3]\nb1[0]=[1.0,1.0,0.5,0.5,2.0,1.0]\n"
    style = infer_style(doc)
    assert style.accidental == "sharp"
    assert [spell(m, style) for m in (70, 58, 61, 63)] == [":Bf4", ":Bf3", ":Cs4", ":Ds4"]
    assert style.whole_float


def test_enharmonic_names_keep_their_octave_right() -> None:
    style = infer_style("x=[:Bs3,:Bs4,:Cb5,:Cb5]")
    assert spell(72, style) == ":Bs4"  # B-sharp 4 is MIDI 72
    assert spell(71, style) == ":Cb5"
    assert note_to_midi(spell(48, style)) == 48


def test_the_key_decides_sharps_or_flats_the_document_never_spelled() -> None:
    flats = style_for_key(NoteStyle(flat_letter="f"), 3, "major")  # E-flat major
    assert [spell(m, flats) for m in (63, 70, 68)] == [":Ef4", ":Bf4", ":Af4"]
    assert spell(66, style_for_key(NoteStyle(), 7, "major")) == ":Fs4"  # G major
    assert spell(70, style_for_key(NoteStyle(), 7, "mixolydian")) == ":As4"  # C major's set


def test_only_whole_symbols_list_commas_and_list_numbers_vote() -> None:
    # (what each search's look-behind allows, checked where it decides)
    from notegen.notes import _LIST_COMMA, _NUMBER_IN_LIST, _SYMBOL_IN_TEXT

    assert _SYMBOL_IN_TEXT.findall(":C4 x:D4 ::E4 (:Fs4) 3:G4 [:r,:rest] :Hb4") == [
        "C4", "Fs4", "r", "rest",
    ]  # fmt: skip
    assert _LIST_COMMA.findall(",:C4 [:C4,:D4, :E4,  [1]] x,-1 ],2 a , :F4") == [
        "", " ", "  ", "", "",
    ]  # fmt: skip
    assert _NUMBER_IN_LIST.findall("[1,2.5 , 3] [ 4 ] x1,5] [6a] [,7.0]") == [
        "1", "2.5", "3", "4", "5", "7.0",
    ]  # fmt: skip


def test_infer_style_defaults_without_evidence() -> None:
    assert infer_style("sleep 1\nsample :bd_haus\n") == DEFAULT_STYLE


def test_midi_to_hz_puts_a4_at_440() -> None:
    assert midi_to_hz(69) == 440.0
    assert midi_to_hz(81) == pytest.approx(880.0)
