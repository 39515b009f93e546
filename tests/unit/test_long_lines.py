"""A cursor in a line too long to read whole (a 5 MB one-line array): the window it is read
through gives the context a whole line would, and positions cost no copy of the line."""

from __future__ import annotations

import numpy as np
import pytest
from notegen.generate import ContextCache, trim_context
from notegen.lsp.context import note_context
from notegen.lsp.documents import (
    LONG_LINE_CHARS,
    DocumentView,
    utf16_len,
    utf16_to_index,
)
from notegen.melody import Event
from notegen.notes import note_to_midi

NAMES = [":C4", ":D4", ":E4", ":G4", ":A4", ":r", ":C5", ":B3"]


def long_array(count: int, seed: int = 1) -> tuple[str, list[str]]:
    rng = np.random.default_rng(seed)
    notes = [NAMES[k] for k in rng.integers(0, len(NAMES), count)]
    return "a1=[]\na1[0]=[" + ",".join(notes) + "]\n", notes


def cursor_after(notes: list[str], m: int) -> int:
    """Column right after the ``m``-th note's comma (``a1[0]=[`` is 7 characters)."""
    return 7 + sum(len(n) + 1 for n in notes[:m])


def whole_line_context(cache: ContextCache, notes: list[str], m: int) -> np.ndarray:
    """What a reading of the whole line gives: the last notes before the cursor, from where
    :func:`trim_context` starts them."""
    events = [Event(None if n == ":r" else note_to_midi(n[1:]), None) for n in notes[:m]]
    return cache.ids(events[trim_context(m, 256) :])


def test_a_window_of_a_long_line_gives_the_context_of_the_whole_line(model) -> None:
    text, notes = long_array(20_000)
    assert len(text) > LONG_LINE_CHARS  # read through a window, not whole
    view = DocumentView("file:///long.rb", 1, text)
    cache = ContextCache(model)
    for m in (300, 5_000, 5_001, 5_127, 5_128, 5_129, 19_990):
        nc = note_context(view, 1, cursor_after(notes, m), None, 256)
        assert nc is not None and (nc.local.skipped > 0) == (m >= 5_000)
        ids, marks, _ = nc.context(cache)
        assert ids.tolist() == whole_line_context(cache, notes, m).tolist(), m
        assert marks == []


def test_typing_note_by_note_in_a_long_line_extends_one_context(model) -> None:
    """The context's start moves every half window, not with each keystroke, so the state
    the previous keystroke primed is found again (one model step per note typed)."""
    text, notes = long_array(20_000)
    view = DocumentView("file:///long.rb", 1, text)
    cache = ContextCache(model)
    previous = None
    for m in range(10_001, 10_030):
        nc = note_context(view, 1, cursor_after(notes, m), None, 256)
        assert nc is not None
        ids, _, _ = nc.context(cache)
        if previous is not None:
            assert ids[:-1].tolist() == previous.tolist(), m
        previous = ids


def test_a_window_that_would_start_inside_a_chord_starts_after_it() -> None:
    """A long line of notes and chords: wherever the window's first comma falls, even between
    a chord's notes, the cursor is still in the array (a stray ``]`` closed it: no completion)."""
    elements = [":C4", "[:c4, :e4]", ":D4", "[:e4, :g4, :b4]", ":r"] * 6_000
    line = "a1[0]=[" + ", ".join(elements) + "]"
    view = DocumentView("file:///chords.rb", 1, "a1=[]\n" + line + "\n")
    assert len(line) > LONG_LINE_CHARS
    cursors = [k for k in range(len(line) // 2, len(line) // 2 + 120) if line[k - 2 : k] == ", "]
    assert len(cursors) > 20
    for column in cursors:
        nc = note_context(view, 1, column, None, 256)
        assert nc is not None and nc.local.skipped > 0, column
        assert nc.local.ctx.slot == "array"


@pytest.mark.parametrize(
    "text",
    [
        "a1=[:C4,:E4]\nb1=[1,2]\n",
        "a1=[:C4,:E4]\r\nb1=[1,2]\r\n\r\n",
        "x = 1\rplay :e4\r",
        "a1=[:C4]",
        "",
    ],
)
def test_positions_in_ascii_text_are_columns_as_utf16_counts_them(text: str) -> None:
    view = DocumentView("file:///a.rb", 1, text)
    for line in range(-1, view.line_count + 2):
        for character in (-3, 0, 1, 4, 7, 11, 12, 13, 40):
            expected = (
                0
                if line < 0
                else len(text)
                if line >= view.line_count
                else view.starts[line] + utf16_to_index(view.line_text(line), character)
            )
            assert view.offset_at(line, character) == expected, (line, character)
    for offset in range(-2, len(text) + 3):
        clamped = min(max(offset, 0), len(text))
        line = max(k for k, s in enumerate(view.starts) if s <= clamped)
        assert view.position_at(offset) == (line, utf16_len(text[view.starts[line] : clamped]))


def test_reading_a_small_region_keeps_the_document_line_starts_at_hand() -> None:
    """The didChange splice asks for the document's line starts on every keystroke; the
    reader's window around the cursor, asked in between, must not push them out."""
    from notegen.sonicpi.types import line_starts, remember_line_starts

    text, _ = long_array(20_000)
    starts = [0, 6, len(text)]
    remember_line_starts(text, starts)
    assert line_starts("a1[0]=[:C4,:E4,\n:G4]\n") == [0, 16, 21]
    assert line_starts(text) is starts


def test_a_phrase_closing_a_long_unclosed_array_names_the_durations_it_assumes() -> None:
    """``b1[0]`` has a duration for each of the 20,000 notes; the two notes a phrase adds at
    the end of the unclosed ``a1[0]`` have none yet, so the closing comment names two."""
    from notegen.lsp.documents import Reading
    from notegen.notes import infer_style

    _, notes = long_array(20_000)
    line = "a1[0]=[" + ",".join(notes) + ","
    text = "a1=[]\nb1=[]\nb1[0]=[" + ",".join(["0.5"] * 20_000) + "]\n" + line
    view = DocumentView("file:///long.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    nc = note_context(view, 3, len(line), reading, 256)
    assert nc is not None and nc.local.skipped > 0 and nc.closes
    assert (nc.kept, nc.durations_count) == (20_000, 20_000)
    added = [Event(60, 1.0), Event(62, 0.5)]
    assert nc.closing(added) == "]  # durations 1,0.5 (add to b1[0])"
