"""Write a melody as a playable Sonic Pi voice in Robin Newman's ``aN``/``bN``/``cN`` form.

The block declares ``aN=[]``/``bN=[]``, fills ``aN[i]`` (notes) and ``bN[i]`` (beats) per
section, gives ``cN`` (bpm per section), then plays it in an ``in_thread`` loop like his
``playPurcell`` piece: ``use_bpm cN[i]``, ``play ... sustain: 90 %, release: 10 %``, ``sleep``.
Reading the block back with :func:`notegen.sonicpi.read` gives the same notes and durations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

from notegen.melody import Event
from notegen.notes import DEFAULT_STYLE, NoteStyle, spell

_VOICE_NAME_RE = re.compile(r"(?<![A-Za-z0-9_@$:])[abc]([0-9]+)(?![A-Za-z0-9_])")


def next_free_voice(text: str) -> int:
    """One more than the highest ``aN``/``bN``/``cN`` number anywhere in ``text`` (at least 1).

    Max + 1 rather than the smallest gap: a gap is often a voice the user commented out, keeps
    in another buffer or is about to paste back, and a new voice numbered after the others
    reads in order. Comments and strings count too, for the same reason.
    """
    numbers = [int(m.group(1)) for m in _VOICE_NAME_RE.finditer(text)]
    return max(numbers, default=0) + 1


def format_duration(value: float, whole_float: bool = False) -> str:
    """Compact Ruby number: ``1``, ``0.5``, ``0.25``, ``0.3`` (no float noise like ``0.30000004``).

    Whole numbers are written as integers (``1.0`` with ``whole_float``, for pieces that write
    them so); Sonic Pi sleeps the same for ``1`` and ``1.0``.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value!r} as a Sonic Pi number")
    if float(value).is_integer():
        return f"{int(value)}.0" if whole_float else str(int(value))
    text = format(float(value), ".10g")
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{int(exp)}"
    return text


def _wrap(prefix: str, items: Sequence[str], suffix: str, width: int, sep: str = ",") -> list[str]:
    """``prefix`` + comma-joined items + ``suffix``, broken after commas to fit ``width``.

    Ruby continues a statement on the next line while a bracket is open, so a break after
    a comma is always safe; continuation lines are indented under the first item.
    """
    indent = " " * min(len(prefix), 8)
    lines: list[str] = []
    current = prefix
    for k, item in enumerate(items):
        piece = item + ("," if k < len(items) - 1 else suffix)
        fresh = current in (prefix, indent)
        if not fresh and len(current) + len(piece) > width:
            lines.append(current.rstrip())
            current = indent
        elif not fresh:
            current += sep[1:]  # the space of ", " (none at a line break)
        current += piece
    if not items:
        current += suffix
    lines.append(current)
    return lines


def render_block(
    voice: int,
    sections: Sequence[Sequence[Event]],
    bpm: Sequence[float] | float,
    style: NoteStyle = DEFAULT_STYLE,
    width: int = 80,
    *,
    default_duration: float = 1.0,
    sustain: float = 0.9,
    form: Literal["indexed", "plain"] = "indexed",
    comment: str | None = None,
) -> str:
    """Render one playable voice; raises ``ValueError`` for input Sonic Pi could not play.

    ``bpm`` is one tempo per section (a single value applies to all). A ``None`` duration
    (an event from a bare note list) is written as ``default_duration`` beats. ``form``
    ``plain`` writes one ``aN=[...]``/``bN=[...]`` pair played at the first tempo, as pieces
    in that form do; ``style`` gives the spelling, the separator and ``1`` vs ``1.0``;
    ``comment`` opens the block (one ``#`` line per line of it).
    """
    if voice < 1:
        raise ValueError(f"voice numbers start at 1, got {voice}")
    tempi = [float(bpm)] * len(sections) if isinstance(bpm, (int, float)) else list(bpm)
    if len(tempi) == 1 and len(sections) > 1:
        tempi = tempi * len(sections)
    if len(tempi) != len(sections):
        raise ValueError(
            f"{len(sections)} sections need {len(sections)} bpm values, got {len(tempi)}"
        )
    for t in tempi:
        if not math.isfinite(t) or t <= 0:
            raise ValueError(f"bpm must be a positive number, got {t!r}")
    if not 0.0 <= sustain <= 1.0:
        raise ValueError(f"sustain is a fraction of the note, got {sustain!r}")
    a, b, c = f"a{voice}", f"b{voice}", f"c{voice}"
    sep = style.joiner(",")
    lines = [f"# {line}".rstrip() for line in (comment or "").splitlines()]
    release = format_duration(round(1.0 - sustain, 10))

    def beats_of(events: Sequence[Event]) -> list[str]:
        return [
            format_duration(
                default_duration if ev.duration is None else float(ev.duration),
                style.whole_float,
            )
            for ev in events
        ]

    if form == "plain":
        melody = [ev for section in sections for ev in section]
        lines += _wrap(f"{a}=[", [_note(ev.pitch, style) for ev in melody], "]", width, sep)
        lines += _wrap(f"{b}=[", beats_of(melody), "]", width, sep)
        lines += [
            "in_thread do",
            f"  use_bpm {format_duration(tempi[0]) if tempi else 60}",
            f"  {a}.length.times do |j|",
            f"    play {a}[j], sustain: {b}[j]*{format_duration(sustain)}, "
            f"release: {b}[j]*{release}",
            f"    sleep {b}[j]",
            "  end",
            "end",
        ]
        return "\n".join(lines) + "\n"
    lines += [f"{a}=[]", f"{b}=[]"]
    for i, events in enumerate(sections):
        notes = [_note(ev.pitch, style) for ev in events]
        lines += _wrap(f"{a}[{i}]=[", notes, "]", width, sep)
        lines += _wrap(f"{b}[{i}]=[", beats_of(events), "]", width, sep)
    lines += _wrap(f"{c}=[", [format_duration(t) for t in tempi], "]", width, sep)
    lines += [
        "in_thread do",
        f"  for i in 0..{a}.length-1",
        f"    use_bpm {c}[i]",
        f"    for j in 0..{a}[i].length-1",
        f"      play {a}[i][j], sustain: {b}[i][j]*{format_duration(sustain)}, "
        f"release: {b}[i][j]*{release}",
        f"      sleep {b}[i][j]",
        "    end",
        "  end",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _note(pitch: int | float | None, style: NoteStyle) -> str:
    if pitch is not None and (isinstance(pitch, bool) or not math.isfinite(pitch)):
        raise ValueError(f"not a MIDI note: {pitch!r}")
    name = spell(pitch, style)
    # In Ruby source `:G-2` is `:G - 2` (Sonic Pi's Symbol#-, MIDI 65): quote negative octaves.
    return f':"{name[1:]}"' if name.startswith(":") and "-" in name else name
