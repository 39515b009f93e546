"""The piano-roll picture in the editor: hover on a note array, previews of generated notes.

Gathers what :mod:`notegen.lsp.pianoroll` draws from what the server knows: the cursor's array
(fresh, from the local reading), the same voice's other sections and the other voices (from
the latest whole-file reading). Shown only when the client asks for it (setting
``pianoRoll``; the VS Code extension turns it on): a text-only hover, as in Neovim, would show
the image's ``data:`` URI as a wall of base64.
"""

from __future__ import annotations

from notegen.lsp.pianoroll import Roll, data_uri, render_svg
from notegen.melody import Event
from notegen.sonicpi.types import DurationArray, NoteToken

from .context import NoteContext
from .documents import DocumentView
from .reading import Beats, Reading


def _voice_events(reading: Reading, voice: int, skip: int | None = None) -> list[Event]:
    sections = reading.voices.get(voice, {})
    return [ev for number in sorted(sections) if number != skip for ev in sections[number].events()]


def _array_events(nc: NoteContext) -> list[Event]:
    """The cursor's array as events, durations from its own ``bN[k]`` where one is known."""
    array = nc.array
    durations: DurationArray | Beats | None = (
        array.durations if array.durations is not None else nc.local.ctx.durations
    )
    if durations is None and nc.reading is not None:
        twin = nc.reading.by_identity.get((array.kind, array.voice, array.section, array.name))
        durations = twin.durations if twin is not None else None
    out = []
    for i, tok in enumerate(array.notes):
        beat = durations.duration_for(i) if durations is not None else None
        out.append(Event(tok.midi if tok.error is None else None, beat))
    return out


def roll_for(view: DocumentView, nc: NoteContext, token: NoteToken | None) -> Roll:
    """:func:`roll_at`, reading the whole file first if no reading is there yet (just opened).

    Runs off the event loop (a first reading of a big file takes a while)."""
    reading = nc.reading
    if reading is None:
        reading = Reading(view.version, view.arrays(), nc.style)
    return roll_at(nc, token, reading=reading)


def roll_at(
    nc: NoteContext,
    token: NoteToken | None,
    added: list[Event] | None = None,
    reading: Reading | None = None,
) -> Roll:
    """The cursor's voice (all its sections, the cursor's one as typed now), the cursor's note
    marked, ``added`` events (a continuation preview) after the array, other voices faint."""
    array = nc.array
    reading = reading or nc.reading
    own = _array_events(nc)
    index = array.notes.index(token) if token is not None and token in array.notes else None
    before: list[Event] = []
    after: list[Event] = []
    others: list[list[Event]] = []
    if reading is not None and array.kind == "voice" and array.voice is not None:
        for number in sorted(reading.voices.get(array.voice, {})):
            section = reading.voices[array.voice][number].events()
            if array.section is not None and number < array.section:
                before.extend(section)
            elif array.section is not None and number > array.section:
                after.extend(section)
        others = [_voice_events(reading, v) for v in sorted(reading.voices) if v != array.voice]
    extra = list(added or [])
    focus = before + own + extra + after
    name = array.name or (f"a{array.voice}[{array.section}]" if array.voice else "notes")
    beats = sum(ev.duration or 1.0 for ev in focus)
    title = f"{name} · {len(focus)} notes · {beats:g} beats"
    if extra:
        title += f" · {len(extra)} new (green)"
    return Roll(
        focus=focus,
        title=title,
        others=others,
        cursor=None if index is None else len(before) + index,
        added_from=len(before) + len(own) if extra else None,
    )


def markdown_image(roll: Roll, alt: str = "piano roll") -> str:
    return f"![{alt}]({data_uri(render_svg(roll))})"


def render_roll(roll: Roll) -> dict[str, str]:
    """A preview's picture for a command result: the SVG and its ``data:`` URI."""
    svg = render_svg(roll)
    return {"svg": svg, "picture": data_uri(svg), "title": roll.title}


def block_roll(events: list[Event], reading: Reading | None, voice: int) -> Roll:
    """A generated block (a new voice) against the document's voices."""
    others = []
    if reading is not None:
        others = [_voice_events(reading, v) for v in sorted(reading.voices) if v != voice]
    beats = sum(ev.duration or 1.0 for ev in events)
    title = f"new voice a{voice} · {len(events)} notes · {beats:g} beats"
    return Roll(focus=events, title=title, others=others, added_from=0, window_beats=None)


__all__ = ["block_roll", "markdown_image", "render_roll", "roll_at", "roll_for"]
