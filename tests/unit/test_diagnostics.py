"""Diagnostics agree with what Sonic Pi would actually do with the arrays."""

from __future__ import annotations

from notegen.lsp.diagnostics import diagnose
from notegen.lsp.documents import DocumentView


def codes(text: str) -> list[tuple[str, int]]:
    """(code, line) of every diagnostic of ``text``."""
    return [
        (str(d.code), d.range.start.line) for d in diagnose(DocumentView("file:///t.rb", 1, text))
    ]


def test_a_voice_with_fewer_durations_than_notes_would_stop_at_sleep_nil():
    text = "a1[0]=[:C4,:D4,:E4]\nb1[0]=[1,1]\n"
    assert codes(text) == [("length-mismatch", 1)]


def test_play_pattern_timed_cycles_its_times_so_one_duration_is_fine():
    assert codes("play_pattern_timed [:c4, :e4, :g4, :c5], [0.5]\n") == []
    assert codes("play_pattern_timed [62,59,55],[0.5, 0.25] #b7\n") == []


def test_invalid_notes_are_flagged_where_sonic_pi_would_play_them():
    text = "a1[0]=[:C4,:H4]\nb1[0]=[1,1]\nplay_pattern [:c4, :sus2]\nnotes = [:c4, :cx4]\n"
    assert codes(text) == [("invalid-note", 0), ("invalid-note", 2), ("invalid-note", 3)]


def test_chord_and_scale_names_beside_notes_are_not_invalid_notes():
    text = "chords = [[:a5, :M], [:gb5, :sus2], [:d4, :minor7]]\nmodes = [:c4, :dorian]\n"
    assert codes(text) == []


def test_plain_voices_are_checked_like_indexed_ones():
    assert codes("a1=[:c4,:d4,:e4]\nb1=[1,1]\n") == [("length-mismatch", 1)]
    assert codes("a3=[:r,:r,:r,:G3]\nb3=[1,1,1,1]\na5=[]\nb5=[]\n") == []


def test_names_of_the_piece_and_code_are_never_flagged():
    text = "Last = 4\na1[0]=[:c4,:d4,:e4]\nb1[0]=[1,1+Last,bar * 2]\n"
    assert codes(text) == []


def test_data_arrays_with_names_in_strings_are_not_notes():
    text = 'voices=[["Grand Piano","Grand Piano","piano-p-",0,:c1,:c8]]\n'
    assert codes(text) == []


def test_a_pasted_huge_number_is_flagged_and_quoted_in_a_line() -> None:
    huge = "9" * 5000
    text = f"a1=[]\nb1=[]\na1[0]=[:C4,{huge},:E4]\nb1[0]=[1,{huge},1]\n"
    found = diagnose(DocumentView("file:///s.rb", 1, text))
    assert sorted(d.code for d in found) == ["invalid-duration", "invalid-note"]
    assert all(len(d.message) < 250 for d in found)
