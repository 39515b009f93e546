"""A fresh server answers its first requests as fast as its later ones: once the model is
loaded it rehearses a completion, so what a process makes on its first answer (cattrs'
converters of the messages' and the items' types) is not paid by the user's first completion;
a whole-file reading waits until the requests sent with an opening are answered."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from types import SimpleNamespace
from typing import Any

import cattrs.gen
import pytest
from lsprotocol import types
from notegen.lsp import completion, transport
from notegen.lsp import server as srv
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.edits import cursor_range
from notegen.lsp.rehearsal import rehearsal_messages, rehearse

PIECE = "a1=[]\nb1=[]\na1[0]=[:E4,:G4,:A4,:G4,:E4,:D4,]\nb1[0]=[1,0.5,0.5,1,1]\nc1=[80]\n"


@pytest.fixture
def ls(loaded_server: srv.NotegenServer) -> srv.NotegenServer:
    return loaded_server


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The classes cattrs makes a converter for from now on (either way)."""
    classes: list[Any] = []
    for name in ("make_dict_unstructure_fn", "make_dict_structure_fn"):
        make = getattr(cattrs.gen, name)

        def counted(cl: Any, *args: Any, _make: Any = make, **kwargs: Any) -> Any:
            classes.append(cl)
            return _make(cl, *args, **kwargs)

        monkeypatch.setattr(cattrs.gen, name, counted)
    return classes


def first_answer(ls: srv.NotegenServer) -> None:
    """A client's first completion in :data:`PIECE`: its request read, its items encoded."""
    view = DocumentView("file:///piece.rb", 1, PIECE)
    line, character = 2, PIECE.split("\n")[2].rindex("]")
    for message in rehearsal_messages(view.uri, line, character):
        ls.protocol.structure_message(message)
    nc = note_context(view, line, character, None, ls.settings.maxContext)
    assert nc is not None
    edit_range = cursor_range(view, nc)
    items = completion.complete(ls.engine, nc, ls.settings, edit_range, phrase_later=True)
    assert items
    ls.protocol.prepare(types.CompletionList(is_incomplete=True, items=items))


def first_diagnostics(ls: srv.NotegenServer) -> None:
    """A document's first diagnostics, encoded as pygls sends them."""
    where = types.Range(types.Position(2, 6), types.Position(2, 9))
    severity = types.DiagnosticSeverity.Error
    problem = types.Diagnostic(range=where, message="x", severity=severity, source="notegen")
    params = types.PublishDiagnosticsParams(uri="file:///piece.rb", diagnostics=[problem])
    ls.protocol._serialize_message(types.PublishDiagnosticsNotification(params=params))


def test_after_the_rehearsal_a_first_completion_makes_no_converter(ls, made):
    rehearse(ls.engine, ls.settings, ls.protocol)
    assert made  # the rehearsal made them
    made.clear()
    first_answer(ls)
    first_diagnostics(ls)
    assert made == []


def test_without_it_the_first_completion_made_them(ls, made):
    first_answer(ls)
    first_diagnostics(ls)
    assert types.CompletionList in made and types.CompletionParams in made
    assert types.PublishDiagnosticsParams in made


def test_a_server_without_a_model_rehearses_nothing(tmp_path, made):
    server = srv.NotegenServer(str(tmp_path / "missing.json"))
    server.engine.load(str(tmp_path / "missing.json")).result()
    rehearse(server.engine, server.settings, server.protocol)
    assert made == []
    server.engine.shutdown()
    server.reader.shutdown(wait=False)


class Clock:
    """``time.monotonic`` and ``asyncio.sleep`` of the server module, on a clock of its own."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The server module's ``time`` and ``asyncio`` seen through a :class:`Clock` (only its:
    the event loop's own sleeps stay real)."""
    fake = Clock()
    monkeypatch.setattr(srv, "time", SimpleNamespace(**{**vars(time), "monotonic": fake.monotonic}))
    monkeypatch.setattr(srv, "asyncio", SimpleNamespace(**{**vars(asyncio), "sleep": fake.sleep}))
    return fake


async def test_a_reading_waits_for_the_request_sent_with_the_opening(ls, clock, monkeypatch):
    answering = iter([True, True, True, False])
    monkeypatch.setattr(ls.protocol, "answering", lambda: next(answering))
    ls.protocol.last_message = clock.now - 1.0  # the client sent its completion and waits
    await ls.requests_settled()
    assert len(clock.slept) == 3  # three turns while the completion was being answered


async def test_a_reading_waits_for_the_client_to_pause(ls, clock, monkeypatch):
    monkeypatch.setattr(ls.protocol, "answering", lambda: False)
    ls.protocol.last_message = clock.now  # a message just now
    await ls.requests_settled()
    assert clock.now - ls.protocol.last_message == pytest.approx(srv.READ_AFTER_S)


