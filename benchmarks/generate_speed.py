"""Generation speed without the protocol: notegen's step-wise LSTM versus the seed's way.

* notegen, greedy, one ``MelodyModel.step`` per note carrying the LSTM state (what the server
  does), for the full length (default 5,000 notes);
* notegen's pure generation function (sampling with temperature/top-p and a key mask), the same
  function the ``notegen.generateMelody`` command calls, for the full length;
* the original project's architecture (``seed_baseline``): the whole pre-padded 1,224-token
  history re-read for every note, greedy, for a few hundred notes. Its cost per note does not
  depend on how many notes came before (the window is always 1,224 tokens long), so the time for
  the full length is extrapolated linearly, and printed as such.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CPU: dict[str, float] = {}
"""CPU seconds of the last timed call: unlike wall time, not inflated by other processes."""


def notegen_greedy(model: Any, count: int) -> tuple[list[int], float]:
    """Greedy step-wise generation; returns pitch ids and seconds."""
    state = model.initial_state(1)
    pitch = np.zeros(1, dtype=np.int64)
    duration = np.zeros(1, dtype=np.int64)
    out: list[int] = []
    start = time.perf_counter()
    cpu = time.process_time()
    for _ in range(count):
        pitch_logits, duration_logits, state = model.step(pitch, duration, state)
        pitch = pitch_logits.argmax(axis=1)
        duration = duration_logits.argmax(axis=1)
        out.append(int(pitch[0]))
    CPU["last"] = time.process_time() - cpu
    return out, time.perf_counter() - start


def timed(run: Callable[[], int]) -> tuple[int, float, float]:
    """(events made, wall seconds, CPU seconds) of one call of ``run``."""
    start, cpu = time.perf_counter(), time.process_time()
    made = run()
    return made, time.perf_counter() - start, time.process_time() - cpu


def pure_generation(model: Any, count: int, seed: int) -> int:
    """``notegen.model.generate.generate``, one continuous row: C major mask, T=1, top-p 0.95."""
    from notegen.model.generate import generate

    return len(
        generate(model, [], count, temperature=1.0, top_p=0.95, seed=seed, tonic=60, scale="major")
    )


def block_generation(model: Any, count: int, seed: int) -> int:
    """``notegen.model.generate.generate_block``: what ``notegen.generateMelody`` runs (long blocks
    are sampled as parallel rows, one model call per step for all of them), C major."""
    from notegen.model.generate import generate_block
    from notegen.model.generate_options import GenerateOptions

    options = GenerateOptions(length=count, seed=seed, key="c", scale="major")
    return len(generate_block(model, options).events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="notegen model (.json/.onnx); default model")
    parser.add_argument("--length", type=int, default=5000)
    parser.add_argument("--seed-notes", type=int, default=300, help="notes the seed way generates")
    parser.add_argument("--seed-model", type=Path, help="seed-architecture ONNX (models/seed.onnx)")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    from notegen.model.network import MelodyModel, default_model_path

    path = args.model or default_model_path()
    model = MelodyModel.load(path)
    arch = model.card.get("architecture", {})
    print(
        f"notegen model: {path} (stateful={model.stateful}, state={model.card.get('state')}, "
        f"parameters={arch.get('parameters', '?')})"
    )

    notegen_greedy(model, 20)  # warm-up: first run pays ORT's allocations
    _, greedy_s = notegen_greedy(model, args.length)
    greedy_cpu = CPU["last"]
    print(
        f"\n[notegen step-wise, greedy] {args.length} notes in {greedy_s:.3f} s wall, "
        f"{greedy_cpu:.3f} s CPU ({greedy_cpu / args.length * 1e6:.0f} µs CPU/note)"
    )

    pure_generation(model, 20, seed=1)
    made, gen_s, gen_cpu = timed(lambda: pure_generation(model, args.length, seed=7))
    print(
        f"[notegen.model.generate.generate, T=1.0 top_p=0.95 C major] {made} events in "
        f"{gen_s:.3f} s wall, {gen_cpu:.3f} s CPU ({gen_cpu / max(made, 1) * 1e6:.0f} µs CPU/note; "
        f"one continuous row, as continueMelody and blocks under 640 notes run)"
    )

    block_generation(model, 40, seed=1)
    made_b, block_s, block_cpu = timed(lambda: block_generation(model, args.length, seed=7))
    print(
        f"[notegen.model.generate.generate_block, the command's path] {made_b} events in "
        f"{block_s:.3f} s wall, {block_cpu:.3f} s CPU; target ≤ 0.5 s: "
        f"{'MET' if block_s <= 0.5 else 'NOT MET'}"
    )

    from seed_baseline import load_seed, seed_generate

    seed = load_seed(args.seed_model)
    seed_generate(seed, 3)  # warm-up
    cpu = time.process_time()
    _, seed_s = seed_generate(seed, args.seed_notes, prime=[])
    seed_cpu = time.process_time() - cpu
    per_note = seed_s / args.seed_notes
    per_note_cpu = seed_cpu / args.seed_notes
    which = (
        "trained models/seed.onnx" if seed.trained else "UNTRAINED export of the same architecture"
    )
    print(f"\n[seed architecture: {which}; {seed.path}]")
    print(
        f"  window {seed.window} tokens, vocab {seed.vocab}; greedy; whole padded history "
        f"re-read for every note; same ONNX Runtime settings (1 thread)"
    )
    print(
        f"  {args.seed_notes} notes in {seed_s:.3f} s wall, {seed_cpu:.3f} s CPU "
        f"({per_note_cpu * 1000:.2f} ms CPU/note)"
    )
    print(
        f"  EXTRAPOLATED to {args.length} notes: {per_note * args.length:.1f} s wall, "
        f"{per_note_cpu * args.length:.1f} s CPU (linear: every note costs one full "
        f"{seed.window}-token window)"
    )
    print(
        f"\n[ratio, CPU time] seed way (extrapolated) / notegen step-wise greedy: "
        f"{per_note_cpu * args.length / greedy_cpu:.0f}x"
    )
    print(
        f"[ratio, CPU time] seed way (extrapolated) / notegen.model.generate.generate (sampling, "
        f"key mask): {per_note_cpu * args.length / gen_cpu:.0f}x"
    )
    print(
        f"[ratio, CPU time] seed way (extrapolated) / generate_block (the command): "
        f"{per_note_cpu * args.length / block_cpu:.0f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
