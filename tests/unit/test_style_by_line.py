"""The spelling around a cursor in a file with no whole reading is inferred line by line, each
line's votes remembered: the style is the one a single pass over the same text infers."""

from __future__ import annotations

import random

import pytest
from notegen import notes
from notegen.notes import infer_style, infer_style_by_line

PIECES = [
    ":C4", ":c4", ":Bb3", ":bf3", ":As4", ":Cs5", ":Eb4", ":r", ":rest", ":G", ":F#4",
    "60", "61.0", "62.5", "0.5", "1.0", ",", ", ", ",  ", "[", "]", "(ring ", ")", " ",
    "\n", "\r\n", "\r", "# :Bb4, 1.0\n", "play ", "sleep ", "x:", "a1[0]=", "b1=[", "::C4",
]  # fmt: skip


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 400)))


@pytest.mark.parametrize("seed", range(6))
def test_line_by_line_infers_what_one_pass_infers(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        text = random_text(rng)
        assert infer_style_by_line(text) == infer_style(text)
        assert infer_style_by_line(text) == infer_style(text)  # (now from remembered lines)


def test_ties_break_as_in_one_pass_across_lines() -> None:
    """(A flat and a sharp once each: the first written wins, whichever line it is on.)"""
    for text in ("a=[:As4]\nb=[:Bb4]\n", "a=[:Bb4]\nb=[:As4]\n", "a=[\n60.0,\n61]\n"):
        assert infer_style_by_line(text) == infer_style(text)
    assert infer_style_by_line("a=[:As4]\nb=[:Bb4]\n").accidental == "sharp"
    assert infer_style_by_line("a=[:Bb4]\nb=[:As4]\n").accidental == "flat"


def test_the_remembered_lines_are_bounded() -> None:
    rng = random.Random(9)
    lines = "\n".join(f"a{k}=[:C4,:D{k % 7}]" for k in range(3 * notes.LINE_VOTES))
    infer_style_by_line(lines)
    assert len(notes._LINE_VOTES) <= notes.LINE_VOTES
    text = random_text(rng)
    assert infer_style_by_line(text) == infer_style(text)


LINES = [
    "  play :As4", "  play :Bb4", "  sleep 0.25", "  sleep 1.0", "  play :c4, amp: 0.5",
    "a1[0]=[:C4, :Eb4,:r]", "b1[0]=[1.0,0.5]", "", "  play 61", "# :Bf3, 2.0",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_lines_written_many_times_vote_as_often_as_they_are_written(seed: int) -> None:
    """``play``/``sleep`` code repeats its lines: each counts every time it is written, and
    ties still go to what was written first."""
    rng = random.Random(seed)
    for _ in range(100):
        text = "\n".join(rng.choice(LINES[: rng.randint(1, len(LINES))]) for _ in range(300))
        assert infer_style_by_line(text) == infer_style(text)
    tie = "  play :As4\n  play :Bb4\n  play :Bb4\n  play :As4\n  sleep 1\n  sleep 1\n"
    assert infer_style_by_line(tie).accidental == "sharp"
    assert infer_style_by_line("  play :Bb4\n" + tie).accidental == "flat"
