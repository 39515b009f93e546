"""Big generations run in a child process (notegen.lsp.child): the same notes as in the server,
a clear error and no edit when the child cannot load the model or dies, and no process left
behind a cancelled request. ``$NOTEGEN_CHILD_MIN_NOTES`` moves the threshold so that both
paths run the same requests here with the tiny model.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import completion, rpc, started

PIECE = """\
use_bpm 96
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:F4,:G4,:E4,:D4,:C4]
b1[0]=[0.5,0.5,1,1,0.5,0.5,1,2]
a2=[]
b2=[]
a2[0]=[:C3,:G3,:E3,:G3]
b2[0]=[2,2,2,2]
live_loop :tune do
  play :e4
  sleep 0.5
  play :g4
  sleep 1
end
"""
EVERYTHING = "0"
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
NOTHING = str(10**9)


def start(model: Path, tmp_path: Path, child_min_notes: str | None, name: str) -> Any:
    return started(model, tmp_path, name, {"NOTEGEN_CHILD_MIN_NOTES": child_min_notes})


@pytest.fixture
def servers(tiny_model: Path, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two servers: every generation in a child process, and none."""
    apart = start(tiny_model, tmp_path, EVERYTHING, "apart")
    inside = start(tiny_model, tmp_path, NOTHING, "inside")
    try:
        yield apart, inside
    finally:
        apart.close()
        inside.close()


def command(client: Any, name: str, args: dict[str, Any]) -> Any:
    return client.send(
        "workspace/executeCommand", {"command": f"notegen.{name}", "arguments": [args]}
    )


def edit_texts(client: Any) -> list[list[str]]:
    """The new texts of every edit the server asked the client to apply, in order."""
    out = []
    for _t, params in client.applied_edits:
        out.append([e["newText"] for c in params["edit"]["documentChanges"] for e in c["edits"]])
    return out


def wait_for_child(pid: int, other_than: int | None = None, timeout: float = 60.0) -> int:
    """The server's child process, once it has one (the generation has started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in rpc.descendants(pid) if p != other_than]
        if found:
            return int(found[0])
        time.sleep(0.01)
    raise TimeoutError("the server started no child process")


REQUESTS = [
    ("generateMelody", {"length": 300, "seed": 4}),
    ("generateMelody", {"length": 40, "seed": 9, "position": {"line": 9, "character": 0}}),
    ("generateMelody", {"length": 48, "seed": 2, "form": "live_loop", "key": ":d"}),
    ("generateMelody", {"length": 24, "seed": 5, "preview": True}),
    ("continueMelody", {"count": 30, "seed": 6, "position": {"line": 3, "character": 12}}),
    ("continueMelody", {"count": 12, "seed": 8, "position": {"line": 11, "character": 4}}),
    ("continueMelody", {"count": 10, "seed": 1, "position": {"line": 3, "character": 12},
                        "preview": True}),
    # long continuations: parallel rows (notegen.model.generate.generate_long), in arrays and lines
    ("continueMelody", {"count": 700, "seed": 3, "position": {"line": 3, "character": 12}}),
    ("continueMelody", {"count": 660, "seed": 2, "position": {"line": 11, "character": 4}}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args"), REQUESTS)
def test_a_child_process_gives_the_notes_the_server_gives(
    servers: tuple[Any, Any], tmp_path: Path, name: str, args: dict[str, Any]
) -> None:
    uri = (tmp_path / "piece.rb").as_uri()
    results = []
    for client in servers:
        client.did_open(uri, PIECE)
        results.append(command(client, name, {"uri": uri, **args}).wait(120))
    apart, inside = results
    assert apart == inside
    assert edit_texts(servers[0]) == edit_texts(servers[1])
    expected = args.get("length", args.get("count"))
    assert apart["notes"] == expected
    if args.get("preview"):
        assert apart["preview"] is True and "data:image/svg+xml" in str(apart)
        assert edit_texts(servers[0]) == []
    else:
        assert apart["applied"] is True and len(edit_texts(servers[0])) == 1


LOOP = "use_bpm 96\n" + PIECE[PIECE.index("live_loop") :]  # (its play/sleep lines alone)


def test_a_child_writes_a_play_lines_document_its_own_form_as_the_server_does(
    servers: tuple[Any, Any], tmp_path: Path
) -> None:
    """Asked with no form before any reading of the text is in, a child reads the form off
    its own parse of the text (the server reads nothing for it), the server off its job's."""
    uri = (tmp_path / "loop.rb").as_uri()
    results = []
    for client in servers:
        client.did_open(uri, LOOP)
        asked = {"uri": uri, "length": 16, "seed": 4}
        results.append(command(client, "generateMelody", asked).wait(120))
    apart, inside = results
    assert apart["form"] == inside["form"] == "live_loop"
    assert edit_texts(servers[0]) == edit_texts(servers[1])
    (texts,) = edit_texts(servers[0])
    assert "live_loop :notegen do" in "".join(texts)


