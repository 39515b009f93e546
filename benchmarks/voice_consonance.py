"""Does a generated voice sound with the piece? Consonance of new voices against real pieces.

For every voice of every given Sonic Pi file (read as the server reads it,
``notegen.model.ensemble``): the share of that voice's note onsets that are consonant with every
note
the other voices sound there — unison/octave, thirds, fifths, sixths, and fourths when the lower
note of the pair is not the lowest sounding note (not over the bass). Then the voice is taken
out and a new one of as many notes (at most ``--max-notes``; the piece's voice is scored over
its first as many notes) is generated in its place with
``generate_block`` — once hearing the other voices (the setting ``generateMelody`` gives a new
voice) and once alone — and scored the same way. Onsets where nothing else sounds are left out.

Also reported: the share of a voice's onsets (while the others play) that start together with a
note of another voice — whether its rhythm moves with the piece (the rhythm experts of
``notegen.model.rhythm``).

Issue 10's target: generated voices within 5 points of the piece's own voices.

    python benchmarks/voice_consonance.py ../shared/data/sonicpi/rbnpi-broadcast
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "server"), str(REPO / "training")]

from notegen.melody import Event  # noqa: E402
from notegen.model.conditioning import VoiceTimes  # noqa: E402
from notegen.model.ensemble import document_lines  # noqa: E402
from notegen.model.generate import generate_block  # noqa: E402
from notegen.model.network import MelodyModel  # noqa: E402
from notegen_training.consonance_match import consonance, replace_voice  # noqa: E402


def together(events: Sequence[Event], others: Sequence[VoiceTimes]) -> tuple[int, int]:
    """(onsets shared with another voice's onset, onsets before the others' last end)."""
    voice = VoiceTimes.of(events)
    starts = np.unique(np.concatenate([v.onsets for v in others])) if others else np.zeros(0)
    end = max((float(v.ends[-1]) for v in others if len(v.ends)), default=0.0)
    mine = voice.onsets[voice.onsets < end - 1e-6]
    if not len(mine) or not len(starts):
        return 0, len(mine)
    at = np.clip(np.searchsorted(starts, mine), 1, len(starts) - 1)
    near = np.minimum(np.abs(starts[at] - mine), np.abs(starts[at - 1] - mine))
    return int((near < 1e-4).sum()), len(mine)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", help="Sonic Pi files or folders")
    ap.add_argument("--model", default=str(REPO / "models" / "notegen.json"))
    ap.add_argument("--max-notes", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="write each file's counts (consonant, onsets) as JSON here")
    args = ap.parse_args()
    model = MelodyModel.load(args.model)
    print("command:", " ".join(sys.argv), f"| cpus {os.cpu_count()} load {os.getloadavg()[0]:.1f}")
    files: list[Path] = []
    for raw in args.paths:
        path = Path(raw)
        files.extend(sorted(path.rglob("*.rb")) if path.is_dir() else [path])
    sums = {"piece": [0, 0], "with_voices": [0, 0], "alone": [0, 0]}
    shared = {"piece": [0, 0], "with_voices": [0, 0], "alone": [0, 0]}
    per_file: dict[str, dict[str, tuple[int, int]]] = {}
    for file in files:
        lines = document_lines(file.read_text(encoding="utf-8", errors="replace"))
        if len(lines) < 2:
            continue
        row: dict[str, tuple[int, int]] = {}
        for line in lines:
            r = replace_voice(lines, line, args.seed, args.max_notes)
            made = {
                "piece": r.own,
                "with_voices": generate_block(model, r.options, setting=r.setting).events,
                "alone": generate_block(model, r.options).events,
            }
            for name, events in made.items():
                heard = r.others if name == "piece" else r.setting.others
                hits, onsets = together(events, heard)
                shared[name][0] += hits
                shared[name][1] += onsets
                good, total = consonance(events, heard)
                sums[name][0] += good
                sums[name][1] += total
                row[name] = row.get(name, (0, 0))
                row[name] = (row[name][0] + good, row[name][1] + total)
        per_file[str(file)] = row
        print(
            f"{file.name[:44]:44s} "
            + "  ".join(f"{n} {100 * g / max(1, t):5.1f} %" for n, (g, t) in row.items()),
            flush=True,
        )
    print(
        "\nall files: "
        + "  ".join(f"{n} {100 * g / max(1, t):5.1f} % of {t} onsets" for n, (g, t) in sums.items())
    )
    print(
        "onsets together with another voice's: "
        + "  ".join(f"{n} {100 * g / max(1, t):5.1f} %" for n, (g, t) in shared.items())
    )
    print("target: generated voices within 5 points of the pieces' own voices")
    if args.out:
        report = {"command": " ".join(sys.argv), "files": per_file, "all": sums}
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
