"""``notegen.generateMelody`` and ``notegen.continueMelody``: edits made by the model.

Both take ONE JSON object (see the README). Arguments are checked before anything runs; a bad
one is answered with JSON-RPC ``InvalidParams`` naming the argument and why, and nothing
changes. The text is computed against one document version, off the event loop, and sent with
``workspace/applyEdit`` naming that version; if the document changed meanwhile the result is
dropped (``ContentModified``) instead of being applied at a stale place.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
)

from notegen.keys import tonic_name
from notegen.lsp.pianoroll import Roll
from notegen.model.generate_options import (
    MAX_LENGTH,
    ArgumentError,
    GenerateOptions,
    parse_generate_options,
)
from notegen.model.network import MelodyModel
from notegen.notes import infer_style
from notegen.sonicpi.types import count_line_breaks, newline_of

from . import child, jobs
from .documents import MAX_READING_CHARS, DocumentView
from .edits import client_supports_document_changes, text_edit, workspace_edit
from .engine import Engine, Job
from .host import Host
from .jobs import FORMS, continuation_edits, default_form
from .picture import block_roll, render_roll
from .reading import Reading

__all__ = ["continuation_edits"]  # re-exported: where it lived before notegen.lsp.jobs

T = TypeVar("T")
log = logging.getLogger(__name__)

GENERATE = "notegen.generateMelody"
CONTINUE = "notegen.continueMelody"


class ModelUnavailable(JsonRpcException):
    """The command needs the model and none is loaded (the message says which file, why)."""

    CODE = -32001


def invalid(name: str, why: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message=f"{name}: {why}")


def preview_arg(args: dict[str, Any]) -> bool:
    """``preview: true`` computes the notes and their picture and changes nothing."""
    value = args.get("preview", False)
    if not isinstance(value, bool):
        raise invalid("preview", f"must be true or false, not {value!r}")
    return value


def lines_of(view: DocumentView, offset: int, new_text: str) -> dict[str, int]:
    """The lines an insertion will occupy once applied (for the client to reveal)."""
    line, _ = view.position_at(offset)
    first, last = 0, len(new_text)  # (the block's own lines: breaks around it left out)
    while first < last and new_text[first] in "\r\n":
        first += 1
    while last > first and new_text[last - 1] in "\r\n":
        last -= 1
    return {
        "startLine": line + count_line_breaks(new_text, 0, first),
        "endLine": line + count_line_breaks(new_text, 0, last),
    }


def single_object(args: tuple[Any, ...]) -> dict[str, Any]:
    """The one JSON object a notegen command takes."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise invalid("arguments", f"expected one JSON object, got {len(args)} argument(s)")
    return args[0]


def position_arg(args: dict[str, Any], required: bool) -> tuple[int, int] | None:
    """``args["position"]`` as (line, character); ``None`` when absent and not required."""
    if args.get("position") is None:
        if required:
            raise invalid("position", "is required: {line, character} inside a note array")
        return None
    return position_field(args, "position")


def position_field(args: dict[str, Any], name: str) -> tuple[int, int]:
    """``args[name]`` as (line, character), or an InvalidParams error naming the field."""
    value = args.get(name)
    if not isinstance(value, dict):
        raise invalid(name, f"must be {{line, character}}, not {value!r}")
    out = []
    for key in ("line", "character"):
        number = value.get(key)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise invalid(f"{name}.{key}", f"must be an integer ≥ 0, not {number!r}")
        out.append(number)
    return out[0], out[1]


def document_arg(server: Host, args: dict[str, Any]) -> DocumentView:
    uri = args.get("uri")
    if not isinstance(uri, str) or not uri:
        raise invalid("uri", f"must be the URI of an open document, not {uri!r}")
    view = server.view(uri)
    if view is None:
        raise invalid("uri", f"{uri} is not open in the editor")
    if len(view.text) > MAX_READING_CHARS:
        raise invalid("uri", too_big(view))
    return view


def too_big(view: DocumentView) -> str:
    """Why a command refuses a document it would have to read whole."""
    return (
        f"{view.uri} has {len(view.text):,} characters; notegen reads at most "
        f"{MAX_READING_CHARS:,} of a file for a command (put the piece in a smaller file)"
    )


async def model_or_error(server: Host, uri: str):
    engine = server.engine_for(uri)  # the model this document chose (model_choice)
    model = await engine.ready()
    if model is None:
        raise ModelUnavailable(message=f"no model: {engine.error or 'not loaded'}")
    return model


