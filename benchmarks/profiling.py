"""Sample a running server with py-spy and summarise where its time goes.

py-spy samples every thread of another process without touching it (the server's inference
runs in worker threads, which cProfile in the main thread would miss). ``record --format raw``
writes collapsed stacks (``frame;frame;frame count``); :func:`summarise` turns them into the top
functions by self time and by inclusive time, which is what a report needs.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

__all__ = ["Profiler", "find_py_spy", "summarise"]


def find_py_spy() -> str | None:
    """py-spy from PATH, the venv, or a ``pip install --target`` directory in $PYSPY_HOME."""
    import os

    candidates = [
        shutil.which("py-spy"),
        str(Path(sys.executable).parent / "py-spy"),
        os.path.join(os.environ.get("PYSPY_HOME", "/tmp/pyspy"), "bin", "py-spy"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


class Profiler:
    """``py-spy record --pid`` for the duration of a ``with`` block."""

    def __init__(self, pid: int, output: Path, rate: int = 250) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        exe = find_py_spy()
        if exe is None:
            raise RuntimeError("py-spy not found: pip install py-spy (or set PYSPY_HOME)")
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(self.pid),
                "--rate",
                str(self.rate),
                "--format",
                "raw",
                "--threads",
                "--nonblocking",
                "-o",
                str(self.output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import time

        time.sleep(0.5)  # let py-spy attach before the measured work starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; keep function + file tail.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit("/", 2)
    tail = "/".join(file[-2:]) if len(file) > 1 else where
    return f"{name} ({tail})"


def summarise(
    path: Path,
    top: int = 15,
    idle: tuple[str, ...] = (
        "wait",
        "select",
        "_recv_into",
        "readline",
        "read (",
        "acquire",
        "_worker",
    ),
) -> str:
    """Top functions by self and inclusive samples, idle waits left out of the busy total."""
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    busy = 0
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        total += count
        if not frames:
            continue
        leaf = _frame_name(frames[-1])
        if any(leaf.startswith(i) or i in leaf for i in idle):
            continue
        busy += count
        self_counts[leaf] += count
        for name in {_frame_name(f) for f in frames}:
            incl_counts[name] += count
    lines = [f"samples: {total} total, {busy} busy (not waiting on I/O or locks)"]
    lines.append("top self time (busy samples):")
    for name, count in self_counts.most_common(top):
        lines.append(f"  {100 * count / max(busy, 1):5.1f}%  {name}")
    lines.append("top inclusive time (busy samples):")
    for name, count in incl_counts.most_common(top + 10):
        if name.startswith(("<module>", "thread", "_bootstrap", "run (threading")):
            continue
        lines.append(f"  {100 * count / max(busy, 1):5.1f}%  {name}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise(Path(sys.argv[1])))
