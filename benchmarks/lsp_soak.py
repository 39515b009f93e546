"""notegen-lsp soak: edit storms, 500 documents opened and closed, mixed requests; RSS over time.

Run by hand (figures, not a test)::

    python benchmarks/lsp_soak.py --model models/notegen.json

Stages, each printing the server's VmRSS as it goes (and, while child processes of the server
run a big generation or a check, the whole tree's RSS and PSS beside it):

1. the big benchmark document (2,000 lines, 20,000 notes; ``--voices``/``--sections``/``--notes``
   for another size) or ``--document FILE`` (any Sonic Pi file: edited in its note arrays) opened;
2. ``--storms`` storms of ``--edits`` incremental edits each (typing notes into arrays and
   deleting them again, so the text returns to where it started), a completion every 50 edits;
3. the big document closed;
4. ``--documents`` small documents opened, asked for completion and hover, and closed;
5. ``--mixed`` rounds of mixed requests (completion, hover, inline completion, code actions,
   a short generateMelody) on one document.

Targets (issue 12): ≤ 150 MB after three storms of 10,000 edits, and back within 5 MB of the
first storm's level once the document is closed. Each storm ends with a barrier (a completion
answered after the last edit), where RSS is read once (the edits' own memory, before the
server reads the new text), and then waits for the server's re-reading (its diagnostics)
before it is read again, so a reading in flight is not mistaken for growth. "Closed" is read
twice: right after the close's hover (the heap maybe not trimmed yet: the trim waits for the
inference thread to drop the warm states) and once the server is idle.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_document import make_document
from rpc_client import RpcClient, machine_line, runtime_line, tree_memory, wait_idle

ARRAY_LINE = re.compile(r"\[\s*(?::[A-Ga-gr]|\d)[^\]]*\]")
"""A line with a note (or duration) array on it: where a storm types."""

SMALL = "use_bpm 90\na1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4,:E4]\nb1[0]=[1,0.5,0.5,1]\n"


class Soak:
    def __init__(self, client: RpcClient) -> None:
        self.client = client
        self.started = time.perf_counter()
        self.first_storm_mb: float | None = None
        self.trees: list[dict[str, float]] = []
        self.last_edit: list[float] = []
        """VmRSS once each storm's last edit is in, before the server reads the new text."""

    def report(self, what: str) -> float:
        """Print the server's VmRSS and its process tree's (child processes that do big
        generations or checks count too: RSS summed, and PSS); the server's VmRSS."""
        m = tree_memory(self.client.process.pid)
        self.trees.append(m)
        tree = ""
        if m["processes"] > 1:
            tree = (
                f"  [tree: {m['processes']:.0f} processes, RSS {m['tree_rss']:.1f} MB, "
                f"PSS {m['tree_pss']:.1f} MB]"
            )
        at = time.perf_counter() - self.started
        print(f"  t={at:7.1f} s  VmRSS {m['rss']:7.1f} MB  {what}{tree}")
        sys.stdout.flush()
        return m["rss"]

    def diagnostics_settled(self, uri: str, version: int, timeout: float = 120.0) -> None:
        """Wait until the server published diagnostics for ``version`` (its reading is done)."""
        self.client.wait_notification(
            "textDocument/publishDiagnostics",
            lambda p: p.get("uri") == uri and p.get("version") == version,
            timeout=timeout,
        )

    def completion(self, uri: str, line: int, character: int) -> Any:
        return self.client.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 1},
            },
            timeout=120,
        )


def storm(
    soak: Soak,
    uri: str,
    lines: list[str],
    arrays: list[int],
    edits: int,
    version: int,
    rng: random.Random,
) -> int:
    """``edits`` incremental edits: type ``,:C4`` into an array, then delete it again."""
    client = soak.client
    done = 0
    while done < edits:
        line = rng.choice(arrays)
        at = lines[line].rindex("]")
        typed = ""
        for char in ",:" + rng.choice("CDEFGAB") + rng.choice("345"):
            version += 1
            change = {
                "range": {
                    "start": {"line": line, "character": at + len(typed)},
                    "end": {"line": line, "character": at + len(typed)},
                },
                "text": char,
            }
            client.did_change(uri, version, [change])
            typed += char
            done += 1
        version += 1
        change = {
            "range": {
                "start": {"line": line, "character": at},
                "end": {"line": line, "character": at + len(typed)},
            },
            "text": "",
        }
        client.did_change(uri, version, [change])
        done += 1
        if done % 50 < 5:
            soak.completion(uri, line, at)
        if done % 2000 < 5:
            soak.report(f"{done} edits")
    return version


