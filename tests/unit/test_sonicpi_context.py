"""Cursor contexts: a document with a cursor ``|`` and what completion should know there."""

from __future__ import annotations

from notegen.melody import Event
from notegen.sonicpi import CursorContext, LineIndex, Span, context_at


def at(doc: str) -> tuple[CursorContext | None, str]:
    """The context at the ``|`` in ``doc`` (which is removed), and the text without it."""
    offset = doc.index("|")
    text = doc[:offset] + doc[offset + 1 :]
    line, character = LineIndex(text).position(offset)
    return context_at(text, line, character), text


def midis(ctx: CursorContext) -> list[int | float | None]:
    return [t.midi for t in ctx.before]


def test_after_a_comma_in_a_voice_array() -> None:
    ctx, _ = at("a1[0]=[:C4,:D4,|]\nb1[0]=[1,0.5,2]\n")
    assert ctx is not None
    assert (ctx.array.name, ctx.array.voice, ctx.array.section) == ("a1[0]", 1, 0)
    assert ctx.index == 2 and midis(ctx) == [60, 62]
    assert ctx.partial == "" and not ctx.needs_comma
    assert ctx.history == [Event(60, 1.0), Event(62, 0.5)]
    assert ctx.durations is not None and ctx.duration_index == 2


def test_half_typed_symbol_is_the_partial() -> None:
    ctx, text = at("a1[0]=[:C4, :D4, :E|]\n")
    assert ctx is not None
    assert ctx.partial == ":E" and ctx.partial_span.text(text) == ":E"
    assert midis(ctx) == [60, 62] and ctx.index == 2
    assert ctx.partial_token is not None and ctx.partial_token.midi == 64


def test_lone_colon_is_a_partial_with_no_note_yet() -> None:
    ctx, text = at("a1[0]=[:C4,:|")
    assert ctx is not None
    assert ctx.partial == ":" and ctx.partial_span == Span(len(text) - 1, len(text))
    assert ctx.partial_token is None and not ctx.needs_comma
    assert midis(ctx) == [60]


def test_cursor_in_the_middle_of_a_symbol_replaces_the_whole_symbol() -> None:
    ctx, text = at("a1[0]=[:C4,:F|s4,:G4]\n")
    assert ctx is not None
    assert ctx.partial == ":F" and ctx.partial_span.text(text) == ":Fs4"
    assert midis(ctx) == [60]


def test_right_after_a_complete_note_a_new_one_needs_a_comma() -> None:
    ctx, _ = at("a1[0]=[:C4,:E4|]\n")
    assert ctx is not None
    assert ctx.partial == ":E4" and ctx.needs_comma
    assert ctx.partial_token is not None and ctx.partial_token.midi == 64
    assert midis(ctx) == [60]


def test_after_a_note_and_a_space_a_new_one_needs_a_comma() -> None:
    ctx, _ = at("a1[0]=[:C4 |]\n")
    assert ctx is not None
    assert ctx.partial == "" and ctx.needs_comma and midis(ctx) == [60]


def test_at_the_start_of_an_empty_array() -> None:
    ctx, _ = at("a2[0]=[|]\nb2[0]=[]\n")
    assert ctx is not None
    assert ctx.index == 0 and ctx.before == [] and not ctx.needs_comma


def test_a_bare_word_without_colon_is_a_partial_too() -> None:
    ctx, _ = at("notes = [:c4, :e4, ef|]\n")
    assert ctx is not None and ctx.partial == "ef" and ctx.array.kind == "assign"


def test_history_starts_with_earlier_sections_of_the_same_voice() -> None:
    doc = (
        "a1=[]\nb1=[]\n"
        "a1[0]=[:C4,:D4]\nb1[0]=[1,2]\n"
        "a2[0]=[:G2]\nb2[0]=[4]\n"
        "a1[1]=[:E4,:F4,|:G4]\nb1[1]=[0.5,0.5,1]\n"
    )
    ctx, _ = at(doc)
    assert ctx is not None and ctx.array.section == 1
    assert ctx.history == [
        Event(60, 1.0),
        Event(62, 2.0),
        Event(64, 0.5),
        Event(65, 0.5),
    ]
    assert ctx.index == 2


