"""A file's line ends change nothing a cursor gets: ``\\n``, Windows' ``\\r\\n`` and an old Mac
editor's lone ``\\r`` (LSP ends a line at each) give every cursor the same context.

Each of these read a Windows file wrongly before: the names assigned above a loop
(``effect = 0`` … ``play :d5+effect``) were not copied for the lines around the cursor, and
an ``=begin`` block or a heredoc closed above hid every line below it."""

from __future__ import annotations

import bisect

import pytest
from notegen.lsp import inline
from notegen.lsp.commands import block_insertion, lines_of
from notegen.lsp.config import Settings
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView, hidden_above
from notegen.lsp.play_lines import continuation_lines, run_snippet
from notegen.lsp.reading import Reading
from notegen.melody import Event
from notegen.notes import NoteStyle, infer_style
from notegen.sonicpi import read
from notegen.sonicpi.statements import PlayRun, top_assignments
from notegen.sonicpi.types import count_line_breaks, line_starts

PIECE = """\
effect = 0 # transposes the tune
base_amp = 0.5
notes = ring(:bb1, :c2, :g1)
progression = [
  :e1,
  :cs1,
]
=begin
play :c4
=end
words = <<~EOS
  play :d4
EOS
a1=[:C4,:E4,:G4]
b1=[1,0.5,0.5]

live_loop :tune do
  play :d5+effect, release: 0.25
  sleep 0.75
  play :a4+effect
  sleep 1.25

  play notes.tick, amp: base_amp
  sleep 0.5
  p = progression.tick
  play p
  sleep 0.25
end
"""

ENDS = ["\r\n", "\r"]


