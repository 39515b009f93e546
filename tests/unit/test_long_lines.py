"""A cursor in a line too long to read whole (a 5 MB one-line array): the window it is read
through gives the context a whole line would, and positions cost no copy of the line."""

from __future__ import annotations

import re

import numpy as np
import pytest
from notegen.lsp.context import note_context
from notegen.lsp.documents import (
    LONG_LINE_CHARS,
    WINDOW_LINE_CHARS,
    DocumentView,
    utf16_len,
    utf16_to_index,
)
from notegen.melody import Event
from notegen.model.context_cache import ContextCache, trim_context
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
        # a state is kept every 32 notes of the array (counted from its first note)
        start = trim_context(m, 256)
        assert marks == [k - start for k in range(32, m, 32) if k > start], m


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
    from notegen.lsp.reading import Reading
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


def voice_piece(count: int, with_second_voice: bool = True) -> tuple[str, list[str], str]:
    """A voice ``a1[0]`` of ``count`` notes on one line, its durations in ``b1[0]`` and,
    optionally, a second voice to hear."""
    rng = np.random.default_rng(3)
    notes = [NAMES[k] for k in rng.integers(0, len(NAMES), count)]
    durations = [("0.5", "1", "0.25", "2")[k] for k in rng.integers(0, 4, count)]
    line = "a1[0]=[" + ",".join(notes) + "]"
    text = "a1=[]\nb1=[]\n" + line + "\nb1[0]=[" + ",".join(durations) + "]\n"
    if with_second_voice:
        text += "a2=[]\nb2=[]\na2[0]=[:C3,:G3,:E3,:C3]\nb2[0]=[4,4,4,4]\n"
    return text, notes, line


def whole_line_view(text: str, monkeypatch: pytest.MonkeyPatch) -> DocumentView:
    """The same document read as before windows: every line under 64 kB read whole."""
    from notegen.lsp import documents

    monkeypatch.setattr(documents, "WINDOW_LINE_CHARS", LONG_LINE_CHARS)
    return DocumentView("file:///whole.rb", 1, text)


