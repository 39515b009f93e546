"""Accepted ghost text keeps its voice whole: its notes' durations go into ``bN[k]`` too.

Ghost text (and a phrase completion item) continues the note array at the cursor,
``a1[0]=[...]``; when the voice keeps its durations in a separate array, ``b1[0]=[...]``, the
inserted notes would have none and the voice would stop at ``sleep nil``. Inline completion
items cannot carry a second edit, so the item carries :data:`COMMAND`
(``InlineCompletionItem.command`` / ``CompletionItem.command``, run by the client right after it
inserted the text), and the command adds the durations the model gave those notes, at their
place in ``bN[k]``. An unclosed array's ghost text names them in a comment
(``# durations 0.5,1 (add to b1[0])``); the command removes that comment as it adds them.

The command changes nothing unless the document is exactly what acceptance made of it: a
later version than the one the ghost text was computed for, the inserted text still at its
place, and exactly the inserted notes lacking durations. Running it twice, after an undo or
after more typing, therefore adds nothing, and its edit is pinned to the version it checked.
Nor unless its arguments are what :func:`command_for` makes: the text goes into the user's
array, so only positive numbers of beats and a comma are ever written (any client may send
the command; ``"1]; system(...)"`` is not a duration), and nothing to add adds nothing.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from lsprotocol import types

from notegen.melody import Event
from notegen.sonicpi import format_duration
from notegen.sonicpi.types import LINE_BREAK, NoteArray

from .context import NoteContext
from .documents import MAX_READING_CHARS, DocumentView
from .edits import client_supports_document_changes, text_edit, workspace_edit
from .host import Host

COMMAND = "notegen.addGhostDurations"
TITLE = "Add the durations of the accepted notes"
COMMENT = "  # durations "
"""How :meth:`NoteContext.closing` starts the comment naming the durations it assumes."""
MALFORMED = "malformed arguments"

_BEATS_RE = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
"""A duration as :func:`format_duration` writes it (``1``, ``0.5``, ``1.0``, ``1.5e-7``): a
Ruby number literal Ruby and Python read alike (no ``010``, octal in Ruby; no ``1/2``, 0)."""
_SEPARATOR_RE = re.compile(r",[ \t]{0,8}")
"""A list separator as :meth:`NoteStyle.joiner` gives it: a comma and a little spacing."""


def command_for(
    view: DocumentView,
    nc: NoteContext,
    text: str,
    events: Sequence[Event],
    edit_range: types.Range,
) -> types.Command | None:
    """The command for inserted ``text`` (adding ``events``) in a voice that may have ``bN``."""
    if not events or not _may_have_duration_list(nc):
        return None
    beats = [format_duration(ev.duration or 1.0, nc.style.whole_float) for ev in events]
    start = edit_range.start
    arguments = {
        "uri": view.uri,
        "version": view.version,
        "position": {"line": start.line, "character": start.character},
        "text": text,
        "durations": beats,
        "separator": nc.style.joiner(", "),
    }
    return types.Command(title=TITLE, command=COMMAND, arguments=[arguments])


def _may_have_duration_list(nc: NoteContext) -> bool:
    """A voice array whose durations are (or, before the first reading, may be) a list."""
    array = nc.local.ctx.array
    if array.kind != "voice" or array.voice is None:
        return False
    if nc.local.ctx.durations is not None:
        return not nc.local.ctx.durations.scalar
    if nc.reading is None:
        return True  # not read yet: the command itself looks when it runs
    twin = nc.reading.by_identity.get((array.kind, array.voice, array.section, array.name))
    return twin is not None and twin.durations is not None and not twin.durations.scalar


@dataclass(frozen=True)
class Plan:
    """The edits that complete the voice, or why there are none."""

    edits: list[types.TextEdit]
    reason: str = ""


def plan(view: DocumentView, args: dict[str, Any]) -> Plan:
    """What the command would change in ``view`` (no edits: stale, nothing is missing, or the
    arguments are not the shapes the server gives them)."""
    parsed = _arguments(args)
    if parsed is None:
        return Plan([], MALFORMED)
    version, line, character, text, beats, sep = parsed
    if not beats:  # (an empty list inserted a bare separator: ``b1[0]=[, 1,1,1]``)
        return Plan([], "no durations to add")
    if not text:  # (found at every place, it proves nothing was accepted)
        return Plan([], "no accepted text")
    if view.version is not None and view.version <= version:
        return Plan([], "the ghost text was not accepted (same document version)")
    at = view.offset_at(line, character)
    if view.text[at : at + len(text)] != text:
        return Plan([], "the accepted text is no longer there")
    array = _voice_array(view, at)
    if array is None or array.durations is None:
        return Plan([], "no duration array for this voice")
    durations = array.durations
    if durations.scalar or durations.open is None or durations.close is None:
        return Plan([], "the duration array is not a closed list")
    missing = len(array.notes) - len(durations.values)
    if missing != len(beats):
        return Plan([], f"{missing} durations missing, not the {len(beats)} accepted notes")
    index = sum(1 for note in array.notes if note.span.start < at)
    if index > len(durations.values):
        return Plan([], "the voice lacked durations before the accepted notes")
    edits = [_insert_durations(view, array, index, beats, sep)]
    comment = text.find(COMMENT)
    if comment >= 0 and LINE_BREAK.search(text, comment) is None:  # (a lone \r ends it too)
        edits.append(text_edit(view, at + comment, at + len(text), ""))
    return Plan(edits)


def _arguments(args: dict[str, Any]) -> tuple[int, int, int, str, list[str], str] | None:
    """(version, line, character, text, durations, separator) if they have the shapes
    :func:`command_for` gives them (durations as text to write), else ``None``."""
    version, position = args.get("version"), args.get("position")
    text, durations = args.get("text"), args.get("durations")
    sep = args.get("separator", ", ")
    if not isinstance(position, dict):
        return None
    line, character = position.get("line"), position.get("character")
    if not (_integer(version) and _integer(line) and _integer(character)):
        return None
    if line < 0 or character < 0:
        return None
    if not isinstance(text, str) or not isinstance(durations, list):
        return None
    if not isinstance(sep, str) or _SEPARATOR_RE.fullmatch(sep) is None:
        return None
    beats = [_beats(d) for d in durations]
    if any(b is None for b in beats):
        return None
    return version, line, character, text, [b for b in beats if b is not None], sep


def _integer(value: object) -> TypeGuard[int]:
    """A JSON integer: not ``true``, ``1.0``, ``1e400`` or ``"1"``, which ``int()`` took."""
    return isinstance(value, int) and not isinstance(value, bool)


def _beats(value: Any) -> str | None:
    """A duration's text to write, if ``value`` is a positive, finite number of beats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # (an integer no float holds: 10**400)
            return None
        return format_duration(number) if math.isfinite(number) and number > 0 else None
    if isinstance(value, str) and _BEATS_RE.fullmatch(value) is not None:
        number = float(value)
        return value if math.isfinite(number) and number > 0 else None
    return None


