"""Background work in trips (the warm-up, the read-ahead): each trip on the inference thread,
until the work is done, no longer wanted, or its task cancelled; and once the trips end,
nothing they held outlives them (the warm-up's ``wanted`` holds the document's reading, which
must go when the next reading replaces it, not at the next full collection)."""

from __future__ import annotations

import asyncio
import functools
import gc
import weakref
from collections.abc import Iterator

import pytest
from notegen.lsp.engine import Engine


class Piece:
    """Stands for a reading: something big that the trips' callables hold."""


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = Engine()
    yield made
    made.shutdown()


@pytest.fixture
def no_collection() -> Iterator[None]:
    """Only reference counts free anything (the server runs full collections in pauses only)."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def drained(engine: Engine) -> None:
    """Wait until the inference thread has finished whatever trip it had begun."""
    engine.executor.submit(lambda: None).result(timeout=10)


def held_by(piece: Piece, trips: list[int], stop_after: int):
    """A trip and a ``wanted`` that both hold ``piece`` (as the warm-up's hold its reading)."""

    def trip(held: Piece) -> bool:
        trips.append(len(trips))
        return len(trips) < stop_after

    def wanted(held: Piece) -> bool:
        return True

    return functools.partial(trip, piece), functools.partial(wanted, piece)


def test_trips_run_until_the_work_says_it_is_done(engine):
    trips: list[int] = []
    trip, wanted = held_by(Piece(), trips, stop_after=5)
    asyncio.run(engine.run_trips(trip, wanted))
    assert trips == [0, 1, 2, 3, 4]


def test_trips_stop_when_the_work_is_no_longer_wanted(engine):
    trips: list[int] = []
    trip, _ = held_by(Piece(), trips, stop_after=100)
    asyncio.run(engine.run_trips(trip, lambda: len(trips) < 3))
    assert trips == [0, 1, 2]


def test_finished_trips_free_what_they_held_without_a_collection(engine, no_collection):
    piece = Piece()
    alive = weakref.ref(piece)
    trips: list[int] = []
    trip, wanted = held_by(piece, trips, stop_after=4)
    asyncio.run(engine.run_trips(trip, wanted))
    drained(engine)
    del piece, trip, wanted
    assert trips == [0, 1, 2, 3]
    assert alive() is None


def test_cancelled_trips_stop_and_free_what_they_held_without_a_collection(engine, no_collection):
    piece = Piece()
    alive = weakref.ref(piece)
    trips: list[int] = []
    trip, wanted = held_by(piece, trips, stop_after=10**9)

    async def cancel_after_some(trip, wanted) -> None:
        task = asyncio.ensure_future(engine.run_trips(trip, wanted))
        while len(trips) < 20:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_some(trip, wanted))
    drained(engine)
    stopped_at = len(trips)
    drained(engine)
    assert len(trips) == stopped_at  # no trip after the cancel took effect
    del piece, trip, wanted
    assert alive() is None


def test_an_error_in_a_trip_reaches_the_awaiting_task(engine):
    def trip() -> bool:
        raise ValueError("broken trip")

    with pytest.raises(ValueError, match="broken trip"):
        asyncio.run(engine.run_trips(trip, lambda: True))
