"""Every kind of request notegen-lsp serves, on one big document: the median and the slowest.

Run by hand (figures, not a test)::

    python benchmarks/request_kinds.py --model models/notegen.json [--document loops]

The latency benchmark times completions; editors send more than that, and a command that reads
the whole document again on every call is slow only in a big one. One server, one document,
opened and left to settle (its reading and warm-up done), then at ``--places`` random cursors
one of each: completion, hover, ghost text, code actions (at the cursor and on five lines), a
``continueMelody`` preview of 8 notes, a ``generateMelody`` preview of 16 there, Play in Sonic
Pi (no Sonic Pi runs here: its answer is an error, after the same reading) and
``addGhostDurations``. An error reply (a cursor where nothing can be continued, say) is timed
like an answer and counted apart.

``--document arrays`` (default): the latency benchmark's 2,000 lines, 20,000 notes, 20 voices
in ``aN[k]``/``bN[k]`` arrays. ``--document loops``: 400 ``live_loop`` blocks of 25
``play``/``sleep`` pairs (20,000 notes written as code).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_document import make_document
from rpc_client import RpcClient, RpcError, machine_line, runtime_line, wait_idle


def loops_document(loops: int = 400, pairs: int = 25, seed: int = 2) -> str:
    """``loops`` live_loops of ``pairs`` random ``play``/``sleep`` lines each."""
    rng = random.Random(seed)
    lines = ["use_bpm 100"]
    for k in range(loops):
        lines.append(f"live_loop :l{k} do")
        for _ in range(pairs):
            lines.append(f"  play :{rng.choice('cdefgab')}{rng.choice('345')}")
            lines.append(f"  sleep {rng.choice(['0.25', '0.5', '1'])}")
        lines.append("end")
    return "\n".join(lines) + "\n"


def requests_at(uri: str, line: int, character: int, last_line: int) -> list[tuple[str, str, Any]]:
    """(name, method, params) of every kind, at one cursor."""
    pos = {"line": line, "character": character}
    at = {"textDocument": {"uri": uri}, "position": pos}
    lines = {
        "start": {"line": line, "character": 0},
        "end": {"line": min(line + 5, last_line), "character": 0},
    }
    nothing: dict[str, Any] = {"diagnostics": []}

    def command(name: str, **args: Any) -> dict[str, Any]:
        return {"command": name, "arguments": [{"uri": uri, **args}]}

    execute = "workspace/executeCommand"
    return [
        ("completion", "textDocument/completion", at),
        ("hover", "textDocument/hover", at),
        ("ghost text", "textDocument/inlineCompletion", {**at, "context": {"triggerKind": 2}}),
        (
            "code actions",
            "textDocument/codeAction",
            {"textDocument": {"uri": uri}, "range": {"start": pos, "end": pos}, "context": nothing},
        ),
        (
            "code actions, 5 lines",
            "textDocument/codeAction",
            {"textDocument": {"uri": uri}, "range": lines, "context": nothing},
        ),
        (
            "continueMelody(8)",
            execute,
            command("notegen.continueMelody", position=pos, count=8, preview=True),
        ),
        (
            "generateMelody(16)",
            execute,
            command("notegen.generateMelody", position=pos, length=16, preview=True),
        ),
        ("Play in Sonic Pi", execute, command("notegen.playInSonicPi", position=pos)),
        (
            "addGhostDurations",
            execute,
            command("notegen.addGhostDurations", version=1, durations=["0.5"]),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model .onnx/.json passed as --model")
    parser.add_argument("--document", choices=["arrays", "loops"], default="arrays")
    parser.add_argument("--places", type=int, default=30)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--server", type=Path, help="the notegen-lsp to run (default: beside this Python)"
    )
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    command = [str(args.server or Path(sys.executable).parent / "notegen-lsp")]
    if args.model:
        command += ["--model", str(args.model.resolve())]
    print(machine_line())
    arrays = args.document == "arrays"
    text = make_document(total_notes=20000, seed=1).text if arrays else loops_document()
    lines = text.split("\n")
    times: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="notegen-kinds-") as tmp:
        root = Path(tmp)
        client = RpcClient(command, cwd=root, stderr_path=root / "server.log")
        client.initialize(root)
        print(f"server: {runtime_line(client.process.pid)}")
        uri = (root / "big.rb").as_uri()
        client.did_open(uri, text)
        settled = wait_idle(client.process.pid, timeout=300.0)
        print(
            f"[{args.document}] {len(text):,} chars, {len(lines) - 1:,} lines; "
            f"settled {settled:.1f} s after didOpen"
        )
        rng = random.Random(args.seed)
        for _ in range(args.places):
            line = rng.randrange(len(lines) - 1)
            character = rng.randrange(len(lines[line]) + 1)
            for name, method, params in requests_at(uri, line, character, len(lines) - 2):
                started = time.perf_counter()
                try:
                    client.request(method, params, timeout=120.0)
                except RpcError:
                    errors[name] = errors.get(name, 0) + 1
                times.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        code = client.close()
    for name, ms in times.items():
        print(
            f"  {name:22s} median {statistics.median(ms):7.1f} ms, slowest {max(ms):7.1f} ms"
            f"  ({len(ms)} asked, {errors.get(name, 0)} error replies)"
        )
    print(f"server exit code {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
