"""How long inferring a document's spelling style takes (``notegen.notes.infer_style``).

Run by hand (figures, not a test)::

    python benchmarks/style_inference.py [--repeat 200] [--pieces ../shared/data/sonicpi]

A document with no whole reading yet (any document right after it is opened) has its
spelling inferred from the text around the cursor at its first completion: ~4,000
characters, here those around a place of ``huge_documents.py``'s 200,000-note document (the
22 lines its fresh document holds). Then every Sonic Pi file under ``--pieces``, when that
folder is there (a whole reading infers the style of the whole file). Each figure is the
best of 5 rounds of ``--repeat`` inferences, nothing remembered between them. Another
checkout's: ``PYTHONPATH=<checkout>/server``.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from huge_documents import documents
from notegen.notes import infer_style

REPO = Path(__file__).resolve().parent.parent


def per_call_ms(text: str, repeat: int) -> float:
    rounds = timeit.repeat(lambda: infer_style(text), number=repeat, repeat=5)
    return min(rounds) / repeat * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--pieces", type=Path, default=REPO.parent / "shared/data/sonicpi")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    import notegen

    print(f"notegen from {Path(notegen.__file__).parent}")
    text = documents(5)["notes"][0]
    around = text[100_000:104_000]
    ms = per_call_ms(around, args.repeat)
    print(f"around a cursor ({len(around):,} characters): {ms:.3f} ms")
    files = sorted(p for p in args.pieces.rglob("*") if p.is_file()) if args.pieces.is_dir() else []
    if not files:
        print(f"(no pieces under {args.pieces})")
        return 0
    texts = [p.read_text("utf-8", errors="replace") for p in files]
    total = sum(per_call_ms(t, max(1, args.repeat // 50)) for t in texts)
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} files under {args.pieces} ({chars:,} characters): {total:.1f} ms in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