async def test_a_client_that_never_pauses_gets_its_reading_at_the_latest_after_the_longest_wait(
    ls, clock, monkeypatch
):
    monkeypatch.setattr(ls.protocol, "answering", lambda: True)
    ls.protocol.last_message = clock.now + 60.0  # (as if a message came every moment)
    started = clock.now
    await ls.requests_settled()
    assert clock.now - started == pytest.approx(srv.READ_WAIT_S)


@pytest.mark.skipif(not hasattr(transport.fcntl, "F_GETPIPE_SZ"), reason="Linux pipes only")
def test_stdin_s_pipe_is_widened_so_an_opening_comes_in_one_piece():
    read_end, write_end = os.pipe()
    try:
        transport._widen_pipe(read_end)
        size = transport.fcntl.fcntl(read_end, transport.fcntl.F_GETPIPE_SZ)
        with open("/proc/sys/fs/pipe-max-size") as handle:
            limit = int(handle.read())
        assert size == min(transport.STDIN_READ, limit) or size >= transport.STDIN_READ
    finally:
        os.close(read_end)
        os.close(write_end)


def test_widening_something_that_is_no_pipe_changes_nothing(tmp_path):
    with open(tmp_path / "file", "wb") as handle:
        transport._widen_pipe(handle.fileno())  # (no error: a file is read as it is)


async def test_the_reading_of_an_opening_goes_once_requests_are_answered(ls, monkeypatch):
    """Through :meth:`_read_and_publish`: no child process, no reading, until then."""
    answering = [True]
    monkeypatch.setattr(ls.protocol, "answering", lambda: answering[0])
    ls.protocol.last_message = 0.0
    uri = "file:///piece.rb"
    ls.workspace.put_text_document(
        types.TextDocumentItem(uri=uri, language_id="ruby", version=1, text=PIECE)
    )
    monkeypatch.setattr(ls, "text_document_publish_diagnostics", lambda params: None)
    monkeypatch.setattr(ls.slip_hints, "schedule", lambda *args: None)
    monkeypatch.setattr(srv, "READ_WAIT_S", 60.0)  # (the longest wait: its own test)
    reading = asyncio.ensure_future(ls._read_and_publish(uri))
    for _ in range(5):
        await asyncio.sleep(srv.READ_AFTER_S)
    assert uri not in ls.readings and not reading.done()
    answering[0] = False  # the completion answered
    await asyncio.wait_for(reading, 30)
    assert uri in ls.readings


def test_after_the_rehearsal_first_diagnostics_then_a_completion_make_none_either(ls, made):
    rehearse(ls.engine, ls.settings, ls.protocol)
    made.clear()
    first_diagnostics(ls)
    first_answer(ls)
    assert made == []


@pytest.mark.parametrize("counted", [True, False], ids=["FIONREAD", "reads of a chunk"])
def test_what_waits_on_stdin_is_handed_on_in_one_piece_and_a_short_read_alone(monkeypatch, counted):
    os_read = os.read
    if not counted:  # (a system that cannot say how many bytes wait)
        monkeypatch.setattr(transport, "_FIONREAD", None)
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"Content-Length: 2\r\n\r\n{}")
        assert transport.read_available(read_end) == b"Content-Length: 2\r\n\r\n{}"
        opening = bytes(range(256)) * 200  # 51,200 bytes: fits any pipe, no writer blocks
        monkeypatch.setattr(transport, "READ_CHUNK", 4096)  # twelve full pieces, a short one
        os.write(write_end, opening)
        reads = []
        monkeypatch.setattr(transport.os, "read", lambda *a: reads.append(a) or os_read(*a))
        assert transport.read_available(read_end) == opening
        assert len(reads) == (1 if counted else 13)  # counted: one read, nothing joined
        monkeypatch.undo()
        os.close(write_end)
        write_end = -1
        assert transport.read_available(read_end) == b""
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)


def test_no_more_than_a_read_hands_on_is_read_at_once_the_rest_comes_next(monkeypatch):
    monkeypatch.setattr(transport, "STDIN_READ", 30)
    read_end, write_end = os.pipe()
    try:
        frames = b"Content-Length: 2\r\n\r\n{}" * 2  # 46 bytes waiting
        os.write(write_end, frames)
        assert transport.read_available(read_end) == frames[:30]
        assert transport.read_available(read_end) == frames[30:]
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_socket_as_stdin_is_read_as_a_pipe_is():
    ours, theirs = socket.socketpair()
    try:
        opening = bytes(range(256)) * 200
        theirs.sendall(opening)
        got = b""
        while len(got) < len(opening):  # (a socket may hand on what it holds in parts)
            got += transport.read_available(ours.fileno())
        assert got == opening
        theirs.close()
        assert transport.read_available(ours.fileno()) == b""
    finally:
        ours.close()
        theirs.close()
