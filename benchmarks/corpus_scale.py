"""Peak memory of converting and training on a MIDI collection, at 1x and 10x its size.

Builds N synthetic MIDI files with mido (a melody track, a bass track and a drum track each,
every file different, seeded), then for each scale runs, as separate processes:

    notegen-train convert --corpus DIR --out SHARDS
    notegen-train fit --shards SHARDS --out RUN --epochs 1 --max-steps S --units 32 ...
    notegen-train export RUN --out model.onnx

and reports each one's peak resident memory (the child's ``ru_maxrss``, read by a wrapper
process that runs nothing else), wall time, and what was converted. Training takes the same
number of steps at every scale (``--steps``), streaming from all the shards, so its memory is
compared like for like. Run by hand; never as a test::

    python benchmarks/corpus_scale.py --files 1000 --scales 1 10 --work /tmp/corpus-bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURE = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc, file=sys.stderr)"
)


def write_collection(folder: Path, count: int, seed: int) -> None:
    """``count`` different three-track MIDI files (about 100 melody notes each)."""
    import mido

    folder.mkdir(parents=True, exist_ok=True)
    scale = [0, 2, 4, 5, 7, 9, 11]
    for index in range(count):
        path = folder / f"piece{index:06d}.mid"
        if path.exists():
            continue
        rng = random.Random(seed * 1_000_003 + index)  # per file: a resumed write stays distinct
        midi = mido.MidiFile(ticks_per_beat=480)
        meta = mido.MidiTrack()
        meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(rng.randint(60, 160))))
        meta.append(mido.MetaMessage("time_signature", numerator=rng.choice([3, 4]), denominator=4))
        midi.tracks.append(meta)
        root = rng.randint(55, 70)
        degree = 0
        lead = []
        for _ in range(rng.randint(60, 140)):
            degree = max(-7, min(10, degree + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])))
            octave, step = divmod(degree, 7)
            lead.append((root + 12 * octave + scale[step], rng.choice([240, 240, 480, 480, 960])))
        bass = [(root - 12 + rng.choice([0, 5, 7]), 1920) for _ in range(len(lead) // 6 + 1)]
        drums = [(rng.choice([36, 38, 42]), 480) for _ in range(len(lead))]
        for channel, notes in ((0, lead), (1, bass), (9, drums)):
            track = mido.MidiTrack()
            for pitch, ticks in notes:
                track.append(mido.Message("note_on", note=pitch, velocity=80, channel=channel))
                track.append(
                    mido.Message("note_off", note=pitch, velocity=0, channel=channel, time=ticks)
                )
            midi.tracks.append(track)
        midi.save(str(path))


def measured(args: list[str]) -> tuple[float, float, int]:
    """(peak RSS MB, wall seconds, exit code) of one ``notegen-train`` run."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "server"), str(ROOT / "training")]),
    }
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "notegen_training.cli"]
    print("$ notegen-train " + shlex.join(args), file=sys.stderr, flush=True)
    started = time.time()
    done = subprocess.run(
        [*command, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    wall = time.time() - started
    last = done.stderr.strip().splitlines()[-1].split()
    if done.returncode or last[1] != "0":
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"failed: notegen-train {shlex.join(args)}")
    return int(last[0]) / 1024, wall, int(last[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="files at scale 1 (1000)")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--work", type=Path, default=Path("/tmp/notegen-corpus-bench"))
    parser.add_argument("--steps", type=int, default=200, help="training steps at every scale")
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--conditioning", action="store_true", help="train the conditioned model (fit flag)"
    )
    opts = parser.parse_args()
    print("$ " + shlex.join([sys.argv[0], *sys.argv[1:]]))
    print(f"cpus: {os.cpu_count()}, load average at start: {os.getloadavg()}")
    rows = []
    for scale in opts.scales:
        count = opts.files * scale
        folder = opts.work / f"midi-{count}"
        started = time.time()
        write_collection(folder, count, seed=scale)
        print(f"wrote {count} files in {time.time() - started:.0f} s", file=sys.stderr)
        shards = opts.work / f"shards-{count}"
        run = opts.work / f"run-{count}"
        convert_mb, convert_s, _ = measured(
            ["convert", "--corpus", str(folder), "--out", str(shards)]
        )
        summary = json.loads((shards / "corpus.json").read_text())
        fit_args = ["fit", "--shards", str(shards), "--out", str(run), "--epochs", "1"]
        fit_args += ["--max-steps", str(opts.steps), "--units", str(opts.units)]
        fit_args += ["--batch-size", str(opts.batch_size), "--threads", "1", "--seed", "0"]
        fit_args += ["--conditioning"] if opts.conditioning else []
        if opts.conditioning:
            run = run.with_name(run.name + "-cond")
            fit_args[fit_args.index("--out") + 1] = str(run)
        fit_mb, fit_s, _ = measured(fit_args)
        export_mb, export_s, _ = measured(["export", str(run), "--out", str(run / "m.onnx")])
        state = json.loads((run / "state.json").read_text())
        rows.append(
            {
                "files": count,
                "read": summary["read"],
                "skipped": summary["skipped"],
                "voices": sum(s["examples"] for s in summary["splits"].values()),
                "events": sum(s["events"] for s in summary["splits"].values()),
                "shard_kb": sum(p.stat().st_size for p in shards.glob("*.tfrecord.gz")) / 1e3,
                "convert_mb": convert_mb,
                "convert_s": convert_s,
                "fit_mb": fit_mb,
                "fit_s": fit_s,
                "export_mb": export_mb,
                "export_s": export_s,
                "valid_bits": state["history"][-1]["valid"].get("pitch_bits"),
            }
        )
    print()
    print(
        "| files | read | voices | events | shards | convert peak RSS | convert time "
        f"| fit peak RSS ({opts.steps} steps) | fit time | export peak RSS | export time "
        "| valid bits |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['files']:,} | {r['read']:,} | {r['voices']:,} | {r['events']:,} "
            f"| {r['shard_kb']:,.0f} kB | {r['convert_mb']:.0f} MB | {r['convert_s']:.0f} s "
            f"| {r['fit_mb']:.0f} MB | {r['fit_s']:.0f} s | {r['export_mb']:.0f} MB "
            f"| {r['export_s']:.0f} s | {r['valid_bits']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
