"""Write a melody as ``play``/``sleep`` statements, the way a live coder writes it.

Each note is ``play NOTE[, options]`` then ``sleep BEATS``; a rest adds its beats to the
sleep before it (Sonic Pi simply waits longer), so reading the lines back with
:mod:`notegen.sonicpi.statements` gives the same notes, each lasting until the next one.
Notes are spelled as the file spells them (``:e4``, ``:E4`` or ``64``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from notegen.melody import Event
from notegen.notes import DEFAULT_STYLE, NoteStyle, spell
from notegen.sonicpi.writer import format_duration

_LOOP_NAME_RE = re.compile(r"live_loop\s+:notegen(\d*)\b")


def note_text(pitch: int | float, style: NoteStyle = DEFAULT_STYLE, numeric: bool = False) -> str:
    """A pitch as a ``play`` argument; raises ``ValueError`` for what Sonic Pi cannot play."""
    if isinstance(pitch, bool) or not math.isfinite(pitch):
        raise ValueError(f"not a MIDI note: {pitch!r}")
    if numeric or not float(pitch).is_integer():
        return format_duration(float(pitch))
    name = spell(pitch, style)
    # `:G-2` reads as `:G - 2` in Ruby: quote negative octaves
    return f':"{name[1:]}"' if "-" in name else name


def play_line(text: str, head: str = "play", options: str = "") -> str:
    """``play :e4, release: 0.5`` (``head`` may be ``synth :pluck, note:``)."""
    return f"{head} {text}{options}"


def melody_lines(
    events: Sequence[Event],
    style: NoteStyle = DEFAULT_STYLE,
    *,
    numeric: bool = False,
    head: str = "play",
    options: str = "",
    default_duration: float = 1.0,
) -> list[str]:
    """``play``/``sleep`` lines (no indentation) for ``events``; leading rests are dropped."""
    lines: list[str] = []
    beats: float | None = None
    for ev in events:
        duration = default_duration if ev.duration is None else float(ev.duration)
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"not a duration in beats: {ev.duration!r}")
        if ev.pitch is None:
            if beats is not None:
                beats += duration  # a rest: the note before lasts longer
            continue
        if beats is not None:
            lines.append(f"sleep {format_duration(beats)}")
        lines.append(play_line(note_text(ev.pitch, style, numeric), head, options))
        beats = duration
    if beats is not None:
        lines.append(f"sleep {format_duration(beats)}")
    return lines


def indent_lines(lines: Sequence[str], indent: str) -> str:
    """Lines joined with newlines, each after ``indent``."""
    return "\n".join(indent + line for line in lines)


def next_loop_name(text: str) -> str:
    """``notegen``, then ``notegen2``, … : a ``live_loop`` name not used in ``text``."""
    used = {int(m.group(1) or 1) for m in _LOOP_NAME_RE.finditer(text)}
    if not used:
        return "notegen"
    return f"notegen{max(used) + 1}"


def render_live_loop(
    name: str,
    events: Sequence[Event],
    bpm: float,
    style: NoteStyle = DEFAULT_STYLE,
    *,
    numeric: bool = False,
    default_duration: float = 1.0,
    release: float | None = None,
) -> str:
    """A ``live_loop`` that plays ``events`` at ``bpm`` (two-space indentation).

    ``release`` (beats) shortens each note's tail so a melody does not blur; ``None``: Sonic
    Pi's default.
    """
    if not math.isfinite(bpm) or bpm <= 0:
        raise ValueError(f"bpm must be a positive number, got {bpm!r}")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a live_loop name: {name!r}")
    options = "" if release is None else f", release: {format_duration(release)}"
    body = melody_lines(
        events, style, numeric=numeric, options=options, default_duration=default_duration
    )
    if not body:
        body = [f"sleep {format_duration(default_duration)}"]  # a loop must sleep
    lines = [f"live_loop :{name} do", f"  use_bpm {format_duration(bpm)}"]
    lines += ["  " + line for line in body]
    lines.append("end")
    return "\n".join(lines) + "\n"
