"""What a shorter window costs a completion asked before the server's whole reading.

Run by hand (figures, not a test)::

    python benchmarks/provisional_window.py --model models/notegen.json [--windows 256 64 32]

Until a document's whole reading arrives (a huge one: seconds after it is opened), a
completion knows only the array around its cursor. Here completion is asked as the server
asks it with no reading, at cursors from the 33rd note of an array on (every ``--every``
notes), once per ``maxContext`` window, in

- ``pieces``: every note array of the Sonic Pi files under ``--pieces`` (real code, which no
  model was trained on), the cursor after the comma that follows a note;
- ``melodies``: the validation melodies (the fixed split's valid part, never trained on),
  each written as a voice, ``a1[0]=[notes]`` with its durations in ``b1[0]`` (many are folk
  tunes that the training tunes hold in another version, so the tunes expert often knows
  what follows).

Each window's completions are scored on the note that follows: top-1 and top-3 of the
ranked items (what the user sees) and the bits of that pitch (rests included) under the
served distribution; and the notes the network read per cursor, from nothing (a fresh
document), and the time that took in process.

``--split``: also each window read by the network only, its distribution served with the
experts (the copy model, the training tunes, the voice's habits) reading the default window
(:data:`FULL_WINDOW` notes): what the network's own long context adds.

``--read``: instead, completion as the server asks it once the document is read (each
piece's whole reading: the voices' settings, what the network hears of the other voices),
at the cursors deep in long arrays (``NoteContext.reads_short``: past ``LONG_ARRAY`` of
``maxContext`` notes of their own array), where the network reads the last
``LONG_NETWORK`` notes only: scored against the whole window read by the network.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from notegen.lsp import completion
from notegen.lsp.completion import recent_pitches
from notegen.lsp.config import Settings
from notegen.lsp.context import LONG_NETWORK, NoteContext, note_context
from notegen.lsp.documents import DocumentView
from notegen.lsp.engine import Engine
from notegen.lsp.reading import Reading
from notegen.lsp.whole_reading import read_document
from notegen.model.context_cache import ContextCache, Primed, trim_context
from notegen.model.network import BOS, MelodyModel
from notegen.notes import note_to_midi

REPO = Path(__file__).resolve().parent.parent
FIRST_CURSOR = 32
FULL_WINDOW = 256
"""The server's ``maxContext`` by default: what ``--split``'s experts read."""


def voice_text(notes: list[list]) -> tuple[str, list[int], list[int | None]]:
    """The document, the character after each note of ``a1[0]`` (line 1) and the pitches."""
    head = "a1[0]=["
    ends, pitches, pieces, at = [], [], [], len(head)
    for symbol, _ in notes:
        pieces.append(symbol)
        at += len(symbol)
        ends.append(at)
        at += 1  # the comma
        pitches.append(note_to_midi(symbol))
    durations = ",".join(f"{float(beats):g}" for _, beats in notes)
    return f"a1=[]\n{head}{','.join(pieces)}]\nb1[0]=[{durations}]\n", ends, pitches


Cursor = tuple[str, int, int, "int | float | None"]
"""A document, a cursor (line, character) with a note of its array after it, that note."""


def melody_cursors(path: Path, limit: int, every: int) -> list[Cursor]:
    with gzip.open(path, "rt") as f:
        melodies = [json.loads(line) for line in f]
    melodies = [m for m in melodies if len(m["notes"]) > FIRST_CURSOR + 1][:limit]
    out: list[Cursor] = []
    for melody in melodies:
        text, ends, pitches = voice_text(melody["notes"])
        for i in range(FIRST_CURSOR, len(ends) - 1, every):
            out.append((text, 1, ends[i] + 1, pitches[i + 1]))
    return out


def piece_cursors(folder: Path, every: int) -> list[Cursor]:
    out: list[Cursor] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text("utf-8", errors="replace")
        view = DocumentView(path.as_uri(), 1, text)
        for array in view.arrays():
            notes = array.notes
            if any(t.error or t.dynamic or t.chord for t in notes):
                continue
            for i in range(FIRST_CURSOR, len(notes) - 1, every):
                line, character = view.position_at(notes[i + 1].span.start)
                out.append((text, line, character, notes[i + 1].midi))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models/notegen.json"))
    parser.add_argument("--melodies", type=Path, default=REPO.parent / "shared/data/melodies")
    parser.add_argument("--windows", type=int, nargs="+", default=[256, 64, 32])
    parser.add_argument("--pieces", type=Path, default=REPO.parent / "shared/data/sonicpi")
    parser.add_argument("--limit", type=int, default=400, help="melodies read (the first)")
    parser.add_argument("--every", type=int, default=9)
    parser.add_argument("--split", action="store_true", help="also the network's window alone")
    parser.add_argument("--read", action="store_true", help="after the reading, long arrays")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    engine = Engine()
    engine.load(args.model).result()
    assert engine.model is not None
    settings = Settings()
    if args.read:
        return read_main(engine, args)
    sets = {
        "pieces": piece_cursors(args.pieces, args.every) if args.pieces.is_dir() else [],
        "melodies": melody_cursors(args.melodies / "valid.jsonl.gz", args.limit, args.every),
    }
    for name, cursors in sets.items():
        if not cursors:
            print(f"{name}: none (no {args.pieces})")
            continue
        print(f"{name}: {len(cursors)} cursors (no reading, the cache empty)")
        for window in args.windows:
            print(f"  maxContext {window:4}: " + score(engine, settings, cursors, window))
        for window in args.windows if args.split else []:
            print(f"  network {window:4}, experts all: " + split_score(engine, cursors, window))
    return 0


def score(engine: Engine, settings: Settings, cursors: list[Cursor], window: int) -> str:
    assert engine.model is not None
    top1 = top3 = read = 0
    bits = seconds = 0.0
    for text, line, character, truth in cursors:
        engine.cache = ContextCache(engine.model)  # from nothing, as in a fresh document
        view = DocumentView("file:///cursor.rb", 1, text)
        nc = note_context(view, line, character, None, window)
        assert nc is not None and not nc.partial, (line, character)
        started = time.perf_counter()
        primed = nc.prime(engine.cache)
        items = completion.rank_notes(engine, nc, settings.maxItems)
        seconds += time.perf_counter() - started
        read += primed.length
        ranked = [s.candidate.pitch for s in items]
        top1 += ranked[:1] == [truth]
        top3 += truth in ranked[:3]
        p = float(np.exp(primed.pitch_logits[engine.model.pitch_id(truth)]))
        bits -= math.log2(max(p, 1e-12))
    n = len(cursors)
    return (
        f"top-1 {top1 / n:.1%}  top-3 {top3 / n:.1%}  pitch bits {bits / n:.3f}  "
        f"notes read {read / n:.1f}  {seconds / n * 1000:.2f} ms a cursor"
    )


def split_score(engine: Engine, cursors: list[Cursor], window: int) -> str:
    """:func:`score` with the network reading the last ``window`` notes (trimmed as the
    server trims) and the experts those of :data:`FULL_WINDOW`."""
    model = engine.model
    assert model is not None
    top1 = top3 = read = 0
    bits = 0.0
    for text, line, character, truth in cursors:
        cache = ContextCache(model)
        view = DocumentView("file:///cursor.rb", 1, text)
        nc = note_context(view, line, character, None, FULL_WINDOW)
        assert nc is not None
        ids, _ = nc.context_ids(cache)
        own = ids[trim_context(len(ids), window) :]
        pids = np.concatenate([[BOS], own // cache.vd])
        dids = np.concatenate([[BOS], own % cache.vd])
        cond = model.condition(dids[1:], 0, len(dids), None)
        pl, dl, state = model.step(
            pids[None], dids[None], model.initial_state(1), None if cond is None else cond[None]
        )
        primed = cache.served(pl[0], dl[0], ids, None, state, model.beats_of(ids % cache.vd))
        read += len(own)
        first, within, surprise = scored(model, primed, nc, truth)
        top1, top3, bits = top1 + first, top3 + within, bits + surprise
    n = len(cursors)
    return (
        f"top-1 {top1 / n:.1%}  top-3 {top3 / n:.1%}  pitch bits {bits / n:.3f}  "
        f"network read {read / n:.1f}"
    )


def read_main(engine: Engine, args: argparse.Namespace) -> int:
    """``--read``: the pieces' and the melodies' cursors where the network reads short once
    the document is read, each scored with the network reading the whole window, then its
    last notes only (as the server asks it)."""
    model = engine.model
    assert model is not None
    sets = {
        "pieces": piece_cursors(args.pieces, args.every) if args.pieces.is_dir() else [],
        "melodies": melody_cursors(args.melodies / "valid.jsonl.gz", args.limit, args.every),
    }
    for name, cursors in sets.items():
        readings: dict[str, Reading] = {}
        found: list[tuple[NoteContext, int | float | None]] = []
        for text, line, character, truth in cursors:
            if text not in readings:
                readings[text] = read_document(DocumentView("file:///r.rb", 1, text), True)[0]
            view = DocumentView("file:///r.rb", 1, text)
            nc = note_context(view, line, character, readings[text], FULL_WINDOW)
            if nc is not None and not nc.partial and nc.reads_short():
                found.append((nc, truth))
        print(f"{name}: {len(found)} of {len(cursors)} cursors deep in long arrays (read)")
        for short in (False, True):
            how = f"the network the last {LONG_NETWORK}" if short else "the whole window"
            print(f"  {how:26}: " + read_score(model, found, short))
    return 0


def read_score(
    model: MelodyModel, found: list[tuple[NoteContext, int | float | None]], short: bool
) -> str:
    """:func:`read_main`'s scores of ``found``, each read from nothing (a new place), the
    network reading the whole window or (``short``) as the server has it read."""
    top1 = top3 = read = 0
    bits = seconds = 0.0
    for nc, truth in found:
        cache = ContextCache(model)
        ids, marks, setting = nc.context(cache)
        start = nc.network_from(cache, ids, marks, setting) if short else 0
        started = time.perf_counter()
        primed = cache.prime_ids(ids, marks, setting, network_from=start)
        seconds += time.perf_counter() - started
        read += len(ids) - start
        first, within, surprise = scored(model, primed, nc, truth)
        top1, top3, bits = top1 + first, top3 + within, bits + surprise
    n = max(1, len(found))
    return (
        f"top-1 {top1 / n:.1%}  top-3 {top3 / n:.1%}  pitch bits {bits / n:.3f}  "
        f"network read {read / n:.1f}  {seconds / n * 1000:.2f} ms a cursor"
    )


def scored(
    model: MelodyModel, primed: Primed, nc: NoteContext, truth: int | float | None
) -> tuple[bool, bool, float]:
    """Whether ``truth`` is the first of the ranked notes (the voice's habits counted, as
    completion ranks them), whether it is among the first three, and its bits."""
    ranked = []
    for candidate in completion.ranked_with_habits(model, primed, recent_pitches(nc)):
        ranked.append(candidate.pitch)
        if len(ranked) == 3:
            break
    p = float(np.exp(primed.pitch_logits[model.pitch_id(truth)]))
    return ranked[:1] == [truth], truth in ranked, -math.log2(max(p, 1e-12))


if __name__ == "__main__":
    raise SystemExit(main())
