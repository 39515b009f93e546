"""The piano-roll picture: one bar per note, placed by pitch and beat; the cursor's note marked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from notegen.lsp.pianoroll import (
    ADDED,
    BOTTOM,
    CURSOR,
    FOCUS,
    HEIGHT,
    LEFT,
    OTHER,
    TOP,
    WIDTH,
    WINDOW_BEATS,
    Roll,
    render_svg,
)
from notegen.melody import Event

NS = "{http://www.w3.org/2000/svg}"


def bars(svg: str, fill: str) -> list[dict[str, float]]:
    root = ET.fromstring(svg)
    return [
        {k: float(r.get(k)) for k in ("x", "y", "width", "height")}
        for r in root.iter(f"{NS}rect")
        if r.get("fill") == fill
    ]


def test_each_note_is_a_bar_higher_notes_higher_later_notes_further_right():
    melody = [Event(60, 1), Event(64, 1), Event(None, 1), Event(67, 2)]
    svg = render_svg(Roll(melody))
    drawn = bars(svg, FOCUS)
    assert len(drawn) == 3  # the rest is a gap, not a bar
    c, e, g = drawn
    assert c["y"] > e["y"] > g["y"]
    assert c["x"] < e["x"] < g["x"]
    assert g["x"] - e["x"] > 1.9 * (e["x"] - c["x"])  # the rest took a beat
    assert abs(g["width"] - 2 * c["width"]) < 2  # two beats are twice as wide


def test_every_bar_lies_inside_the_picture_even_voices_far_apart():
    low_voice = [Event(40 + i % 5, 1) for i in range(8)]
    high_voice = [Event(84 - i % 7, 0.5) for i in range(16)]
    svg = render_svg(Roll(low_voice, others=[high_voice]))
    for fill in (FOCUS, OTHER):
        for bar in bars(svg, fill):
            assert bar["y"] >= TOP and bar["y"] + bar["height"] <= HEIGHT - BOTTOM + 1, bar
            assert bar["x"] >= LEFT and bar["x"] + bar["width"] <= WIDTH, bar
    assert len(bars(svg, OTHER)) == 16


def test_the_cursor_note_is_marked_and_other_voices_are_faint():
    svg = render_svg(Roll([Event(60, 1), Event(62, 1)], others=[[Event(48, 4)]], cursor=1))
    assert len(bars(svg, CURSOR)) == 1 and len(bars(svg, FOCUS)) == 1
    root = ET.fromstring(svg)
    faint = [r for r in root.iter(f"{NS}rect") if r.get("fill") == OTHER]
    assert len(faint) == 1 and float(faint[0].get("fill-opacity")) < 0.5


def test_a_long_melody_shows_a_window_around_the_cursor():
    melody = [Event(60 + i % 12, 1) for i in range(400)]
    svg = render_svg(Roll(melody, cursor=300))
    shown = bars(svg, FOCUS) + bars(svg, CURSOR)
    assert len(shown) <= WINDOW_BEATS + 1
    labels = [t.text for t in ET.fromstring(svg).iter(f"{NS}text")]
    assert "300" in labels or "296" in labels  # beat numbers near the cursor


def test_missing_durations_count_as_one_beat_and_titles_are_escaped():
    svg = render_svg(Roll([Event(60), Event(62)], title="a<1> & b"))
    a, b = bars(svg, FOCUS)
    assert abs(a["width"] - b["width"]) < 0.01
    assert "a&lt;1&gt; &amp; b" in svg


def test_a_preview_can_show_the_whole_melody_and_a_continuation_shows_its_new_notes():
    melody = [Event(60 + i % 12, 1) for i in range(200)]
    whole = render_svg(Roll(melody, added_from=0, window_beats=None))
    assert len(bars(whole, ADDED)) == 200
    continued = render_svg(Roll(melody, added_from=190))
    assert len(bars(continued, ADDED)) == 10  # the window moved to the new notes
