"""notegen-lsp against a hostile JSON-RPC peer: every request answered, no frame makes it deaf.

The real server process over stdio, driven byte by byte by the benchmarks' raw client (it
sends whatever we give it). The cases are issue 12's reproducers: broken ``Content-Length``
headers, a frame claiming a terabyte, params of the wrong shape, JSON-RPC 1.0, invalid UTF-8,
requests out of the lifecycle's order. After each, a good request must still be answered.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import SERVER, SONG, rpc


def start(model: Path, tmp_path: Path) -> Any:
    return rpc.RpcClient(
        [str(SERVER), "--model", str(model)], cwd=tmp_path, stderr_path=tmp_path / "server.log"
    )


@pytest.fixture
def client(song_server: Any) -> Any:
    return song_server


def error_of(pending: Any, timeout: float = 10.0) -> dict[str, Any]:
    with pytest.raises(rpc.RpcError) as caught:
        pending.wait(timeout)
    return caught.value.error


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def hover_params(uri: str, line: Any = 2, character: Any = 8) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


def still_serves(client: Any, tmp_path: Path) -> None:
    """A good hover on the open song is answered with the note under the cursor."""
    uri = (tmp_path / "song.rb").as_uri()
    result = client.request("textDocument/hover", hover_params(uri), timeout=10)
    assert "MIDI 60" in result["contents"]["value"]


BAD_FRAMES = {
    "non-numeric length": b"Content-Length: abc\r\n\r\n{}",
    "negative length": b"Content-Length: -5\r\n\r\n{}",
    "missing length": b"Content-Type: application/vscode-jsonrpc\r\n\r\n{}",
    "a terabyte": b"Content-Length: 1000000000000\r\n\r\n{}",
    "a 30-digit length": b"Content-Length: 999999999999999999999999999999\r\n\r\n{}",
    "junk between frames": b"hello\r\n\r\n",
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
def test_a_bad_frame_is_answered_and_the_next_request_is_served(
    client: Any, tmp_path: Path, name: str
) -> None:
    since = len(client.orphans)
    client.send_raw(BAD_FRAMES[name])
    still_serves(client, tmp_path)
    error = client.wait_orphan(since)["error"]
    assert error["code"] == -32700 and "dropped" in error["message"]
    assert client.process.poll() is None


@pytest.mark.parametrize(
    "header",
    [b"Content-Length: abc", b"Content-Length: +%d", b"Content-Length: 999999999999"],
    ids=["not a number", "a plus sign", "over the limit"],
)
def test_a_request_behind_a_refused_header_is_answered_with_its_id(
    client: Any, tmp_path: Path, header: bytes
) -> None:
    """The frame is dropped unread, but the start of its body names its id: the error
    answers that request (with ``"id": null`` its sender waited for ever)."""
    uri = (tmp_path / "song.rb").as_uri()
    request = {"jsonrpc": "2.0", "id": 4242, "method": "textDocument/hover"}
    body = json.dumps({**request, "params": hover_params(uri)}).encode()
    head = header % len(body) if b"%d" in header else header
    pending = client.send_raw(head + b"\r\n\r\n" + body, 4242)
    error = error_of(pending)
    assert error["code"] == -32700 and "dropped" in error["message"]
    still_serves(client, tmp_path)


def test_a_frame_split_across_writes_is_one_message(client: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "song.rb").as_uri()
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "split",
            "method": "textDocument/hover",
            "params": hover_params(uri),
        }
    ).encode()
    whole = frame(body)
    pending = client.send_raw(whole[:7], "split")
    for at in range(7, len(whole), 9):
        client.send_raw(whole[at : at + 9])
    assert "MIDI 60" in pending.wait(10)["contents"]["value"]


MALFORMED = {
    # name: (method, params or a marker, expected code)
    "line -1": ("textDocument/hover", {"line": -1}, -32602),
    "line 2^53": ("textDocument/hover", {"line": 2**53}, -32602),
    "position as a string": ("textDocument/hover", "position-string", -32602),
    "params missing": ("textDocument/completion", "absent", -32602),
    "params null": ("textDocument/completion", None, -32602),
    "params a list": ("textDocument/hover", [1, 2], -32602),
    "inline completion without context": ("textDocument/inlineCompletion", {}, -32602),
    "unknown method": ("notegen/noSuchThing", {}, -32601),
    # before their params were read (JsonRPCRequestMessage wants some; LSP's types theirs)
    "unknown method without params": ("notegen/noSuchThing", "absent", -32601),
    "an LSP method not served, bad params": ("textDocument/definition", [], -32601),
    # an LSP integer is a JSON number without a fraction: these were read as line 2 / 1 / 1
    "line as a string": ("textDocument/hover", {"line": "2"}, -32602),
    "line 1.5": ("textDocument/hover", {"line": 1.5}, -32602),
    "line true": ("textDocument/completion", {"line": True}, -32602),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_request_gets_an_error_reply(client: Any, tmp_path: Path, name: str) -> None:
    method, shape, code = MALFORMED[name]
    uri = (tmp_path / "song.rb").as_uri()
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": name, "method": method}
    if isinstance(shape, dict):
        message["params"] = hover_params(uri, **shape)
    elif shape == "position-string":
        message["params"] = {"textDocument": {"uri": uri}, "position": "2:8"}
    elif shape != "absent":
        message["params"] = shape
    pending = client.send_raw(frame(json.dumps(message).encode()), name)
    assert error_of(pending)["code"] == code
    still_serves(client, tmp_path)


def test_an_error_quotes_at_most_a_few_hundred_characters_of_a_name(client: Any) -> None:
    pending = client.send_raw(
        frame(json.dumps({"jsonrpc": "2.0", "id": "m", "method": "x" * 10_000}).encode()), "m"
    )
    error = error_of(pending)
    assert error["code"] == -32601 and len(error["message"]) < 400


def test_valid_json_python_cannot_read_is_answered_with_its_id(client: Any, tmp_path: Path) -> None:
    """A 5,000-digit integer (Python converts at most 4,300 digits) and nesting ~1,000 deep
    were parse errors with a null id: the client's request waited for ever."""
    uri = (tmp_path / "song.rb").as_uri()
    long = '{"jsonrpc": "2.0", "id": "long", "method": "textDocument/hover", "params": '
    position = '{"line": ' + "9" * 5000 + ', "character": 1}'
    long += '{"textDocument": {"uri": "' + uri + '"}, "position": ' + position + "}}"
    assert error_of(client.send_raw(frame(long.encode()), "long"))["code"] == -32602
    deep = '{"jsonrpc": "2.0", "id": "deep", "method": "textDocument/hover", "params": '
    deep += "[" * 5000 + "]" * 5000 + "}"
    assert error_of(client.send_raw(frame(deep.encode()), "deep"))["code"] == -32700
    still_serves(client, tmp_path)


