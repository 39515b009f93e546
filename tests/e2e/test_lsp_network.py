"""notegen-lsp over TCP and WebSocket serves ONE client: a second connection is told so and
closed, and never sees nor touches the first client's session (issue 12's takeover).

The real server process listens on a port the system picks (``--port 0``; it prints the
address on stderr); the peers are plain sockets / a plain WebSocket client.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

SERVER = Path(sys.executable).parent / "notegen-lsp"
SONG = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4]\nb1[0]=[1,1,1]\n"


def read_frame(stream: Any) -> dict[str, Any] | None:
    length = -1
    while True:
        line = stream.readline()
        if not line:
            return None
        if not line.strip():
            if length >= 0:
                break
            continue
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return json.loads(stream.read(length))


class Peer:
    """One connection: ``send`` a message, ``until`` one arrives that matches."""

    def __init__(self, port: int, transport: str) -> None:
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.transport = transport
        self.opened = contextlib.ExitStack()
        if transport == "tcp":
            self.sock = self.opened.enter_context(
                socket.create_connection(("127.0.0.1", port), timeout=30)
            )
            self.stream = self.sock.makefile("rb")
            target = self._tcp_recv
        else:
            self.ws = self.opened.enter_context(connect(f"ws://127.0.0.1:{port}", open_timeout=30))
            target = self._ws_recv
        threading.Thread(target=self._read, args=(target,), daemon=True).start()

    def _tcp_recv(self) -> dict[str, Any] | None:
        return read_frame(self.stream)

    def _ws_recv(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.ws.recv())
        except ConnectionClosed:
            return None

    def _read(self, recv: Callable[[], dict[str, Any] | None]) -> None:
        while True:
            try:
                message = recv()
            except (OSError, ValueError):
                message = None
            self.messages.put(message)
            if message is None:
                return

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps({"jsonrpc": "2.0", **message}).encode()
        try:
            if self.transport == "tcp":
                self.sock.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
            else:
                self.ws.send(data.decode())
        except (OSError, ConnectionClosed):
            pass  # a refused peer: what it sends goes nowhere

    def until(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        while True:
            message = self.messages.get(timeout=30)
            if message is None:
                raise ConnectionError("closed by the server")
            if wanted(message):
                return message

    def rest(self) -> list[dict[str, Any]]:
        """Everything received until the server closes the connection."""
        out = []
        while (message := self.messages.get(timeout=30)) is not None:
            out.append(message)
        return out

    def request(self, msg_id: int, method: str, params: Any) -> dict[str, Any]:
        self.send({"id": msg_id, "method": method, "params": params})
        return self.until(lambda m: m.get("id") == msg_id and "method" not in m)

    def close(self) -> None:
        self.opened.close()


@pytest.fixture(params=["tcp", "ws"])
def listening(request: Any, tiny_model: Path, tmp_path: Path) -> Iterator[tuple[Any, int, str]]:
    log = tmp_path / "server.log"
    process = subprocess.Popen(
        [str(SERVER), f"--{request.param}", "--port", "0", "--model", str(tiny_model)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stderr is not None
    lines: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        with log.open("wb") as out:
            for line in process.stderr:  # type: ignore[union-attr]
                out.write(line)
                out.flush()
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        while not (found := re.search(rb"listening on [\d.]+:(\d+)", lines.get(timeout=60))):
            pass
        yield process, int(found.group(1)), request.param
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_a_second_client_is_refused_and_the_first_keeps_its_session(
    listening: tuple[Any, int, str], tmp_path: Path
) -> None:
    process, port, transport = listening
    first = Peer(port, transport)
    first.request(1, "initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    first.send({"method": "initialized", "params": {}})
    uri = (tmp_path / "song.rb").as_uri()
    doc = {"uri": uri, "languageId": "ruby", "version": 1, "text": SONG}
    first.send({"method": "textDocument/didOpen", "params": {"textDocument": doc}})
    hover = {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}}
    assert "MIDI 60" in first.request(2, "textDocument/hover", hover)["result"]["contents"]["value"]

    second = Peer(port, transport)
    second.send({"id": 1, "method": "textDocument/hover", "params": hover})
    received = second.rest()  # until the server closes it
    assert [m.get("method") for m in received] == ["window/showMessage"]
    assert "one client" in received[0]["params"]["message"]
    second.close()

    assert "MIDI 60" in first.request(3, "textDocument/hover", hover)["result"]["contents"]["value"]
    assert first.request(4, "shutdown", None)["result"] is None
    first.send({"method": "exit"})
    assert process.wait(30) == 0
    assert "refused" in (tmp_path / "server.log").read_text()
    first.close()


def test_a_reset_connection_ends_the_session_like_a_closed_one(
    tiny_model: Path, tmp_path: Path
) -> None:
    """An editor killed or a network drop resets the connection (TCP RST): the session ends as
    on end of stream, with a log line and no traceback (an ERROR and a traceback read as the
    server having failed)."""
    import struct

    process = subprocess.Popen(
        [str(SERVER), "--tcp", "--port", "0", "--model", str(tiny_model)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stderr is not None
    try:
        first = process.stderr.readline()
        found = re.search(rb"listening on [\d.]+:(\d+)", first)
        assert found, first
        sock = socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=30)
        for message in (
            {"id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}},
            {"method": "initialized", "params": {}},
        ):
            body = json.dumps({"jsonrpc": "2.0", **message}).encode()
            sock.sendall(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        assert read_frame(sock.makefile("rb"))["id"] == 1  # (the file closed with the reply)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # with linger 0: a reset, not a FIN
        process.wait(30)
        log = process.stderr.read().decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
    assert "Traceback" not in log and "ERROR" not in log, log