async def apply(
    server: Host, view: DocumentView, edits: list[types.TextEdit], label: str
) -> types.ApplyWorkspaceEditResult:
    """Send the edit pinned to ``view.version``, unless the document has moved on."""
    if not server.is_current(view):
        raise JsonRpcContentModified(
            message=f"{view.uri} changed while {label.lower()} was computed; nothing was changed"
        )
    edit = workspace_edit(
        view, edits, client_supports_document_changes(server.client_capabilities_or_none())
    )
    return await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=edit, label=label)
    )


async def long_work(
    server: Host,
    engine: Engine,
    model: MelodyModel,
    notes: int,
    fn: Callable[..., T],
    view: DocumentView,
    *args: Any,
) -> T:
    """``fn(model, view, *args)``: in a child process from :data:`child.CHILD_MIN_NOTES`
    notes on (it exits afterwards, so its memory goes back to the system, and it never
    shares the server's interpreter), else on the engine's long-work thread (warm model).

    Either way a cancelled request stops the work; a child that fails is an error reply and
    nothing changes. When no process can be started at all, the server does the work itself.
    Work whose document was closed while it waited for its turn is not begun (ContentModified):
    a client that opened, asked a generation and closed, again and again, queued work the
    server did one after the other long after every document had gone; work under way when
    its document closes is stopped (:meth:`Host.while_open`).
    """
    return await server.while_open(
        view.uri, _long_work(server, engine, model, notes, fn, view, *args)
    )


def not_begun(uri: str) -> JsonRpcContentModified:
    """The answer to long work whose document closed before it began."""
    return JsonRpcContentModified(
        message=f"{uri} was closed before the work began; nothing was done"
    )


async def _long_work(
    server: Host,
    engine: Engine,
    model: MelodyModel,
    notes: int,
    fn: Callable[..., T],
    view: DocumentView,
    *args: Any,
) -> T:
    """:func:`long_work` itself, held by :meth:`Host.while_open`.

    Stopped by its document's closing before its turn came (its child process not started,
    the long-work thread not yet at it), it says so: not begun, nothing done."""
    begun = False

    def still_open() -> None:
        nonlocal begun
        if server.current_version(view.uri) is None:
            raise not_begun(view.uri)
        begun = True

    try:
        if child.wanted(notes) and engine.path is not None:
            async with engine.child_turn():  # one big job at a time, as on the long-work thread
                still_open()
                try:
                    return await child.run_in_child(engine.path, fn, view, *args)
                except child.ChildUnavailable as exc:
                    log.warning("%s: generating in the server instead", exc)
                except child.ChildModelError as exc:
                    raise ModelUnavailable(message=f"no model: {exc}") from None
                except child.ChildFailed as exc:
                    message = f"notegen: {exc}; nothing was changed"
                    raise JsonRpcInternalError(message=message) from None
        job = Job(model)  # stops at its next model step when the request is cancelled

        def work() -> T:
            still_open()  # (on the long-work thread, once the jobs queued before it are done)
            return fn(job.model, view, *args)

        return await engine.run_long(job, work)
    except asyncio.CancelledError:
        if not begun and server.current_version(view.uri) is None:
            raise not_begun(view.uri) from None
        raise


# -- generateMelody ----------------------------------------------------------------------------


def block_insertion(
    view: DocumentView, position: tuple[int, int] | None, block: str, at: int | None = None
):
    """Where and what to insert: the block on its own lines at (or after) the position line,
    else at ``at`` (a line start, or the end), else at the end; in the document's line endings."""
    text = view.text
    nl = newline_of(text)
    if position is None or position[0] >= view.line_count:
        offset = len(text) if at is None else at
    else:
        line, character = position
        offset = view.starts[line] if character == 0 else view.offset_at(line + 1, 0)
        if character and line + 1 >= view.line_count:
            offset = len(text)
    if not text[:offset].strip():
        offset = 0  # only blank lines above (an empty buffer is "\n" in Neovim): start the file
    body = block.rstrip("\n").replace("\n", nl) + nl
    prefix = ""
    if offset > 0 and text[offset - 1] not in "\r\n":
        prefix = nl
    if offset > 0 and text[:offset].rstrip(" \t") and not text[:offset].endswith(nl + nl):
        prefix += nl  # a blank line between the block and the code above
    if offset < len(text) and text[offset : offset + 1] not in "\r\n":
        body += nl
    return offset, prefix + body


