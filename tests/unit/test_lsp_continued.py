"""What continueMelody continues at a cursor (``jobs.continued``): the array whose elements
hold it, the run of ``play``/``sleep`` lines it is on (or on the blank line right after), and
nothing in other code. A big continuation asks this before it starts a child process."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from notegen.lsp.documents import DocumentView
from notegen.lsp.jobs import continued
from notegen.sonicpi.statements import PlayRun

DOC = """\
use_bpm 90
a1=[]
b1=[]
a1[0]=[:C4,:E4,:G4]
b1[0]=[1,0.5,0.5]
live_loop :tune do
  play :e4
  sleep 0.5
  play [:c4, :e4]
  sleep 1

end
x = 3 # [:C4]
"""


def at(line: int, character: int, view: DocumentView | None = None) -> str | None:
    found = continued(view or DocumentView("file:///t.rb", 1, DOC), (line, character))
    if found is None:
        return None
    if isinstance(found, PlayRun):
        return f"run of {len(found.notes)} notes"
    return found.name or found.kind


PLACES = [
    (3, 7, "a1[0]"),  # the first element
    (3, 18, "a1[0]"),  # after the last
    (6, 4, "run of 2 notes"),  # on a play line
    (7, 2, "run of 2 notes"),  # on a sleep line
    (8, 10, "array"),  # inside a chord: the chord's own elements
    (10, 0, "run of 2 notes"),  # the blank line right after the run
    (0, 3, None),  # use_bpm
    (4, 8, None),  # durations
    (12, 2, None),  # other code
    (12, 9, None),  # a comment that looks like notes
    (400, 0, None),  # past the document's end
]


@pytest.mark.parametrize(("line", "character", "expected"), PLACES)
def test_what_a_continuation_continues(line: int, character: int, expected: str | None) -> None:
    assert at(line, character) == expected


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
@pytest.mark.parametrize(("line", "character", "expected"), PLACES)
def test_every_line_ending_continues_the_same(
    newline: str, line: int, character: int, expected: str | None
) -> None:
    """Windows line ends, and old Mac ones (a lone carriage return: editors and LSP end a
    line there too, the blank line after a run included)."""
    view = DocumentView("file:///t.rb", 1, DOC.replace("\n", newline))
    assert at(line, character, view) == expected


def never_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    from notegen.sonicpi import context, reader

    def parse(*_args: object) -> None:
        raise AssertionError("the whole text was read again")

    monkeypatch.setattr(reader, "parse", parse)
    monkeypatch.setattr(context, "parse", parse)


@pytest.mark.parametrize(("line", "character", "expected"), PLACES)
def test_a_view_read_once_answers_every_cursor_without_reading_again(
    monkeypatch: pytest.MonkeyPatch, line: int, character: int, expected: str | None
) -> None:
    """The view's reading of its version (its arrays, where its comments and strings lie)
    is all a cursor's run needs: ~250 ms a call in a 20,000-note file when read again."""
    view = DocumentView("file:///t.rb", 1, DOC)
    view.arrays()
    never_parse(monkeypatch)
    assert at(line, character, view) == expected


ARRAYS_ONLY = """\
a1=[]
b1=[]
a1[0]=[:C4,:E4,:G4]
b1[0]=[1,0.5,0.5]
x = 3
"""


@pytest.mark.parametrize(("line", "character", "expected"), [(2, 19, "a1[0]"), (4, 3, None)])
def test_a_document_without_play_lines_is_not_read_again_for_a_run(
    monkeypatch: pytest.MonkeyPatch, line: int, character: int, expected: str | None
) -> None:
    """Its arrays hold every run there is: none, so no cursor is looked up in its
    statements."""
    view = DocumentView("file:///t.rb", 1, ARRAYS_ONLY)
    view.arrays()
    never_parse(monkeypatch)
    assert at(line, character, view) == expected


LINES = [
    "live_loop :a do",
    "  play :e4",
    "  sleep 0.5",
    "  play 60 # :c4",
    "  sleep 1",
    "",
    "end",
    "4.times do",
    '  play "c4"',
    "  x = 'q'",
    "a1=[:C4,:E4]",
    "=begin",
    "=end",
    "y = <<~EOS",
    "  play :d4",
    "EOS",
    "  play [:c4, :e4]",
    '  s = "open',
]


def run_at_by_parsing(view: DocumentView, line: int, character: int) -> PlayRun | None:
    """The run at a cursor as found before the view kept its reading: the whole text parsed
    again for the cursor's statement (the specification the kept reading must meet)."""
    from notegen import sonicpi

    ctx = sonicpi.context_at(view.text, line, character)
    if ctx is not None and isinstance(ctx.array, PlayRun):
        return ctx.array
    array = view.array_at(view.offset_at(line, character))
    return array if isinstance(array, PlayRun) else None


@given(st.lists(st.sampled_from(LINES), min_size=1, max_size=10), st.sampled_from(["\n", "\r"]))
def test_the_run_at_every_cursor_is_the_one_a_second_parse_finds(
    lines: list[str], newline: str
) -> None:
    from notegen.lsp.play_lines import run_at

    text = "\n".join(lines) + "\n"
    text = text.replace("\n", newline)
    view = DocumentView("file:///t.rb", 1, text)
    for line, content in enumerate(text.replace(newline, "\n").split("\n")):
        for character in range(len(content) + 1):
            kept = run_at(view, line, character)
            parsed = run_at_by_parsing(view, line, character)
            spans = [None if r is None else (r.span.start, r.span.end) for r in (kept, parsed)]
            assert spans[0] == spans[1], (line, character)
