"""What generated blocks sound like, measured: repeats, runs, endings, at every temperature.

Every block is made by ``notegen.model.generate.generate_block`` — what ``notegen-melody generate``
and the ``notegen.generateMelody`` command print — with the command's defaults (top-p 0.95) unless a
figure says otherwise:

* per scale: repeated notes (consecutive pitched notes of the same pitch, over all consecutive
  pitched pairs) and the longest run of one pitch, over ``--blocks`` blocks of 64 notes at
  temperature 1 in every Sonic Pi scale of the command (aliases with identical intervals once);
* per temperature 0..1.5: the worst block's repeat share and the longest run, over five scales;
* endings: the share of 32- and 128-note blocks whose last event is a note on the tonic lasting
  at least one beat (``--ending-scales``, default major and minor; several tonics and seeds;
  ``--ending-temperatures``, default 1).

``--parts`` picks what to measure (default all: ``scales,sweep,endings``).

Targets (issue 10): repeats 12-22 % in every scale, runs ≤ 9, no block over 30 % repeats at
temperature 0.3, ≥ 60 % of blocks ending on a long tonic. Real tunes: 16.6 % repeats, runs ≤ 9,
74 % end on the tonic.

    python benchmarks/generation_stats.py --model models/notegen.json --out /tmp/gen.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "server"))

from notegen.melody import Event  # noqa: E402
from notegen.model.generate import ends_on_tonic, generate_block  # noqa: E402
from notegen.model.generate_options import GenerateOptions  # noqa: E402
from notegen.model.network import MelodyModel  # noqa: E402
from notegen.model.sampling import parse_key  # noqa: E402
from notegen.scales import SCALES  # noqa: E402

TONICS = ("c", "g", "d", "a", "e", "f", "bb", "eb")
SWEEP_SCALES = ("major", "minor", "blues_major", "whole_tone", "minor_pentatonic")
TEMPERATURES = (0.0, 0.3, 0.5, 0.7, 1.0, 1.2, 1.5)


def repeats(events: Sequence[Event]) -> tuple[float, int]:
    """(share of consecutive pitched pairs with the same pitch, longest run of one pitch)."""
    pitches = [e.pitch for e in events if e.pitch is not None]
    pairs = list(itertools.pairwise(pitches))
    same = sum(a == b for a, b in pairs)
    run = longest = 1 if pitches else 0
    for a, b in pairs:
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    return (same / len(pairs) if pairs else 0.0), longest


def block(model: MelodyModel, length: int, key: str, scale: str, seed: int, temperature: float):  # type: ignore[no-untyped-def]
    options = GenerateOptions(
        length=length, temperature=temperature, top_p=0.95, seed=seed, key=key, scale=scale
    )
    return generate_block(model, options).events


def distinct_scales() -> list[str]:
    seen: dict[tuple[int, ...], str] = {}
    for name, steps in SCALES.items():
        rounded = tuple(round(sum(steps[:i])) for i in range(1, len(steps) + 1))
        seen.setdefault(rounded, name)
    return list(seen.values())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "notegen.json"))
    ap.add_argument("--blocks", type=int, default=4, help="blocks per scale / temperature cell")
    ap.add_argument("--endings", type=int, default=16, help="blocks per ending length")
    ap.add_argument("--out", help="write every figure as JSON here")
    ap.add_argument("--parts", default="scales,sweep,endings", help="what to measure")
    ap.add_argument("--ending-scales", default="major,minor", help="scales the endings cycle")
    ap.add_argument("--ending-temperatures", default="1.0", help="temperatures of the endings")
    ap.add_argument(
        "--seed-offset", type=int, default=0, help="added to every seed (other draws, same plan)"
    )
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    ending_scales = args.ending_scales.split(",")
    model = MelodyModel.load(args.model)
    print("command:", " ".join(sys.argv), f"| cpus {os.cpu_count()} load {os.getloadavg()[0]:.1f}")
    started = time.time()
    result: dict[str, object] = {"model": args.model}

    per_scale = {}
    for scale in distinct_scales() if "scales" in parts else ():
        shares, runs = [], []
        for b in range(args.blocks):
            events = block(
                model, 64, TONICS[b % len(TONICS)], scale, 100 + b + args.seed_offset, 1.0
            )
            share, run = repeats(events)
            shares.append(share)
            runs.append(run)
        per_scale[scale] = {"repeats": sum(shares) / len(shares), "longest_run": max(runs)}
    inside = sum(0.12 <= v["repeats"] <= 0.22 for v in per_scale.values())
    print(
        f"\nrepeats at temperature 1 (target 12-22 % in every scale, runs <= 9): "
        f"{inside}/{len(per_scale)} scales inside"
    )
    for scale, v in sorted(per_scale.items(), key=lambda kv: kv[1]["repeats"]):
        print(f"  {scale:22s} {100 * v['repeats']:5.1f} %  run {v['longest_run']}")
    result["per_scale"] = per_scale

    sweep = {}
    for temperature in TEMPERATURES if "sweep" in parts else ():
        worst, longest, total = 0.0, 0, []
        for scale in SWEEP_SCALES:
            for b in range(args.blocks):
                events = block(
                    model,
                    64,
                    TONICS[b % len(TONICS)],
                    scale,
                    200 + b + args.seed_offset,
                    temperature,
                )
                share, run = repeats(events)
                worst, longest = max(worst, share), max(longest, run)
                total.append(share)
        sweep[str(temperature)] = {
            "mean_repeats": sum(total) / len(total),
            "worst_block_repeats": worst,
            "longest_run": longest,
        }
    print("\ntemperature sweep (64 notes; scales " + ", ".join(SWEEP_SCALES) + ")")
    for t, v in sweep.items():
        print(
            f"  T={t:4s} mean {100 * v['mean_repeats']:5.1f} %  worst block "
            f"{100 * v['worst_block_repeats']:5.1f} %  longest run {v['longest_run']}"
        )
    result["temperature_sweep"] = sweep

    endings = {}
    temperatures = [float(t) for t in args.ending_temperatures.split(",")]
    for length, temperature in itertools.product((32, 128), temperatures):
        if "endings" not in parts:
            break
        hits, shares = 0, []
        for b in range(args.endings):
            key, scale = TONICS[b % len(TONICS)], ending_scales[b % len(ending_scales)]
            events = block(model, length, key, scale, 300 + b + args.seed_offset, temperature)
            hits += ends_on_tonic(events, parse_key(key))
            shares.append(repeats(events)[0])
        endings[f"{length}@{temperature:g}"] = hits / args.endings
        print(
            f"\n{length}-note blocks at T={temperature:g} ending on a tonic of >= 1 beat: "
            f"{hits}/{args.endings} ({100 * hits / args.endings:.0f} %, target >= 60 %); "
            f"repeats {100 * sum(shares) / len(shares):.1f} %"
        )
    result["endings"] = endings
    result["seconds"] = round(time.time() - started, 1)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