async def generate_melody(server: Host, *args: Any) -> dict[str, Any]:
    raw = single_object(args)
    view = document_arg(server, raw)
    position = position_arg(raw, required=False)
    s = server.settings
    defaults = GenerateOptions(temperature=s.temperature, top_k=s.topK, top_p=s.topP)
    preview = preview_arg(raw)
    try:
        options = parse_generate_options({k: v for k, v in raw.items() if k != "preview"}, defaults)
    except ArgumentError as exc:
        raise invalid(exc.name, exc.why) from None
    read = own_reading(server, view)
    form: str | None = None  # (none asked, no reading of this text: the job reads it off its own)
    if "form" in raw:
        form = raw["form"]
        if form not in FORMS:
            raise invalid("form", f"must be one of {', '.join(FORMS)}, not {form!r}")
    elif read is not None:
        form = default_form(a.kind for a in read.summaries)
    in_child = child.wanted(options.length)  # (a child reads the piece itself)
    engine = server.engine_for(view.uri)
    model = await model_or_error(server, view.uri)
    reading = None if in_child else read  # (the reading's settings are no small pickle)
    made = await long_work(
        server,
        engine,
        model,
        options.length,
        jobs.melody_block,
        view,
        position,
        options,
        form,
        preview,
        reading,
    )
    block, where, form = made.block, made.where, made.form
    asked = None if made.moved else position
    offset, new_text = block_insertion(view, asked, block.text, where.offset)
    about = {
        "form": form,
        "voice": block.voice,
        "notes": made.notes,
        "key": None if block.tonic is None else tonic_name(block.tonic),
        "scale": block.scale,
        "keyText": block.key_text,
        "bpm": block.bpm,
        "where": where.why,
        **lines_of(view, offset, new_text),
    }
    if preview:
        reading = server.latest_reading(view.uri) or await server.engine_for(view.uri).run(
            lambda: Reading(view.version, view.arrays(), infer_style(view.text))
        )
        roll = block_roll(block.events, reading, block.voice)
        return {"preview": True, "text": block.text, **render_roll(roll), **about}
    result = await apply(
        server, view, [text_edit(view, offset, offset, new_text)], "Generate melody"
    )
    return {"applied": result.applied, "failureReason": result.failure_reason, **about}


# -- continueMelody ----------------------------------------------------------------------------


def own_reading(server: Host, view: DocumentView) -> Reading | None:
    """The server's whole reading of ``view``'s very text, if it has one (else ``None``)."""
    reading = server.latest_reading(view.uri)
    if reading is None or reading.version != view.version or reading.text is None:
        return None
    return reading if reading.text is view.text or reading.text == view.text else None


def not_placed(position: tuple[int, int]) -> JsonRpcInvalidParams:
    line, character = position
    return invalid(
        "position",
        f"line {line}, character {character} is not inside a note array or play/sleep lines",
    )


async def continue_melody(server: Host, *args: Any) -> dict[str, Any]:
    raw = single_object(args)
    view = document_arg(server, raw)
    position = position_arg(raw, required=True)
    assert position is not None
    preview = preview_arg(raw)
    s = server.settings
    defaults = GenerateOptions(
        length=s.phraseLength, temperature=s.temperature, top_k=s.topK, top_p=s.topP
    )
    try:
        count = raw.get("count", s.phraseLength)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LENGTH:
            raise ArgumentError(
                "count", f"must be an integer from 1 to {MAX_LENGTH}, not {count!r}"
            )
        given = {k: v for k, v in raw.items() if k != "preview"}
        options = parse_generate_options({**given, "length": count, "seed_notes": None}, defaults)
    except ArgumentError as exc:
        raise invalid(exc.name, exc.why) from None
    engine = server.engine_for(view.uri)
    model = await model_or_error(server, view.uri)
    # A child process reads the context itself (a fresh cache); the server's own is warm.
    apart = child.wanted(count)
    if apart and await asyncio.to_thread(jobs.continued, view, position) is None:
        raise not_placed(position)  # known before a child is started (~2 s), not after
    # (a child reads the piece itself: the reading's settings are no small pickle)
    cache, reading = (None, None) if apart else (engine.cache, own_reading(server, view))
    result = await long_work(
        server,
        engine,
        model,
        count,
        jobs.continuation,
        view,
        position,
        options,
        count,
        s.maxContext,
        cache,
        preview,
        reading,
    )
    if result is None:
        raise not_placed(position)
    if preview:
        events = [*result.own, *result.events]
        beats = sum(ev.duration or 1.0 for ev in events)
        roll = Roll(
            focus=events,
            title=f"{result.name} · {len(result.own)} + {len(result.events)} new notes "
            f"(green) · {beats:g} beats",
            added_from=len(result.own),
        )
        text = ", ".join(t for _a, _b, t in result.edits[:1]).lstrip(", ")
        return {"preview": True, "text": text, "notes": result.notes, **render_roll(roll)}
    edits = [text_edit(view, a, b, t) for a, b, t in result.edits]
    applied = await apply(server, view, edits, "Continue melody")
    return {
        "applied": applied.applied,
        "failureReason": applied.failure_reason,
        "notes": result.notes,
    }
