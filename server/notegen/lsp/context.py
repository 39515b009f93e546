"""From a cursor to what the model needs: the array, the notes before, the spelling style.

Shared by completion, inline completion, hover and continueMelody so they all read the same
context the same way: the local reader result, the voice's earlier sections and durations from
the latest whole-file reading, trimmed to ``maxContext`` events.
"""

from __future__ import annotations

from dataclasses import dataclass

from notegen.generate import trim_context
from notegen.melody import Event
from notegen.notes import NoteStyle, infer_style
from notegen.sonicpi.types import NoteArray, NoteToken

from .documents import DocumentView, LocalContext, before_events, voice_history


@dataclass
class NoteContext:
    """A cursor inside a note array, ready for the model."""

    local: LocalContext
    history: list[Event]
    style: NoteStyle
    numeric: bool
    """The array writes notes as MIDI numbers (``[60, 62]``), so suggestions should too."""
    partial: str = ""
    """What the suggestions must match and replace; ``""`` when suggesting the next note."""
    lead: str = ""
    """Text a new note needs before it at the cursor (``", "`` right after an element)."""

    @property
    def array(self) -> NoteArray:
        return self.local.array


def is_numeric_array(tokens: list[NoteToken]) -> bool:
    """Most elements written as plain numbers (``60``, ``61.5``) rather than symbols."""
    written = [t.text.strip() for t in tokens if t.text.strip()]
    if not written:
        return False
    numbers = sum(1 for t in written if t[:1].isdigit())
    return numbers * 2 > len(written)


def note_context(
    view: DocumentView,
    line: int,
    character: int,
    arrays: list[NoteArray] | None,
    style: NoteStyle | None,
    max_context: int,
) -> NoteContext | None:
    """The cursor's note context, or ``None`` outside note arrays (the cheap check)."""
    local = view.local_context(line, character)
    if local is None:
        return None
    ctx = local.ctx
    before = before_events(arrays, ctx)
    partial = ctx.partial
    token = ctx.partial_token
    finished = partial[-1:].isdigit() or partial in (":r", ":rest")
    if partial.startswith(":") and finished and token is not None:
        # ``:G4|`` is a finished note (an octave ends it; or a rest): suggest what follows
        # it, not a replacement for it.
        duration = None
        if ctx.durations is not None:
            duration = ctx.durations.duration_for(len(ctx.before))
        before = [*before, Event(token.midi, duration)]
        partial = ""
    history = voice_history(arrays, ctx.array, before)
    history = history[trim_context(len(history), max_context) :]
    if style is None:
        start = local.base
        style = infer_style(view.text[max(0, start - 2000) : local.offset + 2000])
    return NoteContext(
        local=local,
        history=history,
        style=style,
        numeric=is_numeric_array(ctx.array.notes) or ctx.partial[:1].isdigit(),
        partial=partial,
        lead=", " if (ctx.needs_comma and not partial) else "",
    )
