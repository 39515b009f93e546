"""The JSON-RPC protocol of notegen-lsp keeps nothing per message and cancels what it drops.

In process, the real :class:`NotegenProtocol` behind a pygls server, fed message bodies the way
the transport feeds them; what the server writes back is collected from its writer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lsprotocol import types
from notegen.lsp.protocol import NotegenProtocol
from pygls.lsp.server import LanguageServer


class Collect:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        pass

    def replies(self) -> list[dict[str, Any]]:
        out = []
        for chunk in self.data.split(b"Content-Length: ")[1:]:
            out.append(json.loads(chunk.split(b"\r\n\r\n", 1)[1]))
        return out


def body(message: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **message}).encode()


def make_server() -> tuple[LanguageServer, NotegenProtocol, Collect]:
    server = LanguageServer("test", "0", protocol_cls=NotegenProtocol)
    writer = Collect()
    server.protocol.set_writer(writer)
    protocol = server.protocol
    assert isinstance(protocol, NotegenProtocol)
    return server, protocol, writer


def initialize(protocol: NotegenProtocol) -> None:
    params = {"processId": None, "rootUri": None, "capabilities": {}}
    protocol.receive_body(body({"id": 0, "method": "initialize", "params": params}))
    protocol.receive_body(body({"method": "initialized", "params": {}}))


async def test_no_future_is_kept_per_notification() -> None:
    server, protocol, _ = make_server()
    seen: list[int] = []

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: Any, params: types.DidChangeTextDocumentParams) -> None:
        seen.append(params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def on_open(ls: Any, params: types.DidOpenTextDocumentParams) -> None:
        await asyncio.sleep(0)

    initialize(protocol)
    uri = "file:///t.rb"
    doc = {"uri": uri, "languageId": "ruby", "version": 1, "text": "a"}
    protocol.receive_body(body({"method": "textDocument/didOpen", "params": {"textDocument": doc}}))
    for version in range(2, 1002):
        change = {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": "b"}],
        }
        protocol.receive_body(body({"method": "textDocument/didChange", "params": change}))
    for _ in range(5):
        await asyncio.sleep(0)  # the async didOpen handler's task finishes
    assert len(seen) == 1000
    assert protocol._request_futures == {}


async def test_cancelling_a_command_cancels_its_running_work() -> None:
    server, protocol, writer = make_server()
    started = asyncio.Event()
    outcome: list[str] = []

    @server.command("test.forever")
    async def forever(ls: Any, *args: Any) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    initialize(protocol)
    params = {"command": "test.forever", "arguments": []}
    protocol.receive_body(body({"id": 5, "method": "workspace/executeCommand", "params": params}))
    await asyncio.wait_for(started.wait(), 5)
    protocol.receive_body(body({"method": "$/cancelRequest", "params": {"id": 5}}))
    for _ in range(5):
        await asyncio.sleep(0)
    assert outcome == ["cancelled"]
    reply = [r for r in writer.replies() if r.get("id") == 5]
    assert reply and reply[0]["error"]["code"] == -32800
    assert protocol._request_futures == {}


async def test_a_response_with_the_id_of_a_request_in_flight_is_dropped() -> None:
    """Responses settle only the server's own requests: pygls took this one for the answer of
    the client's request 9 (and raised on its task, killing the connection)."""
    server, protocol, writer = make_server()
    release = asyncio.Event()

    @server.command("test.wait")
    async def wait(ls: Any, *args: Any) -> str:
        await release.wait()
        return "done"

    initialize(protocol)
    params = {"command": "test.wait", "arguments": []}
    protocol.receive_body(body({"id": 9, "method": "workspace/executeCommand", "params": params}))
    await asyncio.sleep(0)
    protocol.receive_body(body({"id": 9, "result": "forged"}))
    protocol.receive_body(body({"id": 9, "error": {"code": -32000, "message": "forged"}}))
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert [r["result"] for r in writer.replies() if r.get("id") == 9] == ["done"]
    assert protocol._request_futures == {}


