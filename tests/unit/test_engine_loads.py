"""Model loads asked in a row: only the latest path asked for is loaded (a client switching
``modelPath`` again and again made every completion wait for every load in between)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.tiny_model import build_tiny_model
from notegen.lsp.engine import Engine
from notegen.model.network import MelodyModel


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = Engine()
    yield made
    made.shutdown()


def test_loads_asked_before_their_turn_give_way_to_the_latest(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = build_tiny_model(tmp_path / "first", seed=1)
    second, _ = build_tiny_model(tmp_path / "second", name="second", seed=2)
    loaded: list[Path] = []
    load = MelodyModel.load

    def counted(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        loaded.append(Path(path))
        return load(path, *args, **kwargs)

    monkeypatch.setattr(MelodyModel, "load", counted)
    release = threading.Event()
    engine.executor.submit(release.wait, 30)  # the worker busy while the loads are asked
    futures = [engine.load(first if k % 2 == 0 else second) for k in range(201)]
    release.set()
    futures[-1].result(timeout=30)
    assert all(f.done() for f in futures)
    assert loaded == [first]  # the latest only (the 201st asked for the first)
    assert engine.model is not None and engine.error is None


def test_switching_away_and_back_before_either_load_begins_keeps_the_model(
    engine: Engine, tmp_path: Path
) -> None:
    first, _ = build_tiny_model(tmp_path / "first", seed=1)
    second, _ = build_tiny_model(tmp_path / "second", name="second", seed=2)
    engine.load(first).result(timeout=30)
    kept = engine.model
    release = threading.Event()
    engine.executor.submit(release.wait, 30)
    engine.load(second)
    back = engine.load(first)
    release.set()
    back.result(timeout=30)
    assert engine.model is kept  # (and its warm cache)


def test_each_load_that_begins_in_turn_is_made(engine: Engine, tmp_path: Path) -> None:
    first, _ = build_tiny_model(tmp_path / "first", seed=1)
    second, _ = build_tiny_model(tmp_path / "second", name="second", seed=2)
    engine.load(first).result(timeout=30)
    one = engine.model
    engine.load(second).result(timeout=30)
    two = engine.model
    engine.load(first).result(timeout=30)
    assert one is not None and two is not None and engine.model is not None
    assert len({id(one), id(two), id(engine.model)}) == 3  # each loaded afresh, in turn
