"""didChange's splice: the editor's text after each incremental change, by LSP's rules.

Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` and nowhere else (not at U+2028, U+0085, a
form feed...); columns count UTF-16 code units; a column past its line's end is the line's
end. The reference below applies a change the way the spec reads, on UTF-16 text.
"""

from __future__ import annotations

import random
import re
from types import SimpleNamespace

import pytest
from lsprotocol import types
from notegen.lsp.protocol import _splice
from notegen.sonicpi.types import ArrayStarts, MovedStarts, line_starts

LSP_LINE = re.compile(r"\r\n|\r|\n")


def reference(text: str, change: types.TextDocumentContentChangePartial) -> str:
    """The spec's reading: UTF-16 offsets of both positions, then the slice replaced."""
    units = text.encode("utf-16-le")
    breaks = [m.end() for m in LSP_LINE.finditer(text)]
    starts = [0, *breaks]

    def offset(position: types.Position) -> int:
        if position.line >= len(starts):
            return len(units) // 2
        first = starts[position.line]
        end = len(text) if position.line + 1 >= len(starts) else starts[position.line + 1]
        content = LSP_LINE.sub("", text[first:end])  # the line without its break
        first_units = len(text[:first].encode("utf-16-le")) // 2
        column = min(position.character, len(content.encode("utf-16-le")) // 2)
        return first_units + column

    a, b = offset(change.range.start), offset(change.range.end)
    new = change.text.encode("utf-16-le")
    return (units[: 2 * a] + new + units[2 * b :]).decode("utf-16-le", errors="surrogatepass")


def splice(text: str, change: types.TextDocumentContentChangePartial) -> str:
    doc = SimpleNamespace(source=text, _source=text)  # (what _splice reads of a TextDocument)
    assert _splice(doc, change)
    return str(doc._source)


def change(
    line: int, character: int, end_line: int, end_character: int, text: str
) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            types.Position(line=line, character=character),
            types.Position(line=end_line, character=end_character),
        ),
        text=text,
    )


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x0b", "\x1c", "\x1e"])
def test_a_character_python_splits_lines_at_is_no_line_break(separator: str) -> None:
    text = f"# melody é{separator}by me\na1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4]\nb1[0]=[1,1,1]\n"
    after = splice(text, change(3, 7, 3, 7, ":D4,"))
    assert after.split("\n")[3] == "a1[0]=[:D4,:C4,:E4,:G4]"


def test_columns_count_utf16_units_past_an_astral_character() -> None:
    text = 'puts "🎵"; a1[0]=[:C4,:E4]\n'
    # "🎵" is two UTF-16 units: ":E4" is code points 21-24, columns 22-25
    after = splice(text, change(0, 22, 0, 25, ":G4"))
    assert after == 'puts "🎵"; a1[0]=[:C4,:G4]\n'


def test_crlf_and_lone_cr_end_lines() -> None:
    text = "a1=[]\r\nb1=[]\ra1[0]=[:C4]\rb1[0]=[1]\r"
    after = splice(text, change(2, 10, 2, 10, ",:D4"))
    assert after == "a1=[]\r\nb1=[]\ra1[0]=[:C4,:D4]\rb1[0]=[1]\r"


def test_a_column_past_the_line_end_is_the_line_end_and_a_line_past_the_last_the_end() -> None:
    text = "a1=[:C4]\r\nb1=[1]\n"
    assert splice(text, change(0, 99, 0, 99, "#")) == "a1=[:C4]#\r\nb1=[1]\n"
    assert splice(text, change(7, 0, 9, 0, "x")) == text + "x"


def test_the_line_table_after_a_splice_is_the_new_text_s_own() -> None:
    text = "a1=[:C4]\u2028\nb1=[1]\r\nc\rd\n"
    after = splice(text, change(1, 3, 1, 3, "2,"))
    assert line_starts(after) == [0, *(m.end() for m in LSP_LINE.finditer(after))]


PIECES = ["a", "é", "🎵", ":C4,", "\n", "\r\n", "\r", "\u2028", "\x85", "\x0c", " ", "[", "]"]


