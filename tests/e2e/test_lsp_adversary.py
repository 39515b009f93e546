"""What an independent adversarial client found in the server's newer features (issue 12, again).

Each test is one finding's reproducer through the real server process: before the fix the
server stopped answering for good (a loop over 10^308 piano-roll rows, a FIFO opened on the
event loop, a reading that took depth² steps). Now each request is answered, and a good hover
afterwards still is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import SONG, rpc


@pytest.fixture
def client(song_server: Any) -> Any:
    return song_server


def hover(client: Any, uri: str, line: int, character: int, timeout: float = 30) -> Any:
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    return client.request("textDocument/hover", params, timeout=timeout)


def still_serves(client: Any, tmp_path: Path) -> None:
    result = hover(client, (tmp_path / "song.rb").as_uri(), 2, 8, timeout=10)
    assert "MIDI 60" in result["contents"]["value"]


def command(client: Any, name: str, args: dict[str, Any], timeout: float = 60) -> Any:
    params = {"command": name, "arguments": [args]}
    return client.request("workspace/executeCommand", params, timeout=timeout)


# A note of 10^308 and a duration of 10^308 beats: the picture looped over every MIDI row and
# every beat between them (continueMelody's preview: the event loop, for good).
ABSURD = "a1=[]\nb1=[]\na1[0]=[:C4, 1e308, :E4, ]\nb1[0]=[1, 1e308, 1]\n"


def test_a_continuation_preview_of_an_absurd_array_is_answered(client: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "absurd.rb").as_uri()
    client.did_open(uri, ABSURD)
    args = {"uri": uri, "position": {"line": 2, "character": 22}, "count": 3, "preview": True}
    result = command(client, "notegen.continueMelody", args)
    assert result["preview"] is True and result["svg"].startswith("<svg")
    still_serves(client, tmp_path)


def test_a_hover_picture_of_an_absurd_array_is_answered(client: Any, tmp_path: Path) -> None:
    settings = {"notegen": {"pianoRoll": True}}
    client.notify("workspace/didChangeConfiguration", {"settings": settings})
    uri = (tmp_path / "absurd.rb").as_uri()
    client.did_open(uri, ABSURD)
    assert "piano roll" in hover(client, uri, 2, 8)["contents"]["value"]
    still_serves(client, tmp_path)


def test_a_fifo_in_the_models_folder_is_not_opened(client: Any, tmp_path: Path) -> None:
    """A document asking for a model by name makes the server list the models folder; a FIFO
    named ``evil.json`` there was opened on the event loop, which then waited for a writer."""
    folder = tmp_path / "models"
    folder.mkdir()
    os.mkfifo(folder / "evil.json")
    settings = {"notegen": {"modelsDir": str(folder)}}
    client.notify("workspace/didChangeConfiguration", {"settings": settings})
    uri = (tmp_path / "magic.rb").as_uri()
    client.did_open(uri, "# notegen: model=evil\n" + SONG)
    assert "MIDI 60" in hover(client, uri, 3, 8)["contents"]["value"]
    said = client.wait_notification("notegen/model", lambda p: p["uri"] == uri, timeout=30)
    assert said["requested"] == "evil" and "no model named 'evil'" in said["error"]


def test_a_cursor_inside_50000_nested_brackets_is_answered(client: Any, tmp_path: Path) -> None:
    """Which tokens lie outside every bracket group was found group by group: depth² steps."""
    uri = (tmp_path / "nested.rb").as_uri()
    client.did_open(uri, "a1=[]\na1[0]=" + "[" * 50_000 + ":C4" + "]" * 50_000 + "\n")
    hover(client, uri, 1, 25_000, timeout=60)  # answered (nothing to describe there)
    still_serves(client, tmp_path)


def test_an_include_glob_full_of_stars_is_matched_in_time(client: Any, tmp_path: Path) -> None:
    """``include`` globs became regular expressions (``**a**a...`` → ``.*a.*a...``) that
    backtracked exponentially on a long path: every request of that document held the loop."""
    globs = ["**a" * 12 + "b", "*a" * 12 + "*b"]
    client.notify("workspace/didChangeConfiguration", {"settings": {"notegen": {"include": globs}}})
    uri = (tmp_path / ("a" * 60) / ("a" * 60 + ".rb")).as_uri()
    client.did_open(uri, SONG)
    assert "MIDI 60" in hover(client, uri, 2, 8)["contents"]["value"]
    still_serves(client, tmp_path)


def test_a_client_that_never_answers_apply_edit_gets_an_error_reply(
    client: Any, tmp_path: Path
) -> None:
    """Generate melody waited for the client's ``workspace/applyEdit`` answer for ever: its own
    request was never answered. Now it fails after 30 s with RequestFailed, saying why."""
    client.handlers["workspace/applyEdit"] = rpc.NO_ANSWER
    uri = (tmp_path / "song.rb").as_uri()
    pending = client.send(
        "workspace/executeCommand",
        {"command": "notegen.generateMelody", "arguments": [{"uri": uri, "length": 4}]},
    )
    still_serves(client, tmp_path)  # meanwhile everything else is answered
    with pytest.raises(rpc.RpcError) as caught:
        pending.wait(90)
    assert caught.value.code == -32803
    assert "did not answer workspace/applyEdit" in caught.value.error["message"]


def test_settings_with_100000_unknown_keys_make_a_handful_of_messages(
    client: Any, tmp_path: Path
) -> None:
    """Each bad setting was a ``window/showMessage``: 100,000 popups, and the requests behind
    them waited. Now five, then one count."""
    settings = {f"k{k}": k for k in range(100_000)}
    client.notify("workspace/didChangeConfiguration", {"settings": {"notegen": settings}})
    still_serves(client, tmp_path)
    client.wait_notification(
        "window/showMessage", lambda p: "99,995 more settings problems" in p["message"]
    )
    shown = [n for _, method, n in client.notifications if method == "window/showMessage"]
    assert len(shown) == 6 and "notegen.k0 is not a notegen setting" in shown[0]["message"]


def test_a_play_command_in_100000_nested_brackets_is_answered(client: Any, tmp_path: Path) -> None:
    """Play reads the whole file; the reader counted each bracket group's strings and symbols
    token by token (depth² steps): no answer within minutes. Now a clear error in seconds."""
    uri = (tmp_path / "nested.rb").as_uri()
    client.did_open(uri, "[" * 100_000)
    args = {"uri": uri, "position": {"line": 0, "character": 50}}
    with pytest.raises(rpc.RpcError) as caught:
        command(client, "notegen.playInSonicPi", args, timeout=90)
    assert caught.value.code == -32602 and "not inside a note array" in str(caught.value)
    still_serves(client, tmp_path)


@pytest.mark.parametrize(
    "name, args",
    [
        ("notegen.generateMelody", {"length": 4, "preview": True}),
        ("notegen.continueMelody", {"position": {"line": 2, "character": 8}, "preview": True}),
        ("notegen.playInSonicPi", {"position": {"line": 2, "character": 8}}),
    ],
)
def test_a_command_on_a_file_too_big_to_read_whole_says_so_at_once(
    client: Any, tmp_path: Path, name: str, args: dict[str, Any]
) -> None:
    """Above 4,000,000 characters the server never reads a file whole, but these commands did:
    Generate on 6.8 MB read it on the event loop (every request waited ~20 s) and answered
    after ~5 minutes. Now a clear error."""
    uri = (tmp_path / "huge.rb").as_uri()
    section = "a1[%d]=[" + ", ".join([":C4", ":E4", ":G4", ":C5"] * 10) + "]\n"
    client.did_open(uri, "a1=[]\n" + "".join(section % k for k in range(21_000)))
    with pytest.raises(rpc.RpcError) as caught:
        command(client, name, {"uri": uri, **args}, timeout=60)
    assert caught.value.code == -32602 and "characters; notegen reads at most" in str(caught.value)
    still_serves(client, tmp_path)


@pytest.mark.parametrize("setting", ["modelsDir", "folderModels", "modelPath"])
def test_a_home_of_no_user_in_a_path_setting_is_a_path_not_found(
    client: Any, tmp_path: Path, setting: str
) -> None:
    """``~nosuchuser/...`` made ``Path.expanduser`` raise: the documents of a models folder
    so named got no diagnostics at all, and the error said only "RuntimeError". Now it is a
    path like any other that does not exist."""
    where = "~notegen-no-such-user/models"
    value: Any = {where: "other"} if setting == "folderModels" else where
    if setting == "modelPath":
        value = where + "/card.json"
    client.notify("workspace/didChangeConfiguration", {"settings": {"notegen": {setting: value}}})
    uri = (tmp_path / "chosen.rb").as_uri()
    text = "# notegen: model=other\n" + SONG
    client.did_open(uri, text)
    published = client.wait_notification(
        "textDocument/publishDiagnostics", lambda p: p["uri"] == uri, timeout=30
    )
    if setting != "modelPath":  # the document asks for a model no folder has
        assert any(d.get("code") == "unknown-model" for d in published["diagnostics"])
    still_serves(client, tmp_path)
    messages = [
        n["message"] for _, method, n in client.notifications if method.startswith("window/")
    ]
    assert not any("RuntimeError" in m for m in messages)
    if setting == "modelPath":
        client.wait_notification(
            "window/showMessage", lambda p: f"{value}: model card not found" in p["message"]
        )
    assert "RuntimeError" not in (tmp_path / "server.log").read_text()


def test_ghost_durations_with_an_infinite_version_change_nothing(
    client: Any, tmp_path: Path
) -> None:
    """``1e400`` is JSON; ``int()`` of the infinity it reads as raised OverflowError, where
    the command answers every malformed call with what it did: nothing."""
    uri = (tmp_path / "song.rb").as_uri()
    args = '{"uri": "' + uri + '", "version": 1e400, "position": {"line": 2, "character": 8}, '
    args += '"text": ":C4", "durations": [1]}'
    body = '{"jsonrpc": "2.0", "id": "ghost", "method": "workspace/executeCommand", "params": '
    body += '{"command": "notegen.addGhostDurations", "arguments": [' + args + "]}}"
    pending = client.send_raw(b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()), "ghost")
    assert pending.wait(30) == {"applied": False, "added": 0, "reason": "malformed arguments"}
    still_serves(client, tmp_path)


@pytest.mark.parametrize("note", [500, -5, 1e308, ":c40"])
def test_a_seed_note_sonic_pi_cannot_play_is_refused(
    client: Any, tmp_path: Path, note: Any
) -> None:
    """It was written into the generated voice as ``:Ab40`` (or a 300-digit octave)."""
    uri = (tmp_path / "song.rb").as_uri()
    with pytest.raises(rpc.RpcError) as caught:
        command(client, "notegen.generateMelody", {"uri": uri, "length": 4, "seed_notes": [note]})
    assert caught.value.code == -32602
    assert (
        "seed_notes[0]" in caught.value.error["message"]
        and "0-231" in caught.value.error["message"]
    )


@pytest.mark.parametrize("line,hidden", [(1, "a string or heredoc"), (4, "a =begin comment block")])
def test_a_melody_asked_for_in_code_that_never_runs_goes_where_it_plays(
    client: Any, tmp_path: Path, line: int, hidden: str
) -> None:
    """At a position inside a heredoc or a =begin block the block was inserted there, where
    Ruby never runs it, and the answer said "where it was asked for"."""
    text = "x = <<~EOS\n  hello\nEOS\n=begin\nold\n=end\n" + SONG + "__END__\nkept\n"
    uri = (tmp_path / "dead.rb").as_uri()
    client.did_open(uri, text)
    since = len(client.applied_edits)
    args = {"uri": uri, "length": 4, "seed": 1, "position": {"line": line, "character": 0}}
    result = command(client, "notegen.generateMelody", args)
    assert f"line {line + 1} is in {hidden}, where code never runs" in result["where"]
    (_, params), *_ = client.applied_edits[since:]
    (edit,) = params["edit"]["documentChanges"][0]["edits"]
    assert edit["range"]["start"]["line"] == text[: text.index("__END__")].count("\n")


def test_an_empty_play_has_no_hover(client: Any, tmp_path: Path) -> None:
    """``play `` being typed showed "**** — a rest" (the empty element under the cursor)."""
    uri = (tmp_path / "typing.rb").as_uri()
    client.did_open(uri, "live_loop :m do\n  play :c4\n  sleep 1\n  play \n  sleep 1\nend\n")
    assert hover(client, uri, 3, 7) is None
    assert "MIDI 60" in hover(client, uri, 1, 8)["contents"]["value"]