def test_unclosed_array_being_typed_before_other_code() -> None:
    ctx, _ = at("a1[0]=[:C4,:D4,|\nb1[0]=[1,1,1]\nin_thread do\nend\n")
    assert ctx is not None and ctx.array.close is None
    assert midis(ctx) == [60, 62] and ctx.history == [Event(60, 1.0), Event(62, 1.0)]


def test_unclosed_multi_line_array_on_a_new_line() -> None:
    ctx, _ = at("a1[0]=[:C4,:D4,\n  :E4,\n  |\n\nb1[0]=[1]\n")
    assert ctx is not None and midis(ctx) == [60, 62, 64] and not ctx.needs_comma


def test_play_pattern_timed_pairs_durations() -> None:
    ctx, _ = at("play_pattern_timed [:c4, :e4, |], [0.5, 0.25, 1]\n")
    assert ctx is not None and ctx.array.kind == "play_pattern_timed"
    assert ctx.history == [Event(60, 0.5), Event(64, 0.25)]


def test_ring_contexts() -> None:
    ctx, _ = at("x = (ring :c4, :e4, |)\n")
    assert ctx is not None and ctx.array.kind == "ring" and midis(ctx) == [60, 64]
    ctx, _ = at("x = (ring |:c4)\n")
    assert ctx is not None and ctx.index == 0 and not ctx.needs_comma
    # With no note yet, only its place makes an array a note array (aN[k], play_pattern...).
    assert at("x = (ring |)\n")[0] is None
    assert at("play_pattern [|]\n")[0] is not None
    ctx, _ = at("x = [:c4, |].ring\n")
    assert ctx is not None and ctx.array.kind == "ring"


def test_bare_line_context() -> None:
    ctx, _ = at(":C3,:B2,:G2,|\n:r,:C4\n")
    assert ctx is not None and ctx.array.kind == "bare"
    assert midis(ctx) == [48, 47, 43] and ctx.history == [Event(48), Event(47), Event(43)]


def test_inside_a_chord() -> None:
    ctx, _ = at("a1[0]=[:C4,[:E4,:G|]]\n")
    assert ctx is not None and ctx.in_chord and ctx.partial == ":G" and midis(ctx) == [60]


def test_no_context_outside_note_arrays_comments_and_strings() -> None:
    for doc in (
        "sample :bd|\n",  # `play 60|` is a play statement's note: test_sonicpi_statements
        "a1[0]=[:C4]|\n",
        "|a1[0]=[:C4]\n",
        "b1[0]=[1,|]\n",
        "a1[0]=[:C4] # [:C4, |]\n",
        'puts "[:C4, |]"\n',
        "=begin\na1[0]=[:C4,|]\n=end\n",
        "samples = [:bd_haus, |]\n",
        "|",
    ):
        ctx, _ = at(doc)
        assert ctx is None, doc


def test_positions_out_of_range_are_clamped_not_errors() -> None:
    text = "a1[0]=[:C4,]\n"
    assert context_at(text, 0, 10_000) is None
    assert context_at(text, 99, 0) is None
    ctx = context_at(text, 0, 11)
    assert ctx is not None and ctx.index == 1


def test_line_index_round_trips_code_points() -> None:
    text = "é = 1\r\na1[0]=[:C4]\n🎵\n"
    index = LineIndex(text)
    for offset in range(len(text) + 1):
        line, character = index.position(offset)
        if offset == 0 or text[offset - 1 : offset] not in ("\n", "\r"):
            assert index.offset(line, character) == offset  # (not inside a line break)
    assert index.position(len(text)) == (3, 0)
    assert index.offset(1, 0) == text.index("a1")
