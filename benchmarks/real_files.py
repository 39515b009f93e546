"""Every Sonic Pi file of a folder through the real server: nothing may fail or go unanswered.

Run by hand (a check with counts, not a test: the files are not the project's)::

    python benchmarks/real_files.py --model models/notegen.json [--pieces ../shared/data/sonicpi]

For each file: ``didOpen``, then at once (before any whole reading: a huge document's first
seconds) a completion, a hover and an inline completion at a cursor after a note of its
longest note array (its 101st, or its last), or after the first ``play`` value of a file
with no array; then the whole text replaced (its diagnostics awaited: read whole), a
``continueMelody`` preview of 4 notes at the same cursor, and ``didClose``. Counts the
answers, error replies, requests never answered, diagnostics and tracebacks in the server's
log, and times the continuations (a refusal where there is nothing to continue, a file with
no note array whose ``play`` values are no notes, ``play chord(:e3, :minor).choose``, is
counted apart); exits 1 if any request failed or went unanswered or the log has one.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lsp_latency import completion_params, ghost_params, server_command
from notegen.lsp.documents import DocumentView
from rpc_client import RpcClient, RpcError

REPO = Path(__file__).resolve().parent.parent
PLAY_VALUE = re.compile(r"\bplay\s+:?\w+")


def cursor(text: str) -> tuple[tuple[int, int], bool]:
    """After a note of the longest note array (and ``True``), else after the first ``play``
    value, which may be no note (``play chord(:e3, :minor).choose``)."""
    view = DocumentView("file:///cursor.rb", 1, text)
    arrays = [a for a in view.arrays() if a.notes]
    if arrays:
        longest = max(arrays, key=lambda a: len(a.notes))
        return view.position_at(longest.notes[min(len(longest.notes) - 1, 100)].span.end), True
    found = PLAY_VALUE.search(text)
    return (view.position_at(found.end()) if found else (0, 0)), False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model .onnx/.json passed as --model")
    parser.add_argument("--server", help="the server's command (default: notegen-lsp)")
    parser.add_argument("--pieces", type=Path, default=REPO.parent / "shared/data/sonicpi")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    files = sorted(p for p in args.pieces.rglob("*") if p.is_file())
    if not files:
        print(f"no files under {args.pieces}")
        return 1
    root = Path(tempfile.mkdtemp(prefix="notegen-real-files-"))
    log = root / "server.log"
    client = RpcClient(server_command(args), cwd=root, stderr_path=log)
    client.initialize(root)
    answered = errors = unanswered = diagnosed = nothing_there = 0
    continuations: list[tuple[float, str]] = []
    started = time.perf_counter()
    for k, path in enumerate(files):
        text = path.read_text("utf-8", errors="replace")
        (line, character), in_array = cursor(text)
        uri = (root / f"piece{k}.rb").as_uri()
        position = {"line": line, "character": character}
        client.did_open(uri, text)
        pending = [
            client.send("textDocument/completion", completion_params(uri, line, character, None)),
            client.send("textDocument/hover", {"textDocument": {"uri": uri}, "position": position}),
            client.send("textDocument/inlineCompletion", ghost_params(uri, line, character)),
        ]
        for request in pending:
            try:
                request.wait(60)
                answered += 1
            except RpcError as exc:
                errors += 1
                print(f"  {path}: {exc}")
            except TimeoutError:
                unanswered += 1
                print(f"  {path}: {request.method} never answered")
        client.did_change(uri, 2, [{"text": text + "\n# edited\n"}])
        try:
            client.wait_notification(
                "textDocument/publishDiagnostics", lambda p, u=uri: p.get("uri") == u, timeout=60
            )
            diagnosed += 1
        except TimeoutError:
            print(f"  {path}: no diagnostics after the edit")
        arguments = {"uri": uri, "position": position, "count": 4, "seed": 1, "preview": True}
        asked = client.send(
            "workspace/executeCommand",
            {"command": "notegen.continueMelody", "arguments": [arguments]},
        )
        try:
            asked.wait(60)
            answered += 1
            continuations.append((asked.latency_s * 1000, path.name))
        except RpcError as exc:
            if not in_array and "is not inside a note array" in str(exc):
                nothing_there += 1
            else:
                errors += 1
                print(f"  {path}: {exc}")
        except TimeoutError:
            unanswered += 1
            print(f"  {path}: continueMelody never answered")
        client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    code = client.close()
    tracebacks = log.read_text(errors="replace").count("Traceback")
    print(
        f"{len(files)} files: {answered} requests answered, {errors} error replies, "
        f"{unanswered} never answered, {diagnosed} files' diagnostics after the edit, "
        f"{tracebacks} tracebacks in the server's log ({log}), exit code {code}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    if continuations:
        times = sorted(ms for ms, _name in continuations)
        slowest = max(continuations)
        print(
            f"continueMelody (4 notes, preview) in {len(times)} files: median "
            f"{times[len(times) // 2]:.0f} ms, p90 {times[int(len(times) * 0.9)]:.0f} ms, "
            f"slowest {slowest[0]:.0f} ms ({slowest[1]}); refused with nothing to continue "
            f"there: {nothing_there}"
        )
    return 0 if errors == unanswered == tracebacks == 0 and code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
