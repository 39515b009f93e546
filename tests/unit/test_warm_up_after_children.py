"""A warm-up, which nobody waits for, waits while a big job the user asked for runs in a
child process: the child runs at a lower priority than the server (so that completions get
the CPU first), and a warm-up took the CPU from it too."""

from __future__ import annotations

import asyncio
import time

import pytest
from fixtures.server_reading import read_and_warm
from lsprotocol import types
from notegen.lsp import server as srv

PIECE = "a1=[]\na1[0]=[:C4,:E4,:G4,:E4]\nb1=[]\nb1[0]=[1,1,1,1]\nc1=[70]\n"


@pytest.fixture
def ls(quiet_server) -> srv.NotegenServer:
    return quiet_server


async def test_the_warm_up_makes_no_round_while_a_child_job_runs(ls, monkeypatch):
    rounds: list[int] = []
    warm_sections = srv.warm_sections
    monkeypatch.setattr(
        srv, "warm_sections", lambda *a, **k: rounds.append(1) or warm_sections(*a, **k)
    )
    waiting = asyncio.Event()
    after_children = srv._after_children

    async def spy(engine):
        waiting.set()
        await after_children(engine)

    monkeypatch.setattr(srv, "_after_children", spy)
    turn = ls.engine.child_turn()
    await turn.acquire()  # a generation under way in its child process
    uri = "file:///piece.rb"
    ls.workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="ruby", version=1, text=PIECE)
    )
    ls.protocol.last_message = time.monotonic() - 1.0

    await ls._read_and_publish(uri)  # read: its warm-up begins
    await asyncio.wait_for(waiting.wait(), 30)
    for _ in range(20):
        await asyncio.sleep(0)  # (the event loop free to run the warm-up, were it not waiting)

    assert rounds == [] and not ls.warmers[uri].done()
    turn.release()  # the job done
    await asyncio.wait_for(ls.warmers[uri], 30)
    assert rounds  # then the warm-up ran


async def test_with_no_child_job_the_warm_up_runs_to_its_end(ls, monkeypatch):
    rounds: list[int] = []
    warm_sections = srv.warm_sections
    monkeypatch.setattr(
        srv, "warm_sections", lambda *a, **k: rounds.append(1) or warm_sections(*a, **k)
    )
    await read_and_warm(ls, "file:///piece.rb", PIECE, 30)
    assert rounds
