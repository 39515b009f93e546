"""Where notegen-lsp's resident memory lies: started, then with the benchmark piece open and idle.

Run by hand (figures, not a test)::

    python benchmarks/resident_memory.py --model models/notegen.json [--server S ...]

Each server named (``--server``, repeatable; default the ``notegen-lsp`` beside this Python) is
started in turn, ``--runs`` times, alternating: initialized and its model loaded on a small
document, then the 20,000-note piece of ``big_document.py`` opened and left until the server
is idle (its reading and warm-up done, the heap trimmed). At both points: VmRSS; then, with the
piece open, its anonymous and file-backed parts (``/proc/<pid>/status``) and the largest
mappings (``/proc/<pid>/smaps``: the heap, anonymous blocks, each library's code and data).

File-backed pages depend on the machine's page cache: a fault in a library's code maps the
pages around it that are cached too, so a library just installed (every page cached) reads
higher than one whose unused pages the kernel has since dropped. Compare servers in the same
run, alternating, and say how each was installed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_document import make_document
from huge_documents import SMALL
from lsp_latency import completion_params
from rpc_client import RpcClient, machine_line, runtime_line, vm_status, wait_idle


def mappings(pid: int) -> Counter[str]:
    """Resident kB per mapping kind: ``<path or [anon]> <permissions>``."""
    found: Counter[str] = Counter()
    kind = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if not fields[0].endswith(":"):
            kind = f"{fields[5] if len(fields) > 5 else '[anon]'} {fields[1]}"
        elif fields[0] == "Rss:":
            found[kind] += int(fields[1])
    return found


def status_parts(pid: int) -> str:
    """``RssAnon``, ``RssFile`` and ``RssShmem`` in MB."""
    parts = []
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("RssAnon", "RssFile", "RssShmem")):
            name, _, rest = line.partition(":")
            parts.append(f"{name} {int(rest.split()[0]) / 1024:.1f} MB")
    return ", ".join(parts)


def measure(server: str, model: Path | None, text: str, top: int) -> tuple[float, float]:
    """One server's VmRSS started and with the piece open and idle (MB); prints its parts."""
    command = [server] + (["--model", str(model.resolve())] if model else [])
    with tempfile.TemporaryDirectory(prefix="notegen-resident-") as tmp:
        root = Path(tmp)
        client = RpcClient(command, cwd=root, stderr_path=root / "server.log")
        try:
            client.initialize(root)
            small = (root / "small.rb").as_uri()
            client.did_open(small, SMALL)
            client.send("textDocument/completion", completion_params(small, 1, 18, None)).wait(120)
            pid = client.process.pid
            wait_idle(pid, timeout=120.0)
            started = vm_status(pid)["VmRSS"] / 1024
            client.did_open((root / "piece.rb").as_uri(), text)
            wait_idle(pid, timeout=600.0)
            idle = vm_status(pid)["VmRSS"] / 1024
            print(f"\n{server}\n  {runtime_line(pid)}")
            print(f"  started {started:.1f} MB; the piece open and idle {idle:.1f} MB")
            print(f"  {status_parts(pid)}")
            for kind, kb in mappings(pid).most_common(top):
                print(f"  {kb / 1024:7.1f} MB  {kind}")
        finally:
            client.close()
    return started, idle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model .onnx/.json passed as --model")
    parser.add_argument("--server", action="append", help="a notegen-lsp to run (repeatable)")
    parser.add_argument("--runs", type=int, default=1, help="rounds, the servers alternating")
    parser.add_argument("--top", type=int, default=8, help="largest mappings listed")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(machine_line())
    servers = args.server or [str(Path(sys.executable).parent / "notegen-lsp")]
    text = make_document().text
    figures: dict[str, list[tuple[float, float]]] = {s: [] for s in servers}
    for _ in range(args.runs):
        for server in servers:
            figures[server].append(measure(server, args.model, text, args.top))
    print("\n[summary] started / the piece open and idle, MB, each run")
    for server, runs in figures.items():
        print(f"  {server}: " + ", ".join(f"{a:.1f} / {b:.1f}" for a, b in runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
