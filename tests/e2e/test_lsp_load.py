"""notegen-lsp under load: a long generation never holds up another document, a cancelled one
stops, and huge documents are answered. Ordering, never timing: "answered before" is what the
replies' order shows; the figures (≤ 50 ms, ≤ 10 ms) are benchmarks/' job.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import completion, rpc, started

SONG = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4]\nb1[0]=[1,1,1]\n"


@pytest.fixture
def client(tiny_model: Path, tmp_path: Path) -> Iterator[Any]:
    c = started(tiny_model, tmp_path, "server")
    try:
        yield c
    finally:
        c.close()


def generate(client: Any, uri: str, length: int) -> Any:
    args = {"uri": uri, "length": length, "seed": 1}
    return client.send(
        "workspace/executeCommand", {"command": "notegen.generateMelody", "arguments": [args]}
    )


def test_a_long_generation_does_not_hold_up_another_document(client: Any, tmp_path: Path) -> None:
    long_doc, other = (tmp_path / "long.rb").as_uri(), (tmp_path / "other.rb").as_uri()
    client.did_open(long_doc, "")
    client.did_open(other, SONG)
    assert completion(client, other, 2, 10).wait(30)["items"]  # the model is loaded
    long_run = generate(client, long_doc, 100_000)
    quick = completion(client, other, 2, 10)
    assert quick.wait(60)["items"]
    assert not long_run.done.is_set(), "the completion waited for the whole generation"
    assert long_run.wait(300)["notes"] == 100_000


def test_a_cancelled_generation_stops_and_edits_nothing(client: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "long.rb").as_uri()
    client.did_open(uri, "")
    long_run = generate(client, uri, 100_000)
    client.cancel(long_run)
    with pytest.raises(rpc.RpcError) as caught:
        long_run.wait(60)
    assert caught.value.code == -32800  # RequestCancelled
    # Long work runs on one thread in order: this one starts when the cancelled one is over
    # (stopped, or finished and its edit sent before this reply).
    assert generate(client, uri, 8).wait(120)["applied"] is True
    assert [len(p["edit"]["documentChanges"]) for _t, p in client.applied_edits] == [1]
    (only,) = client.applied_edits
    text = only[1]["edit"]["documentChanges"][0]["edits"][0]["newText"]
    assert text.count(":") < 100  # the 8-note block, not 100,000 notes


def test_a_5_mb_one_line_array_is_answered_from_a_window(client: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "huge.rb").as_uri()
    line = "a1[0]=[" + ":C4," * 1_250_000 + ":D4]"
    client.did_open(uri, "a1=[]\n" + line + "\n")
    told = client.wait_notification(
        "window/showMessage", lambda p: "huge.rb" in p["message"], timeout=60
    )
    assert "only the lines around the cursor" in told["message"]
    middle = len(line) // 2
    assert completion(client, uri, 1, middle).wait(60)["items"]
    hover = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": middle - 2}}
    assert "MIDI 60" in client.request("textDocument/hover", hover, timeout=60)["contents"]["value"]


def test_a_5_mb_one_line_ring_is_answered_from_a_window(client: Any, tmp_path: Path) -> None:
    """``play (ring :C4, ...).tick`` in a ``live_loop``, 5 MB on one line: read through a
    window as an array's line is (it had no completion)."""
    uri = (tmp_path / "ring.rb").as_uri()
    line = "  play (ring " + ":C4, " * 1_000_000 + ":D4).tick"
    client.did_open(uri, "live_loop :melody do\n" + line + "\n  sleep 0.25\nend\n")
    middle = line.index(":", len(line) // 2)  # (at a note's start: after ", ")
    items = completion(client, uri, 1, middle).wait(60)["items"]
    assert items and all(item["label"].startswith(":") for item in items)
    hover = {"textDocument": {"uri": uri}, "position": {"line": 1, "character": middle + 1}}
    assert "MIDI 60" in client.request("textDocument/hover", hover, timeout=60)["contents"]["value"]


def test_a_document_opened_again_after_every_one_closed_gets_the_same_completions(
    client: Any, tmp_path: Path
) -> None:
    """Closing the last document drops the model states kept for it; opening it again reads
    them anew and offers the same items."""
    uri = (tmp_path / "song.rb").as_uri()
    client.did_open(uri, SONG)
    first = completion(client, uri, 2, 10).wait(30)["items"]
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    client.did_open(uri, SONG)
    again = completion(client, uri, 2, 10).wait(30)["items"]
    assert first and [i["label"] for i in again] == [i["label"] for i in first]
    assert [i.get("textEdit") for i in again] == [i.get("textEdit") for i in first]


def test_the_benchmarks_name_the_runtime_the_server_runs_on(client: Any, tmp_path: Path) -> None:
    """The memory figures move with onnxruntime's release (README: held below 1.25), so the
    benchmarks print the versions the server process itself has loaded (once its model is:
    onnxruntime is imported with it)."""
    from importlib.metadata import version

    uri = (tmp_path / "song.rb").as_uri()
    client.did_open(uri, SONG)
    assert completion(client, uri, 2, 10).wait(60)["items"]  # the model is loaded
    line = rpc.runtime_line(client.process.pid)
    assert f"onnxruntime {version('onnxruntime')}" in line
    assert f"numpy {version('numpy')}" in line
    assert line.endswith(f"Python {sys.version_info.major}.{sys.version_info.minor}")
