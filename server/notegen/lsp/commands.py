"""``notegen.generateMelody`` and ``notegen.continueMelody``: edits made by the model.

Both take ONE JSON object (see the README). Arguments are checked before anything runs; a bad
one is answered with JSON-RPC ``InvalidParams`` naming the argument and why, and nothing
changes. The text is computed against one document version, off the event loop, and sent with
``workspace/applyEdit`` naming that version; if the document changed meanwhile the result is
dropped (``ContentModified``) instead of being applied at a stale place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lsprotocol import types
from notegen.ensemble import setting_for, voice_lines
from notegen.generate import (
    MAX_LENGTH,
    ArgumentError,
    Block,
    GenerateOptions,
    generate,
    generate_block,
    parse_generate_options,
)
from notegen.melody import Event
from notegen.notes import infer_style
from notegen.pianoroll import Roll
from notegen.sampling import tonic_name
from notegen.sonicpi import format_duration, next_free_voice
from notegen.sonicpi.statement_writer import next_loop_name, render_live_loop
from notegen.sonicpi.types import NoteArray
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams

from . import play_lines
from .context import is_numeric_array
from .documents import DocumentView, Reading, voice_history
from .edits import client_supports_document_changes, text_edit, workspace_edit
from .host import Host
from .picture import block_roll, render_roll
from .spelling import spell_note

GENERATE = "notegen.generateMelody"
FORMS = ("voice", "live_loop")
"""generateMelody's ``form``: ``aN``/``bN`` arrays and their loop, or play/sleep lines."""
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
    skipped = len(new_text) - len(new_text.lstrip("\n"))
    return {"startLine": line + skipped, "endLine": line + new_text.rstrip("\n").count("\n")}


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
    return view


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
    if server.current_version(view.uri) != view.version:
        raise JsonRpcContentModified(
            message=f"{view.uri} changed while {label.lower()} was computed; nothing was changed"
        )
    edit = workspace_edit(
        view, edits, client_supports_document_changes(server.client_capabilities_or_none())
    )
    return await server.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=edit, label=label)
    )


# -- generateMelody ----------------------------------------------------------------------------


def block_insertion(view: DocumentView, position: tuple[int, int] | None, block: str):
    """Where and what to insert: the block on its own lines at (or after) the position line."""
    text = view.text
    if position is None or position[0] >= view.line_count:
        offset = len(text)
    else:
        line, character = position
        offset = view.starts[line] if character == 0 else view.offset_at(line + 1, 0)
        if character and line + 1 >= view.line_count:
            offset = len(text)
    if not text[:offset].strip():
        offset = 0  # only blank lines above (an empty buffer is "\n" in Neovim): start the file
    body = block.rstrip("\n") + "\n"
    prefix = ""
    if offset > 0 and text[offset - 1] != "\n":
        prefix = "\n"
    if offset > 0 and text[:offset].rstrip(" \t") and not text[:offset].endswith("\n\n"):
        prefix += "\n"  # a blank line between the block and the code above
    if offset < len(text) and text[offset : offset + 1] != "\n":
        body += "\n"
    return offset, prefix + body


def _document_events(arrays: list[NoteArray]) -> list[Event]:
    events: list[Event] = []
    for array in arrays:
        events.extend(array.events())
    return events


def _document_bpm(arrays: list[NoteArray]) -> float | None:
    for array in arrays:
        if array.bpm is not None and array.bpm > 0:
            return array.bpm
    return None


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
    form = raw.get("form", "voice")
    if form not in FORMS:
        raise invalid("form", f"must be one of {', '.join(FORMS)}, not {form!r}")
    model = await model_or_error(server, view.uri)
    latest = server.latest_reading(view.uri)

    def compute() -> Block:
        if latest is not None:
            events, bpm = latest.document_events(), latest.document_bpm()
            setting = latest.setting(None)
        else:
            arrays = view.arrays()
            events, bpm = _document_events(arrays), _document_bpm(arrays)
            setting = setting_for(voice_lines(arrays, bpm), None)
        style = latest.style if latest is not None else infer_style(view.text)
        block = generate_block(
            model,
            options,
            voice=next_free_voice(view.text),
            document_events=events,
            document_bpm=bpm,
            style=style,
            setting=setting,
        )
        if form == "live_loop":  # the same melody as play/sleep lines in a live_loop
            loop = render_live_loop(
                next_loop_name(view.text),
                block.events,
                options.bpm or bpm or 60.0,
                style,
                default_duration=model.default_duration,
            )
            block = replace(block, text=loop)
        return block

    block = await server.engine_for(view.uri).run(compute)
    offset, new_text = block_insertion(view, position, block.text)
    about = {
        "form": form,
        "voice": block.voice,
        "notes": len(block.events),
        "key": None if block.tonic is None else tonic_name(block.tonic),
        "scale": block.scale,
        **lines_of(view, offset, new_text),
    }
    if preview:
        reading = latest or await server.engine_for(view.uri).run(
            lambda: Reading(view.version, view.arrays(), infer_style(view.text))
        )
        roll = block_roll(block.events, reading, block.voice)
        return {"preview": True, "text": block.text, **render_roll(roll), **about}
    result = await apply(
        server, view, [text_edit(view, offset, offset, new_text)], "Generate melody"
    )
    return {"applied": result.applied, "failureReason": result.failure_reason, **about}