async def test_a_request_that_reuses_the_id_of_ours_leaves_our_answer_to_us() -> None:
    """The client picks its requests' ids; one equal to the id of our request in flight
    still leaves the answer to that request to settle ours, and is served itself."""
    server, protocol, writer = make_server()

    @server.command("test.echo")
    async def echo(ls: Any, *args: Any) -> str:
        return "echoed"

    initialize(protocol)
    edit = types.ApplyWorkspaceEditParams(edit=types.WorkspaceEdit())
    asking = asyncio.ensure_future(protocol.ask_client("workspace/applyEdit", edit))
    await asyncio.sleep(0)
    ours = next(r for r in writer.replies() if r.get("method") == "workspace/applyEdit")["id"]
    params = {"command": "test.echo", "arguments": []}
    protocol.receive_body(
        body({"id": ours, "method": "workspace/executeCommand", "params": params})
    )
    protocol.receive_body(body({"id": ours, "result": {"applied": True}}))
    answer = await asyncio.wait_for(asking, 5)
    assert answer.applied is True
    for _ in range(5):
        await asyncio.sleep(0)
    assert [r.get("result") for r in writer.replies() if r.get("id") == ours][-1] == "echoed"
    assert protocol._request_futures == {} and protocol._outgoing == {}


async def test_the_client_cannot_cancel_a_request_of_ours() -> None:
    """``$/cancelRequest`` with the id of our ``workspace/applyEdit`` cancelled its future:
    the command awaiting it was never answered. Now it is ignored, and the answer counts."""
    server, protocol, writer = make_server()

    @server.command("test.apply")
    async def apply(ls: Any, *args: Any) -> bool:
        edit = types.ApplyWorkspaceEditParams(edit=types.WorkspaceEdit())
        answer = await protocol.ask_client("workspace/applyEdit", edit)
        return bool(answer.applied)

    initialize(protocol)
    params = {"command": "test.apply", "arguments": []}
    protocol.receive_body(body({"id": 3, "method": "workspace/executeCommand", "params": params}))
    for _ in range(5):
        await asyncio.sleep(0)
    ours = next(r for r in writer.replies() if r.get("method") == "workspace/applyEdit")["id"]
    protocol.receive_body(body({"method": "$/cancelRequest", "params": {"id": ours}}))
    protocol.receive_body(body({"id": ours, "result": {"applied": True}}))
    for _ in range(10):
        await asyncio.sleep(0)
    assert [r.get("result") for r in writer.replies() if r.get("id") == 3] == [True]


async def test_a_step_stopped_under_a_command_is_an_error_reply() -> None:
    """A step of a command's work cancelled by anything but the command's own cancellation
    (a CancelledError, not an Exception) left the command unanswered for good."""
    server, protocol, writer = make_server()

    @server.command("test.stopped")
    async def stopped(ls: Any, *args: Any) -> None:
        raise asyncio.CancelledError

    initialize(protocol)
    params = {"command": "test.stopped", "arguments": []}
    protocol.receive_body(body({"id": 4, "method": "workspace/executeCommand", "params": params}))
    for _ in range(10):
        await asyncio.sleep(0)
    (reply,) = [r for r in writer.replies() if r.get("id") == 4]
    assert (
        reply["error"]["code"] == -32603
        and "stopped before it finished" in reply["error"]["message"]
    )


