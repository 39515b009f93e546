"""A voice's line of plain notes is read without the general reader, and means the same."""

from __future__ import annotations

import random

import pytest
from notegen.sonicpi import voice_line
from notegen.sonicpi.context import context_at_offset
from notegen.sonicpi.reader import read
from notegen.sonicpi.types import Span
from notegen.sonicpi.voice_line import read_voice_line


def test_a_section_line_is_its_voice_section_with_every_note() -> None:
    line = read_voice_line("a2[3]=[:C4, :r,62 ,:Eb3]")
    assert line is not None
    assert (line.kind, line.name, line.voice, line.section) == ("voice", "a2[3]", 2, 3)
    assert [t.text for t in line.notes] == [":C4", ":r", "62", ":Eb3"]
    assert [t.midi for t in line.notes] == [60, None, 62, 51]
    assert line.notes[2].span == Span(15, 17)
    assert (line.open, line.close, line.span) == (6, 23, Span(6, 24))


def test_an_unclosed_line_ends_at_the_text_end_and_a_note_sonic_pi_rejects_says_why() -> None:
    line = read_voice_line("  a1 = [:C4,:bd_haus,:D4,")
    assert line is not None
    assert (line.name, line.section, line.close, line.content_end) == ("a1", None, None, 25)
    assert line.notes[1].midi is None and line.notes[1].error


@pytest.mark.parametrize(
    "text",
    [
        "a1[0]=[:C4,[:E4,:G4]]",  # a chord
        "a1[0]=[:C4,:D4] # intro",  # a comment
        'a1[0]=[:C4,"D4"]',  # a string
        "a1[0]=[:C4,:D4].ring",
        "a1[0]=[:C4,\n:D4]",  # a line break
        "a1[0]=[:C4,\r:D4]",
        "a1[0]=[:C4 :D4]",  # a missing comma
        "a1[0]=[:C4,-2]",
        "a1[0]=[:C4,:D4]; b1[0]=[1]",
        "a1[i]=[:C4]",
        "b1[0]=[1,0.5]",
        "x=[:C4,:D4]",
        "a1[0]=[:C4,:é]",
        "a1[0]=[:c?]",
        "a1[0]=[1_000]",
    ],
)
def test_anything_but_plain_notes_is_left_to_the_general_reader(text: str) -> None:
    assert read_voice_line(text) is None


ELEMENTS = [":C4", ":Cs4", ":Eb3", ":r", ":rest", ":b", ":M", ":bd_haus", ":_x", "60", "61.5"]
ELEMENTS += ["0", "007", "127", "300", ":C", ":Fs10", ":e2", ""]
BLANKS = ["", "", "", " ", "\t", "  "]
HEADS = ["a1[0]=[", "a12[3] = [", "a1=[", "  a2[00]=\t[", "a1 =["]
ENDS = ["", "", "]", "] ", ",", ", ", "\r", "]\r", ",\r", " \r"]


def _line(rng: random.Random) -> str:
    elements = [
        rng.choice(BLANKS) + rng.choice(ELEMENTS) + rng.choice(BLANKS)
        for _ in range(rng.randint(0, 12))
    ]
    return rng.choice(HEADS) + ",".join(elements) + rng.choice(ENDS)


@pytest.mark.parametrize("seed", range(3))
def test_every_cursor_of_a_plain_line_has_the_general_readers_context(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines of every element, blank and ending form: the same array as the general
    reader's, and the same cursor context at every offset."""
    rng = random.Random(seed)
    for _ in range(150):
        text = _line(rng)
        fast = read_voice_line(text)
        assert fast is not None, text
        monkeypatch.setattr(voice_line, "FAST_VOICE_LINES", False)
        assert read(text) == [fast], text
        general = [context_at_offset(text, offset) for offset in range(len(text) + 1)]
        monkeypatch.setattr(voice_line, "FAST_VOICE_LINES", True)
        assert [context_at_offset(text, offset) for offset in range(len(text) + 1)] == general


def test_a_hostile_line_is_refused_after_one_pass() -> None:
    """Blanks or digits by the hundred thousand before a stray character: one pass, then
    ``None`` (a regular expression that tried every split of the blanks never ended)."""
    hostile = ["a1=[" + " " * 200_000 + "x", "a1=[" + "1" * 200_000 + "x", "a1=[" + " ," * 99_999]
    for text in hostile:
        assert (read_voice_line(text) is None) == text.endswith("x")
