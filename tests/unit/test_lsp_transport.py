"""Cutting LSP frames out of a byte stream that may lie: every good frame survives, every bad
one is reported and skipped, and nothing is allocated for a length that was only claimed."""

from __future__ import annotations

import random

import pytest
from notegen.lsp.transport import (
    BIG_BODY,
    HEAD_BYTES,
    MAX_HEADER_BYTES,
    READ_CHUNK,
    FrameError,
    FrameParser,
    frame,
)


def cut(*pieces: bytes, max_message: int = 1024) -> list[bytes | FrameError]:
    parser = FrameParser(max_message)
    out: list[bytes | FrameError] = []
    for piece in pieces:
        out.extend(parser.feed(piece))
    return out


def test_frames_fed_byte_by_byte_come_out_whole() -> None:
    stream = frame(b'{"a":1}') + frame(b"{}")
    assert cut(*[stream[i : i + 1] for i in range(len(stream))]) == [b'{"a":1}', b"{}"]


def test_header_fields_in_any_case_and_order() -> None:
    stream = b"Content-Type: x\r\ncontent-length: 2\r\n\r\n{}"
    assert cut(stream) == [b"{}"]


def test_a_bad_length_is_reported_and_the_next_frame_is_read() -> None:
    for bad in (b"abc", b"-5", b"", b"1e3", b"0x10"):
        out = cut(b"Content-Length: " + bad + b"\r\n\r\n{}", frame(b'{"ok":1}'))
        assert isinstance(out[0], FrameError) and "Content-Length" in out[0].message
        assert out[1:] == [b'{"ok":1}']


def test_a_length_python_would_read_as_a_number_is_still_refused_and_shown_as_sent() -> None:
    """``int()`` reads ``+12``, ``1_2`` and Arabic-Indic digits; a header takes ASCII digits only.
    The error shows what was sent (Arabic-Indic digits as themselves, control characters
    escaped, bytes that are no UTF-8 as U+FFFD)."""
    for bad, shown in (
        (b"+12", "'+12'"),
        (b"1_2", "'1_2'"),
        ("١٢".encode(), "'١٢'"),
        (b"\xff2\x1b", "'\ufffd2\\x1b'"),
    ):
        out = cut(b"Content-Length: " + bad + b"\r\n\r\n" + b"x" * 12, frame(b'{"ok":1}'))
        assert isinstance(out[0], FrameError) and shown in out[0].message, out[0]
        assert out[1:] == [b'{"ok":1}']


def test_a_refused_frame_carries_the_first_bytes_after_its_header() -> None:
    """What the error needs to answer the request with its id (the body's start)."""
    body = b'{"jsonrpc": "2.0", "id": 7, "method": "x", "params": "' + b"p" * 5000 + b'"}'
    out = cut(frame(body), frame(b'{"ok":1}'), max_message=1024)
    assert isinstance(out[0], FrameError) and "over the limit" in out[0].message
    assert out[0].head == body[:HEAD_BYTES]
    assert out[1:] == [b'{"ok":1}']


def test_a_claimed_terabyte_is_refused_without_reading_it() -> None:
    parser = FrameParser(1024)
    out = list(parser.feed(b"Content-Length: 1000000000000\r\n\r\n{}" + frame(b"[]")))
    assert isinstance(out[0], FrameError) and "over the limit" in out[0].message
    assert out[1:] == [b"[]"]
    assert len(parser.buffer) == 0


def test_junk_without_a_header_is_reported_once_and_not_kept() -> None:
    parser = FrameParser(1024)
    out = [item for _ in range(100) for item in parser.feed(b"x" * 1000)]
    assert len(out) == 1 and isinstance(out[0], FrameError)
    assert len(parser.buffer) < 20
    assert list(parser.feed(frame(b"{}"))) == [b"{}"]


def test_an_endless_header_is_dropped() -> None:
    parser = FrameParser(1024)
    out = list(parser.feed(b"Content-Length: 2\r\nX-Pad: " + b"p" * MAX_HEADER_BYTES))
    assert len(out) == 1 and "header longer" in out[0].message  # type: ignore[union-attr]
    assert list(parser.feed(b"\r\n\r\n" + frame(b"{}"))) == [b"{}"]


def test_a_content_length_given_twice_alike_is_one_header() -> None:
    """It was taken for an unterminated header and a second frame: the body was served, but
    a parse error with no id went out too."""
    assert cut(b"Content-Length: 2\r\ncontent-length: 2\r\n\r\n{}" + frame(b"[]")) == [b"{}", b"[]"]