async def test_infinite_and_nan_numbers_are_written_as_null() -> None:
    """``NaN``/``Infinity`` are not JSON: a strict client rejects the whole message. A client's
    ``1e400`` is read as infinity and some answers give its values back."""
    server, protocol, writer = make_server()

    @server.command("test.numbers")
    def numbers(ls: Any, *args: Any) -> dict[str, Any]:
        return {"big": float("inf"), "nan": float("nan"), "list": [1.5, -float("inf")]}

    initialize(protocol)
    params = {"command": "test.numbers", "arguments": []}
    protocol.receive_body(body({"id": 6, "method": "workspace/executeCommand", "params": params}))
    for _ in range(10):
        await asyncio.sleep(0)
    raw = writer.data.split(b"Content-Length: ")[-1].split(b"\r\n\r\n", 1)[1]

    def strict(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    reply = json.loads(raw, parse_constant=strict)
    assert reply["result"] == {"big": None, "nan": None, "list": [1.5, None]}


def test_a_body_that_starts_with_a_byte_order_mark_is_read() -> None:
    """RFC 8259 lets a parser ignore a UTF-8 BOM; it was a parse error with a null id."""
    _, protocol, writer = make_server()
    initialize(protocol)
    protocol.receive_body(b"\xef\xbb\xbf" + body({"id": 8, "method": "shutdown"}))
    assert [r for r in writer.replies() if r.get("id") == 8] == [
        {"jsonrpc": "2.0", "id": 8, "result": None}
    ]


def test_values_are_counted_outside_strings_escaped_quotes_and_all() -> None:
    from notegen.lsp.protocol import MAX_VALUES, _values

    text = 'say \\"hi\\", [1, 2], {a: 3}, back\\\\' * MAX_VALUES
    # outside the string: {"t": "", "n": [1, [2, 3]]}: 3 commas, 2 brackets, 1 brace
    assert _values(json.dumps({"t": text, "n": [1, [2, 3]]}).encode()) == 6
    flood = json.dumps({"n": [[]] * MAX_VALUES}).encode()
    assert _values(flood) == 2 * MAX_VALUES + 1


def test_structure_is_counted_alike_in_every_kind_of_body_and_across_chunks() -> None:
    """The count before a big message is parsed reads bytes, a bytearray or a view of a read
    (the transport hands big bodies on as views), a chunk at a time."""
    import random

    from notegen.lsp.protocol import _COUNT_CHUNK, _structure_count

    rng = random.Random(3)
    for size in (0, 1, _COUNT_CHUNK - 1, _COUNT_CHUNK, 2 * _COUNT_CHUNK + 17):
        data = bytes(rng.choice(b',[{]}"ab\\ ') for _ in range(size))
        expected = sum(data.count(c) for c in (b",", b"[", b"{"))
        assert _structure_count(data) == expected
        assert _structure_count(bytearray(data)) == expected
        view = memoryview(b"[[" + data + b",,")[2:-2]
        assert _structure_count(view) == expected


def _document(text: str) -> Any:
    from pygls.workspace.text_document import TextDocument

    return TextDocument("file:///song.rb", text, version=1)


def _change(sl: int, sc: int, el: int, ec: int, text: str) -> Any:
    return types.TextDocumentContentChangePartial(
        range=types.Range(types.Position(sl, sc), types.Position(el, ec)), text=text
    )


def test_incremental_changes_spliced_as_pygls_applies_them() -> None:
    """Typing, deleting and multi-line replacements in plain ASCII text give the text pygls'
    own line-by-line application gives (seeded random edits, both ends of lines included)."""
    import random

    from notegen.lsp.protocol import _splice
    from notegen.sonicpi.types import line_starts

    rng = random.Random(7)
    text = "a1=[:C4,:D4]\nb1=[1,1]\n\nuse_bpm 90\n" * 30
    ours, theirs = _document(text), _document(text)
    for _ in range(400):
        lines = ours.source.split("\n")
        sl = rng.randrange(len(lines))
        el = min(len(lines) - 1, sl + rng.choice([0, 0, 0, 1, 3]))
        sc = rng.randint(0, len(lines[sl]))
        ec = rng.randint(0 if el > sl else sc, len(lines[el]))
        new = rng.choice(["", ",", ":E4", "\n", "x\ny\n", "a2[0]=[:G4]"])
        change = _change(sl, sc, el, ec, new)
        assert _splice(ours, change)
        theirs.apply_change(change)
        assert ours.source == theirs.source
        # the line table the splice handed over is the new text's (a copy is read afresh)
        assert line_starts(ours.source) == line_starts("".join([" ", ours.source])[1:])


def test_whole_document_changes_and_reversed_ranges_are_left_to_pygls() -> None:
    """Only incremental changes are spliced (every text: see test_lsp_splice.py); a whole
    text, or a range that ends before it starts, is pygls'."""
    from notegen.lsp.protocol import _splice

    plain = "a1=[:C4]\nb1=[1]\n"
    for text, change in [
        (plain, _change(1, 2, 0, 1, "x")),
        (plain, types.TextDocumentContentChangeWholeDocument(text="new")),
    ]:
        doc = _document(text)
        assert not _splice(doc, change)
        assert doc.source == text


def test_a_result_prepared_as_json_is_sent_as_pygls_sends_the_result() -> None:
    """A completion list turned into JSON on the inference thread (``Prepared``) reaches the
    client as the very bytes pygls writes for the list itself: items with edits, commands,
    documentation, non-ASCII details, string and integer request ids."""
    from notegen.lsp.protocol import Prepared

    edit = types.TextEdit(types.Range(types.Position(3, 4), types.Position(3, 6)), ":c4 :e4")
    items = [
        types.CompletionItem(
            label=f":c{k}",
            kind=types.CompletionItemKind.Value,
            detail=f"{k}.5% · MIDI 60 · 1 beat",
            documentation=types.MarkupContent(types.MarkupKind.Markdown, "a *note* — é"),
            sort_text=f"{k:02d}",
            filter_text=":c",
            text_edit=edit,
            command=types.Command("Add durations", "notegen.x", arguments=[{"uri": "file:///a"}])
            if k % 2
            else None,
        )
        for k in range(14)
    ]
    result = types.CompletionList(is_incomplete=True, items=items)
    for msg_id, response in ((7, types.CompletionResponse), ("seven", None)):
        _, plain_protocol, plain = make_server()
        _, protocol, prepared = make_server()
        if response is not None:  # (what pygls registers for a textDocument/completion)
            plain_protocol._result_types[msg_id] = protocol._result_types[msg_id] = response
        plain_protocol._send_response(msg_id, result)
        made = protocol.prepare(result)
        assert isinstance(made, Prepared)
        protocol._send_response(msg_id, made)
        assert prepared.data == plain.data
        assert prepared.replies()[0]["result"]["items"][1]["command"]["command"] == "notegen.x"


def test_an_answer_that_cannot_be_written_is_sent_as_an_internal_error() -> None:
    """A result pygls cannot serialise would have been logged and dropped, and the client
    would wait for it for ever: it is answered with InternalError for its id instead."""
    _, protocol, writer = make_server()
    protocol._send_response(7, object())
    (reply,) = writer.replies()
    assert reply["id"] == 7 and reply["error"]["code"] == -32603
    assert "could not write its answer" in reply["error"]["message"]


def test_enumerations_in_params_come_back_as_enumerations() -> None:
    """LSP integers are read strictly (``"2"`` and ``1.5`` are not 2 and 1), and only plain
    integers: a diagnostic's severity sent back in a code action's context stays a
    DiagnosticSeverity, and the answer that carries it can be written."""
    _, protocol, _ = make_server()
    diagnostic = {
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
        "message": "m",
        "severity": 1,
        "code": "length-mismatch",
    }
    made = protocol.converter.structure(diagnostic, types.Diagnostic)
    assert made.severity is types.DiagnosticSeverity.Error
    assert protocol.converter.unstructure(made)["severity"] == 1
    position = protocol.converter.structure({"line": 2.0, "character": 3}, types.Position)
    assert (position.line, position.character) == (2, 3)
    for wrong in ("2", 1.5, True):
        try:
            protocol.converter.structure({"line": wrong, "character": 3}, types.Position)
        except Exception:
            continue
        raise AssertionError(f"line {wrong!r} was read as a position")


async def test_the_heap_is_collected_once_the_client_has_been_quiet(monkeypatch) -> None:
    """A full collection holds the GIL throughout: after a reading or a generation it waits
    until the client has sent nothing for QUIET_S, so no answer in flight waits for it; one
    is pending at a time."""
    import time

    from notegen.lsp import server as srv

    ls = srv.NotegenServer()
    collected: list[str] = []
    monkeypatch.setattr(srv, "release_memory", lambda: collected.append("now"))
    ls.protocol.last_message = time.monotonic() + 3600  # the client keeps talking
    ls.release_memory_when_quiet()
    pending = ls._collecting
    ls.release_memory_when_quiet()
    assert ls._collecting is pending
    await asyncio.sleep(0)
    assert collected == [] and pending is not None and not pending.done()
    ls.protocol.last_message = time.monotonic() - srv.QUIET_S  # quiet from now on
    await asyncio.wait_for(pending, timeout=30)
    assert collected == ["now"]
    ls.reader.shutdown(wait=True)


def test_an_array_in_params_is_a_json_array_and_only_its_first_bad_elements_are_reported() -> None:
    """cattrs read whatever stood where LSP wants an array as one (a string character by
    character) and noted an error per bad element, ~30 µs each: a code action whose
    ``diagnostics`` was a 1 MB string, or a million numbers, held the event loop ~30 s."""
    from cattrs.errors import ClassValidationError, IterableValidationError
    from notegen.lsp.protocol import MAX_ITEM_ERRORS

    _, protocol, _ = make_server()
    point = {"line": 0, "character": 0}
    diagnostic = {"range": {"start": point, "end": point}, "message": "m"}

    def context(diagnostics: Any) -> Any:
        return {
            "textDocument": {"uri": "file:///song.rb"},
            "range": {"start": point, "end": point},
            "context": {"diagnostics": diagnostics},
        }

    made = protocol.converter.structure(context([diagnostic] * 3), types.CodeActionParams)
    zero = types.Position(0, 0)
    assert made.context.diagnostics == (types.Diagnostic(types.Range(zero, zero), "m"),) * 3

    def errors(diagnostics: Any) -> list[Exception]:
        try:
            protocol.converter.structure(context(diagnostics), types.CodeActionParams)
        except ClassValidationError as exc:
            (inner,) = exc.exceptions
            (found,) = inner.exceptions  # (the params' context, then its diagnostics)
            return list(found.exceptions) if isinstance(found, IterableValidationError) else [found]
        raise AssertionError("structured")

    (only,) = errors("x" * 1000)
    assert "expected an array" in str(only)
    assert len(errors([1] * 1000)) == MAX_ITEM_ERRORS
    assert len(errors([diagnostic, 1, diagnostic, 2])) == 2

    server, protocol, writer = make_server()
    server.feature(types.TEXT_DOCUMENT_CODE_ACTION)(lambda ls, params: None)
    initialize(protocol)
    params = context("x" * 1_000_000)
    protocol.receive_body(body({"id": 5, "method": "textDocument/codeAction", "params": params}))
    (reply,) = [r for r in writer.replies() if r.get("id") == 5]
    assert reply["error"]["code"] == -32602
    assert "$.params.context.diagnostics" in reply["error"]["message"]


def test_the_id_of_a_message_not_read_is_taken_only_from_its_first_members() -> None:
    from notegen.lsp.protocol import leading_id

    assert leading_id(b'{"jsonrpc": "2.0", "id": 1195, "method": "x", "params": {') == 1195
    assert leading_id(b'{"jsonrpc":"2.0","method":"x","id":"a\\"b","params"') == 'a"b'
    assert leading_id(b'\r\n {"id": -3, "method"') == -3
    # not a top-level id, not an id at all, not the start of an object: no id
    assert leading_id(b'{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":5}}') is None
    assert leading_id(b'{"params": {"x": 1}, "id": 5}') is None
    assert leading_id(b'{"id": 1.5}') is None
    assert leading_id(b'{"id": true}') is None
    assert leading_id(b'Content-Length: 40\r\n\r\n{"id":7}') is None
    assert leading_id(b"") is None


# -- big bodies: orjson reads them, exactly as Python's json would ------------------------------

PAD = "x" * 40_000
"""A member that takes a body past FAST_JSON_FROM, where orjson reads it first."""


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (``1 == 1.0 == True`` in Python)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)  # (-0.0 and nan too)
    return bool(a == b)