@pytest.mark.parametrize(
    ("count", "m", "into"),
    [
        (1_500, 600, 0),
        (1_500, 1_000, 0),
        (1_500, 1_499, 0),
        (1_500, -1, 0),
        (1_500, 700, 2),
        (300, 10, 0),
        (300, 290, 0),
        (300, -1, 0),
        (300, 150, 1),
        (300, 150, 3),
    ],
)
def test_a_long_one_array_line_is_read_through_a_window_with_the_whole_lines_context(
    tmp_path, monkeypatch, count: int, m: int, into: int
) -> None:
    """A 1,500-note voice on one line (~6 kB, as generateMelody writes one), or a 300-note
    one (~1.2 kB, as real pieces write their voices), is read through a window, not whole,
    and gives the same context: notes, checkpoints, and the voice's clock against the other
    voice (the setting), which the notes the window left out move; ``into`` a note, the same
    partial note and the same span for a suggestion to replace."""
    from fixtures.tiny_model import build_tiny_model
    from notegen.lsp.whole_reading import read_document
    from notegen.model.conditioning import COND_DIM
    from notegen.model.network import MelodyModel

    card, _ = build_tiny_model(tmp_path, seed=3, conditioning=COND_DIM)
    cache = ContextCache(MelodyModel.load(card))
    text, notes, line = voice_piece(count)
    assert LONG_LINE_CHARS > len(line) > WINDOW_LINE_CHARS
    column = cursor_after(notes, m) + into if m >= 0 else len(line) - 1  # (-1: before "]")
    windowed = DocumentView("file:///a.rb", 1, text)
    reading = read_document(windowed, conditioned=True)[0]
    windows: list[int] = []
    read_window = DocumentView._window_context

    def spy(self, line: int, *args, **kwargs):  # type: ignore[no-untyped-def]
        windows.append(line)
        return read_window(self, line, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(DocumentView, "_window_context", spy)
        nc = note_context(windowed, 2, column, reading, 256)
    assert nc is not None and windows == [2]  # read through a window
    # which leaves out the notes beyond its reach (none of a 1.2 kB line's)
    assert (nc.local.skipped > 0) == (count == 1_500)
    with monkeypatch.context() as patch:
        whole = note_context(whole_line_view(text, patch), 2, column, reading, 256)
    assert whole is not None and whole.local.skipped == 0
    ids, marks, setting = nc.context(cache)
    whole_ids, whole_marks, whole_setting = whole.context(cache)
    assert ids.tolist() == whole_ids.tolist() and marks == whole_marks
    assert setting is not None and whole_setting is not None
    assert setting.start == pytest.approx(whole_setting.start)
    assert (setting.start > 0) == (m < 0 or m > 256)  # (notes before the context's start)
    assert setting.key() == whole_setting.key()
    assert (nc.partial, nc.lead, nc.closes, nc.kept) == (
        whole.partial,
        whole.lead,
        whole.closes,
        whole.kept,
    )
    span, whole_span = nc.local.ctx.partial_span, whole.local.ctx.partial_span
    assert nc.local.doc_span(span) == whole.local.doc_span(whole_span)


@pytest.mark.parametrize(
    "line",
    [
        "play_pattern_timed [{notes}], [0.5]",  # the durations follow on the line
        "a1[0]=[{notes}].ring",
        "a1[0]=[{notes}]; b1[0]=[1]",
        "a1[0]=[[:c4,:e4],{notes}]",  # a chord: windows count elements by commas
    ],
)
def test_a_long_line_with_more_than_one_array_is_read_whole(line: str) -> None:
    notes = ",".join([":C4", ":E4", ":G4"] * 500)
    text = line.format(notes=notes) + "\n"
    view = DocumentView("file:///a.rb", 1, text)
    column = text.index(":G4") + 4
    nc = note_context(view, 0, column, None, 256)
    assert nc is not None and nc.local.skipped == 0  # the region reader read the line


@pytest.mark.parametrize(
    ("head", "tail"),
    [
        ("live_loop :melody do\n  play (ring ", ").tick\n  sleep 0.25\nend\n"),
        ("melody = ring(", ")\n"),
    ],
)
def test_a_ring_too_long_to_read_whole_is_read_through_a_window_with_the_whole_lines_context(
    model, monkeypatch, head: str, tail: str
) -> None:
    """A ring of 14,000 notes on one line (~70 kB, past :data:`LONG_LINE_CHARS`): a cursor in
    it gets the context, partial note and span a whole read of the line gives (it had no
    completion: the window knew arrays' brackets only)."""
    from notegen.lsp import documents

    rng = np.random.default_rng(7)
    notes = [NAMES[k] for k in rng.integers(0, len(NAMES), 14_000)]
    text = head + ", ".join(notes) + tail
    line, first = head.count("\n"), len(head.split("\n")[-1])
    assert len(text.split("\n")[line]) > LONG_LINE_CHARS
    windowed = DocumentView("file:///ring.rb", 1, text)
    cache = ContextCache(model)
    for m, into in ((200, 0), (7_000, 2), (13_990, 0)):
        column = first + sum(len(n) + 2 for n in notes[:m]) + into
        nc = note_context(windowed, line, column, None, 256)
        assert nc is not None and nc.local.ctx.array.kind == "ring"
        assert (nc.local.skipped > 0) == (m > 200)  # the notes beyond the window's reach
        with monkeypatch.context() as patch:
            patch.setattr(documents, "LONG_LINE_CHARS", 1 << 30)
            whole = note_context(DocumentView("file:///whole.rb", 1, text), line, column, None, 256)
        assert whole is not None and whole.local.skipped == 0
        assert nc.context(cache)[0].tolist() == whole.context(cache)[0].tolist(), m
        assert (nc.partial, nc.closes) == (whole.partial, whole.closes)
        span, whole_span = nc.local.ctx.partial_span, whole.local.ctx.partial_span
        assert nc.local.doc_span(span) == whole.local.doc_span(whole_span)


def test_a_long_ring_whose_first_element_is_a_chord_is_read_as_the_ring() -> None:
    """The chord's bracket comes after the ring's head: the window starts at the head, and
    the cursor is in the ring, not in an array that bracket would open."""
    text = "play (ring [:E4, :G4], " + ", ".join([":C4", ":D4", ":E4"] * 5_000) + ").tick\n"
    view = DocumentView("file:///ring.rb", 1, text)
    column = text.index(":D4", len(text) // 2) + 2
    nc = note_context(view, 0, column, None, 256)
    assert nc is not None and nc.local.ctx.array.kind == "ring" and nc.local.skipped > 0
    assert nc.partial == ":D" and [e.pitch for e in nc.before[-2:]] == [64, 60]


def test_the_beats_before_a_note_are_summed_as_the_model_reads_the_durations(model) -> None:
    """Block sums (4,096 notes each) plus the rest give the beats of the notes one by one,
    unknown and missing durations at the model's default."""
    from notegen.lsp.reading import Beats

    rng = np.random.default_rng(5)
    values = rng.choice([0.25, 0.5, 1.0, 1.5, np.nan, 3.0], size=10_000)
    beats = Beats(values, scalar=False)

    def one_by_one(count: int) -> float:
        padded = np.concatenate([values, np.full(max(0, count - len(values)), np.nan)])
        return model.beats_of(model.encode_values(np.zeros(count), padded[:count])[1])

    for count in (0, 1, 4_095, 4_096, 4_097, 9_999, 10_000, 12_345):
        assert beats.beats_before(count, model) == pytest.approx(one_by_one(count)), count
    scalar = Beats(np.array([0.5]), scalar=True)
    half = model.beats_of(model.encode_values(np.zeros(1), np.array([0.5]))[1])
    assert scalar.beats_before(7, model) == pytest.approx(7 * half)


def test_the_line_starts_of_a_long_document_are_found_chunk_by_chunk(monkeypatch) -> None:
    """Past its first lines a document's newlines are found by numpy a chunk at a time: every
    line start, wherever the chunks cut (a newline at a chunk's first or last character)."""
    import notegen.sonicpi.types as types

    lines = [f"a1[{k}]=[" + ",".join([":C4"] * (k % 5)) + "]" for k in range(300)]
    text = "\n".join(lines) + "\n\n" + "x" * 3
    expected = [0, *(m.end() for m in re.finditer("\n", text))]
    for chunk in (1, 2, 13, 1 << 16):
        monkeypatch.setattr(types, "_FIND_CHUNK", chunk)
        types._last[:] = [None, None]
        assert types.line_starts(text) == expected


def bars_array(lines: int, seed: int = 2) -> tuple[str, list[str]]:
    """``a1=[`` and a melody written a bar a line: 4 notes to a line, each line ending with a
    comma, ``lines`` lines, then ``]``."""
    rng = np.random.default_rng(seed)
    notes = [NAMES[k] for k in rng.integers(0, len(NAMES), 4 * lines)]
    bars = ["  " + ", ".join(notes[i : i + 4]) + "," for i in range(0, len(notes), 4)]
    return "a1=[]\na1[0]=[\n" + "\n".join(bars) + "\n]\n", notes


@pytest.mark.parametrize("lines", [30, 60, 2_000])
def test_a_cursor_deep_in_a_melody_written_a_bar_a_line_has_the_whole_array_s_context(
    model, lines: int
) -> None:
    # past REGION_LINES (40) lines the region reader saw the cursor's line alone: its few
    # notes were the context; now the array is read through a window headed by its first line
    text, notes = bars_array(lines)
    view = DocumentView("file:///bars.rb", 1, text)
    cache = ContextCache(model)
    for bar in {1, lines // 2, lines - 1}:
        line, m = 2 + bar, 4 * bar + 2  # after the bar's second note
        nc = note_context(view, line, len("  ") + len(", ".join(notes[4 * bar : m])) + 2, None, 256)
        assert nc is not None and nc.local.ctx.array.voice == 1, (lines, bar)
        ids, _, _ = nc.context(cache)
        assert ids.tolist() == whole_line_context(cache, notes, m).tolist(), (lines, bar)
        assert nc.local.skipped + len(nc.before) == m


def test_notes_past_a_duration_array_s_end_are_counted_at_the_default_duration(model) -> None:
    # a long voice line with no durations: every note lasts the default; counted, the beats
    # before the 100,000th note are those of 100,000 such notes read one by one
    from notegen.lsp.reading import Beats, _beats

    unknown = Beats(np.zeros(0), scalar=False)
    one = _beats(model, np.full(1, np.nan))
    assert unknown.beats_before(100_000, model) == pytest.approx(100_000 * one, rel=1e-12)
    assert unknown.beats_before(100_000, model) == pytest.approx(
        _beats(model, np.full(100_000, np.nan)), rel=1e-9
    )
    some = Beats(np.array([0.5, 1.0, np.nan, 2.0]), scalar=False)
    assert some.beats_before(10, model) == pytest.approx(
        _beats(model, np.array([0.5, 1.0, np.nan, 2.0, *[np.nan] * 6])), rel=1e-12
    )


def test_a_voice_written_without_sections_has_its_setting_made_with_the_reading(
    monkeypatch,
) -> None:
    # `a1=[...]` is a voice with no section: its setting (the other voices it hears, made by
    # walking the whole text) is made by prepare_settings on the reader thread, not by the
    # first completion after the reading
    import notegen.model.ensemble as ensemble
    from notegen.lsp.reading import Reading
    from notegen.notes import infer_style

    text = "use_bpm 90\na1=[:C4,:E4,:G4,:E4]\na2=[:C3,:G3]\n"
    view = DocumentView("file:///v.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text), text)
    reading.prepare_settings()
    made = []
    original = ensemble.voice_lines
    monkeypatch.setattr(
        ensemble, "voice_lines", lambda *a, **k: made.append(1) or original(*a, **k)
    )
    assert reading.setting(1).others and reading.setting(2).others
    assert made == []  # (both were made before)


def test_among_single_line_arrays_no_array_is_looked_for_further_up(monkeypatch) -> None:
    # 60 `a1[k]=[...]` lines: the region walk passes 40 of them (each holds a bracket), but
    # none ends with a comma, so no open array is searched for above (the whole text above)
    import notegen.lsp.documents as documents

    text = "a1=[]\n" + "".join(f"a1[{k}]=[:C4,:E4,:G4]\n" for k in range(60))
    view = DocumentView("file:///a.rb", 1, text)
    searched = []
    original = documents._unclosed_bracket
    monkeypatch.setattr(
        documents, "_unclosed_bracket", lambda *a: searched.append(a) or original(*a)
    )
    nc = note_context(view, 55, len("a1[54]=[:C4,"), None, 256)
    assert nc is not None and [e.pitch for e in nc.before] == [60]
    assert searched == []
    bars, _ = bars_array(60)
    note_context(DocumentView("file:///b.rb", 1, bars), 55, len("  "), None, 256)
    assert len(searched) == 1  # (a melody a bar a line: looked for)
