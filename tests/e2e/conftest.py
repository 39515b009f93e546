"""End-to-end fixtures: the real ``notegen-lsp`` process over stdio, driven by pytest-lsp.

The server runs ``python -m notegen.cli --model <tiny model>``: a small seeded ONNX model built
for the session (``tests/fixtures/tiny_model.py``), so these tests exercise the real inference
path without depending on training.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.lsp_editor import Editor, server_command, start_editor
from fixtures.rpc import SONG, started
from fixtures.tiny_model import build_tiny_model
from notegen.playback.sonic_pi_client import V3_SERVER_PORT, SonicPiClient, probe

START_3 = Path(__file__).resolve().parents[2] / ".ci" / "start-sonic-pi.sh"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    card, _ = build_tiny_model(tmp_path_factory.mktemp("model"), seed=3)
    return card


@pytest.fixture
def song_server(tiny_model: Path, tmp_path: Path) -> Iterator[Any]:
    """A raw JSON-RPC client of an initialized server (stderr in ``tmp_path/server.log``) with
    :data:`fixtures.rpc.SONG` open as ``tmp_path/song.rb``."""
    client = started(tiny_model, tmp_path, "server")
    try:
        client.did_open((tmp_path / "song.rb").as_uri(), SONG)
        yield client
    finally:
        client.close()


@pytest_asyncio.fixture
async def editor(tiny_model: Path) -> AsyncIterator[Editor]:
    client, ed = await start_editor(server_command(tiny_model))
    yield ed
    await client.shutdown_session()
    await client.stop()


@pytest.fixture(scope="session")
def sonic_pi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SonicPiClient]:
    """Debian's Sonic Pi 3.2.2, one for the whole session (every module shares this client)."""
    state = tmp_path_factory.mktemp("sonic-pi")
    started = False
    if not probe("127.0.0.1", V3_SERVER_PORT):
        boot = subprocess.run(
            ["bash", str(START_3), str(state)],
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
        if boot.returncode != 0:
            pytest.fail(f"Sonic Pi did not start ({START_3}):\n{boot.stdout}\n{boot.stderr}")
        started = True
        print(f"sonic-pi: {boot.stdout.strip()}", file=sys.stderr)
    try:
        client = SonicPiClient.connect(timeout=1.0)
        deadline = time.monotonic() + 30
        while True:  # booted; wait until it answers /ping
            try:
                client.listen()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield client
        client.close()
    finally:
        if started:
            subprocess.run(["bash", str(START_3), "--stop", str(state)], check=False, timeout=30)
