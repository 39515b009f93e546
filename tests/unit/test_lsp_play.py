"""notegen.playInSonicPi / notegen.stopSonicPi: what each argument plays, and errors coming
back onto the document line, against the in-process fake Sonic Pi of test_sonic_pi_client."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from lsprotocol import types
from notegen.config import SonicPiSettings
from notegen.lsp import play
from notegen.lsp.documents import DocumentView
from notegen.melody import Event
from notegen.sonic_pi_client import Endpoint, SonicPiClient
from notegen.sonicpi import render_block
from pygls.exceptions import JsonRpcInvalidParams
from test_sonic_pi_client import FakeSonicPi, free_udp_port

URI = "file:///tune.rb"
DOC = (
    "use_synth :pluck\n"
    + render_block(1, [[Event(60, 0.5), Event(64, 0.5)]], 120)
    + ("a2=[]\nb2=[]\na2[0]=[:C4,:Cx4]\nb2[0]=[1,1]\n")
)


class FakeServer:
    def __init__(self, port: int | None = None, text: str = DOC) -> None:
        self.views = {URI: DocumentView(URI, 3, text)}
        self.settings = SimpleNamespace(sonicPi=SonicPiSettings(port=port))
        self.messages: list[types.ShowMessageParams] = []
        self.published: list[types.PublishDiagnosticsParams] = []

    def view(self, uri: str) -> DocumentView | None:
        return self.views.get(uri)

    def window_show_message(self, params: types.ShowMessageParams) -> None:
        self.messages.append(params)

    def text_document_publish_diagnostics(self, params: types.PublishDiagnosticsParams) -> None:
        self.published.append(params)


def test_position_plays_the_array_under_the_cursor() -> None:
    target = play.resolve_target(
        FakeServer(), {"uri": URI, "position": {"line": 3, "character": 8}}
    )
    assert target.label == "array"
    assert target.snippet.code.splitlines()[1] == "play :C4, release: 0.5"


def test_voice_true_plays_the_whole_generated_block() -> None:
    target = play.resolve_target(
        FakeServer(), {"uri": URI, "position": {"line": 3, "character": 8}, "voice": True}
    )
    assert target.snippet.code == render_block(1, [[Event(60, 0.5), Event(64, 0.5)]], 120)
    assert target.snippet.seconds == pytest.approx(0.5)


def test_bad_arguments_say_which_and_why() -> None:
    server = FakeServer()
    for args, name in [
        ({"uri": URI}, "arguments"),
        ({"uri": "file:///x"}, "uri"),
        ({"uri": URI, "position": {"line": 0, "character": 0}}, "position"),
        ({"notes": [":C4", "exit"]}, "notes"),
        ({"code": ""}, "code"),
    ]:
        with pytest.raises(JsonRpcInvalidParams, match=f"^{name}"):
            play.resolve_target(server, args)


def test_code_actions_offer_play_on_arrays_and_selections() -> None:
    view = FakeServer().view(URI)
    assert view is not None
    at = types.Position(3, 8)
    titles = [a.title for a in play.play_actions(view, types.Range(at, at))]
    assert titles == ["Play in Sonic Pi", "Play voice 1 in Sonic Pi"]
    titles = [
        a.title
        for a in play.play_actions(view, types.Range(types.Position(0, 0), types.Position(5, 0)))
    ]
    assert titles == ["Play selection in Sonic Pi"]


async def test_no_sonic_pi_answers_with_a_message_not_an_error() -> None:
    server = FakeServer(port=free_udp_port())
    result = await play.play_in_sonic_pi(server, {"notes": [":C4"]})
    assert result["played"] is False and "Start Sonic Pi" in result["message"]
    assert server.messages[0].type == types.MessageType.Warning


async def test_an_invalid_note_comes_back_as_a_diagnostic_on_its_line() -> None:
    fake = FakeSonicPi(free_udp_port())
    fake.error_for_run = (
        "[buffer eval, line 3] - Invalid note: :Cx4",
        "eval:3:in `block in __spider_eval'",
        3,
    )
    server = FakeServer()
    server.settings = SimpleNamespace(
        sonicPi=SimpleNamespace(host="127.0.0.1", port=fake.port, extra={})
    )
    try:
        play._state(server).key = None
        client = SonicPiClient(Endpoint("127.0.0.1", fake.port, fake.reply_port))
        play._state(server).client = client
        play._state(server).key = ("127.0.0.1", fake.port, None)
        line = DOC.splitlines().index("a2[0]=[:C4,:Cx4]")
        result = await play.play_in_sonic_pi(
            server, {"uri": URI, "position": {"line": line, "character": 8}}
        )
        assert result["played"] is True and result["listening"] is True
        for _ in range(100):
            if len(server.published) > 1:
                break
            await asyncio.sleep(0.02)
        diagnostics = [d for d in server.published[-1].diagnostics if d.source == "Sonic Pi"]
        (diag,) = diagnostics
        assert (diag.range.start.line, diag.range.start.character) == (line, 11)
        assert (diag.range.end.line, diag.range.end.character) == (line, 15)
        assert "Invalid note: :Cx4" in diag.message
        assert server.messages[-1].type == types.MessageType.Error
    finally:
        play._state(server).forget()
        fake.close()
