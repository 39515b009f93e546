"""Play in Sonic Pi from the editor: ``notegen.playInSonicPi``, ``notegen.stopSonicPi`` and the
"Play in Sonic Pi" code actions.

``playInSonicPi`` takes ONE object: ``{uri, position}`` (the note array under the cursor, with
its durations and bpm), ``{uri, range}`` (lines of the document as written, e.g. a generated
block), ``{uri, position, voice: true}`` (the voice under the cursor: its own arrays and the
loop that plays them, nothing between), ``{code}`` (code to run as is) or ``{notes,
durations, bpm}`` (a completion phrase before it is accepted). It returns as soon as the code
is sent: ``{played, seconds, listening, endpoint}``; the editor may show "playing" for
``seconds``. Sonic Pi's errors arrive later
and come back as a diagnostic on the document line they belong to (an invalid note: on the
note; source "Sonic Pi") and a ``window/showMessage``. No Sonic Pi, or one that cannot be
reached: ``{played: false, message}`` plus a warning saying exactly why. A cached connection
that stops answering (Sonic Pi restarted, with new ports and token) is rediscovered once.
Everything that touches the network runs off the event loop, so a slow or missing Sonic Pi
never delays completions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types

from notegen.playback.snippets import (
    Snippet,
    array_snippet,
    block_snippet,
    phrase_snippet,
    voice_snippet,
)
from notegen.playback.sonic_pi_client import Report, SentCode, SonicPiClient, SonicPiError
from notegen.sonicpi.types import Span

from . import play_lines
from .commands import document_arg, invalid, position_field
from .documents import DocumentView

log = logging.getLogger(__name__)

PLAY = "notegen.playInSonicPi"
STOP = "notegen.stopSonicPi"
SOURCE = "Sonic Pi"
KIND_PLAY = types.CodeActionKind.Empty + "notegen.play"
_FOLLOW_MARGIN_S = 4.0  # Sonic Pi reports "Completed" about 2 s after the music (3.2.2)


@dataclass
class PlayState:
    """One Sonic Pi connection per server, and the errors it reported per document."""

    client: SonicPiClient | None = None
    key: tuple[Any, ...] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    following: threading.Lock = field(default_factory=threading.Lock)
    diagnostics: dict[str, list[types.Diagnostic]] = field(default_factory=dict)
    discovery: dict[str, Any] = field(default_factory=dict)
    """Extra :func:`~notegen.playback.sonic_pi_client.discover` arguments (``log_dir``,
    ``processes``)."""

    def connect(
        self, host: str, port: int | None, token: int | None, reply_port: int | None = None
    ) -> SonicPiClient:
        """The cached client, or a new one (discovery confirms it with ``/ping``)."""
        key = (host, port, token, reply_port)
        with self.lock:
            if self.client is not None and self.key == key:
                return self.client
            if self.client is not None:
                self.client.close()
                self.client = None
            self.client = SonicPiClient.connect(
                host, port, token, reply_port=reply_port, **self.discovery
            )
            self.key = key
            return self.client

    def forget(self) -> None:
        with self.lock:
            if self.client is not None:
                self.client.close()
            self.client = None


def _state(server: Any) -> PlayState:
    state = getattr(server, "_notegen_play", None)
    if state is None:
        state = PlayState()
        server._notegen_play = state
    return state


def extra_diagnostics(server: Any, uri: str) -> list[types.Diagnostic]:
    """Sonic Pi's errors for ``uri`` from the last play, for the server's own publisher."""
    return list(_state(server).diagnostics.get(uri, []))


# -- what to play -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    snippet: Snippet
    view: DocumentView | None
    label: str


def resolve_target(server: Any, args: dict[str, Any]) -> Target:
    """Turn the command's argument object into a snippet (raises InvalidParams saying why)."""
    if "code" in args:
        code = args["code"]
        if not isinstance(code, str) or not code.strip():
            raise invalid("code", "must be non-empty Sonic Pi code")
        seconds = args.get("seconds", 8.0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise invalid("seconds", f"must be a number ≥ 0, not {seconds!r}")
        lines = code.count("\n") + 1
        return Target(Snippet(code, (None,) * lines, float(seconds), 60.0), None, "code")
    if "notes" in args:
        notes, durations, bpm = args["notes"], args.get("durations"), args.get("bpm")
        if not isinstance(notes, list):
            raise invalid("notes", f"must be a list of notes, not {notes!r}")
        if durations is not None and not isinstance(durations, list):
            raise invalid("durations", f"must be a list of beats, not {durations!r}")
        if bpm is not None and (
            isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not 0 < bpm <= 1000
        ):
            raise invalid("bpm", f"must be a number in (0, 1000], not {bpm!r}")
        try:
            snippet = phrase_snippet(notes, durations, bpm=bpm)
        except ValueError as exc:
            raise invalid("notes", str(exc)) from exc
        return Target(snippet, None, "phrase")
    view = document_arg(server, args)
    if "range" in args:
        value = args["range"]
        if not isinstance(value, dict):
            raise invalid("range", f"must be {{start, end}}, not {value!r}")
        start = view.offset_at(*position_field(value, "start"))
        end = view.offset_at(*position_field(value, "end"))
        if end <= start:
            raise invalid("range", "is empty")
        try:
            snippet = block_snippet(view.text, Span(start, end), view.arrays())
        except ValueError as exc:
            raise invalid("range", str(exc)) from exc
        return Target(snippet, view, "selection")
    if "position" not in args:
        raise invalid("arguments", "give {uri, position}, {uri, range}, {code} or {notes}")
    where = position_field(args, "position")
    offset = view.offset_at(*where)
    array = view.array_at(offset)
    run = play_lines.run_at(view, *where) if array is None or array.kind == "play" else None
    if run is not None:  # play/sleep lines: the block under the cursor, once, as written
        snippet = play_lines.run_snippet(view.text, run, view.arrays())
        return Target(snippet, view, f"{run.block.kind} {run.name or ''}".strip())
    if array is None:
        raise invalid("position", "is not inside a note array")
    if args.get("voice") and array.voice is not None:
        try:
            snippet = voice_snippet(view.text, view.arrays(), array.voice)
        except ValueError as exc:
            raise invalid("position", str(exc)) from exc
        return Target(snippet, view, f"voice {array.voice}")
    try:
        snippet = array_snippet(array)
    except ValueError as exc:
        raise invalid("position", str(exc)) from exc
    return Target(snippet, view, "array")


# -- errors back into the editor -----------------------------------------------------------------


def error_diagnostics(target: Target, errors: list[Report]) -> list[types.Diagnostic]:
    """Sonic Pi's errors as diagnostics on the document text they came from (an invalid
    note: on the note, even when Sonic Pi reports the loop's ``play`` line)."""
    view = target.view
    if view is None:
        return []
    out = []
    for error in errors:
        span = target.snippet.locate(error.line, error.text)
        if span is None:
            continue
        sl, sc = view.position_at(span.start)
        el, ec = view.position_at(span.end)
        out.append(
            types.Diagnostic(
                range=types.Range(types.Position(sl, sc), types.Position(el, ec)),
                message=error.text,
                severity=types.DiagnosticSeverity.Error,
                source=SOURCE,
            )
        )
    return out


# -- the commands ------------------------------------------------------------------------------


Settings = tuple[str, int | None, int | None, int | None]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _settings(server: Any) -> Settings:
    """host, port, token and replyPort from ``notegen.sonicPi`` (token/replyPort: extras)."""
    sonic = getattr(getattr(server, "settings", None), "sonicPi", None)
    host = getattr(sonic, "host", "127.0.0.1") or "127.0.0.1"
    port = getattr(sonic, "port", None)
    extra = getattr(sonic, "extra", {}) or {}
    return host, port, _int_or_none(extra.get("token")), _int_or_none(extra.get("replyPort"))


def _show(server: Any, kind: types.MessageType, message: str) -> None:
    try:
        server.window_show_message(types.ShowMessageParams(type=kind, message=message))
    except Exception:  # a closed client must not break the command
        log.exception("could not show a message")


def _publish(server: Any, view: DocumentView, ours: list[types.Diagnostic]) -> None:
    state = _state(server)
    state.diagnostics[view.uri] = ours
    try:
        from .diagnostics import diagnose

        combined = diagnose(view) + ours
        hints = getattr(server, "slip_hints", None)  # keep the slip hints of this version
        if hints is not None:
            combined += hints.for_version(view.uri, view.version)
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=view.uri, version=view.version, diagnostics=combined)
        )
    except Exception:
        log.exception("could not publish Sonic Pi diagnostics")


