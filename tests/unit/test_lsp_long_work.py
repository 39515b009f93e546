"""Long work (generation) runs beside the inference thread and stops when its request is
cancelled: the real tiny model, the real generation code, cancelled through asyncio."""

from __future__ import annotations

import asyncio
import threading

import pytest
from notegen.lsp.engine import Engine, Job, Stopped
from notegen.model.generate import generate_block
from notegen.model.generate_options import GenerateOptions


async def test_cancelling_the_request_stops_the_generation_at_its_next_step(model) -> None:
    engine = Engine()
    job = Job(model)
    started, outcome = threading.Event(), []

    def compute() -> None:
        started.set()
        try:
            generate_block(job.model, GenerateOptions(length=100_000, seed=3))
        except Stopped:
            outcome.append("stopped")
            raise
        outcome.append("finished")

    task = asyncio.ensure_future(engine.run_long(job, compute))
    await asyncio.to_thread(started.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    engine._long.shutdown(wait=True)  # type: ignore[union-attr]  # the thread is done
    assert outcome == ["stopped"]


async def test_the_inference_thread_is_free_during_long_work(model) -> None:
    engine = Engine()
    job = Job(model)
    release = threading.Event()

    def long() -> str:
        release.wait(30)
        return "long"

    long_task = asyncio.ensure_future(engine.run_long(job, long))
    assert await engine.run(lambda: "quick") == "quick"  # not queued behind the long work
    assert not long_task.done()
    release.set()
    assert await long_task == "long"
