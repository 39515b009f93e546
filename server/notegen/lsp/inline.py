"""``textDocument/inlineCompletion``: ghost text that continues the array at the cursor.

The text is always valid code: in an array not closed yet it closes it with the bracket
that opened it (and names the durations it assumes when the voice's duration array is now
short); before an element that follows the cursor it ends with a separator; inside a chord
it offers nothing.

The continuation is ``phraseLength`` sampled notes (seeded, so the ghost text does not flicker
between keystrokes that leave the context unchanged). With a partial token typed, the ghost
text completes it first with the most likely matching note, then continues from that note.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

from notegen.lsp.config import Settings
from notegen.melody import Event

from .completion import phrase, rank_notes
from .context import NoteContext
from .engine import Engine
from .spelling import spell_note


@dataclass(frozen=True)
class Ghost:
    """Ghost text and, for a note array, the notes it adds (their durations, in beats), so
    that accepting it can add those durations to the voice's ``bN`` array."""

    text: str
    events: tuple[Event, ...] = ()


def ghost_text(engine: Engine, nc: NoteContext, settings: Settings) -> str | None:
    """The text to show after (or replacing the partial before) the cursor; ``None``: nothing."""
    found = ghost(engine, nc, settings)
    return None if found is None else found.text


def ghost(engine: Engine, nc: NoteContext, settings: Settings) -> Ghost | None:
    """:func:`ghost_text` with the note events it inserts (none for play/sleep lines)."""
    model, cache = engine.model, engine.cache
    if model is None or cache is None or nc.occupied or nc.written:
        return None  # (a value is written after the cursor: ghost text would be glued to it)
    if nc.local.ctx.slot != "array":
        from . import play_lines  # play/sleep statements

        text = play_lines.ghost_text(engine, nc, settings)
        return None if text is None else Ghost(text)
    if nc.local.ctx.in_chord:
        return None  # a melody does not go on inside a chord; completion offers chord tones
    extra: list[Event] = []
    parts: list[str] = []
    if nc.partial:
        best = rank_notes(engine, nc, 1)
        if not best:
            return None
        parts.append(best[0].text)
        extra.append(Event(best[0].candidate.pitch, best[0].candidate.duration))
    remaining = settings.phraseLength - len(parts)
    events = phrase(engine, nc, settings, remaining, extra)
    parts.extend(spell_note(ev.pitch, nc.style, nc.numeric) for ev in events)
    if not parts:
        return None
    added = (*extra, *events)
    text = nc.style.joiner(", ").join(parts)
    return Ghost(nc.lead + text + nc.trail + nc.closing(added), added)


def items(
    text: str, edit_range: types.Range, command: types.Command | None = None
) -> types.InlineCompletionList:
    """The one item; ``command`` runs after the client inserted it (LSP 3.18)."""
    return types.InlineCompletionList(
        items=[types.InlineCompletionItem(insert_text=text, range=edit_range, command=command)]
    )