async def play_in_sonic_pi(server: Any, *args: Any) -> dict[str, Any]:
    if len(args) != 1 or not isinstance(args[0], dict):
        raise invalid("arguments", f"expected one JSON object, got {len(args)} argument(s)")
    target = await asyncio.to_thread(resolve_target, server, args[0])
    state = _state(server)
    try:
        client = await asyncio.to_thread(state.connect, *_settings(server))
    except SonicPiError as exc:
        _show(server, types.MessageType.Warning, str(exc))
        return {"played": False, "message": str(exc)}
    if target.view is not None:
        _publish(server, target.view, [])  # clear the last play's errors
    following = state.following.acquire(blocking=False)
    try:
        if not following:  # a play is being followed: send this one without its errors
            sent = await asyncio.to_thread(client.run_code, target.snippet.code)
            listening = False
        else:
            client, listening = await asyncio.to_thread(_listen, state, client, _settings(server))
            await asyncio.to_thread(client.drain)
            sent = await asyncio.to_thread(client.run_code, target.snippet.code)
    except SonicPiError as exc:
        if following:
            state.following.release()
        state.forget()
        _show(server, types.MessageType.Warning, str(exc))
        return {"played": False, "message": str(exc)}
    if following and listening:
        asyncio.get_running_loop().create_task(_follow(server, client, target, sent))
    elif following:
        state.following.release()
    return {
        "played": True,
        "seconds": target.snippet.seconds,
        "listening": listening,
        "endpoint": client.endpoint.describe(),
    }