def python_reading(raw: bytes) -> Any:
    from notegen.lsp.protocol import _parse_int

    return json.loads(raw.decode("utf-8"), parse_int=_parse_int)


def test_a_big_body_is_read_as_pythons_json_reads_it_or_left_to_it() -> None:
    """orjson reads integers past 64 bits as floats and refuses ``NaN``, ``1e400``, lone
    surrogates and deep nesting, which Python's json reads: those bodies go to json."""
    from notegen.lsp.protocol import _UNREAD, FAST_JSON_FROM, _fast_json

    assert len(PAD) > FAST_JSON_FROM
    json_reads = [  # (orjson refuses these, or may read them otherwise)
        '{"id": 18446744073709551617, "v": 1}',
        '{"id": -9223372036854775809}',
        '{"v": [1, 123456789012345678901234567890]}',
        '{"v": 1e19}',  # (a float as big as such an integer: json reads it, to be sure)
        '{"v": NaN}',
        '{"v": [1e400, -Infinity]}',
        '{"v": "\\ud800"}',
        '{"v": ' + "[" * 1100 + "]" * 1100 + "}",
        '{"v": [' + "1," * 20_000 + "1]}",  # (too many values to look through: json's)
    ]
    orjson_reads = [
        '{"v": "a\\nb\\u00e9\\ud83d\\ude00", "k": -0.0, "i": 9223372036854775807, "f": 1e18}',
        '{"v": {"v": 1, "v": 2}, "n": null, "t": true, "e": 5e-324, "z": -0}',
        '{"u": 18446744073709551615, "l": -9223372036854775808}',
    ]
    for text in json_reads + orjson_reads:
        raw = (text[:-1] + f', "pad": "{PAD}"}}').encode()
        fast = _fast_json(raw)
        if text in json_reads:
            assert fast is _UNREAD, text
        else:
            assert same(fast, python_reading(raw)), text


