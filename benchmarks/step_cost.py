"""What one served step costs, model against model (issue 10: the conditioned model may cost at
most 30 % more per step than the one it replaces).

For each model: CPU time of a batch-1 ``MelodyModel.step`` (with the conditioning rows the
server computes for a voice against three others, for a model that has the input), of a
completion context read (``ContextCache.prime_ids`` of 64 new events in a four-voice piece),
and of ``notegen.model.generate.generate`` per note (C major mask, temperature 1, top-p 0.95), alone
and against the piece's three voices. CPU
time, not wall time: other processes on a shared machine inflate wall time, not CPU time. The
best of ``--repeats`` runs is reported.

    python benchmarks/step_cost.py --models old.json models/notegen.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "server"))

from notegen.melody import Event  # noqa: E402
from notegen.model.conditioning import Setting, VoiceTimes  # noqa: E402
from notegen.model.context_cache import ContextCache  # noqa: E402
from notegen.model.generate import generate  # noqa: E402
from notegen.model.network import MelodyModel  # noqa: E402


def piece_setting(rng: np.random.Generator) -> Setting:
    """Three other voices of 200 quarter and eighth notes each."""
    voices = []
    for low in (40, 52, 60):
        events = [
            Event(int(rng.integers(low, low + 12)), float(rng.choice([0.5, 1.0])))
            for _ in range(200)
        ]
        voices.append(VoiceTimes.of(events))
    return Setting(others=tuple(voices))


def best(run, repeats: int) -> float:  # type: ignore[no-untyped-def]
    out = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        count = run()
        out = min(out, (time.process_time() - start) / count)
    return out


def measure(path: str, repeats: int) -> dict[str, float]:
    model = MelodyModel.load(path)
    rng = np.random.default_rng(0)
    setting = piece_setting(rng)
    melody = [Event(int(rng.integers(60, 72)), float(rng.choice([0.5, 1.0]))) for _ in range(64)]
    ids = ContextCache(model).ids(melody)
    pitch = np.array([model.pitch_id(67)])
    duration = np.array([model.duration_id(1.0)])

    def steps() -> int:
        """As generation steps: the rows of one onset (``Setting.rows_at``) per step."""
        state = model.initial_state(1)
        for t in range(500):
            cond = setting.rows_at(np.array([0.5 * t]), t)[None] if model.cond_dim else None
            model.step(pitch, duration, state, cond)
        return 500

    def reads() -> int:
        cache = ContextCache(model)  # empty: every call reads all 64 events
        for _ in range(10):
            cache.clear()
            cache.prime_ids(ids, (), setting if model.cond_dim else None)
        return 10 * len(ids)

    def notes() -> int:
        made = generate(model, [], 400, top_p=0.95, seed=1, tonic=0, scale="major")
        return len(made)

    def heard() -> int:
        """As ``generateMelody`` in a piece: the new voice hears the other three."""
        made = generate(
            model,
            [],
            400,
            top_p=0.95,
            seed=1,
            tonic=0,
            scale="major",
            setting=setting if model.cond_dim else None,
        )
        return len(made)

    return {
        "step_us": 1e6 * best(steps, repeats),
        "read_us_per_event": 1e6 * best(reads, repeats),
        "generate_us_per_note": 1e6 * best(notes, repeats),
        "generate_in_piece_us_per_note": 1e6 * best(heard, repeats),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", required=True, help="first = the baseline")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print("command:", " ".join(sys.argv), f"| cpus {os.cpu_count()} load {os.getloadavg()[0]:.1f}")
    results = {path: measure(path, args.repeats) for path in args.models}
    base = results[args.models[0]]
    for path, figures in results.items():
        parts = [
            f"{name} {value:7.1f} ({100 * (value / base[name] - 1):+.0f} %)"
            for name, value in figures.items()
        ]
        print(f"{path}: " + "  ".join(parts))
    print("target: the conditioned model's step at most +30 % over the baseline's")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
