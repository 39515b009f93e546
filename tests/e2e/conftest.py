"""End-to-end fixtures: the real ``notegen-lsp`` process over stdio, driven by pytest-lsp.

The server runs ``python -m notegen.cli --model <tiny model>``: a small seeded ONNX model built
for the session (``tests/fixtures/tiny_model.py``), so these tests exercise the real inference
path without depending on training.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.lsp_editor import Editor, server_command, start_editor
from fixtures.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    card, _ = build_tiny_model(tmp_path_factory.mktemp("model"), seed=3)
    return card


@pytest_asyncio.fixture
async def editor(tiny_model: Path) -> AsyncIterator[Editor]:
    client, ed = await start_editor(server_command(tiny_model))
    yield ed
    await client.shutdown_session()
    await client.stop()