@pytest.mark.parametrize(
    "position", [{"line": 3, "character": 12}, {"line": 11, "character": 4}], ids=["array", "play"]
)
def test_a_continuation_after_the_whole_reading_gives_the_notes_a_child_gives(
    tmp_path: Path, position: dict[str, int]
) -> None:
    """In the server a continuation takes the voice's setting and the spelling from the
    document's whole reading once it is in; a child reads the piece itself. The shipped
    model: its experts hear the other voices (the tiny one's do not)."""
    servers = [
        start(SHIPPED, tmp_path, EVERYTHING, "apart"),
        start(SHIPPED, tmp_path, NOTHING, "in"),
    ]
    try:
        uri = (tmp_path / "piece.rb").as_uri()
        results = []
        for client in servers:
            client.did_open(uri, PIECE)
            client.wait_notification(
                "textDocument/publishDiagnostics", lambda p: p["uri"] == uri, timeout=60
            )  # (published once the whole reading is in)
            asked = {"uri": uri, "count": 12, "seed": 6, "position": position}
            results.append(command(client, "continueMelody", asked).wait(120))
        assert results[0] == results[1]
        assert results[0]["applied"] is True and results[0]["notes"] == 12
        assert edit_texts(servers[0]) == edit_texts(servers[1])
    finally:
        for client in servers:
            client.close()


def child_cannot_load(tiny_model: Path, tmp_path: Path, uri: str) -> tuple[Any, list[Path]]:
    """A server (children from 100 notes) with ``PIECE`` open at ``uri`` whose model's graphs
    are broken once it has loaded them (the files change under it): only it has a model."""
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model.parent, model_dir)
    client = start(model_dir / tiny_model.name, tmp_path, "100", "server")
    try:
        client.did_open(uri, PIECE)
        assert completion(client, uri, 3, 12).wait(60)["items"]  # the server's model is loaded
        graphs = list(model_dir.glob("*.onnx"))
        assert graphs
        for graph in graphs:
            graph.write_bytes(b"not an onnx graph")
    except BaseException:
        client.close()
        raise
    return client, graphs


def test_a_child_that_cannot_load_the_model_is_an_error_and_changes_nothing(
    tiny_model: Path, tmp_path: Path
) -> None:
    uri = (tmp_path / "piece.rb").as_uri()
    client, graphs = child_cannot_load(tiny_model, tmp_path, uri)
    try:
        with pytest.raises(rpc.RpcError) as caught:
            command(client, "generateMelody", {"uri": uri, "length": 200, "seed": 1}).wait(60)
        assert caught.value.code == -32001
        assert str(graphs[0].name) in str(caught.value)
        assert edit_texts(client) == []
        # a small generation runs in the server, whose model was loaded before
        small = command(client, "generateMelody", {"uri": uri, "length": 8, "seed": 1}).wait(60)
        assert small["applied"] is True and small["notes"] == 8
    finally:
        client.close()


@pytest.mark.parametrize(
    "position",
    [{"line": 0, "character": 5}, {"line": 400, "character": 0}],
    ids=["code that is no array", "past the document's end"],
)
def test_a_big_continuation_with_nothing_to_continue_is_refused_before_any_child(
    tiny_model: Path, tmp_path: Path, position: dict[str, int]
) -> None:
    """A child could not load the model here: the refusal names the position, not the
    model."""
    uri = (tmp_path / "piece.rb").as_uri()
    client, _graphs = child_cannot_load(tiny_model, tmp_path, uri)
    try:
        asked = {"uri": uri, "count": 200, "position": position}
        with pytest.raises(rpc.RpcError) as caught:
            command(client, "continueMelody", asked).wait(60)
        assert caught.value.code == -32602
        where = f"line {position['line']}, character {position['character']}"
        assert f"{where} is not inside a note array" in str(caught.value)
        assert edit_texts(client) == []
        # inside an array the same continuation goes to a child, which fails to load the model
        placed = {**asked, "position": {"line": 3, "character": 12}}
        with pytest.raises(rpc.RpcError) as caught:
            command(client, "continueMelody", placed).wait(60)
        assert caught.value.code == -32001
    finally:
        client.close()


def test_a_child_that_dies_is_an_error_and_changes_nothing(
    tiny_model: Path, tmp_path: Path
) -> None:
    client = start(tiny_model, tmp_path, None, "server")
    try:
        uri = (tmp_path / "long.rb").as_uri()
        client.did_open(uri, "")
        running = command(client, "generateMelody", {"uri": uri, "length": 100_000, "seed": 1})
        os.kill(wait_for_child(client.process.pid), signal.SIGKILL)
        with pytest.raises(rpc.RpcError) as caught:
            running.wait(60)
        assert caught.value.code == -32603
        assert "killed by SIGKILL" in str(caught.value)
        assert "nothing was changed" in str(caught.value)
        assert edit_texts(client) == []
        assert rpc.descendants(client.process.pid) == []
        other = (tmp_path / "other.rb").as_uri()
        client.did_open(other, PIECE)
        assert completion(client, other, 3, 12).wait(60)["items"]  # still serving
    finally:
        client.close()


