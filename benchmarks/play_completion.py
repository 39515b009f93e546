"""Top-3 of completion after ``play `` on real live-coding files (issue 13's measure).

For every run of ``play``/``sleep`` statements (``notegen.sonicpi.statements``), every step after
the first ``--min-before`` that is one ``play`` of a single literal note: the note is deleted,
the cursor put after ``play ``, and ``note_context`` + ``play_lines.complete`` (what
``textDocument/completion`` runs, with the shipped model) answer; a hit is the true MIDI note
among the first 3 items.

Files: ``*.rb`` under ``live-coding/`` and ``sonic-pi-examples/`` of the data folder (never
copied into the project). They are split by file, once and for all, by ``sha1(path relative to
the data folder) % 2``: 0 = ``dev`` (what changes are tried on), 1 = ``held-out`` (reported,
never tuned on). ``--as-array`` is a diagnosis: the same notes before the cursor written as a
Sonic Pi array (``notes = [:e4, :g4, ``) and completed by the array path, to tell the melodies'
difficulty from the way play/sleep code is read. ``--left-only`` ends the document right
after ``play `` (no later lines: no wrap-around of a loop's previous pass). ``--server`` asks a
real ``notegen-lsp`` process over stdio instead (each place opened as a document, its
diagnostics awaited so the whole-file reading is there, then ``textDocument/completion``).

    PYTHONPATH=server python benchmarks/play_completion.py --data ../shared/data/sonicpi
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import sys
from collections import Counter
from pathlib import Path

from lsprotocol import types
from notegen.lsp import completion, play_lines
from notegen.lsp.config import Settings
from notegen.lsp.context import NoteContext, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.engine import Engine
from notegen.lsp.reading import Reading
from notegen.notes import infer_style, note_to_midi
from notegen.sonicpi import read
from notegen.sonicpi.statements import PlayRun

FOLDERS = ("live-coding", "sonic-pi-examples")


def split_of(root: Path, path: Path) -> str:
    """``dev`` or ``held-out``, fixed by the file's path (see the module docstring)."""
    digest = hashlib.sha1(path.relative_to(root).as_posix().encode()).digest()
    return "held-out" if digest[-1] % 2 else "dev"


def places(text: str, min_before: int):  # type: ignore[no-untyped-def]
    """(run, step, token) of every single literal ``play`` note after ``min_before`` steps."""
    for run in [a for a in read(text) if isinstance(a, PlayRun)]:
        for line in run.plays:
            tok = line.note
            if tok is None or line.step < min_before or tok.chord is not None:
                continue
            if tok.midi is None or tok.error or tok.dynamic or run.notes[line.step] is not tok:
                continue  # code, invalid notes, one play of a chord
            yield run, line.step, tok


def array_places(text: str, min_before: int):  # type: ignore[no-untyped-def]
    """The same question inside note arrays and rings (the issue's comparison): every literal
    single note after the first ``min_before`` of an array."""
    for array in read(text):
        if isinstance(array, PlayRun):
            continue
        for k, tok in enumerate(array.notes):
            if k < min_before or tok.chord is not None or tok.midi is None:
                continue
            if tok.error or tok.dynamic:
                continue
            yield array, k, tok


def top_midis(items: list[types.CompletionItem], k: int = 3) -> list[int | None]:
    out: list[int | None] = []
    for item in items[:k]:
        label = item.label
        try:
            out.append(note_to_midi(label if label.startswith(":") else float(label)))
        except (ValueError, TypeError):
            out.append(None)
    return out


def ask(engine: Engine, settings: Settings, text: str, offset: int) -> list[int | None] | None:
    """The top-3 MIDI notes completion offers at ``offset`` of ``text`` (None: no context)."""
    view = DocumentView("file:///bench.rb", 1, text)
    reading = Reading(1, view.arrays(), infer_style(text))
    line, col = view.position_at(offset)
    nc: NoteContext | None = note_context(view, line, col, reading, settings.maxContext)
    if nc is None:
        return None
    here = types.Range(types.Position(line, col), types.Position(line, col))
    if nc.local.ctx.slot == "note":
        items = play_lines.complete(engine, nc, settings, here)
    else:
        items = completion.complete(engine, nc, settings, here)
    return top_midis(items)


