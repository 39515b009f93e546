"""Slip hints on pieces with planted slips: precision, recall, quick-fix accuracy, clean rate.

Each piece (Sonic Pi files in the voice form ``aN[k]``/``bN[k]``) is read, slips are planted
in its *text* at a rate of one per 100 notes — pitch: a semitone up/down, an octave up/down, a
neighbouring step of the piece's scale; duration: ×2, ×½, ±0.5 — and the checker runs on the
slipped text exactly as the server does. A hint on a planted note is a hit; any other hint is a
false alarm. The same pieces without slips give the clean hint rate. With
``--sweep`` it also reports other thresholds. The shipped weights were fitted on this evidence
for these pieces (logistic regression; leave-one-piece-out figures in the README).

    PYTHONPATH=server python benchmarks/slips.py /work/shared/data/sonicpi/rbnpi-broadcast \
        /work/shared/data/sonicpi/seed/playPurcell-RF.rb --seeds 5
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from notegen.keys import detect_key
from notegen.model.duration_slips import DurationSlip
from notegen.model.harmony import parts_by_section
from notegen.model.motifs import MotifTable
from notegen.model.network import MelodyModel, default_model_path
from notegen.model.slips import (
    DELTAS,
    EVIDENCE,
    WEIGHTS,
    Features,
    Weights,
    checked_sections,
    section_features,
)
from notegen.notes import infer_style, spell
from notegen.sonicpi.reader import read

PITCH_KINDS = ("semitone", "octave", "scale-step")
DURATION_KINDS = ("double", "half", "plus-half", "minus-half")


@dataclasses.dataclass(frozen=True)
class Planted:
    voice: int
    section: int
    index: int
    kind: str
    original: float
    written: float


def _scale_step(midi: int, up: bool, classes: frozenset[int]) -> int:
    """The neighbouring note of the scale above or below ``midi``."""
    step = 1 if up else -1
    candidate = midi + step
    while candidate % 12 not in classes:
        candidate += step
    return candidate


def _key_classes(text: str) -> frozenset[int]:
    events = [ev for a in read(text) for ev in a.events()]
    key = detect_key(events)
    major = (0, 2, 4, 5, 7, 9, 11)
    minor = (0, 2, 3, 5, 7, 8, 10)
    if key is None:
        return frozenset(major)
    steps = major if key.scale == "major" else minor
    return frozenset((key.tonic + s) % 12 for s in steps)


def plant(
    text: str, rng: random.Random, rate: float, kinds: tuple[str, ...]
) -> tuple[str, list[Planted]]:
    """``text`` with slips planted (one per ``1/rate`` checkable notes) and where they are."""
    arrays = read(text)
    parts = parts_by_section(arrays)
    style = infer_style(text)
    classes = _key_classes(text)
    notes = [
        (part, t)
        for section in parts.values()
        for part in section.values()
        for t in range(len(part))
        if len(part.chords[t]) == 1 and float(part.pitches[t]).is_integer()
    ]
    count = max(1, round(len(notes) * rate))
    chosen = rng.sample(notes, count)
    edits: list[tuple[int, int, str]] = []
    planted: list[Planted] = []
    for part, t in chosen:
        kind = rng.choice(kinds)
        midi = int(part.pitches[t])
        if kind in PITCH_KINDS:
            up = rng.random() < 0.5
            if kind == "semitone":
                new = midi + (1 if up else -1)
            elif kind == "octave":
                new = midi + (12 if up else -12)
            else:
                new = _scale_step(midi, up, classes)
            span = part.array.notes[t].span
            edits.append((span.start, span.end, spell(new, style)))
            planted.append(Planted(part.voice, part.section, t, kind, midi, new))
        else:
            value = float(part.durations[t])
            new_d = {
                "double": value * 2,
                "half": value / 2,
                "plus-half": value + 0.5,
                "minus-half": value - 0.5 if value > 0.5 else value + 0.5,
            }[kind]
            durations = part.array.durations
            assert durations is not None
            span = durations.values[t].span
            edits.append((span.start, span.end, f"{new_d:g}"))
            planted.append(Planted(part.voice, part.section, t, kind, value, new_d))
    for start, end, new_text in sorted(edits, reverse=True):
        text = text[:start] + new_text + text[end:]
    return text, planted


@dataclasses.dataclass
class Checked:
    """The checker's evidence for every checked section of a text, and its duration slips."""

    features: list[Features]
    durations: list[DurationSlip]