def test_a_request_with_an_integer_id_past_64_bits_in_a_big_body_is_answered_with_it() -> None:
    _, protocol, writer = make_server()
    initialize(protocol)
    big_id = 2**64 + 1
    protocol.receive_body(body({"id": big_id, "method": "shutdown", "pad": PAD}))
    assert [r for r in writer.replies() if r.get("id") == big_id] == [
        {"jsonrpc": "2.0", "id": big_id, "result": None}
    ]


def test_a_big_document_is_opened_with_its_text_as_written() -> None:
    server, protocol, _ = make_server()
    initialize(protocol)
    text = 'a1=[:C4, :E4]\r\n# é ü \t \\ " 😀 \u2028\n' * 3_000
    item = {"uri": "file:///big.rb", "languageId": "ruby", "version": 1, "text": text}
    raw = body({"method": "textDocument/didOpen", "params": {"textDocument": item}})
    assert len(raw) > 32 * 1024
    protocol.receive_body(raw)
    assert server.workspace.get_text_document("file:///big.rb").source == text


def test_big_bodies_of_any_json_are_read_as_pythons_json_reads_them() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from notegen.lsp.protocol import _UNREAD, _fast_json

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=30,
    )

    @settings(max_examples=300, deadline=None)
    @given(values, st.booleans())
    def check(value: Any, ascii_only: bool) -> None:
        raw = json.dumps({"v": value, "pad": PAD}, ensure_ascii=ascii_only).encode(
            "utf-8", "surrogatepass"
        )
        try:
            expected = python_reading(raw)
        except UnicodeDecodeError:  # (a lone surrogate written raw: not UTF-8 at all)
            assert _fast_json(raw) is _UNREAD
            return
        fast = _fast_json(raw)
        assert fast is _UNREAD or same(fast, expected)

    check()