class ServerAsker:
    """The same question through a real ``notegen-lsp`` over stdio (``rpc_client``)."""

    def __init__(self, model: str | None) -> None:
        from rpc_client import RpcClient

        command = [str(Path(sys.executable).parent / "notegen-lsp")]
        if model:
            command += ["--model", str(Path(model).resolve())]
        self.client = RpcClient(command, env=dict(os.environ))
        self.client.initialize(Path.cwd())
        self.count = 0

    def ask(self, text: str, offset: int) -> list[int | None] | None:
        from notegen.sonicpi.types import LineIndex

        self.count += 1
        uri = f"file:///bench/place{self.count}.rb"
        since = len(self.client.notifications)
        self.client.did_open(uri, text)
        self.client.wait_notification(
            "textDocument/publishDiagnostics", lambda p: p["uri"] == uri, 60, since
        )
        line, character = LineIndex(text).position(offset)
        result = self.client.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 2, "triggerCharacter": " "},
            },
        )
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        raw = (result or {}).get("items", []) if isinstance(result, dict) else (result or [])
        raw = sorted(raw, key=lambda i: i.get("sortText") or i["label"])
        return top_midis([types.CompletionItem(label=i["label"]) for i in raw])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sonicpi"))
    parser.add_argument("--split", choices=("dev", "held-out", "all"), default="all")
    parser.add_argument("--min-before", type=int, default=3)
    parser.add_argument("--model", default=None, help="model card (default: the shipped one)")
    parser.add_argument("--as-array", action="store_true")
    parser.add_argument("--left-only", action="store_true")
    parser.add_argument(
        "--arrays", action="store_true", help="places inside note arrays instead (the target)"
    )
    parser.add_argument("--misses", action="store_true", help="print every miss")
    parser.add_argument("--server", action="store_true", help="through a real notegen-lsp")
    parser.add_argument(
        "--dump", type=Path, help="write each place (file, offset, true MIDI, hit) as TSV"
    )
    args = parser.parse_args()
    print("$", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    engine = Engine()
    engine.load(args.model).result()
    if engine.model is None:
        sys.exit(f"no model: {engine.error}")
    settings = Settings()
    server = ServerAsker(args.model) if args.server else None
    root = args.data.resolve()
    files = sorted(
        Path(f) for d in FOLDERS for f in glob.glob(str(root / d / "**/*.rb"), recursive=True)
    )
    counts: Counter[str] = Counter()
    rows: list[str] = []
    measured: set[Path] = set()
    for path in files:
        part = split_of(root, path)
        if args.split != "all" and part != args.split:
            continue
        counts["files"] += 1
        text = path.read_text(encoding="utf-8", errors="replace")
        found = (array_places if args.arrays else places)(text, args.min_before)
        for run, step, tok in found:
            if args.as_array:
                notes = [t.text for t in run.notes[:step] if t.text and not t.dynamic]
                cut = "notes = [" + ", ".join(notes) + ", "
                offset = len(cut)
                cut += "]\n"
            else:
                rest = "\n" if args.left_only else text[tok.span.end :]
                cut = text[: tok.span.start] + rest
                offset = tok.span.start
            if server is not None:
                top = server.ask(cut, offset)
            else:
                top = ask(engine, settings, cut, offset)
            counts["places"] += 1
            measured.add(path)
            if top is None:
                counts["none"] += 1
                continue
            counts["top1"] += bool(top) and top[0] == tok.midi
            counts["top3"] += tok.midi in top
            rows.append(
                f"{path.relative_to(root)}\t{tok.span.start}\t{tok.midi}\t{int(tok.midi in top)}"
            )
            if args.misses and tok.midi not in top:
                line = text.count("\n", 0, tok.span.start) + 1
                print(f"miss {path.relative_to(root)}:{line} true {tok.midi} got {top}")
    if server is not None:
        server.client.close()
    if args.dump is not None:
        args.dump.write_text("".join(row + "\n" for row in rows), encoding="utf-8")
    n = max(1, counts["places"])
    print(
        f"split {args.split}: files {counts['files']}, with places {len(measured)}, "
        f"places {counts['places']}, no context {counts['none']}"
    )
    print(
        f"top-1 {counts['top1'] / n:.1%}  top-3 {counts['top3'] / n:.1%} "
        f"({counts['top3']}/{counts['places']})  target: arrays 73.6 %"
    )


if __name__ == "__main__":
    main()
