"""Unit-test fixtures for the server modules: a tiny seeded ONNX model built per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixtures.tiny_model import TinyWeights, build_tiny_model


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TinyWeights]:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), seed=1)


@pytest.fixture(scope="session")
def model(tiny):
    from notegen.model import MelodyModel

    return MelodyModel.load(tiny[0])
