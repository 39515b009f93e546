"""Typing in a huge document, two server checkouts side by side (a paired A/B).

Run by hand (figures, not a test)::

    git worktree add /tmp/base <commit>
    python benchmarks/paired_typing.py --model models/notegen.json --a . --b /tmp/base

Both servers (``notegen-lsp`` run from each checkout's ``server/``) open the same document of
``huge_documents.py`` (``--which array``: the 5 MB one-line note array; ``notes``: 200,000
notes in 2,000 lines), then take turns: a block of ``--keystrokes`` typed notes, each an
incremental ``didChange`` followed by a completion, to A then to B, B first every other block.
Each server's CPU time is read from ``/proc`` around its blocks. A shared VM's speed drifts by
a factor of two within an hour; blocks alternating a few seconds apart see the same drift, so
the ratio is worth more than either figure alone.

``--document FILE`` types into any Sonic Pi file instead: each block at a random note array
(a line with ``=[:``), after a random element, then ``--jumps`` completions at random other
arrays without an edit. ``--ghost`` asks for ghost text (``textDocument/inlineCompletion``)
after each completion at the same cursor, as VS Code does at each keystroke.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from huge_documents import NOTE_NAMES, SMALL, Probe, documents, places
from lsp_latency import completion_params, ghost_params
from rpc_client import RpcClient, machine_line

SERVE = "import sys; from notegen.cli import lsp_main; sys.exit(lsp_main())"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_from(checkout: Path, model: Path, root: Path, name: str) -> RpcClient:
    """``notegen-lsp`` run from ``checkout``'s ``server/``, initialized (its log: ``name.log``)."""
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve() / "server"))
    command = [sys.executable, "-c", SERVE, "--model", str(model.resolve())]
    client = RpcClient(command, env=env, cwd=root, stderr_path=root / f"{name}.log")
    client.initialize(root)
    return client


def start(checkout: Path, model: Path, root: Path, name: str, text: str) -> Probe:
    """A server from ``checkout`` with the document open and one completion answered."""
    client = server_from(checkout, model, root, name)
    small = (root / f"small-{name}.rb").as_uri()
    client.did_open(small, SMALL)
    client.send("textDocument/completion", completion_params(small, 1, 18, None)).wait(120)
    uri = (root / f"huge-{name}.rb").as_uri()
    client.did_open(uri, text)
    probe = Probe(client, uri, text.split("\n"))
    probe.request("textDocument/completion", 1, 20)
    return probe


NOTE_ARRAY = re.compile(r"=\s*\[\s*:[A-Ga-gr]")
"""A line that opens a note array (``a1[0]=[:C4,...``): where ``--document`` blocks type."""


def element_ends(text: str) -> list[int]:
    """Cursors right after a comma of the array the line assigns (``a1[0]=[...``)."""
    low = text.index("[", text.index("=")) + 1
    high = text.find("]", low)
    return [i + 1 for i in range(low, high if high != -1 else len(text)) if text[i] == ","]


def ask(probe: Probe, line: int, character: int, ghost: bool) -> float:
    """A completion (and, with ``ghost``, ghost text) at a cursor; seconds until answered."""
    seconds, _ = probe.request("textDocument/completion", line, character)
    if ghost:
        params = ghost_params(probe.uri, line, character)
        pending = probe.client.send("textDocument/inlineCompletion", params)
        pending.wait(120)
        seconds += pending.latency_s
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--a", type=Path, required=True, help="checkout A (its server/)")
    parser.add_argument("--b", type=Path, required=True, help="checkout B")
    parser.add_argument("--which", choices=["array", "notes"], default="array")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--keystrokes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--document", type=Path, help="a Sonic Pi file to type into instead")
    parser.add_argument("--jumps", type=int, default=5, help="--document: cursor jumps a block")
    parser.add_argument("--ghost", action="store_true", help="ghost text after each completion")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(machine_line())
    if args.document is not None:
        text = args.document.read_text(encoding="utf-8", errors="replace")
    else:
        text, _target = documents(args.seed)[args.which]
    lines = text.split("\n")
    rng = random.Random(args.seed)
    arrays = [k for k, t in enumerate(lines) if NOTE_ARRAY.search(t) and element_ends(t)]
    if args.document is not None and not arrays:
        print(f"{args.document}: no note array to type into")
        return 2
    line, character = places(args.which, lines, 1, rng)[0] if args.document is None else (0, 0)
    with tempfile.TemporaryDirectory(prefix="notegen-paired-") as tmp:
        root = Path(tmp)
        probes = {n: start(c, args.model, root, n, text) for n, c in (("A", args.a), ("B", args.b))}
        time.sleep(3)  # both servers' readings of the document done
        at = dict.fromkeys(probes, character)
        latency: dict[str, list[float]] = {n: [] for n in probes}
        cpu = dict.fromkeys(probes, 0.0)
        for block in range(args.blocks):
            notes = [rng.choice(NOTE_NAMES) + "," for _ in range(args.keystrokes)]
            jumps: list[tuple[int, int]] = []
            if args.document is not None:  # (both servers' texts stay the same)
                line = rng.choice(arrays)
                character = rng.choice(element_ends(probes["A"].lines[line]))
                at = dict.fromkeys(probes, character)
                for far in (rng.choice(arrays) for _ in range(args.jumps)):
                    jumps.append((far, rng.choice(element_ends(probes["A"].lines[far]))))
            for name in ("A", "B") if block % 2 == 0 else ("B", "A"):
                probe = probes[name]
                before = cpu_seconds(probe.client.process.pid)
                for note in notes:
                    probe.type_note(line, at[name], note)
                    at[name] += len(note)
                    latency[name].append(ask(probe, line, at[name], args.ghost) * 1000)
                for far, column in jumps:
                    latency[name].append(ask(probe, far, column, args.ghost) * 1000)
                cpu[name] += cpu_seconds(probe.client.process.pid) - before
        unit = "cursor (keystroke or jump)" if args.document is not None else "keystroke"
        if args.ghost:
            unit += ", completion and ghost text"
        for name, checkout in (("A", args.a), ("B", args.b)):
            values = sorted(latency[name])
            n = len(values)
            print(
                f"{name} {checkout}: n={n} p50 {values[n // 2]:.2f} p90 {values[int(n * 0.9)]:.2f} "
                f"p99 {values[min(n - 1, int(n * 0.99))]:.2f} mean {sum(values) / n:.2f} ms; "
                f"server CPU {cpu[name] / n * 1000:.2f} ms per {unit}"
            )
        print(f"CPU per {unit}, A / B: {cpu['A'] / max(cpu['B'], 1e-9):.3f}")
        for probe in probes.values():
            probe.client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