@pytest.mark.parametrize("method", ["initialized", "textDocument/didClose", "$/cancelRequest"])
def test_a_notification_sent_with_an_id_is_answered_and_not_acted_on(
    client: Any, tmp_path: Path, method: str
) -> None:
    uri = (tmp_path / "song.rb").as_uri()
    params = {"initialized": {}, "$/cancelRequest": {"id": 1}}.get(
        method, {"textDocument": {"uri": uri}}
    )
    error = error_of(client.send(method, params))
    assert error["code"] == -32601 and "notification" in error["message"]
    still_serves(client, tmp_path)  # the didClose "request" did not close the song


def test_a_frame_with_bare_newline_headers_is_served_and_so_is_the_next(
    client: Any, tmp_path: Path
) -> None:
    uri = (tmp_path / "song.rb").as_uri()
    bodies = [
        json.dumps(
            {"jsonrpc": "2.0", "id": k, "method": "textDocument/hover", "params": hover_params(uri)}
        ).encode()
        for k in ("lf", "crlf")
    ]
    lf = client.send_raw(
        b"Content-Length: %d\nContent-Type: application/vscode-jsonrpc\n\n%s"
        % (len(bodies[0]), bodies[0]),
        "lf",
    )
    crlf = client.send_raw(frame(bodies[1]), "crlf")
    assert "MIDI 60" in crlf.wait(10)["contents"]["value"]
    assert "MIDI 60" in lf.wait(10)["contents"]["value"]


