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
