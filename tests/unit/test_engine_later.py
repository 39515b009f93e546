"""Work nobody waits for yet (a completion's phrase): done between requests on the inference
thread, finished by the first request that needs it, dropped when the cursor moves on."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import pytest
from notegen.lsp import engine as engine_module
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


def test_later_work_waits_while_the_client_is_speaking(monkeypatch):
    """Typing faster than the pause spends nothing on phrases passed by; once the client is
    quiet for ``LATER_QUIET_S`` the work runs (and stops again when it speaks)."""
    monkeypatch.setattr(engine_module, "LATER_QUIET_S", 0.01)
    speaking = [True]
    quiet_engine = Engine(quiet_for=lambda: 0.0 if speaking[0] else 1.0)
    try:
        done: list[int] = []
        on_worker(quiet_engine, quiet_engine.later, "phrase", lambda: counting(3, done))
        for _ in range(10):  # requests while the client speaks: the work waits
            assert on_worker(quiet_engine, quiet_engine.known, "phrase") is None
        assert done == []
        speaking[0] = False
        deadline = time.monotonic() + 10
        while on_worker(quiet_engine, quiet_engine.known, "phrase") is None:
            assert time.monotonic() < deadline, f"not done once quiet (steps {done})"
            time.sleep(0.01)
        assert done == [0, 1, 2]
    finally:
        quiet_engine.shutdown()


def test_the_alarm_runs_only_the_latest_function_given_and_nothing_once_closed():
    alarm = engine_module._Alarm()
    ran: list[int] = []
    for n in (1, 2, 3):
        alarm.set(0.01, lambda n=n: ran.append(n))
    deadline = time.monotonic() + 10
    while not ran:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    alarm.set(30.0, lambda: ran.append(4))
    alarm.close()
    with pytest.raises(RuntimeError):
        alarm.set(0.0, lambda: ran.append(5))
    assert ran == [3]
