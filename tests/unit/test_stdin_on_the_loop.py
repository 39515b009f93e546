"""stdin as editors give it (a pipe) is read by the event loop itself when readable; anything
else (a file, a stream without a descriptor) by a thread, as before."""

from __future__ import annotations

import asyncio
import io
import os
import threading

from notegen.lsp import transport


def stdin_threads() -> set[int | None]:
    return {t.ident for t in threading.enumerate() if t.name == "notegen-stdin"}


def test_a_pipe_is_read_by_the_loop_in_order_to_its_end_with_no_thread():
    read_end, write_end = os.pipe()

    async def main() -> list[bytes]:
        before = stdin_threads()
        with os.fdopen(read_end, "rb", buffering=0) as stdin:
            get = transport._stdin_chunks(stdin, asyncio.get_running_loop())  # type: ignore[arg-type]
            assert stdin_threads() == before
            got = []
            for piece in (b"Content-Length: 2\r\n\r\n{}", b"x" * 300_000, b"end"):
                os.write(write_end, piece)
                got.append(await asyncio.wait_for(get(), 10))
            os.close(write_end)
            got.append(await asyncio.wait_for(get(), 10))
            return got

    got = asyncio.run(main())
    assert b"".join(got[:-1]) == b"Content-Length: 2\r\n\r\n{}" + b"x" * 300_000 + b"end"
    assert got[-1] == b""  # the end of the stream


def test_while_chunks_wait_unhandled_the_pipe_is_left_unread_then_read_again(monkeypatch):
    monkeypatch.setattr(transport, "STDIN_QUEUE", 2)
    read_end, write_end = os.pipe()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        reader = transport._LoopReader(read_end, loop)
        for k in range(2):  # (each read as the loop would on its readiness, a chunk each)
            os.write(write_end, b"%d" % k)
            reader._readable()
        os.write(write_end, b"2")
        assert reader.queue.full() and not reader.watching  # two waiting: no more read
        assert transport._pending_now(read_end) == 1
        assert await reader.get() == b"0" and reader.watching  # room again: read again
        assert await asyncio.wait_for(reader.get(), 10) == b"1"
        assert await asyncio.wait_for(reader.get(), 10) == b"2"
        os.close(write_end)
        assert await asyncio.wait_for(reader.get(), 10) == b""
        assert not reader.watching

    try:
        asyncio.run(main())
    finally:
        os.close(read_end)


def test_a_wake_with_nothing_left_to_read_neither_blocks_the_loop_nor_ends_the_stream():
    """Another process given the same stdin may take the bytes between the loop's wake and
    its read: the read must not wait for more with the whole server behind it."""
    read_end, write_end = os.pipe()

    async def main() -> None:
        reader = transport._LoopReader(read_end, asyncio.get_running_loop())
        woken = threading.Thread(target=reader._readable, daemon=True)
        woken.start()
        woken.join(10)
        blocked = woken.is_alive()
        if blocked:
            os.write(write_end, b"!")  # (let the blocked read return before failing)
        assert not blocked
        assert reader.queue.empty() and reader.watching  # (no end of stream made up)
        os.write(write_end, b"more")
        assert await asyncio.wait_for(reader.get(), 10) == b"more"
        os.close(write_end)
        assert await asyncio.wait_for(reader.get(), 10) == b""

    try:
        asyncio.run(main())
    finally:
        os.close(read_end)


def test_a_file_or_a_stream_without_a_descriptor_is_read_by_a_thread(tmp_path):
    path = tmp_path / "stdin.txt"
    path.write_bytes(b"Content-Length: 2\r\n\r\n{}")

    async def main(stdin: io.RawIOBase | io.BufferedIOBase) -> bytes:
        before = stdin_threads()
        get = transport._stdin_chunks(stdin, asyncio.get_running_loop())  # type: ignore[arg-type]
        assert stdin_threads() - before  # (a file is always readable: no loop waits for it)
        pieces = []
        while piece := await asyncio.wait_for(get(), 10):
            pieces.append(piece)
        return b"".join(pieces)

    with path.open("rb") as stdin:
        assert asyncio.run(main(stdin)) == b"Content-Length: 2\r\n\r\n{}"
    assert asyncio.run(main(io.BytesIO(b"{}"))) == b"{}"
