"""Work nobody waits for yet (a completion's phrase): done between requests on the inference
thread, finished by the first request that needs it, dropped when the cursor moves on."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from notegen.lsp.engine import Engine


def counting(steps: int, done: list[int]) -> Generator[None, None, int]:
    """Stepwise work: ``steps`` yields, each noted in ``done``; its result is ``steps``."""
    for i in range(steps):
        done.append(i)
        yield
    return steps


def on_worker(engine: Engine, fn: Any, *args: Any) -> Any:
    """A request: ``fn`` on the inference thread, behind whatever is queued there."""
    return engine.executor.submit(fn, *args).result(timeout=10)


@pytest.fixture
def engine() -> Engine:
    made = Engine()
    yield made
    made.shutdown()


def test_later_work_is_done_between_requests_and_then_known(engine):
    done: list[int] = []
    on_worker(engine, engine.later, "phrase", lambda: counting(5, done))
    asks = [on_worker(engine, engine.known, "phrase") for _ in range(7)]
    assert asks[-1] == 5
    # 5 yields and the step that returns: at least one step before each request is served
    assert asks.index(5) <= 6
    assert done == [0, 1, 2, 3, 4]


def test_a_request_that_needs_the_result_finishes_the_work_begun(engine):
    done: list[int] = []
    starts: list[int] = []

    def start() -> Generator[None, None, int]:
        starts.append(1)
        return counting(50, done)

    def later_then_finish() -> int:  # (one job: no step runs in between)
        engine.later("phrase", start)
        return engine.finish("phrase", start)

    assert on_worker(engine, later_then_finish) == 50
    assert starts == [1] and done == list(range(50))  # taken over, not begun again
    assert on_worker(engine, engine.known, "phrase") == 50


def test_only_the_latest_later_work_is_kept(engine):
    first: list[int] = []
    second: list[int] = []

    def both() -> None:
        engine.later("here", lambda: counting(3, first))
        engine.later("there", lambda: counting(3, second))

    on_worker(engine, both)
    for _ in range(6):
        on_worker(engine, engine.known, "there")
    assert on_worker(engine, engine.known, "there") == 3
    assert on_worker(engine, engine.known, "here") is None and first == []


def test_closing_the_last_document_drops_later_work(engine):
    done: list[int] = []

    def later_then_forget() -> None:
        engine.later("phrase", lambda: counting(3, done))
        engine.forget_states()  # (queued behind the work's first step)

    on_worker(engine, later_then_forget)
    for _ in range(6):
        on_worker(engine, engine.known, "phrase")
    assert on_worker(engine, engine.known, "phrase") is None and done == [0]


def test_work_that_fails_is_dropped_and_logged(engine, caplog):
    def broken() -> Generator[None, None, int]:
        yield
        raise ValueError("bad step")

    on_worker(engine, engine.later, "phrase", broken)
    for _ in range(4):
        on_worker(engine, engine.known, "phrase")
    assert on_worker(engine, engine.known, "phrase") is None
    assert "background work failed" in caplog.text
