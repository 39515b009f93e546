"""notegen.playInSonicPi / notegen.stopSonicPi: what each argument plays, and errors coming
back onto the document line, against the fake spider server of tests/fixtures/fake_sonic_pi.py
found through a fake process table (as a real Sonic Pi 5 is found)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import notegen.playback.sonic_pi_client as spc
import pytest
from fixtures.fake_sonic_pi import FakeSpider, free_udp_port
from lsprotocol import types
from notegen.lsp import play
from notegen.lsp.config import SonicPiSettings
from notegen.lsp.documents import DocumentView
from notegen.melody import Event
from notegen.playback.sonic_pi_discovery import ProcessTable
from notegen.sonicpi import render_block
from pygls.exceptions import JsonRpcInvalidParams

URI = "file:///tune.rb"
DOC = (
    "use_synth :pluck\n"
    + render_block(1, [[Event(60, 0.5), Event(64, 0.5)]], 120)
    + ("a2=[]\nb2=[]\na2[0]=[:C4,:Cx4]\nb2[0]=[1,1]\n")
)
# A piece whose voice 1 has an unrelated live_loop between its arrays and its loop.
PIECE = (
    "a1=[]\nb1=[]\n"
    "a1[0]=[:C4,:E4,:G4]\nb1[0]=[0.5,0.5,1]\n"
    "live_loop :drums do\n  sample :bd_haus\n  sleep 0.5\nend\n"
    "a1[1]=[:A4,:H4]\nb1[1]=[1,1]\n"
    "c1=[120,90]\n"
    "in_thread do\n"
    "  for i in 0..a1.length-1\n"
    "    use_bpm c1[i]\n"
    "    for j in 0..a1[i].length-1\n"
    "      play a1[i][j], release: b1[i][j]\n"
    "      sleep b1[i][j]\n"
    "    end\n"
    "  end\n"
    "end\n"
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
    block = render_block(1, [[Event(60, 0.5), Event(64, 0.5)]], 120)
    assert target.snippet.code == "use_synth :pluck\n" + block  # the piece's synth, the block
    assert target.snippet.seconds == pytest.approx(0.5)


def test_voice_true_sends_its_arrays_and_its_loop_but_not_the_code_between() -> None:
    server = FakeServer(text=PIECE)
    target = play.resolve_target(
        server, {"uri": URI, "position": {"line": 2, "character": 8}, "voice": True}
    )
    assert "live_loop" not in target.snippet.code and "sample" not in target.snippet.code
    assert target.snippet.code == PIECE.replace(
        "live_loop :drums do\n  sample :bd_haus\n  sleep 0.5\nend\n", ""
    )
    assert target.snippet.seconds == pytest.approx(2.0 * 60 / 120 + 2.0 * 60 / 90)


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


@pytest.fixture(autouse=True)
def no_real_sonic_pi_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spc, "V3_SERVER_PORT", free_udp_port())


def attach(server: FakeServer, tmp_path, *running: FakeSpider) -> None:
    """Discovery for this server sees ``running`` in the process table, logs in tmp_path."""
    entries = tuple((4242 + i, f.command_line()) for i, f in enumerate(running))
    play._state(server).discovery = {
        "log_dir": tmp_path,
        "processes": lambda: ProcessTable(entries),
    }


async def idle(server: FakeServer) -> None:
    """Until the last play has been followed to its end (Sonic Pi reported it completed)."""
    for _ in range(250):
        if not play._state(server).following.locked():
            return
        await asyncio.sleep(0.02)


async def wait_for_published(server: FakeServer, count: int) -> None:
    for _ in range(250):
        if len(server.published) >= count:
            return
        await asyncio.sleep(0.02)


async def test_no_sonic_pi_answers_with_a_message_not_an_error(tmp_path) -> None:
    server = FakeServer()
    attach(server, tmp_path)
    result = await play.play_in_sonic_pi(server, {"notes": [":C4"]})
    assert result["played"] is False and "Start Sonic Pi" in result["message"]
    assert server.messages[0].type == types.MessageType.Warning


async def test_play_says_which_sonic_pi_it_found(tmp_path) -> None:
    spider = FakeSpider()
    server = FakeServer(text=PIECE)
    attach(server, tmp_path, spider)
    try:
        result = await play.play_in_sonic_pi(server, {"notes": [":C4"]})
        assert result["played"] is True and result["listening"] is True
        assert result["endpoint"] == (
            f"Sonic Pi 5.0.0-beta-1 at 127.0.0.1:{spider.port}, found from its running server "
            "(pid 4242)"
        )
        await idle(server)
    finally:
        play._state(server).forget()
        spider.close()


async def test_an_invalid_note_comes_back_as_a_diagnostic_on_its_line(tmp_path) -> None:
    spider = FakeSpider()
    spider.invalid = {":Cx4"}
    server = FakeServer()
    attach(server, tmp_path, spider)
    try:
        line = DOC.splitlines().index("a2[0]=[:C4,:Cx4]")
        result = await play.play_in_sonic_pi(
            server, {"uri": URI, "position": {"line": line, "character": 8}}
        )
        assert result["played"] is True and result["listening"] is True
        await wait_for_published(server, 2)
        diagnostics = [d for d in server.published[-1].diagnostics if d.source == "Sonic Pi"]
        (diag,) = diagnostics
        assert (diag.range.start.line, diag.range.start.character) == (line, 11)
        assert (diag.range.end.line, diag.range.end.character) == (line, 15)
        assert "Invalid note: :Cx4" in diag.message
        assert server.messages[-1].type == types.MessageType.Error
    finally:
        play._state(server).forget()
        spider.close()


async def test_a_voices_invalid_note_points_at_the_note_not_at_the_loops_play(tmp_path) -> None:
    spider = FakeSpider()
    spider.invalid = {":H4"}
    server = FakeServer(text=PIECE)
    attach(server, tmp_path, spider)
    try:
        result = await play.play_in_sonic_pi(
            server, {"uri": URI, "position": {"line": 2, "character": 8}, "voice": True}
        )
        assert result["played"] is True
        await wait_for_published(server, 2)
        (diag,) = [d for d in server.published[-1].diagnostics if d.source == "Sonic Pi"]
        line = PIECE.splitlines().index("a1[1]=[:A4,:H4]")
        assert (diag.range.start.line, diag.range.start.character) == (line, 11)
        assert (diag.range.end.line, diag.range.end.character) == (line, 14)
        assert f"line {line + 1}: " in server.messages[-1].message
        assert "live_loop" not in spider.runs[0]
    finally:
        play._state(server).forget()
        spider.close()


async def test_after_sonic_pi_restarts_the_new_instance_is_found(tmp_path) -> None:
    """Play, Sonic Pi restarts (new ports and token, a stale daemon.log), then Stop and play:
    both reach the new instance."""
    first = FakeSpider()
    server = FakeServer(text=PIECE)
    attach(server, tmp_path, first)
    try:
        assert (await play.play_in_sonic_pi(server, {"notes": [":C4"]}))["played"] is True
        await idle(server)
        first.close()  # Sonic Pi quits; a new one starts with new ports and a new token
        (tmp_path / "daemon.log").write_text(
            f"[t] Selected ports:\n[t] Token: {first.token}\n[t] Daemon Booter is now exiting.\n"
        )
        second = FakeSpider(token=424242)
        attach(server, tmp_path, second)
        assert (await play.stop_sonic_pi(server))["stopped"] is True  # Stop first: rediscovers
        result = await play.play_in_sonic_pi(server, {"notes": [":E4"]})
        assert result["played"] is True, result
        assert f":{second.port}," in result["endpoint"]
        await idle(server)  # the fake answers in order: the Stop arrived before the run
        assert ("/stop-all-jobs", [424242], ",i") in second.received
        assert any(r[0] == "/run-code" and r[1][0] == 424242 for r in second.received)
    finally:
        play._state(server).forget()
        second.close()