def _document(args: argparse.Namespace) -> tuple[str, list[int], str]:
    """The stormed document's text, the lines of its arrays, and what it is."""
    if args.document is not None:
        text = args.document.read_text(encoding="utf-8")
        lines = text.split("\n")
        arrays = [k for k, line in enumerate(lines) if ARRAY_LINE.search(line)]
        if not arrays:
            raise SystemExit(f"{args.document}: no line with a note array to edit")
        return text, arrays, f"{args.document.name}: {len(lines)} lines, {len(arrays)} arrays"
    doc = make_document(args.voices, args.sections, args.notes, seed=args.seed)
    arrays = sorted({a.line for a in doc.note_arrays})
    return doc.text, arrays, f"{doc.lines} lines, {doc.notes} notes"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model .onnx/.json passed as --model")
    parser.add_argument(
        "--server", type=Path, help="the notegen-lsp to run (default: beside this Python)"
    )
    parser.add_argument("--storms", type=int, default=3)
    parser.add_argument("--edits", type=int, default=10_000)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--mixed", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--document", type=Path, help="a Sonic Pi file to storm instead")
    parser.add_argument("--voices", type=int, default=20, help="generated document's voices")
    parser.add_argument("--sections", type=int, default=44, help="... sections per voice")
    parser.add_argument("--notes", type=int, default=20_000, help="... notes in all")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(machine_line())
    server = args.server or Path(sys.executable).parent / "notegen-lsp"
    command = [str(server)] + (["--model", str(args.model.resolve())] if args.model else [])
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="notegen-soak-") as tmp:
        root = Path(tmp)
        client = RpcClient(command, cwd=root, stderr_path=root / "server.log")
        soak = Soak(client)
        try:
            client.initialize(root, initialization_options={})
            print(f"server: {runtime_line(client.process.pid)}")
            soak.report("initialized")
            text, arrays, what = _document(args)
            uri = (root / "big.rb").as_uri()
            lines = text.split("\n")
            client.did_open(uri, text)
            soak.completion(uri, arrays[0], lines[arrays[0]].rindex("]"))
            soak.diagnostics_settled(uri, 1)
            soak.report(f"document open ({what})")

            print(f"\n[storms] {args.storms} x {args.edits} incremental edits")
            version = 1
            after: list[float] = []
            idle: list[float] = []
            for n in range(args.storms):
                version = storm(soak, uri, lines, arrays, args.edits, version, rng)
                soak.completion(uri, arrays[0], lines[arrays[0]].rindex("]"))  # (a barrier)
                last = soak.report(f"storm {n + 1}'s last edit answered (before its reading)")
                soak.last_edit.append(last)
                soak.diagnostics_settled(uri, version)
                after.append(soak.report(f"after storm {n + 1} (reading settled)"))
                wait_idle(client.process.pid)
                idle.append(soak.report(f"after storm {n + 1} (idle: warm-up done, heap trimmed)"))
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
            client.request(
                "textDocument/hover",
                {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}},
            )
            closed = soak.report("document closed")
            wait_idle(client.process.pid)
            closed_idle = soak.report("document closed (idle: its memory trimmed)")

            print(f"\n[documents] open, complete, hover, close x {args.documents}")
            for k in range(args.documents):
                small = (root / f"small{k}.rb").as_uri()
                client.did_open(small, SMALL)
                soak.completion(small, 3, 10)
                client.request(
                    "textDocument/hover",
                    {"textDocument": {"uri": small}, "position": {"line": 3, "character": 8}},
                )
                client.notify("textDocument/didClose", {"textDocument": {"uri": small}})
                if (k + 1) % 100 == 0:
                    soak.report(f"{k + 1} documents opened and closed")

            print(
                f"\n[mixed] {args.mixed} rounds of completion, hover, inline, code action, "
                "generateMelody(16) every 10th round"
            )
            mixed = (root / "mixed.rb").as_uri()
            client.did_open(mixed, SMALL)
            position = {"line": 3, "character": 10}
            for k in range(args.mixed):
                where = {"textDocument": {"uri": mixed}, "position": position}
                client.request("textDocument/completion", where)
                client.request("textDocument/hover", where)
                client.request(
                    "textDocument/inlineCompletion", {**where, "context": {"triggerKind": 1}}
                )
                client.request(
                    "textDocument/codeAction",
                    {
                        "textDocument": {"uri": mixed},
                        "range": {"start": position, "end": position},
                        "context": {"diagnostics": []},
                    },
                )
                if k % 10 == 0:
                    client.request(
                        "workspace/executeCommand",
                        {
                            "command": "notegen.generateMelody",
                            "arguments": [{"uri": mixed, "length": 16, "seed": k, "preview": True}],
                        },
                        timeout=120,
                    )
                if (k + 1) % 100 == 0:
                    soak.report(f"{k + 1} mixed rounds")
            client.notify("textDocument/didClose", {"textDocument": {"uri": mixed}})
            end = soak.report("end")

            print("\n[verdict]")
            if after:  # (no storms: --storms 0 measures the other phases alone)
                worst = max(after)
                read = ", ".join(f"{a:.1f}" for a in after)
                print(
                    f"  after the storms, at the reading: {read} MB; "
                    f"target ≤ 150 MB: {'MET' if worst <= 150 else 'NOT MET'}"
                )
                print(
                    f"  after the storms, their last edit in (before the reading): "
                    f"{', '.join(f'{a:.1f}' for a in soak.last_edit)} MB; ≤ 150 MB: "
                    f"{'MET' if max(soak.last_edit) <= 150 else 'NOT MET'}"
                )
                print(
                    f"  after the storms, once idle: {', '.join(f'{a:.1f}' for a in idle)} MB; "
                    f"target ≤ 150 MB: {'MET' if max(idle) <= 150 else 'NOT MET'}"
                )
                print(
                    f"  closed {closed:.1f} MB vs first storm {after[0]:.1f} MB: "
                    f"{closed - after[0]:+.1f} MB (target within 5 MB: "
                    f"{'MET' if closed - after[0] <= 5 else 'NOT MET'})"
                )
                print(
                    f"  closed, once idle, {closed_idle:.1f} MB vs first storm {after[0]:.1f} MB: "
                    f"{closed_idle - after[0]:+.1f} MB (target within 5 MB: "
                    f"{'MET' if closed_idle - after[0] <= 5 else 'NOT MET'})"
                )
            print(f"  end of the soak: {end:.1f} MB")
            most = max(soak.trees, key=lambda m: m["tree_rss"])
            print(
                f"  whole process tree, highest seen at a report: {most['processes']:.0f} "
                f"processes, RSS {most['tree_rss']:.1f} MB, PSS {most['tree_pss']:.1f} MB "
                f"(server alone then {most['rss']:.1f} MB)"
            )
            alive = client.process.poll() is None
        finally:
            code = client.close()
        print(f"  server alive at the end: {alive}; exit code after shutdown/exit: {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