def _listen(
    state: PlayState,
    client: SonicPiClient,
    settings: tuple[str, int | None, int | None, int | None],
) -> tuple[SonicPiClient, bool]:
    """Hold the reply port and confirm with ``/ping``. A cached client whose Sonic Pi stopped
    answering (restarted: new ports, new token) is replaced by a fresh discovery, once."""
    try:
        return client, client.listen()
    except SonicPiError:
        state.forget()
    fresh = state.connect(*settings)
    return fresh, fresh.listen()


async def _follow(server: Any, client: SonicPiClient, target: Target, sent: SentCode) -> None:
    """Collect the run's errors off the loop, then hand the reply port back."""
    state = _state(server)
    try:
        errors = await asyncio.to_thread(_collect, client, sent, target.snippet.seconds)
    finally:
        await asyncio.to_thread(client.release)
        state.following.release()
    if not errors:
        return
    lines = []
    for error in errors:
        span = target.snippet.locate(error.line, error.text)
        where = ""
        if target.view is not None and span is not None:
            where = f"line {target.view.position_at(span.start)[0] + 1}: "
        lines.append(where + error.text.replace("\n", " — "))
    _show(server, types.MessageType.Error, f"Sonic Pi ({target.label}): " + "; ".join(lines))
    if target.view is not None:
        _publish(server, target.view, error_diagnostics(target, errors))


def _collect(client: SonicPiClient, sent: SentCode, seconds: float) -> list[Report]:
    return client.follow(sent, timeout=seconds + _FOLLOW_MARGIN_S).errors


async def stop_sonic_pi(server: Any, *args: Any) -> dict[str, Any]:
    """Stop everything Sonic Pi plays. Unless a play is being followed (its client is then
    known to answer), the cached client is confirmed first: a Stop sent with a restarted Sonic
    Pi's old token would be ignored without a word."""
    state = _state(server)
    settings = _settings(server)
    try:
        client = await asyncio.to_thread(state.connect, *settings)
        if state.following.acquire(blocking=False):
            try:
                client, listening = await asyncio.to_thread(_listen, state, client, settings)
                if listening:
                    await asyncio.to_thread(client.release)
            finally:
                state.following.release()
        await asyncio.to_thread(client.stop_all_jobs)
    except SonicPiError as exc:
        _show(server, types.MessageType.Warning, str(exc))
        return {"stopped": False, "message": str(exc)}
    return {"stopped": True}


def play_actions(view: DocumentView, range_: types.Range) -> list[types.CodeAction]:
    """ "Play in Sonic Pi" where it applies: the array at the cursor, its voice block, and a
    selection of several lines. For the server's code action handler to append."""
    out: list[types.CodeAction] = []
    where = {"line": range_.start.line, "character": range_.start.character}
    if view.arrays_ready:
        array = view.array_at(view.offset_at(range_.start.line, range_.start.character))
    else:  # never a whole-file read per keystroke just for a menu: the lines around will do
        local = view.local_context(range_.start.line, range_.start.character)
        array = local.array if local is not None else None
    if array is not None and array.notes:
        args = {"uri": view.uri, "position": where}
        out.append(
            types.CodeAction(
                title="Play in Sonic Pi",
                kind=KIND_PLAY,
                command=types.Command(title="Play in Sonic Pi", command=PLAY, arguments=[args]),
            )
        )
        if array.voice is not None:
            title = f"Play voice {array.voice} in Sonic Pi"
            out.append(
                types.CodeAction(
                    title=title,
                    kind=KIND_PLAY,
                    command=types.Command(
                        title=title, command=PLAY, arguments=[{**args, "voice": True}]
                    ),
                )
            )
    if range_.end.line > range_.start.line:
        args = {
            "uri": view.uri,
            "range": {
                "start": where,
                "end": {"line": range_.end.line, "character": range_.end.character},
            },
        }
        out.append(
            types.CodeAction(
                title="Play selection in Sonic Pi",
                kind=KIND_PLAY,
                command=types.Command(
                    title="Play selection in Sonic Pi", command=PLAY, arguments=[args]
                ),
            )
        )
    return out