# -- continueMelody ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Continuation:
    edits: list[tuple[int, int, str]]
    events: list[Event]
    own: list[Event]
    name: str


def continuation_edits(
    view: DocumentView, array: NoteArray, events: list[Event], style, numeric: bool
) -> list[tuple[int, int, str]]:
    """Insertions after the array's last element and after its durations' last value."""
    notes = [spell_note(ev.pitch, style, numeric) for ev in events]
    if array.notes:
        at = array.notes[-1].span.end
        note_text = ", " + ", ".join(notes)
    else:
        at = array.content_start
        note_text = ", ".join(notes)
    out = [(at, at, note_text)]
    durations = array.durations
    if durations is not None and not durations.scalar:
        beats = [format_duration(ev.duration or 1.0) for ev in events]
        if durations.values:
            d_at = durations.values[-1].span.end
            out.append((d_at, d_at, ", " + ", ".join(beats)))
        elif durations.open is not None:
            d_at = durations.open + 1
            out.append((d_at, d_at, ", ".join(beats)))
    return out


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
    model = await model_or_error(server, view.uri)
    cache = server.engine_for(view.uri).cache

    def compute() -> Continuation | None:
        offset = view.offset_at(*position)
        run = play_lines.run_at(view, *position)
        if run is not None:  # play/sleep lines: new lines after the run
            arrays = view.arrays()
            made = play_lines.shifted_generate(
                model,
                play_lines.continue_history(arrays, run),
                count,
                temperature=options.temperature,
                top_k=options.top_k,
                top_p=options.top_p,
                seed=options.seed,
                max_context=s.maxContext,
                cache=cache,
            )
            numeric = is_numeric_array(run.notes)
            at, new_text = play_lines.continuation_lines(
                view.text, run, made, infer_style(view.text), numeric
            )
            return Continuation([(at, at, new_text)], made, run.events(), run.name or "play")
        array = view.array_at(offset)
        if array is None:
            return None
        arrays = view.arrays()
        own = array.events()
        history = voice_history(arrays, array, own)
        setting = None
        if array.kind == "voice" and array.voice is not None:
            setting = setting_for(voice_lines(arrays, _document_bpm(arrays)), array.voice)
        made = generate(
            model,
            history,
            count,
            temperature=options.temperature,
            top_k=options.top_k,
            top_p=options.top_p,
            seed=options.seed,
            max_context=s.maxContext,
            cache=cache,
            setting=setting,
        )
        numeric = sum(t.text.strip()[:1].isdigit() for t in array.notes) * 2 > len(array.notes)
        style = infer_style(view.text)
        name = array.name or (f"a{array.voice}[{array.section}]" if array.voice else "notes")
        edits = continuation_edits(view, array, made, style, numeric)
        return Continuation(edits, made, own, name)

    result = await server.engine_for(view.uri).run(compute)
    if result is None:
        line, character = position
        raise invalid(
            "position",
            f"line {line}, character {character} is not inside a note array or play/sleep lines",
        )
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
        return {"preview": True, "text": text, "notes": len(result.events), **render_roll(roll)}
    edits = [text_edit(view, a, b, t) for a, b, t in result.edits]
    applied = await apply(server, view, edits, "Continue melody")
    return {
        "applied": applied.applied,
        "failureReason": applied.failure_reason,
        "notes": len(result.events),
    }