def _plan_and_forget(view: DocumentView, args: dict[str, Any]) -> Plan:
    """:func:`plan`, dropping the whole-file reading again if it was made for this alone."""
    ready = view.arrays_ready
    try:
        return plan(view, args)
    finally:
        if not ready:
            view.forget_arrays()


def _voice_array(view: DocumentView, offset: int) -> NoteArray | None:
    found = view.array_at(offset)
    return found if found is not None and found.kind == "voice" else None


def _insert_durations(
    view: DocumentView, array: NoteArray, index: int, beats: list[str], sep: str
) -> types.TextEdit:
    durations = array.durations
    assert durations is not None and durations.open is not None
    values = durations.values
    if index == 0:
        at = durations.open + 1
        return text_edit(view, at, at, sep.join(beats) + (sep if values else ""))
    at = values[index - 1].span.end
    return text_edit(view, at, at, sep + sep.join(beats))


async def add_ghost_durations(server: Host, *args: Any) -> dict[str, Any]:
    """Run the command: ``{"applied": bool, "added": N, "reason": ...}``; never an error, since
    a stale command is expected (the user typed on) and must simply do nothing."""
    raw = args[0] if len(args) == 1 and isinstance(args[0], dict) else {}
    view = server.view(str(raw.get("uri", "")))
    if view is None:
        return {"applied": False, "added": 0, "reason": "the document is not open"}
    if len(view.text) > MAX_READING_CHARS:  # its arrays would be read whole
        return {"applied": False, "added": 0, "reason": "the document is too big"}
    found = await asyncio.to_thread(_plan_and_forget, view, raw)  # whole file: off the loop
    if not found.edits:
        return {"applied": False, "added": 0, "reason": found.reason}
    if not server.is_current(view):
        return {"applied": False, "added": 0, "reason": "the document changed meanwhile"}
    changes = client_supports_document_changes(server.client_capabilities_or_none())
    result = await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(
            edit=workspace_edit(view, found.edits, changes), label="notegen: add durations"
        )
    )
    added = len(raw["durations"]) if result.applied else 0
    return {"applied": result.applied, "added": added, "reason": result.failure_reason or ""}
