"""Commas between two offsets of a long text: the same as counting them, kept across splices."""

from __future__ import annotations

import itertools
import random

import pytest
from notegen.sonicpi import commas
from notegen.sonicpi.commas import LONG, STEP, commas_between, remember_splice


def long_array(notes: int) -> str:
    return "a1[0]=[" + ":C4," * notes + ":D4]\n"


@pytest.fixture(autouse=True)
def fresh_marks():
    commas._last = None
    yield
    commas._last = None


def test_a_short_text_is_counted_directly():
    text = "a1=[:c4, :e4, :g4]"
    assert commas_between(text, 0, len(text)) == 2
    assert commas._last is None


def test_a_long_text_gives_the_count_of_any_span():
    text = long_array(300_000)  # 1.2 MB
    rng = random.Random(1)
    for _ in range(200):
        a, b = sorted(rng.randrange(-10, len(text) + 10) for _ in range(2))
        assert commas_between(text, a, b) == text.count(",", a, b)


def test_marks_are_made_only_as_far_as_asked():
    text = long_array(300_000)
    commas_between(text, 0, 5 * STEP + 7)
    last = commas._last
    assert last is not None and last[0] is text
    assert last[1] == tuple(range(0, 6 * STEP, STEP))


def spliced(text: str, start: int, end: int, inserted: str) -> str:
    new = "".join((text[:start], inserted, text[end:]))
    remember_splice(text, new, start, end, inserted)
    return new


def test_a_splice_hands_the_marks_to_the_new_text():
    text = long_array(300_000)
    commas_between(text, 0, len(text))  # every mark made
    new = spliced(text, 500_000, 500_000, ":E4,")
    last = commas._last
    assert last is not None and last[0] is new  # handed over, not made again
    assert commas_between(new, 7, len(new)) == new.count(",", 7, len(new))
    assert commas_between(new, 7, 499_999) == text.count(",", 7, 499_999)


def test_typing_deleting_and_pasting_keep_every_count_right():
    rng = random.Random(2)
    text = long_array(200_000)
    commas_between(text, 0, len(text))
    for _ in range(300):
        start = rng.randrange(7, len(text) - 1)
        end = min(len(text) - 1, start + rng.choice((0, 0, 1, 4, 40, 3 * STEP)))
        inserted = rng.choice(("", ":E4,", ",", ":r", ":C4," * rng.choice((1, 50_000))))
        text = spliced(text, start, end, inserted)
        a, b = sorted(rng.randrange(0, len(text)) for _ in range(2))
        assert commas_between(text, a, b) == text.count(",", a, b)
        offsets = commas._last[1]  # type: ignore[index]
        assert all(b - a <= 2 * STEP for a, b in itertools.pairwise(offsets))


def test_a_splice_of_another_text_leaves_the_marks_alone():
    kept = long_array(300_000)
    commas_between(kept, 0, len(kept))
    other = long_array(200_000)
    remember_splice(other, other + ",", len(other), len(other), ",")
    assert commas._last is not None and commas._last[0] is kept


def test_a_text_shortened_below_long_is_counted_directly_again():
    text = long_array(300_000)
    commas_between(text, 0, len(text))
    short = spliced(text, 100, len(text) - 100, "")
    assert len(short) < LONG
    assert commas_between(short, 0, len(short)) == short.count(",")