def contexts(text: str) -> list[object]:
    """What every cursor of ``text`` gets (its slot, what was typed, the notes before)."""
    view = DocumentView("file:///piece.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text), text)
    out: list[object] = []
    for line, content in enumerate(PIECE.split("\n")):
        for character in range(len(content) + 1):
            nc = note_context(view, line, character, reading, 256)
            ctx = None if nc is None else nc.local.ctx
            out.append(
                None
                if ctx is None or nc is None
                else (ctx.slot, ctx.partial, ctx.index, [t.text for t in ctx.before], nc.before)
            )
    return out


@pytest.mark.parametrize("end", ENDS, ids=["crlf", "cr"])
def test_every_cursor_gets_what_it_gets_in_the_same_file_with_newlines(end: str) -> None:
    expected = contexts(PIECE)
    assert sum(c is not None for c in expected) > 40  # (the loop's slots and the arrays)
    assert contexts(PIECE.replace("\n", end)) == expected


@pytest.mark.parametrize("end", ENDS, ids=["crlf", "cr"])
def test_the_assignments_above_a_loop_are_copied_at_any_line_end(end: str) -> None:
    text = PIECE.replace("\n", end)
    above = text.index("live_loop")
    copied = top_assignments(text, above, text[above:])
    assert copied.replace("\r\n", "\n").replace("\r", "\n") == top_assignments(
        PIECE, PIECE.index("live_loop"), PIECE[PIECE.index("live_loop") :]
    )
    assert "effect = 0" in copied and "progression = [" in copied


@pytest.mark.parametrize("end", ["\n", *ENDS], ids=["lf", "crlf", "cr"])
def test_a_closed_begin_block_or_heredoc_hides_nothing_below_it(end: str) -> None:
    text = PIECE.replace("\n", end)
    assert not hidden_above(text, text.index("a1=["))
    assert not hidden_above(text, text.index("live_loop"))
    assert hidden_above(text, text.index("play :c4"))  # inside =begin ... =end
    assert hidden_above(text, text.index("  play :d4"))  # inside the heredoc


LOOP = (
    "key = :e4\n"
    "live_loop :tune do\n"
    "  sync :tick\n"
    "  play key\n"
    "  sleep 0.5\n"
    "  play :g4\n"
    "  sleep 1\n"
    "    \n"  # (a blank line indented deeper than the run)
    "end\n"
)


def run_of(text: str) -> PlayRun:
    (run,) = [a for a in read(text) if isinstance(a, PlayRun)]
    return run


@pytest.mark.parametrize("end", ENDS, ids=["crlf", "cr"])
def test_a_continuation_lands_after_the_run_in_the_files_line_ends(end: str) -> None:
    """Where continueMelody's lines go and how they end: in a lone-``\\r`` file the end of
    the run's last line was looked for as a ``\\n`` (found none: the lines went to the end of
    the file); in a ``\\r\\n`` file they came with ``\\n`` ends."""
    made = [Event(64, 0.5), Event(67, 1.0)]

    def continued(text: str) -> str:
        at, new = continuation_lines(text, run_of(text), made, NoteStyle(case="lower"), False)
        return text[:at] + new + text[at:]

    assert continued(LOOP.replace("\n", end)) == continued(LOOP).replace("\n", end)


@pytest.mark.parametrize("end", ENDS, ids=["crlf", "cr"])
def test_play_in_sonic_pi_sends_the_same_code_mapped_to_the_same_lines(end: str) -> None:
    def played(text: str) -> tuple[str, list[int | None]]:
        snippet = run_snippet(text, run_of(text), read(text))
        starts = line_starts(text)
        lines = [
            None if span is None else bisect.bisect_right(starts, span.start) - 1
            for span in snippet.origins
        ]
        return snippet.code, lines

    code, lines = played(LOOP)
    assert "key = :e4" in code and "  play :g4" in code
    assert played(LOOP.replace("\n", end)) == (code, lines)


@pytest.mark.parametrize("end", ENDS, ids=["crlf", "cr"])
def test_ghost_text_on_a_blank_line_fills_its_indentation_at_any_line_end(
    engine: object, end: str
) -> None:
    """On the loop's blank line, indented deeper than the run, the ghost text writes the next
    statements at the run's indentation, in the file's line ends (in a lone-``\\r`` file the
    line's start was looked for as a ``\\n``: the indentation typed was misread)."""

    def ghost(text: str, character: int) -> str | None:
        view = DocumentView("file:///t.rb", 1, text)
        nc = note_context(view, 7, character, Reading(1, view.arrays(), infer_style(text)), 256)
        assert nc is not None and nc.local.ctx.slot == "line"
        return inline.ghost_text(engine, nc, Settings(phraseLength=2))  # type: ignore[arg-type]

    for character in (0, 1, 2):
        expected = ghost(LOOP, character)
        assert expected is not None and expected.lstrip(" ").startswith("play ")
        got = ghost(LOOP.replace("\n", end), character)
        assert got == expected.replace("\n", end)  # (in the file's line ends)


@pytest.mark.parametrize(
    "text",
    ["", "a", "\n", "\r", "\r\n", "\r\r\n", "\n\r", "\n\n\r\r\n\r", "a\r\nb\rc\nd", "x\r"],
)
def test_line_breaks_are_counted_as_lsp_ends_lines(text: str) -> None:
    """``\\r\\n`` is one break, a lone ``\\r`` and a ``\\n`` one each: as the line starts."""
    assert count_line_breaks(text) == len(line_starts(text)) - 1
    assert count_line_breaks(text * 1000) == len(line_starts(text * 1000)) - 1
    # a stretch of a text: its own breaks only
    assert count_line_breaks(text * 3, len(text), 2 * len(text)) == len(line_starts(text)) - 1


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_a_generated_block_s_lines_are_the_lines_it_will_occupy(end: str) -> None:
    """What generateMelody tells the client to reveal: the block's first and last line."""
    above = end.join(["use_bpm 90", "play :c4", "sleep 1"]) + end
    view = DocumentView("file:///a.rb", 1, above)
    offset, new_text = block_insertion(view, None, "a1=[]\na1[0]=[:C4,:E4]\nb1=[]\n")
    lines = line_starts(above + new_text)
    where = lines_of(view, offset, new_text)
    assert where == {"startLine": 4, "endLine": 6}  # (a blank line between, then 3 lines)
    assert len(lines) - 1 == where["endLine"] + 1
