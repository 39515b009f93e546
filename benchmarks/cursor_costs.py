"""What a completion at a new cursor costs in process, in parts (no JSON-RPC, no other work).

Run by hand (figures, not a test), from the checkout to measure::

    PYTHONPATH=server python benchmarks/cursor_costs.py --model models/notegen.json

and against another checkout (``git worktree add /tmp/base <commit>``) with
``PYTHONPATH=/tmp/base/server``, alternating runs: a shared VM's speed drifts.

``--which notes`` (default): the 200,000-note document of ``huge_documents.py`` (one voice of
2,000 sections of 100 notes), read whole as the server reads it, with no section warmed: each
cursor is a new place after a comma of a random line. ``--which piece``: the 20,000-note piece
of ``big_document.py``, every section start warmed first as the server's warm-up does, and
cursors at random arrays (a jump). Per cursor, on this thread's CPU clock: the cursor's
context (``note_context``), the ranked notes (its model context primed, the experts served),
and their sum; the first cursor (the voice read for the model) is reported apart. Python's
collector is tuned as the server tunes it.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_document import make_document
from huge_documents import documents
from notegen.lsp import completion
from notegen.lsp.config import Settings
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.engine import Engine
from notegen.lsp.heap import GC_THRESHOLDS
from notegen.lsp.whole_reading import read_document
from paired_graphs import warmed


def summary(name: str, values: list[float]) -> str:
    v = sorted(values)
    pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]  # noqa: E731
    return (
        f"  {name:13s} n={len(v)} mean={statistics.mean(v):.2f} p50={pick(0.5):.2f} "
        f"p90={pick(0.9):.2f} p99={pick(0.99):.2f} max={v[-1]:.2f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--which", choices=("notes", "piece"), default="notes")
    parser.add_argument("--cursors", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-reading",
        action="store_true",
        help="as before the server's whole-file reading is in (a huge file, or just opened): "
        "each cursor's context is read from the text around it",
    )
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    import notegen

    print(f"notegen from {Path(notegen.__file__).resolve().parent}")
    settings = Settings()
    if args.which == "notes":
        text = documents(1)["notes"][0]
    else:
        text = make_document(total_notes=20_000, seed=1).text
    view = DocumentView("file:///cursors.rb", 1, text)
    reading, _diagnostics, _cost = read_document(view, conditioned=True)
    view = DocumentView("file:///cursors.rb", 1, text)  # (the reading forgot its arrays)
    if args.which == "piece":
        engine = warmed(args.model, reading, settings)
    else:
        engine = Engine()
        engine.load(args.model).result()
    gc.collect()  # the collector as the server tunes it once a reading is in (tune_gc)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    lines = text.split("\n")
    rows = [i for i, line in enumerate(lines) if "=[:" in line]
    rng = random.Random(args.seed)
    parts: dict[str, list[float]] = {"context": [], "ranked notes": [], "total": []}
    first: tuple[float, float] | None = None
    for _ in range(args.cursors):
        row = rng.choice(rows)
        commas = [i + 1 for i, ch in enumerate(lines[row]) if ch == ","]
        col = rng.choice(commas) if commas else lines[row].index("[") + 1
        t0 = time.thread_time()
        nc = note_context(view, row, col, None if args.no_reading else reading, settings.maxContext)
        t1 = time.thread_time()
        if nc is None:
            continue
        completion.rank_notes(engine, nc, settings.maxItems)
        t2 = time.thread_time()
        view.forget_cursor()
        if first is None:
            first = ((t1 - t0) * 1e3, (t2 - t1) * 1e3)
            continue
        parts["context"].append((t1 - t0) * 1e3)
        parts["ranked notes"].append((t2 - t1) * 1e3)
        parts["total"].append((t2 - t0) * 1e3)
    when = "no reading" if args.no_reading else "read"
    print(f"[{args.which}, {when}] {len(text):,} chars; {args.cursors} cursors, CPU per cursor:")
    if first is not None:
        print(f"  first cursor: context {first[0]:.2f} ms, ranked notes {first[1]:.2f} ms")
    for name, values in parts.items():
        print(summary(name, values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