def check(model: MelodyModel, text: str) -> Checked:
    """What the server computes for ``text`` (no ignore comments in these pieces)."""
    parts = parts_by_section(read(text))
    motifs = MotifTable(p for section in parts.values() for p in section.values())
    sections = list(checked_sections(parts))  # a generator: read twice below
    return Checked(
        [section_features(model, c.parts, c.previous, motifs=motifs) for c in sections],
        [d for c in sections for d in c.durations],
    )


@dataclasses.dataclass
class Run:
    piece: str
    seed: int
    planted: list[Planted]
    slipped: Checked
    notes: int


def rows(features: list[Features], weights: Weights) -> tuple[np.ndarray, np.ndarray, list]:
    """Best margin and best alternative per checked note, with its (voice, section, index)."""
    margins, best_alt, where = [], [], []
    for f in features:
        if not len(f):
            continue
        m = f.margins(weights)
        margins.append(m.max(axis=1))
        best_alt.append(f.written + DELTAS[m.argmax(axis=1)])
        for p, t in zip(f.part_of.tolist(), f.index.tolist(), strict=True):
            part = f.parts[p]
            where.append((part.voice, part.section, t))
    if not margins:
        return np.zeros(0), np.zeros(0), []
    return np.concatenate(margins), np.concatenate(best_alt), where


def score(runs: list[Run], clean: dict[str, Checked], weights: Weights) -> dict:
    """Precision, recall and fix accuracy on planted pitch slips; hints per note on clean text."""
    tp = fp = fixed = planted_pitch = hits_duration = 0
    d_planted = d_hits = d_fixed = d_false = 0
    per_kind: dict[str, list[int]] = {}
    notes = 0
    for run in runs:
        planted_d = {
            (p.voice, p.section, p.index): p for p in run.planted if p.kind in DURATION_KINDS
        }
        d_planted += len(planted_d)
        for d in run.slipped.durations:
            p = planted_d.get((d.voice, d.section, d.index))
            d_hits += p is not None
            d_fixed += p is not None and abs(d.fix - p.original) < 1e-6
            d_false += p is None
        margins, best, where = rows(run.slipped.features, weights)
        flagged = {
            w: b for w, b, m in zip(where, best, margins, strict=True) if m > weights.threshold
        }
        by_place = {(p.voice, p.section, p.index): p for p in run.planted}
        notes += run.notes
        for p in run.planted:
            if p.kind in PITCH_KINDS:
                planted_pitch += 1
                hit = (p.voice, p.section, p.index) in flagged
                per_kind.setdefault(p.kind, [0, 0])
                per_kind[p.kind][0] += hit
                per_kind[p.kind][1] += 1
        for place, alt in flagged.items():
            p = by_place.get(place)
            if p is None:
                fp += 1
            elif p.kind in PITCH_KINDS:
                tp += 1
                fixed += int(alt == p.original)
            else:
                hits_duration += 1
    clean_hints = clean_notes = clean_duration_hints = 0
    for checked in clean.values():
        margins, _, _ = rows(checked.features, weights)
        clean_hints += int((margins > weights.threshold).sum()) + len(checked.durations)
        clean_duration_hints += len(checked.durations)
        clean_notes += sum(len(f) for f in checked.features)
    flagged_total = tp + fp + hits_duration
    return {
        "pitch_precision": tp / max(1, tp + fp),
        "pitch_recall": tp / max(1, planted_pitch),
        "fix_restores": fixed / max(1, tp),
        "planted_pitch": planted_pitch,
        "hits": tp,
        "false_alarms": fp,
        "hints_on_duration_slips": hits_duration,
        "hints": flagged_total,
        "recall_by_kind": {k: f"{v[0]}/{v[1]}" for k, v in sorted(per_kind.items())},
        "duration_planted": d_planted,
        "duration_recall": d_hits / max(1, d_planted),
        "duration_precision": d_hits / max(1, d_hits + d_false),
        "duration_fix_restores": d_fixed / max(1, d_hits),
        "clean_hints": clean_hints,
        "clean_duration_hints": clean_duration_hints,
        "clean_checked_notes": clean_notes,
        "clean_notes_per_hint": clean_notes / max(1, clean_hints),
        "checked_notes_slipped": notes,
    }


