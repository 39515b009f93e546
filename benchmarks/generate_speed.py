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
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def notegen_greedy(model: Any, count: int) -> tuple[list[int], float]:
    """Greedy step-wise generation; returns pitch ids and seconds."""
    state = model.initial_state(1)
    pitch = np.zeros(1, dtype=np.int64)
    duration = np.zeros(1, dtype=np.int64)
    out: list[int] = []
    start = time.perf_counter()
    for _ in range(count):
        pitch_logits, duration_logits, state = model.step(pitch, duration, state)
        pitch = pitch_logits.argmax(axis=1)
        duration = duration_logits.argmax(axis=1)
        out.append(int(pitch[0]))
    return out, time.perf_counter() - start


def pure_generation(model: Any, count: int, seed: int) -> tuple[int, float]:
    """``notegen.generate.generate`` (what the command runs): C major mask, T=1, top-p 0.95."""
    from notegen.generate import generate

    start = time.perf_counter()
    events = generate(
        model, [], count, temperature=1.0, top_p=0.95, seed=seed, tonic=60, scale="major"
    )
    return len(events), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="notegen model (.json/.onnx); default model")
    parser.add_argument("--length", type=int, default=5000)
    parser.add_argument("--seed-notes", type=int, default=300, help="notes the seed way generates")
    parser.add_argument("--seed-model", type=Path, help="seed-architecture ONNX (models/seed.onnx)")
    args = parser.parse_args(argv)
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))

    from notegen.model import MelodyModel, default_model_path

    path = args.model or default_model_path()
    model = MelodyModel.load(path)
    arch = model.card.get("architecture", {})
    print(
        f"notegen model: {path} (stateful={model.stateful}, state={model.card.get('state')}, "
        f"parameters={arch.get('parameters', '?')})"
    )

    notegen_greedy(model, 20)  # warm-up: first run pays ORT's allocations
    _, greedy_s = notegen_greedy(model, args.length)
    print(
        f"\n[notegen step-wise, greedy] {args.length} notes in {greedy_s:.3f} s "
        f"({greedy_s / args.length * 1e6:.0f} µs/note)"
    )

    pure_generation(model, 20, seed=1)
    made, gen_s = pure_generation(model, args.length, seed=7)
    print(
        f"[notegen.generate.generate, T=1.0 top_p=0.95 C major] {made} events in {gen_s:.3f} s "
        f"({gen_s / max(made, 1) * 1e6:.0f} µs/note) (target for the command ≤ 0.5 s: "
        f"{'MET' if gen_s <= 0.5 else 'NOT MET'})"
    )

    from seed_baseline import load_seed, seed_generate

    seed = load_seed(args.seed_model)
    seed_generate(seed, 3)  # warm-up
    _, seed_s = seed_generate(seed, args.seed_notes, prime=[])
    per_note = seed_s / args.seed_notes
    extrapolated = per_note * args.length
    which = (
        "trained models/seed.onnx" if seed.trained else "UNTRAINED export of the same architecture"
    )
    print(f"\n[seed architecture: {which}; {seed.path}]")
    print(
        f"  window {seed.window} tokens, vocab {seed.vocab}; greedy; whole padded history "
        f"re-read for every note"
    )
    print(f"  {args.seed_notes} notes in {seed_s:.3f} s ({per_note * 1000:.2f} ms/note)")
    print(
        f"  EXTRAPOLATED to {args.length} notes: {extrapolated:.1f} s "
        f"(linear: every note costs one full {seed.window}-token window)"
    )
    print(f"\n[ratio] seed way / notegen step-wise greedy: {extrapolated / greedy_s:.0f}x")
    if gen_s:
        print(
            f"[ratio] seed way / notegen pure generation (sampling, masks): "
            f"{extrapolated / gen_s:.0f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
