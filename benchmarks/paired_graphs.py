"""Two model cards answering the same completions in one process: CPU per request, paired.

On a shared VM whose speed drifts within minutes, two runs one after the other compare the
machine as much as the code. Here each cursor of the latency benchmark's kind (a random
array of the 20,000-note piece, just after a comma or inside a partly typed symbol) is
answered by both models in random order, the piece read and warmed for each as the server
does, and every request timed with ``thread_time``; the median of the per-request ratios is
the figure to quote. Run by hand, e.g. the shipped int8 graph against its float graph::

    python benchmarks/paired_graphs.py --a float.json --b models/notegen.json

(``float.json``: a copy of ``models/notegen.json`` without ``quantization``, its ``onnx`` and
``sha256`` the record's ``source`` and ``source_sha256``, beside ``notegen.fp32.onnx`` and
``notegen.tunes.npz``.)
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

from big_document import make_document
from lsprotocol import types
from notegen.lsp import completion
from notegen.lsp.config import Settings
from notegen.lsp.context import note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.engine import Engine
from notegen.lsp.warm_up import WARM_ROWS, warm_sections, warm_stride
from notegen.lsp.whole_reading import read_document


def warmed(path: Path, reading, settings: Settings) -> Engine:  # type: ignore[no-untyped-def]
    """An engine with ``path`` loaded and every section start (and the stops inside arrays)
    primed, as the server's warm-up primes them."""
    engine = Engine()
    engine.load(path).result()
    if engine.cache is None:
        sys.exit(f"{path}: {engine.error}")
    start = time.thread_time()
    queues = [[reading.voices[v][n] for n in nums] for v, nums in reading.sections.items()]
    stride, _ = warm_stride(reading, settings.maxContext)
    while any(queues):
        for first in range(0, len(queues), WARM_ROWS):
            group = [q.pop(0) for q in queues[first : first + WARM_ROWS] if q]
            for _ in warm_sections(reading, group, engine.cache, settings.maxContext, stride):
                pass
    print(f"{path}: warm-up {time.thread_time() - start:.2f} s of CPU")
    return engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="first model card")
    parser.add_argument("--b", type=Path, required=True, help="second model card")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--notes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    settings = Settings()
    doc = make_document(total_notes=args.notes, seed=args.seed)
    view = DocumentView("file:///big.rb", 1, doc.text)
    reading, _diagnostics, _cost = read_document(view, conditioned=True)
    engines = {"a": warmed(args.a, reading, settings), "b": warmed(args.b, reading, settings)}
    lines = doc.text.split("\n")
    rng = random.Random(args.seed)
    cpu: dict[str, list[float]] = {"a": [], "b": []}
    while len(cpu["a"]) < args.requests:
        span = rng.choice(doc.note_arrays)
        text = lines[span.line]
        close = text.rindex("]")
        commas = [i for i in range(span.open_col + 1, close) if text[i] == ","]
        at = rng.choice(commas) + 1 if commas else close
        at = min(at + rng.choice((0, 0, 1, 2)), close)
        where = types.Range(types.Position(span.line, at), types.Position(span.line, at))
        order = list(engines.items())
        rng.shuffle(order)
        for name, engine in order:
            start = time.thread_time()
            nc = note_context(view, span.line, at, reading, settings.maxContext)
            if nc is not None:
                completion.complete(engine, nc, settings, where)
            cpu[name].append((time.thread_time() - start) * 1000)
    for name, path in (("a", args.a), ("b", args.b)):
        values = sorted(cpu[name])
        p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
        print(
            f"{name} {path}: n={len(values)} CPU per request mean {statistics.mean(values):.2f}"
            f" p50 {statistics.median(values):.2f} p99 {p99:.2f} ms"
        )
    ratios = [b / a for a, b in zip(cpu["a"], cpu["b"], strict=True) if a > 0]
    print(f"b/a per request: median ratio {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