def sweep(runs: list[Run], clean: dict[str, Checked]) -> list[dict]:
    """The figures at thresholds around the default (what the sensitivity setting moves)."""
    out = []
    for shift in (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5):
        w = dataclasses.replace(WEIGHTS, threshold=WEIGHTS.threshold + shift)
        res = score(runs, clean, w)
        out.append({"threshold": round(w.threshold, 2), **res})
    return out


def _design(features: list[Features], planted: list[Planted] | None):
    """Per checked note: ``[|DELTAS|, len(EVIDENCE) + |DELTAS|]`` (evidence, one-hot bias), the
    usable alternatives, and the planted original's column (-1: not a planted pitch slip)."""
    places = {(p.voice, p.section, p.index): p for p in planted or [] if p.kind in PITCH_KINDS}
    xs, usable, target = [], [], []
    for f in features:
        if not len(f):
            continue
        ev = f.evidence()
        onehot = np.broadcast_to(np.eye(len(DELTAS)), (len(f), len(DELTAS), len(DELTAS)))
        xs.append(np.concatenate([ev, onehot], axis=2))
        usable.append(f.usable())
        for r, (p, t) in enumerate(zip(f.part_of.tolist(), f.index.tolist(), strict=True)):
            part = f.parts[p]
            slip = places.get((part.voice, part.section, t))
            col = -1
            if slip is not None:
                col = int(np.flatnonzero(f.written[r] + DELTAS == slip.original)[0])
            target.append(col)
    if not xs:
        width = len(EVIDENCE) + len(DELTAS)
        return np.zeros((0, len(DELTAS), width)), np.zeros((0, len(DELTAS)), bool), np.zeros(0)
    return np.concatenate(xs), np.concatenate(usable), np.array(target)


def fit(runs: list[Run], clean: dict[str, Checked], pieces: set[str]) -> Weights:
    """Logistic regression, candidate by candidate: the planted slips' originals against every
    alternative of every note of the clean pieces (how the shipped weights were found)."""
    pos, neg = [], []
    for run in runs:
        if run.piece in pieces:
            x, ok, target = _design(run.slipped.features, run.planted)
            rows = np.flatnonzero(target >= 0)
            pos.append(x[rows, target[rows]])
    for name, checked in clean.items():
        if name in pieces:
            x, ok, _ = _design(checked.features, None)
            neg.append(x[ok])
    xp, xn = np.concatenate(pos), np.concatenate(neg)
    x = np.concatenate([xp, xn])
    y = np.concatenate([np.ones(len(xp)), np.zeros(len(xn))])
    weight = np.concatenate([np.full(len(xp), 0.05 * len(xn) / len(xp)), np.ones(len(xn))])
    w = np.zeros(x.shape[1])
    for _ in range(30):  # Newton steps, a little L2
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ ((p - y) * weight) + 1e-2 * w
        hess = (x * (p * (1 - p) * weight)[:, None]).T @ x + 1e-2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    named = {name: round(float(v), 2) for name, v in zip(EVIDENCE, w, strict=False)}
    bias = tuple(round(float(v), 2) for v in w[len(EVIDENCE) :])
    return Weights(**named, bias=bias, threshold=WEIGHTS.threshold)