def test_an_unterminated_header_does_not_swallow_the_next_frame(
    client: Any, tmp_path: Path
) -> None:
    since = len(client.orphans)
    client.send_raw(b"Content-Length: 12 and no blank line ")
    still_serves(client, tmp_path)
    assert client.wait_orphan(since)["error"]["code"] == -32700


def test_jsonrpc_1_0_is_an_invalid_request(client: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "song.rb").as_uri()
    message = {
        "jsonrpc": "1.0",
        "id": 7,
        "method": "textDocument/hover",
        "params": hover_params(uri),
    }
    pending = client.send_raw(frame(json.dumps(message).encode()), 7)
    assert error_of(pending)["code"] == -32600


def test_invalid_utf8_is_a_parse_error_for_that_request(client: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "song.rb").as_uri()
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "utf8",
            "method": "textDocument/hover",
            "params": hover_params(uri),
        }
    ).encode()
    body = body.replace(b"song.rb", b"s\xff\xfeng.rb")
    pending = client.send_raw(frame(body), "utf8")
    error = error_of(pending)
    assert error["code"] == -32700 and "UTF-8" in error["message"]
    still_serves(client, tmp_path)


@pytest.mark.parametrize(
    "body, code",
    [
        (b"{not json", -32700),
        (b"[" * 100_000, -32700),
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}]', -32600),
        (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}', -32600),
        (b'"a string"', -32600),
    ],
)
def test_an_unreadable_message_gets_an_error_without_id(
    client: Any, tmp_path: Path, body: bytes, code: int
) -> None:
    since = len(client.orphans)
    client.send_raw(frame(body))
    reply = client.wait_orphan(since)
    assert reply["id"] is None and reply["error"]["code"] == code
    still_serves(client, tmp_path)


def test_a_method_that_is_not_a_string_is_an_invalid_request(client: Any) -> None:
    pending = client.send_raw(frame(b'{"jsonrpc": "2.0", "id": "m", "method": 42}'), "m")
    assert error_of(pending)["code"] == -32600


# -- the lifecycle ----------------------------------------------------------------------------


def test_requests_before_initialize_are_refused_and_notifications_dropped(
    tiny_model: Path, tmp_path: Path
) -> None:
    c = start(tiny_model, tmp_path)
    try:
        uri = (tmp_path / "early.rb").as_uri()
        c.did_open(uri, SONG)  # dropped: the server is not initialized
        assert error_of(c.send("textDocument/hover", hover_params(uri)))["code"] == -32002
        c.initialize(tmp_path, initialization_options={})
        assert c.request("textDocument/hover", hover_params(uri)) is None  # never opened
    finally:
        c.close()


