"""Deliberate error replies through the real server: answered, and logged in one line.

Bad arguments, a document that is not open, nothing to play: the client gets an error
reply that says why, and the server's log says so in a line, not a traceback (which reads as
the server having failed, and buries real failures).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import SONG, rpc, started

BAD_COMMANDS = [
    ("notegen.generateMelody", []),
    ("notegen.continueMelody", [{"uri": "SONG"}]),
    ("notegen.generateMelody", [{"uri": "file:///nowhere.rb"}]),
    ("notegen.playInSonicPi", [{"notes": []}]),
]


def test_error_replies_are_logged_without_tracebacks(tiny_model: Path, tmp_path: Path) -> None:
    client = started(tiny_model, tmp_path, "server", verbose=True)
    uri = (tmp_path / "song.rb").as_uri()
    client.did_open(uri, SONG)
    try:
        ask_badly(client, uri)
    finally:
        client.close()  # (its log complete)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log
    assert log.count("answered with error -32602") == len(BAD_COMMANDS)


@pytest.mark.parametrize("answer", [{"notegen": {}}, "notegen", 7])
def test_a_configuration_answer_that_is_no_list_is_logged_in_a_line(
    tiny_model: Path, tmp_path: Path, answer: Any
) -> None:
    """``workspace/configuration`` is answered with a list, one value per item asked; another
    answer leaves the settings as they were, with a warning, not a traceback."""
    client = started(tiny_model, tmp_path, "server", verbose=True)
    asked = threading.Event()
    client.handlers["workspace/configuration"] = lambda _params: asked.set() or answer
    uri = (tmp_path / "song.rb").as_uri()
    client.did_open(uri, SONG)
    try:
        client.notify("workspace/didChangeConfiguration", {"settings": None})
        assert asked.wait(10)
        hover = client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}},
            timeout=10,
        )
        assert "MIDI 60" in hover["contents"]["value"]
    finally:
        client.close()
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log
    assert "workspace/configuration: " in log and "settings stay as they were" in log


def ask_badly(client: Any, uri: str) -> None:
    for command, arguments in BAD_COMMANDS:
        arguments = [{k: (uri if v == "SONG" else v) for k, v in a.items()} for a in arguments]
        pending = client.send(
            "workspace/executeCommand", {"command": command, "arguments": arguments}
        )
        with pytest.raises(rpc.RpcError) as caught:
            pending.wait(10)
        assert caught.value.error["code"] == -32602
        assert caught.value.error["message"]
    hover = client.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}},
        timeout=10,
    )
    assert "MIDI 60" in hover["contents"]["value"]
