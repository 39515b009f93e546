"""Diagnostics agree with what Sonic Pi would actually do with the arrays."""

from __future__ import annotations

from lsprotocol.types import DiagnosticSeverity
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


def test_fewer_durations_is_an_error_pointing_at_the_notes_more_is_a_warning() -> None:
    text = "a1[0]=[:C4,:D4,:E4]\nb1[0]=[1,1]\na2[0]=[:C4]\nb2[0]=[1,0]\n"
    fewer, zero, more = diagnose(DocumentView("file:///m.rb", 1, text))
    assert (fewer.code, fewer.severity) == ("length-mismatch", DiagnosticSeverity.Error)
    assert (fewer.range.start.line, fewer.range.start.character) == (1, 6)  # b1[0]'s [...]
    assert (fewer.range.end.line, fewer.range.end.character) == (1, 11)
    assert fewer.source == "notegen" and "fail at sleep nil after the 3rd note" in fewer.message
    (related,) = fewer.related_information or []
    assert related.location.uri == "file:///m.rb" and related.message == "a1[0]: 3 notes"
    assert (related.location.range.start.line, related.location.range.end.character) == (0, 5)
    assert (zero.code, zero.severity) == ("zero-duration", DiagnosticSeverity.Warning)
    assert (zero.range.start.line, zero.range.start.character, zero.range.end.character) == (
        3,
        9,
        10,
    )
    assert (more.code, more.severity) == ("length-mismatch", DiagnosticSeverity.Warning)
    assert "the last 1 duration(s) are never played" in more.message


def test_a_findings_columns_count_utf16_code_units() -> None:
    text = '# é\nx = "🎹"; a1=[:c4, :h4]\n'  # (🎹: two UTF-16 code units)
    (found,) = diagnose(DocumentView("file:///u.rb", 1, text))
    assert found.code == "invalid-note"
    assert (found.range.start.line, found.range.start.character) == (1, 19)
    assert found.range.end.character == 22
