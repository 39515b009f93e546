"""JSON-RPC as a hostile client may speak it: every request is answered, nothing is kept.

pygls 2.1's :class:`LanguageServerProtocol` trusts its peer. This subclass, which the server
hands every message body the transport cuts out (:mod:`notegen.lsp.transport`), changes that:

* a body that is not JSON (or not UTF-8) gets ``ParseError`` (-32700); one that is not a
  JSON-RPC 2.0 message object gets ``InvalidRequest`` (-32600), with its id when it has one;
* params that do not fit the method's type get ``InvalidParams`` (-32602) naming the field
  (pygls logged these and never answered);
* the lifecycle is enforced: ``ServerNotInitialized`` (-32002) before ``initialize``, a second
  ``initialize`` refused, ``InvalidRequest`` after ``shutdown`` (pygls dropped these silently);
  notifications are dropped then, except ``exit``, whose exit code (0 after ``shutdown``,
  else 1) is kept for the process (pygls' ``sys.exit`` in a handler was swallowed: always 0);
* no future outlives its message: pygls keeps the future of every notification handled by a
  built-in generator handler (``didOpen``/``didChange``/``didClose``...) in
  ``_request_futures`` under a fresh uuid and never removes it — one Future + uuid per edit,
  for the life of the process (upstream, pygls 2.1.1 ``JsonRPCProtocol._execute_handler``);
* ``$/cancelRequest`` reaches the work: for a request served by a generator handler
  (``workspace/executeCommand``) pygls cancelled only the outer future, so the reply was
  dropped but the command kept running; the running step is now cancelled too;
* a response from the client settles only a request the server sent: pygls looks responses
  up in the same table as the client's own requests in flight, so a "response" carrying the
  id of a request being served was taken for its answer (``set_result`` on that request's
  task raised, and the connection died: upstream, pygls 2.1.1
  ``JsonRPCProtocol._handle_response``). Such a message is now logged and dropped; a
  message with a method is a request or notification whatever else it carries, and
  ``$/cancelRequest`` cancels only the client's own requests (pygls cancelled our
  ``workspace/applyEdit`` too, and the command awaiting it was never answered);
* what is read is bounded: a message of more than :data:`MAX_VALUES` JSON values is refused
  before it is parsed (60 MB of ``[],`` became 1.5 GB of lists); integers too long for
  Python and nesting too deep for its parser still get an answer with the request's id;
* what is written is JSON: ``NaN`` and infinities (a client's ``1e400`` comes back in some
  answers) are written as ``null``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextvars
import inspect
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Callable, Generator
from concurrent.futures import CancelledError, Future
from functools import partial
from typing import Any
from urllib.parse import unquote

import attrs
import orjson
from cattrs import transform_error
from cattrs.cols import is_mutable_sequence, is_sequence
from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcMethodNotFound,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.protocol.language_server import lsp_method

from notegen.sonicpi.commas import remember_splice
from notegen.sonicpi.types import (
    edited_starts,
    line_end,
    line_starts,
    moved_starts,
    remember_line_starts,
)

from .documents import remember_plain_splice, utf16_to_index
from .text_changes import MANY_CHANGES, apply_changes, incremental

log = logging.getLogger(__name__)

MAX_ERROR_DETAIL = 300
"""Characters of a peer's bad value quoted back in an error message (the rest is cut)."""
CLIENT_REPLY_TIMEOUT_S = 30.0
"""How long a request to the client (``workspace/applyEdit``, ``workspace/configuration``) is
waited for. A client that never answered left the command that asked (Generate melody...)
unanswered for good."""


class ClientDidNotAnswer(JsonRpcException):
    """The client did not answer one of our requests in time (LSP ``RequestFailed``)."""

    CODE = -32803


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_DETAIL else text[:MAX_ERROR_DETAIL] + "…"


MAX_VALUES = 2_000_000
"""The most JSON values (outside strings) one message may hold. Parsed, each costs up to
~60 bytes (an empty list): 60 MB of ``[],`` became 1.5 GB in the server, held afterwards. A
document's text is one string, however long (5 MB of ``:C4,`` has 1.25 million commas in
it); LSP's biggest structured messages (a code action's diagnostics, say) hold thousands."""
COUNT_VALUES_FROM = MAX_VALUES
"""Bodies from this size (bytes) up have their JSON values counted before they are parsed
(a smaller one cannot hold more values than it has bytes)."""
_STRING = re.compile(rb'"[^"]*"')
_STRUCTURE = b",[{"