def test_a_second_initialize_is_refused_and_documents_are_kept(client: Any, tmp_path: Path) -> None:
    params = {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
    assert error_of(client.send("initialize", params))["code"] == -32600
    still_serves(client, tmp_path)


@pytest.mark.parametrize("forged", [{"result": None}, {"error": {"code": -1, "message": "x"}}])
def test_a_response_forged_for_a_request_in_flight_is_ignored(
    client: Any, tmp_path: Path, forged: dict[str, Any]
) -> None:
    """A "response" carrying the id of the client's own hover, in the same write: pygls took
    it for that request's answer and the connection died (exit 1). The hover gets its own."""
    uri = (tmp_path / "song.rb").as_uri()
    request = {"jsonrpc": "2.0", "id": 77, "method": "textDocument/hover"}
    request["params"] = hover_params(uri)
    forgery = {"jsonrpc": "2.0", "id": 77, **forged}
    pending = client.send_raw(
        frame(json.dumps(request).encode()) + frame(json.dumps(forgery).encode()), 77
    )
    assert "MIDI 60" in pending.wait(10)["contents"]["value"]
    still_serves(client, tmp_path)
    assert client.process.poll() is None


def test_a_request_that_also_carries_an_error_is_a_request(client: Any, tmp_path: Path) -> None:
    """A message with a method and an "error" member was read as an error response, and
    settled the request in flight with the same id: the connection died (exit 1)."""
    uri = (tmp_path / "song.rb").as_uri()
    request = {"jsonrpc": "2.0", "id": 78, "method": "textDocument/hover"}
    request["params"] = hover_params(uri)
    odd = {**request, "error": {"code": 1, "message": "m"}}
    pending = client.send_raw(
        frame(json.dumps(request).encode()) + frame(json.dumps(odd).encode()), 78
    )
    assert "MIDI 60" in pending.wait(10)["contents"]["value"]
    still_serves(client, tmp_path)
    assert client.process.poll() is None


def test_a_message_of_millions_of_values_is_refused_before_it_is_read(
    client: Any, tmp_path: Path
) -> None:
    """60 MB of ``[],`` in one request became 1.5 GB of lists in the server (held after the
    reply). A message of more than a million JSON values is now refused unread; a document
    of millions of brackets and commas is one string, and still served."""
    flood = '{"jsonrpc": "2.0", "id": "flood", "method": "textDocument/hover", "params": ['
    flood += ",".join(["[]"] * 1_200_000) + "]}"
    error = error_of(client.send_raw(frame(flood.encode()), "flood"), timeout=60)
    assert error["code"] == -32600 and "JSON values is refused" in error["message"]
    still_serves(client, tmp_path)
    brackets = (tmp_path / "brackets.rb").as_uri()
    client.did_open(brackets, SONG + "# " + "[],{}," * 600_000 + "\n")  # 2.4 million
    result = client.request("textDocument/hover", hover_params(brackets), timeout=30)
    assert "MIDI 60" in result["contents"]["value"]


@pytest.mark.parametrize(
    "method,params",
    [
        (
            "textDocument/didChange",
            {
                "textDocument": {"uri": "file:///never-opened.rb", "version": 2},
                "contentChanges": [{"text": "a1=[:C4]"}],
            },
        ),
        (
            "notebookDocument/didChange",
            {
                "notebookDocument": {"uri": "nb:none", "version": 2},
                "change": {"metadata": {}},
            },
        ),
        ("window/workDoneProgress/cancel", {"token": {"an": "object"}}),
    ],
)
def test_a_notification_about_nothing_open_is_ignored_quietly(
    client: Any, tmp_path: Path, method: str, params: dict[str, Any]
) -> None:
    """pygls raised on each (KeyError, TypeError) and the editor showed the raw exception:
    "Error in server: KeyError: 'file:///never-opened.rb'"."""
    client.notify(method, params)
    still_serves(client, tmp_path)
    shown = [n for _, name, n in client.notifications if name == "window/showMessage"]
    assert not shown


def test_a_bad_answer_to_apply_edit_is_the_editor_s_fault(client: Any, tmp_path: Path) -> None:
    """An applyEdit answered with null failed the command with -32602 "None: invalid params",
    blaming the params of whoever asked for the command."""
    client.handlers["workspace/applyEdit"] = lambda _params: None
    uri = (tmp_path / "song.rb").as_uri()
    pending = client.send(
        "workspace/executeCommand",
        {"command": "notegen.generateMelody", "arguments": [{"uri": uri, "length": 4}]},
    )
    error = error_of(pending, timeout=60)
    assert error["code"] == -32803
    assert "the editor's answer to workspace/applyEdit is not valid" in error["message"]


def test_a_document_opened_again_at_the_same_version_is_read_anew(
    client: Any, tmp_path: Path
) -> None:
    """Whether a document is Sonic Pi was kept per (uri, version): opened again with other
    text at the same version, the song was taken for the plain text before it."""
    uri = (tmp_path / "twice.rb").as_uri()
    client.did_open(uri, "x = 1\n", version=1)
    assert client.request("textDocument/hover", hover_params(uri, 0, 1), timeout=10) is None
    client.did_open(uri, SONG, version=1)
    result = client.request("textDocument/hover", hover_params(uri), timeout=10)
    assert "MIDI 60" in result["contents"]["value"]


def test_big_openings_and_a_request_written_at_once_are_all_served(
    client: Any, tmp_path: Path
) -> None:
    """Two openings of ~100 kB and a completion in one write, as an editor's pipe may hand
    them over: the server takes each big body as a view of the read (no copy), so every
    frame must still be cut where it ends."""

    def song(first: str) -> str:
        rows = "".join(f"a1[{k}]=[{first},:E4,:G4,:C5,:G4,:E4,:D4,:F4]\n" for k in range(2_000))
        return "a1=[]\n" + rows

    texts = {"one": song(":C4"), "two": song(":D4")}
    uris = {name: (tmp_path / f"{name}.rb").as_uri() for name in texts}
    opening = [
        frame(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": uris[name],
                            "languageId": "ruby",
                            "version": 1,
                            "text": text,
                        }
                    },
                }
            ).encode()
        )
        for name, text in texts.items()
    ]
    assert all(len(body) > 65_536 for body in opening)
    line = texts["two"].count("\n") - 1  # the last row: its first note
    asked = {
        "jsonrpc": "2.0",
        "id": "after-openings",
        "method": "textDocument/hover",
        "params": hover_params(uris["two"], line, len(f"a1[{line - 1}]=[") + 1),
    }
    pending = client.send_raw(b"".join([*opening, frame(json.dumps(asked).encode())]), asked["id"])
    assert "MIDI 62" in pending.wait(30)["contents"]["value"]  # :D4, in the second opening
    result = client.request("textDocument/hover", hover_params(uris["one"], 1, 7), timeout=10)
    assert "MIDI 60" in result["contents"]["value"]  # :C4, the first opening's first row


