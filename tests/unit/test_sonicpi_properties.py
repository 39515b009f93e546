"""The reader and the cursor context never raise, whatever the text and wherever the cursor."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notegen.sonicpi import LineIndex, context_at, read

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sonicpi"
DOCS = [p.read_text() for p in sorted(FIXTURES.glob("*.rb"))]

# Pieces of Sonic Pi code, so random text looks like code and hits the reader's corners.
PIECES = [
    "a1[0]=[",
    "b1[0]=[",
    "c1=[",
    "a2[1] = [",
    "]",
    "[",
    "(",
    ")",
    "{",
    "}",
    ",",
    ", ",
    "\n",
    ":C4",
    ":Ef3",
    ":r",
    ":",
    ":c",
    "60",
    "0.5",
    "55*4",
    "1/3",
    "-",
    "+",
    "*",
    "/",
    "(ring ",
    "ring(",
    ".ring",
    ".tick",
    "play_pattern_timed ",
    "play_pattern ",
    "notes = ",
    "# ",
    "=begin\n",
    "=end\n",
    '"',
    "'",
    '"#{',
    "#{",
    "}",
    "%w[",
    "<<~EOS\n",
    "EOS\n",
    "nil",
    " ",
    "do\n",
    "end\n",
    "live_loop :x do\n",
    "sleep ",
    "play ",
    "x ? :a : :b",
    "sustain: ",
    "\\\n",
    "__END__\n",
    "?a",
    "/re/",
    "::",
    ";",
    "\t",
    "é",
    "🎵",
    "\r\n",
]

code_like = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
any_text = st.one_of(st.text(max_size=300), code_like)


def check_context(text: str, offset: int) -> None:
    index = LineIndex(text)
    line, character = index.position(offset)
    # Between the \r and \n of a CRLF is no place for a cursor: the position an editor
    # would send there is the line's end.
    offset = index.offset(line, character)
    ctx = context_at(text, line, character)
    if ctx is None:
        return
    assert ctx.index == len(ctx.before)
    assert ctx.partial_span.start <= offset <= ctx.partial_span.end
    assert text[ctx.partial_span.start : offset] == ctx.partial
    assert all(tok in ctx.array.notes for tok in ctx.before)
    assert ctx.array.content_start <= offset <= ctx.array.content_end


@pytest.mark.parametrize(
    "text",
    [
        "play ",
        "play  ",
        "live_loop :a do\n  play \nend\n",
        "play :e4\nsleep ",
        ":G3,:Fs3,:r,:A3,\n:c4,\r\n]4\n",
    ],
)
def test_cases_the_properties_found(text: str) -> None:
    """Found by the properties below: the run's content ended before the empty slot of
    `play |`; an offset between a CRLF's two characters is not a cursor."""
    for offset in range(len(text) + 1):
        check_context(text, offset)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=any_text, data=st.data())
def test_random_text_never_raises(text: str, data: st.DataObject) -> None:
    arrays = read(text)
    for arr in arrays:
        assert 0 <= arr.span.start <= arr.span.end <= len(text)
        for tok in arr.notes:
            assert tok.span.text(text) == tok.text
    offset = data.draw(st.integers(0, len(text)))
    check_context(text, offset)
    # positions an editor may send for text that just changed
    context_at(text, data.draw(st.integers(-3, 50)), data.draw(st.integers(-3, 500)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=st.sampled_from(DOCS),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 12), st.sampled_from([*PIECES, ""])),
        min_size=1,
        max_size=6,
    ),
    cursor=st.floats(0, 1),
)
def test_mutated_documents_never_raise(
    doc: str, edits: list[tuple[float, int, str]], cursor: float
) -> None:
    """Delete a few characters here and type a piece of code there, as users do mid-edit."""
    text = doc
    for where, cut, insert in edits:
        pos = int(where * len(text))
        text = text[:pos] + insert + text[pos + cut :]
    read(text)
    check_context(text, int(cursor * len(text)))


def test_deep_nesting_does_not_overflow() -> None:
    text = "a1[0]=" + "[" * 5000 + ":C4" + "]" * 5000 + "\nb1[0]=[" + "(" * 3000 + "1"
    (arr,) = read(text)
    assert arr.name == "a1[0]" and len(arr.notes) == 1 and arr.notes[0].dynamic
    assert arr.durations is not None and arr.durations.values[0].error is not None
    assert context_at(text, 0, 2510) is not None


def test_every_cursor_position_in_each_fixture() -> None:
    for doc in DOCS:
        for offset in range(0, len(doc) + 1, 3):
            check_context(doc, offset)
