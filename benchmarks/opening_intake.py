"""What taking in a big ``didOpen`` costs the server before it can answer the next request.

Run by hand (figures, not a test)::

    python benchmarks/opening_intake.py [--repeat 9] [--with-request] [--which play]

The 200,000-note document of ``huge_documents.py`` (``--which``: ``notes``, 800 kB, or
``play``, the 4.8 MB of ``play``/``sleep`` lines) is framed as an editor sends it, then
taken in as the server's event loop does, in a heap trimmed first (the server trims it
whenever the client is quiet, so a new document's memory is faulted in page by page): read
(64 kB reads joined into pieces of up to 1 MB, as ``read_available`` hands them on where the
bytes waiting cannot be counted; a pipe is read in one piece of up to 1 MB, by the event
loop), cut out of the stream (:class:`notegen.lsp.transport.FrameParser`), its JSON values
counted (a body over 2 MB only: the server refuses a flood of them unparsed), decoded,
parsed; then what the first request in it asks for: its
line starts, and whether a ``<<`` or an ``=begin`` lies above its last line (``hidden``).
``--with-request``: a completion request follows the opening in the same read, as an
editor's often does (the server's timeline of ``huge_documents.py --fresh`` showed it in
every opening). Each step's time and page faults, median of ``--repeat``. Another
checkout's: ``PYTHONPATH=<checkout>/server``.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from huge_documents import documents
from notegen.lsp import protocol
from notegen.lsp.documents import DocumentView
from notegen.lsp.heap import MALLOC_ARENAS, MMAP_THRESHOLD
from notegen.lsp.transport import READ_CHUNK, STDIN_READ, FrameParser, frame
from notegen.sonicpi.types import line_starts


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def timed(step: Callable[[], Any]) -> tuple[Any, float, int]:
    before, started = faults(), time.perf_counter()
    result = step()
    return result, (time.perf_counter() - started) * 1000, faults() - before


def gathered(reads: list[list[bytes]]) -> list[bytes]:
    """The pieces handed on: reads of 64 kB joined (``read_available``'s fallback)."""
    return [b"".join(piece) for piece in reads]


def cut_out(framer: FrameParser, pieces: list[bytes]) -> list[Any]:
    return [body for piece in pieces for body in framer.feed(piece)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--which", choices=["notes", "play"], default="notes")
    parser.add_argument(
        "--with-request", action="store_true", help="a completion request in the same read"
    )
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    libc = ctypes.CDLL("libc.so.6")  # the server's heap settings (glibc)
    libc.mallopt(-8, MALLOC_ARENAS)
    libc.mallopt(-3, MMAP_THRESHOLD)
    text = documents(1)[args.which][0]
    opening = {
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {
            "textDocument": {
                "uri": "file:///notes.rb",
                "languageId": "ruby",
                "version": 1,
                "text": text,
            }
        },
    }
    stream = frame(json.dumps(opening).encode("utf-8"))
    if args.with_request:
        request = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "textDocument/completion",
            "params": {
                "textDocument": {"uri": "file:///notes.rb"},
                "position": {"line": 1000, "character": 40},
            },
        }
        stream += frame(json.dumps(request).encode("utf-8"))
    reads = [
        [
            stream[at : at + READ_CHUNK]
            for at in range(start, min(start + STDIN_READ, len(stream)), READ_CHUNK)
        ]
        for start in range(0, len(stream), STDIN_READ)
    ]
    print(f"didOpen of {len(text):,} characters: {len(stream):,} bytes in {len(reads)} piece(s)")
    rows: dict[str, list[tuple[float, int]]] = {
        "read": [],
        "cut out": [],
        "counted": [],
        "decoded": [],
        "parsed": [],
        "line starts": [],
        "hidden": [],
    }
    for _ in range(args.repeat):
        libc.malloc_trim(0)
        pieces, ms, count = timed(functools.partial(gathered, reads))
        rows["read"].append((ms, count))
        bodies, ms, count = timed(functools.partial(cut_out, FrameParser(), pieces))
        rows["cut out"].append((ms, count))
        body = bodies[0]
        assert len(bodies) == 1 + args.with_request
        if len(body) > protocol.COUNT_VALUES_FROM:
            found, ms, count = timed(functools.partial(protocol._values, body))
            rows["counted"].append((ms, count))
            assert found <= protocol.MAX_VALUES
        decoded, ms, count = timed(functools.partial(str, body, "utf-8"))
        rows["decoded"].append((ms, count))
        parsed, ms, count = timed(functools.partial(json.loads, decoded))
        rows["parsed"].append((ms, count))
        opened = parsed["params"]["textDocument"]["text"]
        assert opened == text
        starts, ms, count = timed(functools.partial(line_starts, opened))
        rows["line starts"].append((ms, count))
        assert len(starts) == text.count("\n") + 1
        view = DocumentView("file:///notes.rb", 1, opened)
        hidden, ms, count = timed(functools.partial(view.hidden, starts[-1]))
        rows["hidden"].append((ms, count))
        assert not hidden
        pieces = bodies = body = decoded = parsed = opened = starts = view = None  # (freed)
    total = 0.0
    for name, values in rows.items():
        if not values:
            continue  # (a body too small to be counted)
        ms = statistics.median(v[0] for v in values)
        total += ms
        print(f"  {name:11} {ms:6.2f} ms  {statistics.median(v[1] for v in values):6.0f} faults")
    print(f"  in all      {total:6.2f} ms (medians of {args.repeat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