def test_a_cancelled_big_generation_leaves_no_process_behind(
    tiny_model: Path, tmp_path: Path
) -> None:
    client = start(tiny_model, tmp_path, None, "server")
    try:
        uri = (tmp_path / "long.rb").as_uri()
        client.did_open(uri, "")
        running = command(client, "generateMelody", {"uri": uri, "length": 100_000, "seed": 1})
        first = wait_for_child(client.process.pid)
        client.cancel(running)
        with pytest.raises(rpc.RpcError) as caught:
            running.wait(60)
        assert caught.value.code == -32800  # RequestCancelled
        # Big jobs take turns: the next one starts once the cancelled one's process is gone.
        second = command(client, "generateMelody", {"uri": uri, "length": 100_000, "seed": 2})
        wait_for_child(client.process.pid, other_than=first)
        assert not Path(f"/proc/{first}").exists()  # killed and reaped
        client.cancel(second)
        with pytest.raises(rpc.RpcError):
            second.wait(60)
        assert edit_texts(client) == []
    finally:
        client.close()


def test_work_whose_document_closed_while_it_waited_is_not_begun(
    servers: tuple[Any, Any], tmp_path: Path
) -> None:
    """A client that opens a document, asks for a generation and closes it, again and again:
    each generation finds its document closed when its turn comes (a child process each, or
    the long-work thread) and answers ContentModified without doing the work."""
    for client in servers:
        pending = []
        for k in range(5):
            uri = (tmp_path / f"gone{k}.rb").as_uri()
            client.did_open(uri, PIECE)
            pending.append(command(client, "generateMelody", {"uri": uri, "length": 300}))
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        errors = []
        for reply in pending:
            with pytest.raises(rpc.RpcError) as raised:
                reply.wait(120)
            errors.append(raised.value)
        assert {e.code for e in errors} == {-32801}  # ContentModified
        skipped = [e for e in errors if "was closed before the work began" in str(e)]
        assert len(skipped) >= 4, [str(e) for e in errors]  # (the first may have begun)
        assert edit_texts(client) == []


def test_a_big_generation_under_way_stops_when_its_document_closes(
    tiny_model: Path, tmp_path: Path
) -> None:
    client = start(tiny_model, tmp_path, None, "server")
    try:
        uri = (tmp_path / "long.rb").as_uri()
        client.did_open(uri, "")
        running = command(client, "generateMelody", {"uri": uri, "length": 100_000, "seed": 1})
        child_pid = wait_for_child(client.process.pid)
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        with pytest.raises(rpc.RpcError) as caught:
            running.wait(60)
        assert caught.value.code == -32801  # ContentModified
        assert "was closed while the work ran" in str(caught.value)
        assert not Path(f"/proc/{child_pid}").exists()  # killed and reaped before the answer
        assert edit_texts(client) == []
        # the server goes on: the next big generation gets its turn
        client.did_open(uri, "")
        nxt = command(client, "generateMelody", {"uri": uri, "length": 100_000, "seed": 2})
        wait_for_child(client.process.pid, other_than=child_pid)
        client.cancel(nxt)
        with pytest.raises(rpc.RpcError):
            nxt.wait(60)
    finally:
        client.close()


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_for(pid: int, seconds: float, timeout: float = 60.0) -> None:
    """Until the process has spent ``seconds`` more of CPU (its work is under way)."""
    start = cpu_seconds(pid)
    deadline = time.monotonic() + timeout
    while cpu_seconds(pid) - start < seconds:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not spend {seconds} s of CPU")
        time.sleep(0.01)


def settles(pid: int, timeout: float = 30.0) -> None:
    """Until the process spends under a fifth of a core over 0.2 s (no work left running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.2)
        if cpu_seconds(pid) - before < 0.04:
            return
    raise TimeoutError("the server kept working")


def test_a_generation_under_way_in_the_server_stops_when_its_document_closes(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The same without child processes: the work on the server's long-work thread stops at
    its next model step. Measured in the server's own CPU: the stopped generation costs a
    fraction of one run to its end (here, first)."""
    client = start(tiny_model, tmp_path, NOTHING, "inside")
    try:
        pid = client.process.pid
        whole = (tmp_path / "whole.rb").as_uri()
        client.did_open(whole, "")
        settles(pid)
        before = cpu_seconds(pid)
        command(client, "generateMelody", {"uri": whole, "length": 100_000, "seed": 1}).wait(120)
        settles(pid)
        to_the_end = cpu_seconds(pid) - before
        assert len(edit_texts(client)) == 1

        uri = (tmp_path / "long.rb").as_uri()
        client.did_open(uri, "")
        settles(pid)
        before = cpu_seconds(pid)
        running = command(client, "generateMelody", {"uri": uri, "length": 100_000, "seed": 1})
        busy_for(pid, 0.5)  # (nothing else runs: the generation has begun)
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        with pytest.raises(rpc.RpcError) as caught:
            running.wait(60)
        assert caught.value.code == -32801  # ContentModified
        assert "was closed while the work ran" in str(caught.value)
        settles(pid)
        assert cpu_seconds(pid) - before < to_the_end / 2, to_the_end
        assert len(edit_texts(client)) == 1  # (the first generation's only)
    finally:
        client.close()
