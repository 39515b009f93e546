"""The first completion after a typing pause, two server checkouts side by side.

Run by hand (figures, not a test)::

    git worktree add /tmp/base <commit>
    python benchmarks/after_pause.py --model models/notegen.json --a . --b /tmp/base

A pause long enough for the server to re-read the file (its diagnostics for the version typed
published, then the server and its children idle) is when a real session's next completion
is asked: both servers open the 20,000-note benchmark piece; at each of ``--pauses`` steps a
random array is typed into (``--typing`` notes, each followed by a completion: the steady
cost), one more note is typed and the client waits out the re-reading, then a comma is typed
after it and a completion asked there (the one measured: the user goes on where they were).
The two servers take turns, B first every other step.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from big_document import make_document
from huge_documents import NOTE_NAMES, Probe
from lsp_latency import describe
from paired_typing import server_from
from rpc_client import machine_line, wait_idle


def start(checkout: Path, model: Path, root: Path, name: str, text: str) -> Probe:
    """A server from ``checkout`` with the piece open, read and warmed up."""
    client = server_from(checkout, model, root, name)
    uri = (root / f"piece-{name}.rb").as_uri()
    client.did_open(uri, text)
    client.wait_notification(
        "textDocument/publishDiagnostics", lambda p: p.get("uri") == uri, timeout=300
    )
    wait_idle(client.process.pid, timeout=300)
    return Probe(client, uri, text.split("\n"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--a", type=Path, required=True, help="checkout A (its server/)")
    parser.add_argument("--b", type=Path, required=True, help="checkout B")
    parser.add_argument("--pauses", type=int, default=20)
    parser.add_argument("--typing", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(machine_line())
    document = make_document(total_notes=20_000, seed=args.seed)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="notegen-pause-") as tmp:
        root = Path(tmp)
        checkouts = {"A": args.a, "B": args.b}
        probes = {n: start(c, args.model, root, n, document.text) for n, c in checkouts.items()}
        paused: dict[str, list[float]] = {n: [] for n in probes}  # seconds
        steady: dict[str, list[float]] = {n: [] for n in probes}
        for step in range(args.pauses):
            line = rng.choice(document.note_arrays).line
            notes = [rng.choice(NOTE_NAMES) for _ in range(args.typing + 1)]
            for name in ("A", "B") if step % 2 == 0 else ("B", "A"):
                probe = probes[name]
                at = probe.lines[line].rindex("]")
                for note in notes[1:]:  # typing (each keystroke a note and its comma)
                    probe.type_note(line, at, "," + note)
                    at += len(note) + 1
                    seconds, _ = probe.request("textDocument/completion", line, at)
                    steady[name].append(seconds)
                probe.type_note(line, at, "," + notes[0])  # then a pause
                probe.client.wait_notification(
                    "textDocument/publishDiagnostics",
                    lambda p, probe=probe: (
                        p.get("uri") == probe.uri and p.get("version") == probe.version
                    ),
                    timeout=300,
                )
                wait_idle(probe.client.process.pid, timeout=300)
                at += 1 + len(notes[0])
                probe.type_note(line, at, ",")  # and on, in the same array
                seconds, _ = probe.request("textDocument/completion", line, at + 1)
                paused[name].append(seconds)
        for name, checkout in (("A", args.a), ("B", args.b)):
            print(f"{name} {checkout}")
            print(f"  first completion after a pause: {describe(paused[name])}")
            print(f"  typing on without a pause:      {describe(steady[name])}")
        for probe in probes.values():
            probe.client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
