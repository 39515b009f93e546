"""A fresh 200,000-note document's first completion, two servers side by side (a paired A/B).

Run by hand (figures, not a test)::

    git worktree add /tmp/base <commit>
    python benchmarks/paired_openings.py --model models/notegen.json --a . --b /tmp/base

``huge_documents.py --fresh`` samples one server at a time, and this VM's speed drifts by
more than the changes worth trying on that path: three runs of the same code within ten
minutes gave p50 8.35, 10.08 and 11.38 ms. Here both servers (``--server-a`` / ``--server-b``:
any ``notegen-lsp`` command; or ``--a`` / ``--b``: a checkout's ``server/``) are started and
warmed once, then each of ``--openings`` fresh documents (other notes each) is opened in both,
one right after the other, A first every other time: the completion sent right after the
``didOpen``, the document closed once answered, and that server idle again before the next. What is
compared is each document's two latencies, so both see the same drift: the median of B − A,
how many documents each was faster on, and each server's own p50 / p90.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from huge_documents import SMALL, first_completion, fresh_document
from lsp_latency import completion_params
from paired_typing import server_from
from rpc_client import RpcClient, machine_line, wait_idle


def server(
    command: str | None, checkout: Path | None, model: Path, root: Path, name: str
) -> RpcClient:
    """A server from a command line (``--server-a``) or a checkout (``--a``), warmed on a small
    document so that neither pays its first completion in the comparison."""
    if command is not None:
        client = RpcClient(
            [command, "--model", str(model.resolve())], cwd=root, stderr_path=root / f"{name}.log"
        )
        client.initialize(root)
    else:
        assert checkout is not None
        client = server_from(checkout, model, root, name)
    small = (root / f"small-{name}.rb").as_uri()
    client.did_open(small, SMALL)
    client.send("textDocument/completion", completion_params(small, 1, 18, None)).wait(120)
    wait_idle(client.process.pid, timeout=600.0)
    return client


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    n = len(ordered)
    over = sum(v > 10 for v in ordered)
    p50, p90 = statistics.median(ordered), ordered[int(n * 0.9)]
    return f"p50 {p50:.2f} p90 {p90:.2f} ms, over 10 ms {over} of {n}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--a", type=Path, help="checkout A (its server/)")
    parser.add_argument("--b", type=Path, help="checkout B")
    parser.add_argument("--server-a", help="a notegen-lsp command for A instead of --a")
    parser.add_argument("--server-b", help="a notegen-lsp command for B instead of --b")
    parser.add_argument("--openings", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if (args.a is None) == (args.server_a is None) or (args.b is None) == (args.server_b is None):
        parser.error(
            "give each of A and B as a checkout (--a/--b) or a command (--server-a/--server-b)"
        )
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="notegen-openings-") as tmp:
        root = Path(tmp)
        clients = {
            "A": server(args.server_a, args.a, args.model, root, "A"),
            "B": server(args.server_b, args.b, args.model, root, "B"),
        }
        latency: dict[str, list[float]] = {"A": [], "B": []}
        for k in range(args.openings):
            text, cursor = fresh_document(args.seed, k)
            for name in ("A", "B") if k % 2 == 0 else ("B", "A"):
                uri = (root / f"fresh{k}-{name}.rb").as_uri()
                latency[name].append(first_completion(clients[name], uri, text, cursor) * 1000)
        for client in clients.values():
            client.close()
    differences = [b - a for a, b in zip(latency["A"], latency["B"], strict=True)]
    a_faster = sum(d > 0 for d in differences)
    print(f"A {args.server_a or args.a}: {describe(latency['A'])}")
    print(f"B {args.server_b or args.b}: {describe(latency['B'])}")
    print(
        f"B - A per document: median {statistics.median(differences):+.2f} ms, mean "
        f"{statistics.mean(differences):+.2f} ms; A faster on {a_faster}, B on "
        f"{len(differences) - a_faster} of {len(differences)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
