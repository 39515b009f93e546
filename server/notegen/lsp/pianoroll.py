"""A small piano-roll picture of a melody: pitches against beats, as an SVG.

Used by the hover on a note array (as a Markdown image, ``data:`` URI) and by the previews of
Generate / Continue melody. The voice being looked at is drawn strong, the cursor's note
marked, the piece's other voices faint behind it, so a user sees the shape of the tune and how
it sits against the others without playing it. Long pieces are shown as a window of
:data:`WINDOW_BEATS` beats around the cursor's note. Pure: events in, SVG text out.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from notegen.melody import Event
from notegen.notes import NoteStyle, spell

__all__ = ["Roll", "data_uri", "render_svg"]

WIDTH = 480
HEIGHT = 136  # fits under a note's facts in VS Code's hover without scrolling
LEFT = 34  # room for the pitch labels
TOP = 18  # room for the title
BOTTOM = 14  # room for the beat numbers
WINDOW_BEATS = 48.0
MIN_SEMITONES = 12
LOWEST, HIGHEST = 0, 127
"""The rows a picture can have (MIDI's range): a note outside it is drawn on the edge row, so
an array holding ``1e308`` draws 130 rows, not a loop over 10^308 of them."""
MAX_BEATS = 1_000_000.0
"""The longest stretch a picture spans; a duration that is not a positive finite number
counts as 1 beat (as a missing one does)."""
MAX_GRID_LINES = 512
"""Beat lines drawn at most; a longer span draws every 4th, 16th, ... beat."""
FOCUS = "#2f74d0"
CURSOR = "#e8590c"
ADDED = "#2b9348"
OTHER = "#8a8a8a"


@dataclass
class Roll:
    """What to draw. ``cursor``: index of the marked event in ``focus``; ``added_from``: index
    of the first event a preview adds (drawn in another colour)."""

    focus: list[Event]
    title: str = ""
    others: list[list[Event]] = field(default_factory=list)
    cursor: int | None = None
    added_from: int | None = None
    window_beats: float | None = WINDOW_BEATS
    """Show at most this many beats around the cursor (``None``: the whole melody)."""


@dataclass(frozen=True)
class _Note:
    start: float
    length: float
    pitch: float
    index: int


def _timeline(events: Sequence[Event]) -> list[_Note]:
    """Notes with start beats; rests advance time; a missing duration counts as 1 beat."""
    out: list[_Note] = []
    t = 0.0
    for i, ev in enumerate(events):
        length = _length(ev)
        row = _row(ev.pitch)
        if row is not None:
            out.append(_Note(t, length, row, i))
        t += length
    return out


def _row(pitch: float | None) -> float | None:
    """The pitch a note is drawn at (kept inside MIDI's range); ``None``: a rest."""
    if pitch is None:
        return None
    try:
        p = float(pitch)
    except OverflowError:  # an integer too large for a float
        p = math.inf if pitch > 0 else -math.inf
    return None if math.isnan(p) else min(max(p, LOWEST), HIGHEST)


def _length(ev: Event) -> float:
    """Beats an event takes in the picture (1 for a missing, non-positive or absurd one)."""
    d = ev.duration
    return d if d is not None and 0 < d <= MAX_BEATS else 1.0


def _window(
    focus: list[_Note], total: float, cursor: int | None, beats: float | None
) -> tuple[float, float]:
    if beats is None or total <= beats:
        return 0.0, max(total, 1.0)
    at = next((n.start for n in focus if n.index >= cursor), 0.0) if cursor is not None else 0.0
    start = max(0.0, min(at - beats / 3, total - beats))
    start = math.floor(start)
    return start, start + beats


def render_svg(roll: Roll) -> str:
    """The picture as standalone SVG text (its own background: readable on any theme)."""
    focus = _timeline(roll.focus)
    others = [_timeline(v) for v in roll.others]
    total = sum(_length(ev) for ev in roll.focus)
    around = roll.cursor if roll.cursor is not None else roll.added_from
    t0, t1 = _window(focus, total, around, roll.window_beats)
    t1 = min(t1, t0 + MAX_BEATS)

    def shown(notes: list[_Note]) -> list[_Note]:
        return [n for n in notes if n.start < t1 and n.start + n.length > t0]

    focus = shown(focus)
    others = [shown(v) for v in others]
    # The range holds the other voices too: a faint voice out of the picture is no context.
    pitches = [n.pitch for n in focus] + [n.pitch for v in others for n in v] or [60.0]
    low, high = math.floor(min(pitches)) - 1, math.ceil(max(pitches)) + 1
    if high - low < MIN_SEMITONES:
        pad = (MIN_SEMITONES - (high - low)) / 2
        low, high = math.floor(low - pad), math.ceil(high + pad)
    plot_w, plot_h = WIDTH - LEFT - 6, HEIGHT - TOP - BOTTOM
    row = plot_h / (high - low + 1)
    beat = plot_w / (t1 - t0)

    def x(t: float) -> float:
        return LEFT + (max(t, t0) - t0) * beat

    def y(p: float) -> float:
        return TOP + (high - p) * row

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="9">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fbfbf8" rx="3"/>',
    ]
    style = NoteStyle()
    for p in range(low, high + 1):  # black-key rows shaded, C rows labelled
        if p % 12 in (1, 3, 6, 8, 10):
            parts.append(
                f'<rect x="{LEFT}" y="{y(p):.1f}" width="{plot_w}" height="{row:.1f}" '
                'fill="#eeeeea"/>'
            )
        if p % 12 == 0 or p == low:
            parts.append(
                f'<text x="{LEFT - 3}" y="{y(p) + row / 2 + 3:.1f}" text-anchor="end" '
                f'fill="#555">{spell(p, style).lstrip(":")}</text>'
            )
    grid = 1
    while (t1 - t0) / grid > MAX_GRID_LINES:
        grid *= 4
    step = max(grid, 1 if t1 - t0 <= 16 else 4 if t1 - t0 <= 64 else 16)
    b = math.ceil(t0 / grid) * grid
    while b <= t1:
        strong = b % 4 == 0
        parts.append(
            f'<line x1="{x(b):.1f}" y1="{TOP}" x2="{x(b):.1f}" y2="{TOP + plot_h}" '
            f'stroke="{"#c8c8c0" if strong else "#e2e2dc"}" stroke-width="1"/>'
        )
        if b % step == 0:
            parts.append(
                f'<text x="{x(b):.1f}" y="{HEIGHT - 3}" text-anchor="middle" fill="#777">'
                f"{b:g}</text>"
            )
        b += grid

    def bar(n: _Note, fill: str, opacity: float, stroke: str = "") -> str:
        x0, x1 = x(n.start), min(x(n.start + n.length), LEFT + plot_w)
        extra = f' stroke="{stroke}" stroke-width="1.5"' if stroke else ""
        return (
            f'<rect x="{x0 + 0.5:.1f}" y="{y(n.pitch) + 0.5:.1f}" '
            f'width="{max(x1 - x0 - 1, 1.5):.1f}" height="{max(row - 1, 1.5):.1f}" '
            f'fill="{fill}" fill-opacity="{opacity}" rx="1.5"{extra}/>'
        )

    for voice in others:
        parts.extend(bar(n, OTHER, 0.3) for n in voice)
    for n in focus:
        if n.index == roll.cursor:
            parts.append(bar(n, CURSOR, 1.0, "#7a2e00"))
        elif roll.added_from is not None and n.index >= roll.added_from:
            parts.append(bar(n, ADDED, 0.95))
        else:
            parts.append(bar(n, FOCUS, 0.95))
    if roll.title:
        parts.append(
            f'<text x="{LEFT}" y="12" fill="#333" font-size="10">{_escape(roll.title)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...``: what a Markdown image in a hover can show."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