def test_a_header_cut_short_by_another_frame_is_still_reported() -> None:
    for cut_short in (b"Content-Length: 9\r\n", b"Content-Length: 2 and no blank line "):
        out = cut(cut_short + frame(b"{}"))
        assert isinstance(out[0], FrameError) and "unterminated header" in out[0].message
        assert out[1:] == [b"{}"]


async def test_a_message_whose_handling_raises_costs_that_message_only() -> None:
    """Any exception out of the protocol ended the read loop, and with it the session (the
    server exited 1): it is logged, and the next message is read."""
    from notegen.lsp.transport import _pump

    seen: list[bytes] = []

    class Fragile:
        def receive_body(self, body: bytes) -> None:
            seen.append(body)
            if body == b"{}":
                raise TypeError("unhashable type: 'list'")

        def send_error(self, *args: object) -> None:
            raise AssertionError("no frame error expected")

    chunks = [frame(b"{}") + frame(b"[]"), b""]

    async def read() -> bytes:
        return chunks.pop(0)

    await _pump(read, Fragile())  # type: ignore[arg-type]
    assert seen == [b"{}", b"[]"]


def test_a_big_body_in_pieces_of_any_size_comes_out_whole_among_small_ones() -> None:
    big = b'{"text": "' + b":C4," * (BIG_BODY // 2) + b'"}'  # twice BIG_BODY
    bodies = [b'{"a": 1}', big, b'{"b": 2}', big[: BIG_BODY + 10], b'{"c": 3}']
    stream = b"".join(frame(body) for body in bodies)
    rng = random.Random(1)
    for _ in range(10):
        parser, out, at = FrameParser(), [], 0
        while at < len(stream):
            size = rng.choice((1, 7, 1 << 16, 300_000, 3 * BIG_BODY))
            out += list(parser.feed(stream[at : at + size]))
            at += size
        assert out == bodies
        assert parser.parts is None and not parser.buffer  # nothing kept after the last frame


def test_a_big_body_dripped_in_tiny_reads_is_kept_in_few_parts() -> None:
    body = b'{"text": "' + b"x" * (BIG_BODY + 100_000) + b'"}'
    stream = frame(body) + frame(b"{}")
    parser, out, most = FrameParser(), [], 0
    for at in range(0, len(stream), 16):
        out += list(parser.feed(stream[at : at + 16]))
        most = max(most, len(parser.parts or ()))
    assert out == [body, b"{}"]
    assert most <= len(body) // READ_CHUNK + 2  # ~40 bytes of overhead per part, not per read


def test_a_big_frame_read_whole_is_handed_on_without_a_copy() -> None:
    """An editor's ``didOpen`` of a big document usually arrives in one read: its body is a
    view of that read (each copy of 800 kB cost the first completion after it ~0.3 ms)."""
    body = b'{"text": "' + b":C4," * READ_CHUNK + b'"}'
    parser = FrameParser()
    read = frame(body)
    out = list(parser.feed(read))
    assert out == [body]
    assert isinstance(out[0], memoryview) and out[0].obj is read
    assert not parser.buffer and parser.length is None
    assert list(parser.feed(frame(b"{}"))) == [b"{}"]


def test_a_big_frame_with_the_next_requests_in_the_same_read_is_still_a_view() -> None:
    """The request an editor sends right after its ``didOpen`` (a completion, say) often
    comes in the same read: the opening is still a view of the read, and what follows is cut
    as usual, a small frame copied out, another big one a view too, a frame cut short kept
    for the next read."""
    body = b'{"text": "' + b":C4," * READ_CHUNK + b'"}'
    other = b'{"text": "' + b":E4," * READ_CHUNK + b'"}'
    parser = FrameParser()
    read = frame(body) + frame(b"[]") + frame(other) + frame(b'{"id": 1}')[:12]
    out = list(parser.feed(read))
    assert out == [body, b"[]", other]
    assert isinstance(out[0], memoryview) and out[0].obj is read
    assert list(parser.feed(frame(b'{"id": 1}')[12:])) == [b'{"id": 1}']

    parser = FrameParser()
    read = frame(body) + frame(other)
    out = list(parser.feed(read))
    assert out == [body, other] and all(isinstance(x, memoryview) for x in out)
    assert not parser.buffer and parser.length is None


def test_a_body_read_whole_into_the_buffer_is_the_buffer() -> None:
    """A big frame whose header came in an earlier read: the buffer the body was read into
    is the body, and the parser reads on into a fresh one."""
    body = b'{"text": "' + b":C4," * READ_CHUNK + b'"}'
    parser = FrameParser()
    stream = frame(body)
    assert list(parser.feed(stream[:10])) == []
    read_into = parser.buffer
    out = list(parser.feed(stream[10:]))
    assert out == [body] and out[0] is read_into
    assert parser.buffer is not read_into and not parser.buffer


def test_a_frame_read_whole_is_cut_as_if_it_came_in_pieces() -> None:
    """Whatever a single big read holds (good frames, lying headers, junk), the frames and
    errors that come out are those of the same bytes fed in two pieces."""
    body = b'{"text": "' + b"x" * READ_CHUNK + b'"}'
    n = len(body)
    headers = [
        b"Content-Length: %d\r\n\r\n" % n,
        b"content-length:%d\n\n" % n,
        b"CONTENT-LENGTH \t: %d \r\nContent-Type: utf-8\r\n\r\n" % n,
        b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (n, n),
        b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (n, n + 1),
        b"Content-Length: %d\r\nX: content-length: 3\r\n\r\n" % n,
        b"Content-Length: %d\r\n\r\n" % (n - 1),
        b"Content-Length: %d\r\n\r\n" % (n + 1),
        b"Content-Length: 00%d\r\n\r\n" % n,
        b"Content-Length: %d; x\r\n\r\n" % n,
        b"Content-Length: -%d\r\n\r\n" % n,
        b"Content-Type: utf-8\r\nContent-Length: %d\r\n\r\n" % n,
        b"junk Content-Length: %d\r\n\r\n" % n,
        b"Content-Length: %d\r\n" % n,
        b"Content-Length: 99999999999999\r\n\r\n",
    ]
    viewed = 0
    for header in headers:
        for after in (b"", frame(b"{}")):
            read = header + body + after
            whole = FrameParser(max_message=4 * n)
            whole_out = [*whole.feed(read), *whole.feed(frame(b"[]"))]
            pieces = FrameParser(max_message=4 * n)
            pieces_out = [*pieces.feed(read[:1]), *pieces.feed(read[1:])]
            pieces_out += pieces.feed(frame(b"[]"))
            assert plain(whole_out) == plain(pieces_out), header
            viewed += isinstance(whole_out[0], memoryview)
    # A view for every header the general path reads alike (the first three, the zero-padded
    # length) and for the lengths that are wrong but whole in the read (one short; one long,
    # with a frame after it to take the byte from): those frames are cut the same either way.
    assert viewed == 11


def plain(items: list[bytes | bytearray | memoryview | FrameError]) -> list[bytes | FrameError]:
    return [x if isinstance(x, FrameError) else bytes(x) for x in items]


def random_stream(rng: random.Random) -> bytes:
    """Frames big and small, good and lying, and junk, as a hostile peer may send them."""
    segments = []
    for k in range(rng.randint(1, 8)):
        kind = rng.choice(("small", "big", "big", "bad length", "junk", "one short"))
        body = b'{"k": %d, "t": "%s"}' % (k, b"x" * rng.choice((3, READ_CHUNK, 150_000)))
        if kind == "small":
            segments.append(frame(b'{"k": %d}' % k))
        elif kind == "big":
            segments.append(frame(body))
        elif kind == "bad length":
            segments.append(b"Content-Length: abc\r\n\r\n" + body)
        elif kind == "junk":
            segments.append(b"hello " * rng.randint(1, 20))
        else:
            segments.append(b"Content-Length: %d\r\n\r\n%s" % (len(body) - 1, body))
    return b"".join(segments)


def bodies_of(stream: bytes, sizes: list[int]) -> list[bytes]:
    parser, out, at = FrameParser(max_message=1 << 20), [], 0
    rng = random.Random(len(stream))
    while at < len(stream):
        size = rng.choice(sizes)
        out += [
            bytes(x) for x in parser.feed(stream[at : at + size]) if not isinstance(x, FrameError)
        ]
        at += size
    return out


@pytest.mark.parametrize("seed", range(8))
def test_the_same_frames_come_out_however_the_reads_cut_the_stream(seed: int) -> None:
    """Reads of 4 kB never hand a body on as a view (the plain path); reads of any size,
    the whole stream at once among them, cut out the very same bodies."""
    rng = random.Random(seed)
    for _ in range(6):
        stream = random_stream(rng)
        expected = bodies_of(stream, [4096])
        assert bodies_of(stream, [len(stream)]) == expected
        assert bodies_of(stream, [1, 100, READ_CHUNK, 100_000, 300_000]) == expected
        assert bodies_of(stream, [READ_CHUNK + 1, 2 * READ_CHUNK, 250_000]) == expected
