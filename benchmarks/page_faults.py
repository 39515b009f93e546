"""Page faults of a fresh cursor's work on a just-trimmed heap (issue 12's first completion).

Run by hand (figures, not a test)::

    python benchmarks/page_faults.py --model models/notegen.json

The server gives its free heap back to the system when idle (``malloc_trim``), so the first
request afterwards touches fresh pages for every block it allocates: on a VM a fault costs
~4 µs. This prints, after ``malloc_trim(0)`` each time, with the server's ``mallopt``
settings, the time and the minor faults of

- the line starts of a new 200,000-note document (``huge_documents.py``'s), and
- the copy model and the training tunes after 80 notes of a new context (the experts, through
  ``MelodyModel.copy_log_probs``, as a cursor's first completion makes them).

glibc only (``malloc_trim``); on another libc it says so and stops.
"""

from __future__ import annotations

import argparse
import ctypes
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from huge_documents import documents


def faults() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/notegen.json")
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        libc = ctypes.CDLL("libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        print("no glibc here: nothing to measure")
        return 1

    from notegen.lsp import heap
    from notegen.melody import Event
    from notegen.model.network import MelodyModel
    from notegen.sonicpi.types import line_starts

    heap.limit_malloc_arenas()  # the server's own settings
    model = MelodyModel.load(args.model)
    texts = [documents(seed)["notes"][0] for seed in range(args.runs)]

    def measure(label: str, work: list) -> None:  # type: ignore[type-arg]
        times, counts = [], []
        for job in work:
            trim(0)
            before, started = faults(), time.perf_counter()
            job()
            times.append((time.perf_counter() - started) * 1000)
            counts.append(faults() - before)
        print(
            f"{label}: median {statistics.median(times):.2f} ms "
            f"(runs {' '.join(f'{t:.2f}' for t in times)}), "
            f"faults median {statistics.median(counts):.0f} (runs {' '.join(map(str, counts))})"
        )

    measure(
        "line starts of a new 200,000-note document", [lambda t=t: line_starts(t) for t in texts]
    )
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, None, 76, 55]
    contexts = []
    for seed in range(args.runs):
        rng = random.Random(seed)
        events = [Event(rng.choice(pitches), rng.choice([0.5, 1.0, 2.0])) for _ in range(80)]
        contexts.append(model.joint_ids(*model.encode(events)))
    zeros_p = np.zeros(len(model.pitch_vocab), np.float32)
    zeros_d = np.zeros(len(model.duration_vocab), np.float32)
    measure(
        "experts after 80 notes of a new context",
        [lambda h=h: model.copy_log_probs(zeros_p, zeros_d, h) for h in contexts],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
