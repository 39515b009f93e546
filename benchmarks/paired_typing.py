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
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from huge_documents import NOTE_NAMES, SMALL, Probe, documents, places
from lsp_latency import completion_params
from rpc_client import RpcClient

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--a", type=Path, required=True, help="checkout A (its server/)")
    parser.add_argument("--b", type=Path, required=True, help="checkout B")
    parser.add_argument("--which", choices=["array", "notes"], default="array")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--keystrokes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    text, _target = documents(args.seed)[args.which]
    lines = text.split("\n")
    rng = random.Random(args.seed)
    line, character = places(args.which, lines, 1, rng)[0]
    with tempfile.TemporaryDirectory(prefix="notegen-paired-") as tmp:
        root = Path(tmp)
        probes = {n: start(c, args.model, root, n, text) for n, c in (("A", args.a), ("B", args.b))}
        time.sleep(3)  # both servers' readings of the document done
        at = dict.fromkeys(probes, character)
        latency: dict[str, list[float]] = {n: [] for n in probes}
        cpu = dict.fromkeys(probes, 0.0)
        for block in range(args.blocks):
            notes = [rng.choice(NOTE_NAMES) + "," for _ in range(args.keystrokes)]
            for name in ("A", "B") if block % 2 == 0 else ("B", "A"):
                probe = probes[name]
                before = cpu_seconds(probe.client.process.pid)
                for note in notes:
                    probe.type_note(line, at[name], note)
                    at[name] += len(note)
                    seconds, _ = probe.request("textDocument/completion", line, at[name])
                    latency[name].append(seconds * 1000)
                cpu[name] += cpu_seconds(probe.client.process.pid) - before
        for name, checkout in (("A", args.a), ("B", args.b)):
            values = sorted(latency[name])
            n = len(values)
            print(
                f"{name} {checkout}: n={n} p50 {values[n // 2]:.2f} p90 {values[int(n * 0.9)]:.2f} "
                f"p99 {values[min(n - 1, int(n * 0.99))]:.2f} mean {sum(values) / n:.2f} ms; "
                f"server CPU {cpu[name] / n * 1000:.2f} ms per keystroke"
            )
        print(f"CPU per keystroke, A / B: {cpu['A'] / max(cpu['B'], 1e-9):.3f}")
        for probe in probes.values():
            probe.client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