def _values(body: bytes | bytearray | memoryview) -> int:
    """About how many JSON values ``body`` holds outside strings: its commas and opening
    brackets, once every string is emptied. Counted by numpy a chunk at a time
    (:func:`_structure_count`); the strings are emptied only when the count with them is
    over :data:`MAX_VALUES` (~15 ms more for 5 MB; a regex that read escapes as it went took
    0.8 s)."""
    values = _structure_count(body)
    if values <= MAX_VALUES:
        return values
    if isinstance(body, memoryview):
        body = body.tobytes()
    plain = body.replace(b"\\\\", b"").replace(b'\\"', b"")  # no escaped quote is left
    bare = _STRING.sub(b'""', plain)
    return _structure_count(bare)


_COUNT_CHUNK = 1 << 18


def _structure_count(body: bytes | bytearray | memoryview) -> int:
    """How many of ``body``'s bytes are ``,``, ``[`` or ``{``, strings included.

    Three comparisons a chunk of :data:`_COUNT_CHUNK` bytes, on a view of the body: the
    5.2 MB opening of the 4.8 MB ``play`` document counted in ~1.2 ms, where a
    ``bytes.translate`` deleting them took ~4 ms, and its 5 MB copy ~1,270 page faults more in
    a heap trimmed while idle (``bytes.count`` three times: ~7 ms). Measured on the
    development VM."""
    import numpy as np

    data = np.frombuffer(body, np.uint8)
    found = 0
    for at in range(0, len(data), _COUNT_CHUNK):
        chunk = data[at : at + _COUNT_CHUNK]
        for byte in _STRUCTURE:
            found += int(np.count_nonzero(chunk == byte))
    return found


def _what(method: Any) -> str:
    """What was not valid: a method's params, or (no method) an answer to our request."""
    return f"{_short(str(method))}: invalid params" if method is not None else "not valid"


def _parse_int(digits: str) -> int | float:
    """A JSON integer; one longer than Python converts (4,300 digits, a guard against
    quadratic time) becomes a float (infinite when too large): the message is still read,
    and the request answered with its id instead of a parse error without one."""
    return int(digits) if len(digits) <= 4000 else float(digits)


FAST_JSON_FROM = 32 * 1024
"""Bodies from this size up (a document's text: ``didOpen``, a whole-document ``didChange``)
are read by orjson first (:func:`_fast_json`)."""
FAST_JSON_VALUES = 10_000
"""Values :func:`_fast_json` looks through for a float of an integer's size before it leaves
the body to ``json`` instead: a document's messages hold a few dozen; a 1.2 MB body of
600,000 numbers took 127-198 ms to read and look through, where ``json.loads`` read it in
69-85 ms (now 9-16 ms more than that; measured)."""
_UNREAD = object()
_INT64_MAGNITUDE = float(2**63)


def _fast_json(body: bytes | bytearray | memoryview) -> Any:
    """``body``'s JSON value read by orjson, which reads it just as Python's ``json`` with
    :func:`_parse_int` does; :data:`_UNREAD` where it reads it otherwise or not at all (then
    ``json`` reads it, or answers why not).

    The 800 kB ``didOpen`` of the 200,000-note document: 1.5 ms after an idle trim, where
    decoding it and ``json.loads`` took 2.6-2.9 ms (0.5-1.0 against 2.3-2.4 with the heap
    warm; measured), ahead of that document's first completion. orjson refuses what ``json``
    reads otherwise (``NaN``, ``1e400``, lone surrogates, deep nesting) and reads integers
    beyond 64 bits as floats: a float of that size sends the body to ``json`` as well."""
    try:
        value = orjson.loads(body)
    except (orjson.JSONDecodeError, RecursionError):
        return _UNREAD
    stack, budget = [value], FAST_JSON_VALUES
    while stack:
        budget -= 1
        if budget < 0:
            return _UNREAD  # (values by the thousand: json reads them as quickly)
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and abs(item) >= _INT64_MAGNITUDE:
            return _UNREAD  # (perhaps an integer orjson could not hold)
    return value


_ID_VALUE = r'(-?[0-9]{1,15}(?![0-9.eE])|"(?:[^"\\]|\\.){0,200}")'
"""A JSON-RPC id as written: an integer, or a string of at most 200 characters."""
_ID_MEMBER = re.compile(r'"id"\s*:\s*' + _ID_VALUE)


def _id_in(text: str) -> int | str | None:
    """The id of a message Python's parser cannot read, when exactly one ``"id"`` member is
    written in it (else ``None``: JSON-RPC's null id)."""
    found = _ID_MEMBER.findall(text)
    if len(found) != 1:
        return None
    value = json.loads(found[0])
    return value if _valid_id(value) else None


