"""The lexer tells code from comments and strings, and symbols from labels, as Ruby does."""

from __future__ import annotations

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