def test_thousands_of_changes_in_one_did_change_land_where_the_editor_made_them(
    client: Any, tmp_path: Path
) -> None:
    """One ``didChange`` carrying 5,000 changes (a multi-cursor edit, or a hostile one):
    applied in turn, each on the text the previous ones left, and the server answers at once
    after them (one splice each took 2.6 s for 50,000 in the benchmark piece)."""
    uri = (tmp_path / "cursors.rb").as_uri()
    lines = [f"a{k}=[:C4]" for k in range(1, 51)]
    client.did_open(uri, "\n".join(lines) + "\n")
    changes = []
    for k in range(5000):  # every line gains ", :E4" a hundred times, after its last note
        line = k % 50
        at = len(lines[line]) - 1 + (k // 50) * len(", :E4")
        place = {"line": line, "character": at}
        changes.append({"range": {"start": place, "end": place}, "text": ", :E4"})
    client.did_change(uri, 2, changes)
    last = len(lines[49]) - 1 + 99 * len(", :E4") + 2  # on the last line's last :E4
    result = client.request("textDocument/hover", hover_params(uri, 49, last), timeout=30)
    assert "MIDI 64" in result["contents"]["value"]
    first = client.request("textDocument/hover", hover_params(uri, 49, 5), timeout=10)
    assert "MIDI 60" in first["contents"]["value"]  # the :C4 each line began with
    end = len(lines[49]) - 1 + 100 * len(", :E4")
    assert client.request("textDocument/hover", hover_params(uri, 49, end + 1), timeout=10) is None


def test_a_thousand_changes_inside_a_five_megabyte_line_land_and_the_server_answers(
    client: Any, tmp_path: Path
) -> None:
    """A multi-cursor edit of every 1,000th note of a 5 MB one-line array: each change copied
    the whole line (13 s in process, no message read meanwhile); the line is now held in
    pieces while the changes go in."""
    uri = (tmp_path / "long.rb").as_uri()
    head = "a1[0]=["
    client.did_open(uri, head + ":C4," * 1_250_000 + "]\n")
    changes = []
    for k in reversed(range(1000)):  # from the end, so that each column is still the one meant
        at = len(head) + 4 * 1000 * k
        span = {"start": {"line": 0, "character": at}, "end": {"line": 0, "character": at + 3}}
        changes.append({"range": span, "text": ":E4"})
    client.did_change(uri, 2, changes)
    changed = len(head) + 4 * 1000 * 999 + 1  # on the last change's :E4
    result = client.request("textDocument/hover", hover_params(uri, 0, changed), timeout=60)
    assert "MIDI 64" in result["contents"]["value"]
    unchanged = changed + 4
    result = client.request("textDocument/hover", hover_params(uri, 0, unchanged), timeout=10)
    assert "MIDI 60" in result["contents"]["value"]
    still_serves(client, tmp_path)


@pytest.mark.parametrize("uri", [None, 5, ["file:///song.rb"], {"a": 1}])
def test_a_uri_that_is_no_string_is_invalid_params(client: Any, tmp_path: Path, uri: Any) -> None:
    """cattrs read it as ``str(uri)``: the hover answered null for a document "None"."""
    params = {"textDocument": {"uri": uri}, "position": {"line": 2, "character": 8}}
    assert error_of(client.send("textDocument/hover", params))["code"] == -32602
    still_serves(client, tmp_path)


@pytest.mark.parametrize("token", [[1], {"a": 1}])
def test_a_cancel_whose_id_is_a_list_or_object_is_ignored(
    client: Any, tmp_path: Path, token: Any
) -> None:
    """Unhashable: pygls' lookup raised TypeError, and the connection died (exit 1)."""
    client.notify("$/cancelRequest", {"id": token})
    still_serves(client, tmp_path)
    assert client.process.poll() is None


@pytest.mark.parametrize("method", ["textDocument/completion", "textDocument/inlineCompletion"])
def test_play_of_an_absurd_number_leaves_completion_answering(
    client: Any, tmp_path: Path, method: str
) -> None:
    """``play 1e308`` made the register shift loop for ever (adding an octave to 1e308 changes
    nothing): that completion was never answered, nor any completion or hover after it."""
    uri = (tmp_path / "loop.rb").as_uri()
    client.did_open(uri, "live_loop :m do\n  play 1e308\n  sleep 1\n  play :c4\n  sleep 1\nend\n")
    params: dict[str, Any] = hover_params(uri, 3, 10)
    params["context"] = {"triggerKind": 1}
    client.request(method, params, timeout=30)  # answered (its items are not the point)
    still_serves(client, tmp_path)


@pytest.mark.parametrize(
    "diagnostics",
    ["x" * 1_000_000, [1] * 1_000_000],
    ids=["a megabyte string", "a million numbers"],
)
def test_a_huge_array_param_of_the_wrong_kind_is_refused_at_once(
    client: Any, tmp_path: Path, diagnostics: Any
) -> None:
    """cattrs read a string where LSP wants an array character by character, an error per
    element (~30 µs each): the event loop was held ~30 s, every other request waiting."""
    uri = (tmp_path / "song.rb").as_uri()
    where = hover_params(uri)["position"]
    params = {
        "textDocument": {"uri": uri},
        "range": {"start": where, "end": where},
        "context": {"diagnostics": diagnostics},
    }
    error = error_of(client.send("textDocument/codeAction", params))
    assert error["code"] == -32602 and "$.params.context.diagnostics" in error["message"]
    still_serves(client, tmp_path)


def test_after_shutdown_requests_are_invalid_and_exit_is_0(client: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "song.rb").as_uri()
    assert client.request("shutdown") is None
    assert error_of(client.send("textDocument/hover", hover_params(uri)))["code"] == -32600
    client.notify("exit")
    assert client.process.wait(20) == 0


def test_exit_without_shutdown_exits_1(client: Any) -> None:
    client.notify("exit")
    assert client.process.wait(20) == 1


def test_seeded_garbage_between_frames_never_loses_a_good_request(
    client: Any, tmp_path: Path
) -> None:
    """200 pieces of seeded garbage (random bytes, broken headers, truncated JSON, lying
    lengths that swallow nothing), each followed by a well-framed hover that must be answered."""
    rng = random.Random(12)
    uri = (tmp_path / "song.rb").as_uri()
    pieces = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))).replace(b"C", b"c"),
        lambda: (
            b"Content-Length: "
            + str(rng.choice([-1, "x", "", "1e9", "0x10"])).encode()
            + b"\r\n\r\n"
        ),
        lambda: frame(b'{"jsonrpc": "2.0", "id": 1, "method": "textDocument/hov'),
        lambda: frame(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": rng.choice(["x", "", "$/y"]),
                    "params": rng.choice([None, [], 3, "s"]),
                }
            ).encode()
        ),
        lambda: b"Content-Type: x\r\n\r\n{}",
    ]
    pendings = []
    for k in range(200):
        client.send_raw(rng.choice(pieces)())
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": f"g{k}",
                "method": "textDocument/hover",
                "params": hover_params(uri),
            }
        ).encode()
        pendings.append(client.send_raw(frame(body), f"g{k}"))
    for pending in pendings:
        assert "MIDI 60" in pending.wait(30)["contents"]["value"]
    assert client.process.poll() is None