_LEADING_ID = re.compile(
    r'[ \t\r\n]*\{(?:[ \t\r\n]*"[A-Za-z]{1,20}"[ \t\r\n]*:[ \t\r\n]*'
    r'(?:"[^"\\]{0,200}"|-?[0-9]{1,15})[ \t\r\n]*,){0,4}'
    r'[ \t\r\n]*"id"[ \t\r\n]*:[ \t\r\n]*' + _ID_VALUE
)


def leading_id(head: bytes) -> int | str | None:
    """The id of a message that was not read, from its first bytes: only an ``"id"`` among the
    first members of its top-level object, after members with short plain values
    (``"jsonrpc"``, ``"method"``), as editors write them; else ``None`` (JSON-RPC's null id).
    A frame over the size limit, or with a broken header, is dropped unread, and its request
    was never answered with its own id."""
    found = _LEADING_ID.match(head.decode("utf-8", "replace"))
    if found is None:
        return None
    try:
        value = json.loads(found[1])
    except ValueError:
        return None
    return value if _valid_id(value) else None


def _valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


class Prepared:
    """A request's result already written as JSON text, on the thread that computed it.

    pygls turns a result into JSON on the event loop when it sends it; for a completion list
    (14 items with edits and documentation) that cost ~0.4 ms there, measured in the server:
    the loop thread had slept through the request and met the work with cold caches, where
    the inference thread that built the items does it in ~0.1 ms."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class NotegenProtocol(LanguageServerProtocol):
    """pygls' LSP protocol, answering every request and keeping nothing per message.

    Messages are checked here (envelope, kind, ``initialize`` and ``shutdown`` state) and go
    straight to pygls' handlers, each in its own context as pygls' ``handle_message`` runs
    them: that one tells their kind again by ``isinstance`` against typing Protocols, ~13 µs
    a check (two for every ``didChange``, measured)."""

    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.converter = converter
        """The cattrs converter pygls serialises messages with (see :meth:`prepare`)."""
        as_bool = converter.get_structure_hook(bool)
        converter.register_structure_hook(int, _strict_int)  # (int's subclasses too: below)
        converter.register_structure_hook(bool, as_bool)  # a subclass of int: kept as it was
        converter.register_structure_hook(str, _strict_str)  # (str's subclasses too)
        converter.register_structure_hook_factory(is_sequence, _arrays_only)
        self._writes: set[asyncio.Future[Any]] = set()
        self.initialize_seen = False
        self.exit_code: int | None = None
        """Set by ``exit``: 0 after ``shutdown``, 1 without (the LSP specification's rule)."""
        self.exited: asyncio.Event | None = None
        """Set when ``exit`` arrives; the transport then ends the session."""
        self.last_message = time.monotonic()
        """When the client last sent a message (``time.monotonic``): quiet since then."""
        self.on_message: Callable[[], None] | None = None
        """Called (on the event loop) as each message arrives, before it is read: the
        server's work for when the client falls quiet again (its heap trimmed)."""
        self._outgoing: dict[Any, tuple[Future[Any], str]] = {}
        """Our requests to the client awaiting its answer, by id: their futures and methods
        (see :meth:`send_request`)."""

    # -- bodies in ------------------------------------------------------------------------------

    def receive_body(self, body: bytes | bytearray | memoryview) -> None:
        """One message body as the transport cut it out (a view of what was read, for a big
        one read whole): parse, check, dispatch or answer."""
        self.last_message = time.monotonic()
        if self.on_message is not None:
            self.on_message()
        if len(body) > COUNT_VALUES_FROM and (values := _values(body)) > MAX_VALUES:
            why = f"a message of {values:,} JSON values is refused (at most {MAX_VALUES:,})"
            head = str(body[:4096], "utf-8", "replace")
            self.send_error(_id_in(head), JsonRpcInvalidRequest(why))
            return
        bad_utf8 = False
        if body[: len(codecs.BOM_UTF8)] == codecs.BOM_UTF8:  # (JSON may have one: RFC 8259, 8.1)
            body = body[len(codecs.BOM_UTF8) :]
        if len(body) >= FAST_JSON_FROM and (value := _fast_json(body)) is not _UNREAD:
            self.receive(value)
            return
        try:
            text = str(body, "utf-8")
        except UnicodeDecodeError:
            bad_utf8 = True
            text = str(body, "utf-8", "replace")  # still find the id to answer
        try:
            data = json.loads(text, parse_int=_parse_int)
        except RecursionError:  # JSON, but nested deeper than Python parses: answer its id
            error = JsonRpcParseError("Parse error: the message is nested too deep to read")
            self.send_error(_id_in(text), error)
            return
        except ValueError as exc:
            self.send_error(None, JsonRpcParseError(f"Parse error: not JSON ({_short(str(exc))})"))
            return
        if bad_utf8:
            msg_id = data.get("id") if isinstance(data, dict) else None
            error = JsonRpcParseError("Parse error: the message is not valid UTF-8")
            self.send_error(msg_id if _valid_id(msg_id) else None, error)
            return
        self.receive(data)

    def receive(self, data: Any) -> None:
        """A parsed JSON value: check the JSON-RPC envelope, then dispatch by kind."""
        if not isinstance(data, dict):
            what = "a batch (LSP has none)" if isinstance(data, list) else type(data).__name__
            self.send_error(None, JsonRpcInvalidRequest(f"expected a JSON-RPC object, got {what}"))
            return
        has_id, msg_id, method = "id" in data, data.get("id"), data.get("method")
        if has_id and not _valid_id(msg_id):
            if msg_id is None and "error" in data and "method" not in data:
                log.warning("error from the client without an id: %s", _short(str(data)))
                return
            self.send_error(None, JsonRpcInvalidRequest("id must be an integer or a string"))
            return
        reply_id = msg_id if has_id and "method" in data else None
        if data.get("jsonrpc") != "2.0":
            why = f'"jsonrpc" must be "2.0", not {_short(repr(data.get("jsonrpc")))}'
            self._refuse(reply_id, method, JsonRpcInvalidRequest(why))
            return
        if "method" in data and not isinstance(method, str):
            self._refuse(reply_id, None, JsonRpcInvalidRequest("method must be a string"))
            return
        if "method" not in data:
            if not has_id:
                self.send_error(None, JsonRpcInvalidRequest("neither a request nor a response"))
                return
            self._receive_response(data)
        elif has_id:
            self._receive_request(msg_id, str(method), data)
        else:
            self._receive_notification(str(method), data)

    def _refuse(self, msg_id: Any, method: Any, error: JsonRpcException) -> None:
        if msg_id is not None:
            self.send_error(msg_id, error)
        else:
            log.warning("dropped notification %r: %s", method, error.message)

    def _receive_request(self, msg_id: Any, method: str, data: dict[str, Any]) -> None:
        if self._shutdown:
            self.send_error(
                msg_id,
                JsonRpcInvalidRequest(
                    f"{_short(method)}: the server is shut down; only exit is accepted"
                ),
            )
            return
        message_type = self.get_message_type(method)
        if message_type is not None and "id" not in attrs.fields_dict(message_type):
            why = f"{_short(method)} is a notification: send it without an id (no such request)"
            self.send_error(msg_id, JsonRpcMethodNotFound(why))
            return
        if method == types.INITIALIZE and self.initialize_seen:
            self.send_error(msg_id, JsonRpcInvalidRequest("initialize may only be sent once"))
            return
        if method != types.INITIALIZE and not self.initialize_seen:
            error = JsonRpcServerNotInitialized(f"{_short(method)}: send initialize first")
            self.send_error(msg_id, error)
            return
        try:
            self._get_handler(method)
        except JsonRpcMethodNotFound:  # before its params are read: they may not fit any type
            self.send_error(msg_id, JsonRpcMethodNotFound(f"{_short(method)}: no such method"))
            return
        try:
            message = self.structure_message(data)
        except JsonRpcException as exc:
            self.send_error(msg_id, exc)
            return
        if method == types.INITIALIZE:
            self.initialize_seen = True
        contextvars.copy_context().run(self._handle_request, message.id, method, message.params)

    def _receive_notification(self, method: str, data: dict[str, Any]) -> None:
        if method != types.EXIT and (self._shutdown or not self.initialize_seen):
            why = "after shutdown" if self._shutdown else "before initialize"
            log.warning("dropped notification %r %s", method, why)
            return
        try:
            message = self.structure_message(data)
        except JsonRpcException as exc:
            log.warning("dropped notification %r: %s", method, exc.message)
            return
        contextvars.copy_context().run(self._handle_notification, method, message.params)

    def _receive_response(self, data: dict[str, Any]) -> None:
        """A reply to one of our requests; a malformed one fails that request (never hangs).

        Only the future :meth:`send_request` made for that id is settled: the client's own
        requests in flight share pygls' table of futures, and their ids are the client's to
        choose (a "response" with one of them was taken for that request's answer)."""
        msg_id = data["id"]
        ours = self._outgoing.pop(msg_id, None)
        if ours is None:
            self._result_types.pop(msg_id, None)
            log.warning("a response to no request of ours (id %s): dropped", _short(repr(msg_id)))
            return
        future, asked = ours
        if self._request_futures.get(msg_id) is future:
            self._request_futures.pop(msg_id, None)
        try:
            message = self.structure_message(data)
        except JsonRpcException as exc:
            log.warning("malformed response from the client: %s", exc.message)
            if not future.done():  # the editor's fault, not the params of whoever waits
                why = f"the editor's answer to {asked} is {exc.message}"
                future.set_exception(ClientDidNotAnswer(why))
            return
        if future.done():  # (given up on: ask_client's timeout)
            return
        if isinstance(message, types.ResponseErrorMessage) and message.error is not None:
            future.set_exception(JsonRpcException.from_error(message.error))
        else:
            future.set_result(getattr(message, "result", None))

    def answering(self) -> bool:
        """Whether a request of the client is being handled (its answer not sent yet)."""
        return bool(self._request_futures)

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls' structuring, with a short error naming the bad fields (no traceback log)."""
        method = data.get("method")
        if method is not None:  # a request or a notification, whatever else it carries
            default = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
            cls: Any = self.get_message_type(method) or default
        elif "error" in data:
            cls = types.ResponseErrorMessage
        else:
            cls = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
        try:
            return self._converter.structure(data, cls)
        except ClassValidationError as exc:
            fields = "; ".join(transform_error(exc))
            raise JsonRpcInvalidParams(f"{_what(method)}: {_short(fields)}") from None
        except Exception as exc:  # cattrs raises plain TypeError/ValueError for some shapes
            raise JsonRpcInvalidParams(f"{_what(method)}: {_short(str(exc))}") from None

    # -- requests to the client -----------------------------------------------------------------

    def send_request(
        self,
        method: str,
        params: Any | None = None,
        callback: Any = None,
        msg_id: Any = None,
    ) -> Future[Any]:
        """pygls' request to the client, its future kept under its id for the answer
        (:meth:`_receive_response`). Sent from the event loop, where answers are read, so
        the answer cannot come before the future is kept."""
        msg_id = str(uuid.uuid4()) if msg_id is None else msg_id
        future = super().send_request(method, params, callback, msg_id)
        self._outgoing[msg_id] = (future, method)
        return future

    async def ask_client(
        self, method: str, params: Any, timeout: float = CLIENT_REPLY_TIMEOUT_S
    ) -> Any:
        """A request to the client, given up after ``timeout`` s (its entry removed: pygls
        would keep it until an answer that may never come)."""
        msg_id = str(uuid.uuid4())
        future = self.send_request(method, params, msg_id=msg_id)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except asyncio.TimeoutError:
            raise ClientDidNotAnswer(
                f"the editor did not answer {method} within {timeout:g} s"
            ) from None
        finally:
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]
            self._outgoing.pop(msg_id, None)
            self._result_types.pop(msg_id, None)

    # -- answers out ----------------------------------------------------------------------------

    def prepare(self, result: Any) -> Prepared:
        """``result`` as the JSON text pygls would send for it (any thread)."""
        return Prepared(_dumps(self.converter.unstructure(result)))

    def _send_data(self, data: Any) -> None:
        """pygls' send, with a :class:`Prepared` result's text put in as it is (the same bytes
        pygls would write for the result it was made from), and an answer that cannot be
        written sent as an InternalError for its request (pygls logged it and sent nothing:
        the client waited for ever)."""
        if not data:
            return
        if self.writer is None:
            log.error("Unable to send data, no available transport!")
            return
        result = getattr(data, "result", None)
        if isinstance(result, Prepared) and getattr(data, "error", None) is None:
            fields = (  # the response class's own order, as its unstructuring writes them
                f'"result": {result.text}' if name == "result" else f'"{name}": {json.dumps(value)}'
                for name, value in (
                    (f.name, getattr(data, f.name)) for f in attrs.fields(type(data))
                )
            )
            body = "{" + ", ".join(fields) + "}"
        else:
            try:
                body = _dumps(data, default=self._serialize_message)
            except Exception as exc:
                log.exception("could not write %s", type(data).__name__)
                if getattr(data, "method", None) is not None:
                    return  # a request or notification of ours: nobody waits for an answer
                answer = {
                    "jsonrpc": "2.0",
                    "id": getattr(data, "id", None),
                    "error": {
                        "code": JsonRpcInternalError.CODE,
                        "message": f"notegen-lsp could not write its answer: {_short(str(exc))}",
                    },
                }
                body = json.dumps(answer)
        if self._include_headers:
            header = (
                f"Content-Length: {len(body)}\r\n"
                f"Content-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n"
            )
            body = header + body
        try:
            written = self.writer.write(body.encode(self.CHARSET))
        except BrokenPipeError:
            log.exception("could not send: the pipe is broken")
            raise
        except Exception as error:  # (pygls' own handling of a failed write)
            log.exception("could not send")
            self._server._report_server_error(error, JsonRpcInternalError)
            return
        if inspect.isawaitable(written):  # (a WebSocket's send)
            task = asyncio.ensure_future(written)
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    def send_error(self, msg_id: int | str | None, error: JsonRpcException) -> None:
        """An error response; ``msg_id=None`` is JSON-RPC's ``"id": null`` (unknown request)."""
        if msg_id is None:
            log.warning("answered an unreadable message: %s", error.message)
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.data is not None:
            body["data"] = error.data
        self._send_data({"jsonrpc": "2.0", "id": msg_id, "error": body})

    # -- lifecycle ------------------------------------------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        """pygls' initialize, with positions in UTF-16 whatever encodings the client offers.

        Every position the server reads or writes counts UTF-16 code units (LSP's default,
        which every client must support). pygls agreed to the client's first choice
        (``utf-8``, ``utf-32``) and then applied edits in it while the features still counted
        UTF-16: past a non-ASCII character a hover described the wrong note and completions
        replaced the wrong columns."""
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            offered = ", ".join(str(e) for e in general.position_encodings)
            if types.PositionEncodingKind.Utf16 not in general.position_encodings:
                log.info("the client offers position encodings %s; answering in utf-16", offered)
            params.capabilities.general = attrs.evolve(general, position_encodings=None)
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        """pygls' shutdown, cancelling a copy of the in-flight futures (a cancelled future's
        callback removes it from the dict being iterated: pygls raised RuntimeError here)."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current_id = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current_id and not future.done():
                future.cancel()
        self._shutdown = True

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        """Record the exit code and let the transport end the session (no ``sys.exit`` here)."""
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        self.exit_code = 0 if self._shutdown else 1
        if self.exited is not None:
            self.exited.set()

    # -- documents ----------------------------------------------------------------------------

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        """pygls' didChange, with incremental changes spliced in directly (:func:`_splice`).

        pygls applies each change by splitting the whole text into lines and writing them all
        back (~0.24 ms per keystroke in the 2,000-line benchmark piece, and 2,000 short-lived
        strings whose churn fragments the heap), and its lines are not LSP's; a splice of the
        new text between the two offsets gives the editor's text. Full replacements are
        pygls'. From :data:`~notegen.lsp.text_changes.MANY_CHANGES` changes in one message
        on, they go in together (:func:`~notegen.lsp.text_changes.apply_changes`).
        """
        uri = params.text_document.uri
        if unquote(uri) not in self.workspace.text_documents:  # (pygls: KeyError, shown)
            log.warning("didChange of %s, which is not open: ignored", _short(uri))
            return
        changes, k = params.content_changes, 0
        while k < len(changes):
            doc = self.workspace.text_documents.get(unquote(uri))
            if doc is not None and len(changes) - k >= MANY_CHANGES and incremental(changes[k]):
                doc._source, done = apply_changes(doc.source, changes[k:])  # (many at once)
                k += done
                continue
            if doc is None or not _splice(doc, changes[k]):
                self.workspace.update_text_document(params.text_document, changes[k])
            k += 1
        doc = self.workspace.text_documents.get(unquote(uri))
        if doc is not None:
            doc.version = params.text_document.version
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def lsp_notebook_document__did_change(
        self, params: types.DidChangeNotebookDocumentParams
    ) -> Generator[Any, Any, None]:
        """pygls' notebook didChange, ignoring a notebook that is not open (pygls raised
        KeyError, and the editor showed "Error in server: KeyError")."""
        uri = params.notebook_document.uri
        if self.workspace.get_notebook_document(notebook_uri=uri) is None:
            log.warning("notebook didChange of %s, which is not open: ignored", _short(uri))
            return
        yield from super().lsp_notebook_document__did_change(params)

    @lsp_method(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def lsp_work_done_progress_cancel(self, params: types.WorkDoneProgressCancelParams) -> None:
        """pygls' progress cancellation, ignoring a token that is no progress token (an object
        raised TypeError in pygls, shown to the user as "Error in server")."""
        if isinstance(params.token, bool) or not isinstance(params.token, (int, str)):
            log.warning("workDoneProgress/cancel with no progress token: ignored")
            return
        super().lsp_work_done_progress_cancel(params)

    # -- no future outlives its message ---------------------------------------------------------

    def _execute_handler(
        self,
        msg_id: Any,
        handler: Any,
        callback: Any,
        args: tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(partial(self._forget_future, msg_id))

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        """pygls' reply to a request, but a deliberate error reply (a ``JsonRpcException``: bad
        arguments, a document that changed meanwhile, no model) is logged in one line. pygls
        logged each with a full traceback at ERROR, as if the server had failed, and a
        client's log of 123 such replies held 126 tracebacks."""
        if not future.cancelled() and isinstance(exc := future.exception(), JsonRpcException):
            self._request_futures.pop(msg_id, None)
            log.info(
                "request %s answered with error %s: %s",
                _short(repr(msg_id)),
                exc.code,
                _short(str(exc.message)),
            )
            self._send_response(msg_id, error=exc.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        """``$/cancelRequest`` cancels the client's own requests only. pygls looked the id up
        among every future, the server's requests to the client too: cancelling our
        ``workspace/applyEdit`` killed the command waiting for it, which was never answered."""
        if not _valid_id(msg_id):  # a list or object: unhashable (pygls raised, and the
            # connection died)
            log.warning("$/cancelRequest without a request id: ignored")
            return
        future = self._request_futures.get(msg_id)
        if future is not None and future is self._outgoing.get(msg_id, (None,))[0]:
            log.warning("$/cancelRequest for our own request %s: ignored", _short(repr(msg_id)))
            return
        super()._handle_cancel_notification(msg_id)

    def _forget_future(self, msg_id: Any, future: Any) -> None:
        if self._request_futures.get(msg_id) is future:
            del self._request_futures[msg_id]

    def _run_generator(self, future: Any, *, gen: Any, result_future: Future[Any]) -> None:
        """pygls' generator stepping, plus: cancelling the request cancels the running step."""
        if result_future.cancelled():
            return
        try:
            value = future.result() if future is not None else None
            handler, args, kwargs = gen.send(value)
            step_id = str(uuid.uuid4())
            self._execute_handler(
                step_id,
                handler,
                args=args,
                kwargs=kwargs,
                callback=partial(self._run_generator, gen=gen, result_future=result_future),
            )
            step = self._request_futures.get(step_id)
            if step is not None and not step.done():
                result_future.add_done_callback(partial(_cancel_with, step))
        except StopIteration as result:
            result_future.set_result(result.value)
        except Exception as exc:
            result_future.set_exception(exc)
        except (asyncio.CancelledError, CancelledError):  # a step stopped, not the request
            if not result_future.done():
                why = "notegen: the work was stopped before it finished; nothing was changed"
                result_future.set_exception(JsonRpcInternalError(why))


def _dumps(value: Any, default: Any = None) -> str:
    """JSON text of ``value`` as ``json.dumps`` writes it, but never ``NaN`` or ``Infinity``
    (not JSON: a client's strict parser rejects the whole message). A client's own values
    come back in some answers (a diagnostic's ``data`` in a code action), and ``1e400`` in
    what it sent is read as infinity: such numbers are written as ``null``."""
    try:
        return json.dumps(value, default=default, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
    plain = json.loads(json.dumps(value, default=default))
    return json.dumps(_finite(plain), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _strict_int(value: Any, _type: Any) -> int:
    """An LSP ``integer``/``uinteger`` as JSON gives it: a number with no fraction.

    cattrs' default is ``int(value)``, which read ``"2"`` as 2, ``1.5`` as 1 and ``true`` as 1:
    a request with a wrong-typed position was answered for another position instead of with
    InvalidParams. An integral float (``2.0``, from clients that write every number so) is
    accepted."""
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    ):
        raise ValueError(f"expected an integer, not {_short(repr(value))}")
    # The hook serves int's subclasses too: an IntEnum (DiagnosticSeverity, ...) is read as its
    # member, as cattrs reads enums. A plain int there could not be written again: a code
    # action answer carrying the client's diagnostics never went out.
    return int(value) if _type is int else _type(int(value))


def _strict_str(value: Any, _type: Any) -> str:
    """An LSP ``string`` as JSON gives it: a string. cattrs' default is ``str(value)``, which
    read a ``uri`` of ``null``, ``5`` or ``[...]`` as the document ``"None"``, ``"5"``...: the
    request was answered as if for a document that is not open, instead of InvalidParams.
    String enumerations (``MarkupKind``, ...) are read as their members, as before."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string, not {_short(repr(value))}")
    return value if _type is str else _type(value)


MAX_ITEM_ERRORS = 8
"""The bad elements of an array reported before its structuring stops (see :func:`_arrays_only`)."""


def _arrays_only(type_: Any, converter: Any) -> Any:
    """A structure hook for an LSP array (``list[T]``, ``Sequence[T]``): a JSON array only,
    whose bad elements are reported up to :data:`MAX_ITEM_ERRORS`.

    cattrs' own (26.2) iterates whatever it is given, a string character by character, and
    notes an error per bad element (~30 µs each, measured): a code action whose
    ``diagnostics`` was a 1 MB string, or an array of a million numbers, held the event loop
    for ~30 s before its InvalidParams went out (``benchmarks/hostile_traffic.py`` found it).
    Elements are read as before, into a list for a ``list`` and a tuple for a ``Sequence``."""
    args = getattr(type_, "__args__", None)
    element = args[0] if args else Any
    make = list if is_mutable_sequence(type_) else tuple
    handler = None
    if element is not Any:
        try:
            handler = converter.get_structure_hook(element)
        except RecursionError:  # (a type that contains itself: looked up when used)
            handler = converter.structure

    def structure(value: Any, _type: Any = type_) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"expected an array, not {_short(repr(value))}")
        if handler is None:
            return make(value)
        out, errors = [], []
        for index, item in enumerate(value):
            try:
                out.append(handler(item, element))
            except Exception as exc:
                note = IterableValidationNote(
                    f"Structuring {_type} @ index {index}", index, element
                )
                setattr(exc, "__notes__", [*getattr(exc, "__notes__", []), note])  # noqa: B010
                errors.append(exc)
                if len(errors) == MAX_ITEM_ERRORS:
                    break
        if errors:
            raise IterableValidationError(f"While structuring {_type!r}", errors, _type)
        return make(out)

    return structure


def _cancel_with(step: Any, outer: Future[Any]) -> None:
    if outer.cancelled() and not step.done():
        step.cancel()


def _splice(doc: Any, change: Any) -> bool:
    """Apply an incremental ``change`` to ``doc`` (a pygls TextDocument) by slicing; ``False``:
    not an incremental change (the caller hands it to pygls).

    Lines end at ``\n``, ``\r\n`` or a lone ``\r`` (LSP's rule, :func:`line_starts`) and
    columns count UTF-16 code units, for every text. pygls splits lines with
    ``str.splitlines``, which also breaks at U+2028, U+0085, form feeds and others: past such
    a character its lines were not the editor's, every later edit landed elsewhere than the
    editor put it, and a command then wrote its notes into the wrong place. A position past
    the end of its line is its line's end, and a line past the last is the document's end
    (LSP's rule for the first; pygls' for the second)."""
    change_range = getattr(change, "range", None)
    if change_range is None:
        return False
    source = doc.source
    start, end = change_range.start, change_range.end
    if (start.line, start.character) > (end.line, end.character):
        return False
    starts = line_starts(source)
    plain = source.isascii()
    offsets = []
    for position in (start, end):
        line, character = position.line, position.character
        if line < 0 or character < 0:
            return False
        if line >= len(starts):
            offsets.append(len(source))
            continue
        first, last = starts[line], line_end(source, starts, line)
        if plain:
            offsets.append(first + min(character, last - first))
        else:
            offsets.append(first + utf16_to_index(source[first:last], character))
    spliced = "".join((source[: offsets[0]], change.text, source[offsets[1] :]))  # one copy less
    doc._source = spliced
    remember_splice(source, spliced, offsets[0], offsets[1], change.text)
    remember_plain_splice(source, spliced, offsets[0])
    shift = len(change.text) - (offsets[1] - offsets[0])  # the lines after move by it
    if "\r" in change.text:
        pass  # (the new text's lines are found afresh when asked)
    elif start.line == end.line < len(starts) and "\n" not in change.text:
        remember_line_starts(spliced, moved_starts(starts, start.line, shift))
    elif not offsets[0] or source[offsets[0] - 1] != "\r":  # (else a \r\n may be made)
        end_line = min(end.line, len(starts) - 1)
        found = edited_starts(starts, start.line, end_line, offsets[0], change.text, shift)
        remember_line_starts(spliced, found)
    return True
