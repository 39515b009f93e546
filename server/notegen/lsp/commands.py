"""``notegen.generateMelody`` and ``notegen.continueMelody``: edits made by the model.

Both take ONE JSON object (see the README). Arguments are checked before anything runs; a bad
one is answered with JSON-RPC ``InvalidParams`` naming the argument and why, and nothing
changes. The text is computed against one document version, off the event loop, and sent with
``workspace/applyEdit`` naming that version; if the document changed meanwhile the result is
dropped (``ContentModified``) instead of being applied at a stale place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lsprotocol import types
from notegen.ensemble import piece_lines, setting_for
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
from notegen.sonicpi.piece import piece_bpm, piece_of
from notegen.sonicpi.placement import Placement, new_voice_placement
from notegen.sonicpi.reader import parse
from notegen.sonicpi.statement_writer import next_loop_name, render_live_loop
from notegen.sonicpi.types import LINE_BREAK, NoteArray
from pygls.exceptions import JsonRpcContentModified, JsonRpcException, JsonRpcInvalidParams

from . import play_lines
from .context import is_numeric_array
from .documents import DocumentView, Reading, voice_history
from .edits import client_supports_document_changes, text_edit, workspace_edit
from .engine import Job
from .host import Host
from .picture import block_roll, render_roll
from .spelling import spell_note

GENERATE = "notegen.generateMelody"
FORMS = ("voice", "live_loop")
"""generateMelody's ``form``: ``aN``/``bN`` arrays and their loop, or play/sleep lines."""
CONTINUE = "notegen.continueMelody"


def default_form(arrays: Sequence[NoteArray]) -> str:
    """The form a new melody takes when none is asked for: the document's own. A file whose
    melodies are play/sleep lines (and no ``aN`` voice) gets a ``live_loop``, so every
    editor's Generate command writes in a live coder's style without asking."""
    kinds = {a.kind for a in arrays}
    return "live_loop" if "play" in kinds and "voice" not in kinds else "voice"


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
    body = new_text.lstrip("\r\n")
    skipped = len(LINE_BREAK.findall(new_text[: len(new_text) - len(body)]))
    return {
        "startLine": line + skipped,
        "endLine": line + len(LINE_BREAK.findall(new_text.rstrip("\r\n"))),
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


def newline_of(text: str) -> str:
    """The document's line ending (``\\r\\n``, a lone ``\\r`` or ``\\n``), for text we add."""
    if "\r\n" in text:
        return "\r\n"
    if "\r" in text and "\n" not in text:
        return "\r"
    return "\n"


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
    form = raw.get("form", default_form(view.arrays()))
    if form not in FORMS:
        raise invalid("form", f"must be one of {', '.join(FORMS)}, not {form!r}")
    job = Job(await model_or_error(server, view.uri))  # stops when the request is cancelled
    model = job.model
    latest = server.latest_reading(view.uri)

    def compute() -> tuple[Block, Placement]:
        # The piece: its voices' key, tempo (cN, else the use_bpm where they play, else the one
        # in force where the block goes), spelling, form and the register they leave free.
        doc = parse(view.text)
        piece = piece_of(doc, view.arrays())
        if position is not None:
            line = min(position[0], view.line_count - 1)
            where = Placement(view.starts[line], f"at line {line + 1}, where it was asked for")
            near = view.array_at(view.offset_at(*position))
            register = piece.new_voice_register(near.voice if near is not None else None)
        else:
            where = new_voice_placement(doc)
            register = piece.new_voice_register()
        voices = [ev for v in piece.voices for ev in v.melody()]
        bpm = piece_bpm(doc, piece, where.offset)
        setting = setting_for(piece_lines(piece), None)
        block = generate_block(
            model,
            options,
            voice=next_free_voice(view.text),
            document_events=voices or [ev for a in piece.arrays for ev in a.events()],
            document_bpm=bpm,
            style=piece.style,
            form=piece.form,
            register=register,
            setting=setting,
        )
        if form == "live_loop":  # the same melody as play/sleep lines in a live_loop
            loop = render_live_loop(
                next_loop_name(view.text),
                block.events,
                options.bpm or bpm,
                piece.style,
                default_duration=model.default_duration,
            )
            block = replace(block, text=loop)
        return block, where

    block, where = await server.engine_for(view.uri).run_long(job, compute)
    offset, new_text = block_insertion(view, position, block.text, where.offset)
    about = {
        "form": form,
        "voice": block.voice,
        "notes": len(block.events),
        "key": None if block.tonic is None else tonic_name(block.tonic),
        "scale": block.scale,
        "keyText": block.key_text,
        "bpm": block.bpm,
        "where": where.why,
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
    sep = style.joiner(", ")
    if array.notes:
        at = array.notes[-1].span.end
        note_text = sep + sep.join(notes)
    else:
        at = array.content_start
        note_text = sep.join(notes)
    out = [(at, at, note_text)]
    durations = array.durations
    if durations is not None and not durations.scalar:
        beats = [format_duration(ev.duration or 1.0, style.whole_float) for ev in events]
        if durations.values:
            d_at = durations.values[-1].span.end
            out.append((d_at, d_at, sep + sep.join(beats)))
        elif durations.open is not None:
            d_at = durations.open + 1
            out.append((d_at, d_at, sep.join(beats)))
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
    job = Job(await model_or_error(server, view.uri))  # stops when the request is cancelled
    model = job.model
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
            setting = setting_for(piece_lines(piece_of(view.text, arrays)), array.voice)
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

    result = await server.engine_for(view.uri).run_long(job, compute)
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
