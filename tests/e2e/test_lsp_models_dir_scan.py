"""Reading the models folder never holds up the documents that do not wait for it.

A document naming a model (``# notegen: model=baroque``) makes the server list
``notegen.modelsDir``; it lists it again when the folder changes. That listing read and parsed
every card on the event loop (eight 15 MB cards: every other document's completion waited
~6 s). Here the real server runs with one card, ``slow.json``, whose reading is held by the
test (a launcher wraps the card reader so that it waits on a FIFO: a slow disk, a big card)
until the test lets it go. While it is held, other documents' requests are answered, and so
are the asking document's own: by the default model until the listing is done, or by the
model the last listing found.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import SONG, rpc
from fixtures.tiny_model import build_tiny_model

ANSWER_S = 15
"""How long a request may take while a card is held: long enough for a loaded machine; a
server whose event loop waits for the held card never answers."""

LAUNCHER = """
import sys
from pathlib import Path

import notegen.model.library as library
from notegen.cli import lsp_main

entered, release = sys.argv[1:3]
del sys.argv[1:3]
read_card = library._summary


def held(card_path, *args, **kwargs):
    if Path(card_path).name == "slow.json":
        with open(entered, "w") as signal:
            signal.write("reading slow.json\\n")
        with open(release) as gate:
            gate.read()
    return read_card(card_path, *args, **kwargs)


library._summary = held
sys.exit(lsp_main())
"""


class Gate:
    """The launcher's hold on ``slow.json``: :meth:`reached` once the server is reading it,
    :meth:`release` to let that reading finish (both FIFOs lie outside the models folder)."""

    def __init__(self, where: Path) -> None:
        self.entered = where / "gate-entered"
        self.released = where / "gate-release"
        os.mkfifo(self.entered)
        os.mkfifo(self.released)
        self.held = False
        self._signal: int | None = None

    def arm(self) -> None:
        """Listen for the next reading of ``slow.json`` (before anything may start one)."""
        self._signal = os.open(self.entered, os.O_RDONLY | os.O_NONBLOCK)

    def reached(self, timeout: float = 60) -> bool:
        assert self._signal is not None, "arm() first"
        ready, _, _ = select.select([self._signal], [], [], timeout)
        if ready:
            os.read(self._signal, 100)
        os.close(self._signal)
        self._signal = None
        self.held = bool(ready)
        return self.held

    def release(self) -> None:
        if self.held:
            with open(self.released, "w") as gate:  # the reader waits for exactly this
                gate.write("go\n")
            self.held = False


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A models folder with ``baroque`` and ``slow`` (both real cards with their graphs)."""
    folder = tmp_path / "models"
    build_tiny_model(folder, name="baroque", seed=11)
    build_tiny_model(folder, name="slow", seed=5)
    return folder


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    held = Gate(tmp_path)
    yield held
    held.release()  # a failed test must not leave the server stuck in the card


@pytest.fixture
def client(tiny_model: Path, models: Path, gate: Gate, tmp_path: Path) -> Iterator[Any]:
    command = [sys.executable, "-c", LAUNCHER, str(gate.entered), str(gate.released)]
    server = rpc.RpcClient(
        [*command, "--model", str(tiny_model)], cwd=tmp_path, stderr_path=tmp_path / "server.log"
    )
    try:
        server.initialize(tmp_path, initialization_options={"modelsDir": str(models)})
        yield server
    finally:
        gate.release()
        server.close()


def hover(client: Any, uri: str, line: int) -> str:
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": 8}}
    result = client.request("textDocument/hover", params, timeout=ANSWER_S)
    assert result is not None
    value: str = result["contents"]["value"]
    return value


def completion_labels(client: Any, uri: str) -> list[str]:
    line = SONG.splitlines()[2]  # a1[0]=[:C4,:E4,:G4]: after the last note's comma
    params = {
        "textDocument": {"uri": uri},
        "position": {"line": 2, "character": line.index(",:G4") + 1},
    }
    result = client.request("textDocument/completion", params, timeout=ANSWER_S)
    items = result["items"] if isinstance(result, dict) else result
    return [item["label"] for item in items]


def model_notice(client: Any, uri: str, model: str) -> Any:
    return client.wait_notification(
        "notegen/model", lambda p: p["uri"] == uri and p["model"] == model, timeout=60
    )


def test_other_documents_are_answered_while_the_models_folder_is_read(
    client: Any, gate: Gate, tmp_path: Path
) -> None:
    plain = (tmp_path / "plain.rb").as_uri()
    client.did_open(plain, SONG)
    gate.arm()
    chosen = (tmp_path / "chosen.rb").as_uri()
    client.did_open(chosen, "# notegen: model=baroque\n" + SONG)
    assert gate.reached(), "the server never began reading the models folder"

    # slow.json is being read: the other document is served as if nothing were going on
    assert "MIDI 60" in hover(client, plain, 2)
    assert completion_labels(client, plain)
    # and the asking document by the default model, saying why
    meanwhile = hover(client, chosen, 3)
    assert "MIDI 60" in meanwhile
    assert "Served by model **tiny**" in meanwhile and "models folder is being read" in meanwhile

    gate.release()
    notice = model_notice(client, chosen, "baroque")
    assert (notice["source"], notice["requested"], notice["error"]) == ("comment", "baroque", None)
    assert "Served by model **baroque**" in hover(client, chosen, 3)


def test_a_rescan_serves_every_document_from_the_last_listing(
    client: Any, gate: Gate, models: Path, tmp_path: Path
) -> None:
    plain = (tmp_path / "plain.rb").as_uri()
    client.did_open(plain, SONG)
    gate.arm()
    chosen = (tmp_path / "chosen.rb").as_uri()
    client.did_open(chosen, "# notegen: model=baroque\n" + SONG)
    assert gate.reached()
    gate.release()
    model_notice(client, chosen, "baroque")

    # slow.json exported again (written aside, then renamed: the folder changes)
    gate.arm()
    fresh = models / "slow.json.part"
    fresh.write_bytes((models / "slow.json").read_bytes())
    fresh.replace(models / "slow.json")
    assert "Served by model **baroque**" in hover(client, chosen, 3)  # this request rescans
    assert gate.reached(), "the changed folder was not listed again"

    assert "Served by model **baroque**" in hover(client, chosen, 3)  # the last listing's
    assert "MIDI 60" in hover(client, plain, 2)
    assert completion_labels(client, plain)
    gate.release()
