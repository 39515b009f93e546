"""Seeded hostile traffic through the real server: every request answered, nothing dies.

Run by hand (figures, not a test)::

    python benchmarks/hostile_traffic.py --model models/notegen.json [--requests 2000] [--seed 1]

The server is started on stdio with three documents open (arrays with durations and bpm, a
``live_loop`` of ``play``/``sleep`` lines, a ring; with ``--big`` the 20,000-note benchmark
piece too). Each round takes a well-formed message of
a kind the server serves (completion, inline completion, hover, code actions, each of its
commands, the document notifications) and breaks it the way a buggy or hostile client would:
a value replaced by one of the wrong type or an absurd size (``-1``, ``2**53``, ``2**64``, a
string, ``null``, a list nested 500 deep, a megabyte of text), a member dropped, unknown
members added, ``params`` that are not an object, a method that does not exist, an id of an
odd kind. Between them come frames with lying headers, invalid UTF-8 and bytes that belong to
no frame. The rounds are sent a few at a time, and what came back is checked:

- every request gets one answer (a result or an error) within ``--deadline`` seconds;
- the server stays alive, and ends with exit code 0 after ``shutdown`` and ``exit``;
- its log holds no traceback;
- well-formed completions asked every so often (in a document opened afresh with its own
  text: a broken change may be a whole-text replacement) still come back with items.

Prints the counts, the error codes, the slowest answers, and exits 1 when a check failed.
``--server`` runs another ``notegen-lsp`` (a wrapper that starts another checkout's).
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from big_document import make_document
from rpc_client import Pending, RpcClient

PIECE = """use_bpm 90
a1 = []
b1 = []
c1 = [70]
a1[0] = [:C4, :E4, :G4, :C5, :B4, :G4, :E4, :C4, :D4, :F4, :A4, :D5]
b1[0] = [0.5, 0.5, 1, 0.5, 0.5, 1, 0.5, 0.5, 1, 0.5, 0.5, 1]
a1[1] = [:C3, :G2, :C3, :G2, :F2, :C3]
b1[1] = [1, 1, 1, 1, 1, 1]
"""
LOOP = """live_loop :melody do
  use_synth :piano
  play :e4
  sleep 0.5
  play :g4, amp: 0.8
  sleep 0.5
  play :c5
  sleep 1
end
"""
RING = """notes = (ring :c4, :d4, :e4, :g4, :a4)
play_pattern_timed [:c4, :e4, :g4, :b4], [0.25, 0.25, 0.5, 1]
"""
HOSTILE_VALUES: list[Any] = [
    None,
    -1,
    0,
    2**31,
    2**53,
    2**64,
    -(2**63),
    1.5,
    1e308,
    -0.0,
    "",
    "0",
    "x" * 1000,
    "é\u0000\ud7ff",
    True,
    [],
    {},
    [1, 2],
    {"line": 0},
    "file:///nowhere.rb",
    "notegen.generateMelody",
]


def deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


def templates(
    uris: list[str], places: list[tuple[int, int]]
) -> list[tuple[str, dict[str, Any], bool]]:
    """Well-formed messages the server serves: (method, params, is a request), at each
    document's place."""
    out: list[tuple[str, dict[str, Any], bool]] = []
    for uri, (line, character) in zip(uris, places, strict=True):
        doc = {"uri": uri}
        pos = {"line": line, "character": character}
        out += [
            ("textDocument/completion", {"textDocument": doc, "position": pos}, True),
            (
                "textDocument/completion",
                {
                    "textDocument": doc,
                    "position": pos,
                    "context": {"triggerKind": 2, "triggerCharacter": ","},
                },
                True,
            ),
            (
                "textDocument/inlineCompletion",
                {"textDocument": doc, "position": pos, "context": {"triggerKind": 1}},
                True,
            ),
            ("textDocument/hover", {"textDocument": doc, "position": pos}, True),
            (
                "textDocument/codeAction",
                {
                    "textDocument": doc,
                    "range": {"start": pos, "end": pos},
                    "context": {"diagnostics": []},
                },
                True,
            ),
            (
                "workspace/executeCommand",
                {
                    "command": "notegen.continueMelody",
                    "arguments": [{"uri": uri, "position": pos, "count": 4, "preview": True}],
                },
                True,
            ),
            (
                "workspace/executeCommand",
                {
                    "command": "notegen.generateMelody",
                    "arguments": [{"uri": uri, "length": 8, "seed": 3, "preview": True}],
                },
                True,
            ),
            (
                "workspace/executeCommand",
                {
                    "command": "notegen.addGhostDurations",
                    "arguments": [{"uri": uri, "version": 1, "durations": ["0.5"]}],
                },
                True,
            ),
            ("workspace/executeCommand", {"command": "notegen.stopSonicPi"}, True),
            (
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": 2},
                    "contentChanges": [
                        {"range": {"start": pos, "end": pos}, "text": ""},
                    ],
                },
                False,
            ),
            ("textDocument/didClose", {"textDocument": doc}, False),
        ]
    out.append(("workspace/didChangeConfiguration", {"settings": {"notegen": {}}}, False))
    return out


def leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every member and element of ``value`` (itself included), down to a depth of
    eight (not into a deep nest already put there)."""
    found = [path]
    if len(path) >= 8:
        return found
    if isinstance(value, dict):
        for key, item in value.items():
            found += leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += leaves(item, (*path, index))
    return found


def mutate(params: dict[str, Any], rng: random.Random) -> Any:
    """``params`` broken in one to three places."""
    broken: Any = copy.deepcopy(params)
    for _ in range(rng.randint(1, 3)):
        paths = leaves(broken)
        path = rng.choice(paths)
        choice = rng.random()
        if not path:
            broken = rng.choice([None, [], "params", 7, [broken], {"params": broken}])
            continue
        parent = broken
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        if choice < 0.35:
            parent[last] = same_type(parent[last], rng)
        elif choice < 0.55:
            parent[last] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        elif choice < 0.65:
            parent[last] = deep(500)
        elif choice < 0.7:
            parent[last] = "x" * 1_000_000
        elif choice < 0.85 and isinstance(parent, dict):
            del parent[last]
        elif isinstance(parent, dict):
            parent[rng.choice(["extra", "__proto__", "id", "uri", ""])] = copy.deepcopy(
                rng.choice(HOSTILE_VALUES)
            )
        else:
            parent.append(copy.deepcopy(rng.choice(HOSTILE_VALUES)))
    return broken


def same_type(value: Any, rng: random.Random) -> Any:
    """A value of ``value``'s own type that no sane client sends: past every line and
    character, of no document, a count of millions, a text of a hundred thousand characters
    (to reach past the parameters' checks into the features)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rng.choice([0, 1, 3, 99, 2**31 - 1, 10**6, 100_000])
    if isinstance(value, float):
        return rng.choice([0.0, 1e-9, 1e9, 0.001])
    if isinstance(value, str):
        return rng.choice(
            [
                "",
                "file:///nowhere/else.rb",
                "untitled:Untitled-1",
                "file:///etc/passwd",
                "file:///tmp/%00.rb",
                value + value,
                "\u202e" + value,
                ":c4," * 25_000,
                "0.5",
                "-1",
                "nan",
            ]
        )
    if isinstance(value, list):
        return value * 50  # (the same items: shared, never a cycle)
    return value


def garbage(rng: random.Random) -> bytes:
    """Bytes a broken transport might send: bad headers, bad UTF-8, stray bytes. Not a length
    longer than what follows it, nor two lengths in one header (read as a header cut short
    and a frame after it): no reader of a stream can tell where such a frame ends, and the
    request after it is lost with it."""
    body = b'{"jsonrpc":"2.0","method":"textDocument/hover","params":{}}'
    return rng.choice(
        [
            b"Content-Length: abc\r\n\r\n{}",
            b"Content-Length: -5\r\n\r\n{}",
            b"Content-Length: 1000000000000\r\n\r\n{}",
            b"Content-Length: 3\r\n\r\n{}}",
            b"hello there\r\n",
            b"Content-Length: %d\r\n\r\n%s" % (len(body) + 2, body + b"\xff\xfe"),
            b"Content-Length: 4\r\n\r\nnull",
            b"Content-Length: 2\r\n\r\n[]",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/notegen.json")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=60.0)
    parser.add_argument("--in-flight", type=int, default=8)
    parser.add_argument("--server", help="the notegen-lsp to run (default: beside this Python)")
    parser.add_argument("--rounds", help="only these rounds, FIRST:LAST (the same messages)")
    parser.add_argument(
        "--big", action="store_true", help="a fourth document: the 20,000-note benchmark piece"
    )
    args = parser.parse_args(argv)
    print("$ " + " ".join(["python", *sys.argv]))

    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="notegen-hostile-"))
    log = root / "server.log"
    command = [args.server or str(Path(sys.executable).parent / "notegen-lsp")]
    command += ["--model", str(Path(args.model).resolve())]
    client = RpcClient(command, cwd=root, stderr_path=log)
    client.initialize(root)
    texts = {"piece.rb": PIECE, "loop.rb": LOOP, "ring.rb": RING}
    places = [(4, 20), (2, 9), (0, 20)]
    if args.big:
        big = make_document()
        texts["big.rb"] = big.text
        middle = big.note_arrays[len(big.note_arrays) // 2]
        places.append((middle.line, middle.ends[len(middle.ends) // 2]))
    uris = [(root / name).as_uri() for name in texts]
    for uri, text in zip(uris, texts.values(), strict=True):
        client.did_open(uri, text)
    shapes = templates(uris, places)

    answered: collections.Counter[str] = collections.Counter()
    codes: collections.Counter[Any] = collections.Counter()
    slowest: list[tuple[float, str]] = []
    unanswered: list[str] = []
    healthy = broken_health = 0
    started = time.monotonic()
    window: list[tuple[Pending, str]] = []

    def settle(limit: int) -> None:
        while len(window) > limit:
            pending, what = window.pop(0)
            began = time.monotonic()
            pending.done.wait(max(0.0, args.deadline - (began - pending_started[id(pending)])))
            if not pending.done.is_set() or pending.died:
                unanswered.append(what)
                continue
            waited = pending.received_at - pending.sent_at
            slowest.append((waited, what))
            message = pending.message or {}
            if "error" in message:
                answered["error"] += 1
                codes[message["error"].get("code")] += 1
            else:
                answered["result"] += 1

    pending_started: dict[int, float] = {}
    shown: dict[str, str] = {}
    first, last = 0, args.requests - 1
    if args.rounds:
        first, last = (int(x) for x in args.rounds.split(":"))
    for round_ in range(last + 1):
        kind = rng.random()
        if kind < 0.05:
            junk = garbage(rng)
            if round_ >= first:
                client.send_raw(junk)
            continue
        method, params, is_request = rng.choice(shapes)
        if kind < 0.1:
            method = rng.choice(["textDocument/definition", "notegen/x", "", "$/x", "initialize"])
        what = f"{method} #{round_}"
        payload = mutate(params, rng)
        if round_ < first:
            continue
        shown[what] = json.dumps(payload)[:300]
        if is_request:
            pending = client.send(method, payload)
            pending_started[id(pending)] = time.monotonic()
            window.append((pending, what))
        else:
            client.notify(method, payload)
            if method == "textDocument/didClose":  # open it again: later rounds need it
                uri = params["textDocument"]["uri"]
                client.did_open(uri, texts[Path(uri[len("file://") :]).name])
        settle(args.in_flight)
        if round_ % 200 == 199:
            settle(0)
            # Its own text again: a broken didChange may be a well-formed one by chance (seed
            # 7 dropped a change's range: the whole text replaced by "", nothing to complete).
            client.notify("textDocument/didClose", {"textDocument": {"uri": uris[0]}})
            client.did_open(uris[0], texts["piece.rb"])
            probe = client.send(
                "textDocument/completion",
                {"textDocument": {"uri": uris[0]}, "position": {"line": 4, "character": 20}},
            )
            probe.done.wait(args.deadline)
            result = (probe.message or {}).get("result") if probe.done.is_set() else None
            items = result.get("items") if isinstance(result, dict) else result
            if items:
                healthy += 1
            else:
                broken_health += 1
            if client.process.poll() is not None:
                break
    settle(0)
    alive = client.process.poll() is None
    code = None
    if alive:
        client.request("shutdown", None, timeout=args.deadline)
        client.notify("exit")
        code = client.process.wait(timeout=30)
    text = log.read_text(errors="replace")
    tracebacks = text.count("Traceback")
    slowest.sort(reverse=True)

    print(f"rounds: {args.requests} (seed {args.seed}), {time.monotonic() - started:.1f} s")
    print(f"requests answered: {answered['result']} results, {answered['error']} errors")
    print("error codes: " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items(), key=str)))
    print(f"unanswered within {args.deadline:.0f} s: {len(unanswered)}")
    for what in unanswered[:5]:
        print(f"  {what}: {shown[what]}")
    print("slowest answers:")
    for waited, what in slowest[:3]:
        print(f"  {waited * 1000:.0f} ms {what}: {shown[what]}")
    print(f"well-formed completions between rounds: {healthy} with items, {broken_health} not")
    print(f"server alive to the end: {alive}; exit code after shutdown and exit: {code}")
    print(f"tracebacks in the server's log: {tracebacks} ({log})")
    ok = alive and code == 0 and not unanswered and not tracebacks and not broken_health
    print("all checks passed" if ok else "CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
