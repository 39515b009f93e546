"""Durations and notes written as arithmetic evaluate as Ruby (and Sonic Pi) would."""

from __future__ import annotations

import pytest
from notegen.sonicpi.arithmetic import evaluate, literal
from notegen.sonicpi.lexer import tokenize


def value(src: str, notes: bool = False) -> float | int | None:
    res = evaluate(tokenize(src), notes=notes)
    assert res.error is None and not res.dynamic, res
    return res.value


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ("55*4", 220),
        ("1.0-0.0625", 0.9375),
        ("1/3.0", 1 / 3),
        ("1/3", 0),  # Ruby integer division: Sonic Pi would sleep 0
        ("7/2", 3),
        ("-7/2", -4),  # Integer#/ floors
        ("7.0/2", 3.5),
        ("(1+1)*0.25", 0.5),
        ("-0.5", -0.5),
        ("2**3", 8),
        ("-2**2", -4),  # Ruby: -(2**2)
        ("2**-1", 0.5),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("1_000", 1000),
        ("0x10", 16),
        ("1e-2", 0.01),
        ("3 - 2 - 1", 0),
        ("2 * (3 + 4)", 14),
    ],
)
def test_ruby_arithmetic(src: str, expected: float) -> None:
    assert value(src) == pytest.approx(expected)
    assert type(value(src)) is type(expected)


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        (":c4", 60),
        (":d5+12", 86),
        (":d5 - 2", 72),
        (":r + 12", None),
        ("nil", None),
        ("60", 60),
        (":c4 + :e4", 124),
        ("(:c4)", 60),
    ],
)
def test_note_arithmetic_uses_sonic_pis_symbol_plus_and_minus(src: str, expected: int) -> None:
    assert value(src, notes=True) == expected


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("1/0", "divided by 0"),
        ("1.0/0", "not a finite number"),
        ("(1+2", "unbalanced parenthesis"),
        ("1 +", "expression ends too early"),
        ("1 2", "missing comma"),
        ("2**99999", "exponent too large"),
        ("1 + )", "expected a value"),
    ],
)
def test_errors_say_why(src: str, message: str) -> None:
    res = evaluate(tokenize(src))
    assert res.value is None and res.error is not None and message in res.error


def test_invalid_note_symbol_has_sonic_pis_message() -> None:
    res = evaluate(tokenize(":h4 + 1"), notes=True)
    assert res.error is not None and res.error.startswith("Invalid note: :h4")


@pytest.mark.parametrize(
    "src", ["x", "rrand(0.5, 1)", "chord(:c4, :major)", "[1,2].choose", "bar * 2", ":c4.tick"]
)
def test_code_is_dynamic_not_an_error(src: str) -> None:
    res = evaluate(tokenize(src), notes=True)
    assert res.dynamic and res.error is None and res.value is None


def test_symbols_are_not_numbers_outside_note_arrays() -> None:
    # a literal, not code: `sleep :c4` fails in Sonic Pi, so it is an error, not "unknown"
    assert evaluate(tokenize(":c4")).error == "'c4' is not a number"


def test_names_of_the_piece_have_their_values_and_other_names_are_code() -> None:
    assert evaluate(tokenize("1+Last"), names={"Last": 4}).value == 5
    assert evaluate(tokenize("q*2"), names={"q": 0.5}).value == 1.0
    unknown = evaluate(tokenize("1+bar"), names={"Last": 4})
    assert (unknown.value, unknown.error, unknown.dynamic) == (None, None, True)
    assert evaluate(tokenize("Last(2)"), names={"Last": 4}).dynamic


@pytest.mark.parametrize(
    "src", ["10**400", "-10**400", "9" * 5000, "9" * 400, "2**1024", "1" + "0" * 309]
)
def test_a_number_no_float_holds_is_an_element_with_an_error_not_a_crash(src: str) -> None:
    """Ruby keeps such an integer (a Bignum); Sonic Pi cannot play or sleep it, and every
    pitch and time downstream is a float. Python refuses literals past 4,300 digits."""
    for notes in (True, False):
        res = evaluate(tokenize(src), notes=notes)
        assert res.value is None and res.error is not None and len(res.error) < 120


@pytest.mark.parametrize("src", ["10**300", "1e308", "-1e308", "9" * 299])
def test_a_number_a_float_holds_keeps_its_value(src: str) -> None:
    assert value(src) == eval(src)  # (Python reads these literals as Ruby does)


class _Looked(list):  # type: ignore[type-arg]
    """A token list that counts the tokens looked at (a slice counts each token in it)."""

    looked = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        got = super().__getitem__(index)
        type(self).looked += len(got) if isinstance(index, slice) else 1
        return got


def test_an_element_is_read_in_place_and_only_as_far_as_its_value_needs():
    tokens = _Looked(tokenize("60, ring(\n" + "ring(\n" * 10_000 + "\n# the end\n"))
    _Looked.looked = 0
    code = evaluate(tokens, notes=True, start=2)  # `ring(` ... to the end of the file
    assert code.dynamic and code.value is None and code.error is None
    assert _Looked.looked < 10
    assert evaluate(tokens, notes=True, start=0, stop=1).value == 60


@pytest.mark.parametrize(
    ("src", "start", "stop", "expected"),
    [
        ("[0.5, 1 +\n 2, # three\n 3]", 1, 2, 0.5),
        ("[0.5, 1 +\n 2, # three\n 3]", 3, 7, 3),
        ("[0.5, 1 +\n 2, # three\n 3]", 8, 11, 3),
        ("x = 2 * 3", 2, None, 6),
    ],
)
def test_a_range_of_tokens_evaluates_as_its_slice_does(src, start, stop, expected):
    tokens = tokenize(src)
    assert evaluate(tokens, start=start, stop=stop) == evaluate(tokens[start:stop])
    assert evaluate(tokens, start=start, stop=stop).value == expected


def test_nested_unclosed_rings_are_read_in_a_time_that_grows_with_their_number():
    """Thousands of ``ring(`` one inside another, each ring's element reaching to the end
    of the file: each element was copied whole before it was read (24,000 lines, 5.3 s)."""
    from notegen.sonicpi import reader

    doc = reader.parse("ring(\n" * 3000)
    doc.sig = _Looked(doc.sig)
    _Looked.looked = 0
    arrays = reader.read_doc(doc)
    assert len(doc.sig) == 9000
    assert _Looked.looked < 40 * len(doc.sig)  # (each element's slice: ~13.5 million)
    assert all(t.dynamic for a in arrays for t in a.notes)


@pytest.mark.parametrize(
    "src",
    [
        *("0.5", "60", "007", "1_000", "0x1f", "3r", "2.5e-1", "1e400", "9" * 400, "61.5", "0"),
        *(":C4", ":c4", ":r", ":rest", ":Eb3", ":fs5", ":h4", ":C", ":bd_haus", ":cx4", ":M"),
        *('"C4"', "nil", "x", "Last"),
    ],
)
@pytest.mark.parametrize("notes", [False, True])
def test_a_lone_literal_reads_as_the_parser_reads_it_or_is_left_to_it(src: str, notes: bool):
    """The reader asks :func:`literal` first for one-token elements (most of a piece's), and
    so does :func:`evaluate`: where it answers, its answer is the parser's, asked here of the
    element in parentheses (no lone token then), to the value's type."""
    (tok,) = [t for t in tokenize(src) if t.kind != "nl"]
    found = literal(tok, notes)
    parsed = evaluate(tokenize(f"({src})"), notes=notes, names={"Last": 4})
    assert found is None or (found == parsed and type(found.value) is type(parsed.value))
