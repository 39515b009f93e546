"""continueMelody of many notes through the real server: how long a client waits.

Run by hand (figures, not a test)::

    python benchmarks/long_continuation.py --model models/notegen.json [--counts 640 5000 100000]

One server, two small documents: a voice in ``aN[k]``/``bN[k]`` arrays, and a ``live_loop`` of
``play``/``sleep`` lines. For each count, a ``continueMelody`` preview at the end of each (the
whole continuation is sampled and written as text, then shown, not applied), timed from the
request to its answer. From 2,000 notes on the server samples in a child process, so the time
includes its start (~0.3 s). ``--server`` runs another ``notegen-lsp`` (a wrapper that starts
another checkout's), to compare two versions in turns.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rpc_client import RpcClient, machine_line

ARRAYS = "a1=[]\nb1=[]\na1[0]=[:C4,:E4,:G4,:E4,:D4,:C4]\nb1[0]=[1,0.5,0.5,1,1,2]\n"
LINES = (
    "live_loop :m do\n  play :c4\n  sleep 0.5\n  play :e4\n  sleep 0.5\n  play :g4\n"
    "  sleep 1\nend\n"
)
CURSORS = {"arrays": (ARRAYS, 2, 35), "play lines": (LINES, 5, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model .onnx/.json passed as --model")
    parser.add_argument("--counts", type=int, nargs="+", default=[640, 5000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server", help="the notegen-lsp to run (default: beside this Python)")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(machine_line())
    root = Path(tempfile.mkdtemp(prefix="notegen-continuation-"))
    server = args.server or str(Path(sys.executable).with_name("notegen-lsp"))
    command = [server] + (["--model", str(args.model.resolve())] if args.model else [])
    client = RpcClient(command, cwd=root, stderr_path=root / "server.log")
    client.initialize(root)
    try:
        for name, (text, line, character) in CURSORS.items():
            uri = (root / f"{name.replace(' ', '_')}.rb").as_uri()
            client.did_open(uri, text)
            for count in args.counts:
                asked = {
                    "uri": uri,
                    "position": {"line": line, "character": character},
                    "count": count,
                    "seed": args.seed,
                    "preview": True,
                }
                began = time.perf_counter()
                result = client.request(
                    "workspace/executeCommand",
                    {"command": "notegen.continueMelody", "arguments": [asked]},
                    timeout=600,
                )
                took = time.perf_counter() - began
                print(f"{name}: continueMelody({count}) {took:.2f} s, {result['notes']} notes")
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
