"""The lexer tells code from comments and strings, and symbols from labels, as Ruby does."""

from __future__ import annotations

import random
import re

import pytest
from notegen.sonicpi import lexer
from notegen.sonicpi.lexer import tokenize


def kinds(src: str) -> list[tuple[str, str]]:
    return [(t.kind, t.value) for t in tokenize(src) if t.kind != "nl"]


def symbols(src: str) -> list[str]:
    return [t.value for t in tokenize(src) if t.kind == "sym"]


def test_symbols_labels_and_scope() -> None:
    assert symbols("play :c4, sustain: 1, release:0.5") == ["c4"]
    assert symbols("x = {:a=>1, b: :e3}") == ["a", "e3"]
    assert symbols("Foo::Bar") == []
    assert symbols(":\"c-1\" :'d4'") == ["c-1", "d4"]
    assert symbols("x = a ? :b : :c") == ["b", "c"]


def test_comments_and_block_comments_hide_code() -> None:
    src = "a = 1 # [:c4]\n=begin\n[:d4]\n=end\nb = [:e4]\n"
    assert symbols(src) == ["e4"]
    assert [t.value for t in tokenize(src) if t.kind == "comment"] == [
        "# [:c4]",
        "=begin\n[:d4]\n=end",
    ]


def test_end_marker_hides_the_rest() -> None:
    assert symbols("[:c4]\n__END__\n[:d4]\n") == ["c4"]


def test_strings_with_interpolation_escapes_and_percent_literals() -> None:
    src = 'puts "a #{[:c4].map { |x| "}" }} [:d4]", \'[:e4] \\\' [:f4]\'\ny = %w[a b] + [:g4]\n'
    assert symbols(src) == ["g4"]


def test_heredoc_body_is_a_string() -> None:
    src = "text = <<~EOS\n  [:c4, :d4]\n  EOS\nnotes = [:e4]\n"
    assert symbols(src) == ["e4"]


def test_regex_and_division() -> None:
    assert kinds("x = 1/3") == [
        ("ident", "x"),
        ("op", "="),
        ("num", "1"),
        ("op", "/"),
        ("num", "3"),
    ]
    assert symbols("if s =~ /[:c4]/ then [:d4] end") == ["d4"]


def test_unclosed_string_runs_to_the_end_and_never_raises() -> None:
    toks = tokenize('play "oops\n[:c4]\n')
    assert toks[-1].kind == "str" and toks[-1].end == len('play "oops\n[:c4]\n')


def test_a_lone_colon_being_typed_is_an_empty_symbol() -> None:
    assert [(t.kind, t.value) for t in tokenize("[:c4, :")][-1] == ("sym", "")


FRAGMENTS = [
    ":C4",
    ":Ds4",
    ":r",
    ":rest",
    "60",
    "0.5",
    "1e3",
    "0x1F",
    "1_000",
    "1.",
    ":a=>1",
    ":b==",
    ":c?",
    ":d!",
    ":é",
    ":C4é",
    "amp:1",
    " ",
    ",",
    ", ",
    "[",
    "]",
    ":",
    "::",
    ':"x"',
    "'s'",
    "# c\n",
    "\n",
    "a1[0]=[",
    "play ",
    "2r",
    "3i",
    ".ring",
    "?a",
    "1.5.",
    ":_x",
    "7:",
    ":8",
    "%w[a b]",
    "<<EOS\nbody\nEOS\n",
    "/re/",
    "x / 2",
    "=begin\nq\n=end\n",
    ";",
    "sustain: ",
    "&.",
    "..",
    "0.25e-2",
    ":C4,:D4",
    "60,62,64",
    ",:E4",
    ",0.5,",
    "b1[0]=[1,0.5]",
]


@pytest.mark.parametrize("seed", range(4))
def test_runs_of_plain_elements_read_at_once_give_the_tokens_read_one_by_one(
    seed: int, monkeypatch
) -> None:
    """A voice's line is read a run of elements at a time (``:C4,:D4,60,0.5``): the same
    tokens as the main loop's, whatever surrounds or interrupts the run."""
    rng = random.Random(seed)
    texts = ["a1[0]=[:C4,:Ds4,:r,60,0.5,:Bf3]\n", "x=[1,2,:a=>3,:c?,:é,1e3,0x1F,4]"]
    texts += ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 16))) for _ in range(800)]
    for text in texts:
        monkeypatch.setattr(lexer, "FAST_RUNS", False)
        one_by_one = tokenize(text)
        monkeypatch.setattr(lexer, "FAST_RUNS", True)
        assert tokenize(text) == one_by_one, text


def test_tokens_are_values() -> None:
    a, b = tokenize("[:C4,60]"), tokenize("[:C4,60]")
    assert a == b and a is not b and {*a} == {*b} and len({*a}) == len(a)


def name_characters() -> list[str]:
    """Every ASCII character and, past ASCII, the boundaries and one character in 97."""
    far = {0x80, 0xFF, 0x100, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF}
    return [chr(c) for c in sorted({*range(0x80), *range(0x80, 0x110000, 97), *far})]


def test_a_name_starts_with_a_letter_an_underscore_or_any_character_past_ascii() -> None:
    """The classes are written as the ASCII characters they leave out (quick to compile);
    they are Ruby's ``[A-Za-z_\\u0080-\\U0010ffff]`` and ``[A-Za-z0-9_\\u0080-\\U0010ffff]``."""
    start, later = re.compile(lexer.NAME_START), re.compile(lexer.NAME_CHAR)
    for ch in name_characters():
        wide = ord(ch) >= 0x80
        assert bool(start.fullmatch(ch)) == (wide or ch == "_" or (ch.isascii() and ch.isalpha()))
        assert bool(later.fullmatch(ch)) == (wide or ch == "_" or (ch.isascii() and ch.isalnum()))


def test_names_reach_past_ascii_and_end_at_ascii_punctuation() -> None:
    assert kinds("play :ä4, x_é1 = 2") == [
        ("ident", "play"),
        ("sym", "ä4"),
        ("op", ","),
        ("ident", "x_é1"),
        ("op", "="),
        ("num", "2"),
    ]
    assert kinds("a1=[:c4,:é]") == kinds("a1 = [ :c4 , :é ]")