def leave_one_piece_out(runs: list[Run], clean: dict[str, Checked], rate: float | None) -> dict:
    """Fit on all pieces but one, set the threshold for one hint per ``1/rate`` clean notes
    there (``None``: keep the shipped threshold), and score the piece left out: how the checker
    does on a piece it never saw."""
    totals = {
        "clean_notes": 0,
        "clean_hints": 0,
        "planted": 0,
        "hits": 0,
        "fixed": 0,
        "false_alarms": 0,
    }
    per_piece = {}
    names = sorted({r.piece for r in runs})
    for name in names:
        others = set(names) - {name}
        w = fit(runs, clean, others)
        train = np.concatenate([rows(clean[n].features, w)[0] for n in others])
        if rate is not None:
            w = dataclasses.replace(w, threshold=float(np.quantile(train, 1 - rate)))
        res = score([r for r in runs if r.piece == name], {name: clean[name]}, w)
        per_piece[name] = {
            "recall": round(res["pitch_recall"], 3),
            "clean_notes_per_hint": round(res["clean_notes_per_hint"]),
        }
        totals["clean_notes"] += res["clean_checked_notes"]
        totals["clean_hints"] += res["clean_hints"]
        totals["planted"] += res["planted_pitch"]
        totals["hits"] += res["hits"]
        totals["false_alarms"] += res["false_alarms"]
        totals["fixed"] += round(res["fix_restores"] * res["hits"])
    recall = totals["hits"] / max(1, totals["planted"])
    hint_rate = totals["clean_hints"] / max(1, totals["clean_notes"])
    return {
        "pitch_recall": recall,
        "clean_notes_per_hint": 1 / max(hint_rate, 1e-9),
        "fix_restores": totals["fixed"] / max(1, totals["hits"]),
        # at one slip per 100 notes: hits per note over (hits + false alarms) per note
        "pitch_precision_at_1_per_100": 0.01 * recall / (0.01 * recall + hint_rate),
        # in the slipped pieces themselves (false alarms near slips included)
        "pitch_precision_slipped": totals["hits"] / max(1, totals["hits"] + totals["false_alarms"]),
        "per_piece": per_piece,
        **totals,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path, help="Sonic Pi files or folders of them")
    ap.add_argument("--model", default=None, help="model .json/.onnx (default: shipped)")
    ap.add_argument("--seeds", type=int, default=3, help="slipped copies per piece")
    ap.add_argument("--first-seed", type=int, default=0, help="seed of the first copy")
    ap.add_argument("--rate", type=float, default=0.01, help="slips per checkable note")
    ap.add_argument("--kinds", choices=("pitch", "duration", "all"), default="pitch")
    ap.add_argument("--sweep", action="store_true", help="also other thresholds")
    ap.add_argument("--fit", action="store_true", help="fit the weights on all the pieces")
    ap.add_argument(
        "--leave-one-piece-out",
        metavar="NOTES",
        help="held-out figures, threshold set for one clean hint per NOTES notes on the other "
        "pieces ('default': the shipped threshold)",
    )
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    files = sorted(f for p in args.paths for f in ([p] if p.is_file() else sorted(p.glob("*.rb"))))
    model = MelodyModel.load(args.model or default_model_path())
    kinds = {"pitch": PITCH_KINDS, "duration": DURATION_KINDS}.get(
        args.kinds, PITCH_KINDS + DURATION_KINDS
    )
    runs: list[Run] = []
    clean: dict[str, Checked] = {}
    start = time.perf_counter()
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        clean[f.name] = check(model, text)
        n = sum(len(x) for x in clean[f.name].features)
        if not n:
            print(f"{f.name}: no checked notes (fewer than two voices?)", file=sys.stderr)
            continue
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rng = random.Random(f"{f.name}:{seed}")
            slipped, planted = plant(text, rng, args.rate, kinds)
            runs.append(Run(f.name, seed, planted, check(model, slipped), n))
        print(f"{f.name}: {n} checked notes", file=sys.stderr)
    elapsed = time.perf_counter() - start
    result = {"default": score(runs, clean, WEIGHTS), "weights": dataclasses.asdict(WEIGHTS)}
    result["seconds"] = round(elapsed, 1)
    if args.sweep:
        result["sweep"] = sweep(runs, clean)
    if args.fit:
        result["fitted"] = dataclasses.asdict(fit(runs, clean, {r.piece for r in runs}))
    if args.leave_one_piece_out:
        notes = args.leave_one_piece_out
        rate = None if notes == "default" else 1 / float(notes)
        result["leave_one_piece_out"] = leave_one_piece_out(runs, clean, rate)
    text_out = json.dumps(result, indent=2, ensure_ascii=False)
    print(text_out)
    if args.json:
        args.json.write_text(text_out + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