def test_random_changes_give_the_spec_s_text() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        lines = len(LSP_LINE.findall(text)) + 1
        a = (rng.randint(0, lines), rng.randint(0, 12))
        b = (rng.randint(0, lines), rng.randint(0, 12))
        a, b = min(a, b), max(a, b)
        inserted = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4)))
        c = change(a[0], a[1], b[0], b[1], inserted)
        expected = reference(text, c)
        if "\ud800" <= expected[-1:] <= "\udfff" or any(
            "\ud800" <= ch <= "\udfff" for ch in expected
        ):
            continue  # a position inside a surrogate pair: no editor sends one
        after = splice(text, c)
        assert after == expected, (text, c)
        assert list(line_starts(after)) == [0, *(m.end() for m in LSP_LINE.finditer(after))]


@pytest.mark.parametrize(("lines", "ends"), [(40, "\n\r"), (5000, "\n\r"), (5000, "\n")])
def test_the_line_table_handed_on_through_a_chain_of_edits_is_each_text_s_own(
    lines: int, ends: str
) -> None:
    # each splice reads the table the one before handed over (moved, edited or found afresh):
    # line breaks typed and deleted, \r\n made and parted, in a short and a long document
    # (only \n in it: its table an array)
    rng = random.Random(lines)
    pieces = [
        p for p in ["  play :e4\n", "  sleep 1\n", "x\r\n", "y\r"] if "\r" in ends or "\r" not in p
    ]
    typed = [
        t
        for t in ["", "\n", "\n  play ", ":c4", "\r", "\r\n", "z\nw", "\n\n"]
        if "\r" in ends or "\r" not in t
    ]
    text = "".join(rng.choice(pieces) for _ in range(lines))
    assert isinstance(line_starts(text), ArrayStarts) == (ends == "\n" and lines > 4096)
    for _ in range(300):
        count = len(LSP_LINE.findall(text)) + 1
        line = rng.randrange(count)
        a = (line, rng.randint(0, 12))
        b = (min(count, line + rng.choice([0, 0, 1, 2])), rng.randint(0, 12))
        a, b = min(a, b), max(a, b)
        c = change(a[0], a[1], b[0], b[1], rng.choice(typed))
        expected = reference(text, c)
        text = splice(text, c)
        assert text == expected
        assert list(line_starts(text)) == [0, *(m.end() for m in LSP_LINE.finditer(text))]


def test_typing_in_a_document_of_many_lines_moves_its_line_table_without_copying_it() -> None:
    # 6,000 play/sleep lines: keystrokes inside one line, then another, and a deletion; the
    # table a splice hands over is the new text's at every index, read through the old one
    text = "live_loop :a do\n" + "  play :e4\n  sleep 0.25\n" * 3000 + "end\n"
    rng = random.Random(5)
    line = 4001
    for k in range(120):
        if k % 40 == 39:
            line = rng.randrange(1, 6000)
        width = len(text.split("\n")[line])
        column = rng.randint(0, width)
        if rng.random() < 0.3 and column < width:
            text = splice(text, change(line, column, line, column + 1, ""))
        else:
            text = splice(text, change(line, column, line, column, rng.choice([":c4,", "7", " "])))
        starts, fresh = line_starts(text), [0, *(m.end() for m in LSP_LINE.finditer(text))]
        assert list(starts) == fresh
        assert (starts[-1], starts[-2], starts[line : line + 3]) == (
            fresh[-1],
            fresh[-2],
            fresh[line : line + 3],
        )
    # typing on in one line: one table under the moves, never copied
    held = line_starts(text)
    for _ in range(3):
        text = splice(text, change(line, 0, line, 0, "#"))
    moved = line_starts(text)
    assert isinstance(held, MovedStarts) and isinstance(moved, MovedStarts)
    assert moved._base is held._base


def test_the_line_table_of_many_short_lines_is_an_array_read_as_ints() -> None:
    text = "a1=[]\n" + "".join(f"a1[{k}]=[:C4]\n" for k in range(5000)) + "end"
    starts = line_starts(text)
    assert isinstance(starts, ArrayStarts)
    fresh = [0, *(m.end() for m in LSP_LINE.finditer(text))]
    assert (len(starts), list(starts), starts[-1], starts[4000:4003]) == (
        len(fresh),
        fresh,
        fresh[-1],
        fresh[4000:4003],
    )
    assert type(starts[17]) is int
    # a few lines are a plain list, as before
    assert type(line_starts("a1=[]\n" * 100)) is list
