"""A new voice goes where it plays with the piece: after the voices and their playback,
before the code that holds the main thread."""

from __future__ import annotations

from notegen.sonicpi.placement import never_runs, new_voice_placement
from notegen.sonicpi.reader import parse

THREADED = """\
use_bpm 100
a1=[:c4,
  :d4]
b1=[1,1]
in_thread do
  a1.length.times do |i|
    play a1[i]
    sleep b1[i]
  end
end
sleep 64
puts "done"
"""


def placed(text: str) -> tuple[str, str]:
    """The text right after the insertion point (its first line) and the reason."""
    where = new_voice_placement(text)
    return text[where.offset :].split("\n")[0], where.why


def test_after_the_playback_thread_and_before_a_long_sleep():
    after, why = placed(THREADED)
    assert after == "sleep 64"
    assert "line 11" in why and "sleep 64" in why


def test_before_top_level_playback_of_the_voices():
    after, why = placed("a1=[:c4,:d4]\nb1=[1,1]\nplay_pattern_timed a1, b1\n")
    assert after == "play_pattern_timed a1, b1"
    assert "main thread" in why


def test_before_a_loop_that_plays_on_the_main_thread():
    text = "a1=[:c4]\nb1=[1]\n4.times do\n  play_pattern_timed a1, b1\nend\n"
    assert placed(text)[0] == "4.times do"


def test_at_the_end_when_nothing_blocks():
    text = "a1=[:c4]\nb1=[1]\nin_thread do\n  play_pattern_timed a1, b1\nend\n"
    where = new_voice_placement(text)
    assert where.offset == len(text) and "end of the piece" in where.why
    assert new_voice_placement("play 60\n").offset == len("play 60\n")


def test_lone_cr_pieces_are_placed_the_same():
    text = THREADED.replace("\n", "\r")
    where = new_voice_placement(text)
    assert text[where.offset :].startswith("sleep 64")


DEAD = (
    "x = <<~EOS\n  hello\nEOS\n=begin\nold\n=end\n"
    'a1=[]\nb1=[]\na1[0]=[:C4,:E4]\nb1[0]=[1,1]\ns = "two\nlines"\n__END__\nnotes kept here\n'
)


def _line(text: str, number: int) -> int:
    """Offset of 0-based line ``number``."""
    return sum(len(line) + 1 for line in text.split("\n")[:number])


def test_code_that_never_runs_is_named() -> None:
    doc = parse(DEAD)
    expected = {
        0: None,
        1: "a string or heredoc",  # the heredoc's body
        2: "a string or heredoc",  # its terminator
        3: None,  # before =begin: code there runs
        4: "a =begin comment block",
        5: "a =begin comment block",
        6: None,
        11: "a string or heredoc",  # inside "two\nlines"
        12: None,  # before __END__
        13: "the data after __END__",
    }
    for line, hidden in expected.items():
        assert never_runs(doc, _line(DEAD, line)) == hidden, line


def test_a_new_voice_in_a_piece_without_voices_goes_before_end_data() -> None:
    text = "use_bpm 90\nplay 60\n__END__\ndata\n"
    assert new_voice_placement(text).offset == text.index("__END__")
