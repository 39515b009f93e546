"""Training the original project's network (``--arch seed``) on the same melodies, as baseline.

The original trained on every prefix of one piece, pre-padded to 1,225 tokens. Its
Bidirectional LSTM reads the whole window for every single prediction, so on ~740k training
notes that is out of reach of 2 CPU cores; here each example is one note with its left
context within its melody cut to the last ``window`` tokens (64 by default, longer than the
median melody), pre-padded as the original did, and each epoch samples ``samples_per_epoch``
notes uniformly. Pitch only (the network has no duration input or output), same pitch
vocabulary and transposition augmentation as the main model. The export keeps the original's
1,224-token window (the graph accepts any length; the card says which).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .corpus import Melody
from .evaluate import pre_pad
from .fit import Checkpoint, FitState
from .metrics import Scores, log_softmax_without_bos
from .tokens import Vocab, shift_bounds, transpose_ids

ORIGINAL_WINDOW = 1224


@dataclass
class SeedFitConfig:
    epochs: int = 6
    batch_size: int = 128
    learning_rate: float = 1e-3
    window: int = 64
    export_window: int = ORIGINAL_WINDOW
    samples_per_epoch: int = 40_000
    transpose: int = 5
    seed: int = 0
    max_steps: int | None = None
    threads: int = 2
    valid_every: int = 4  # score every n-th valid melody during fit (the full set at evaluate)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def sample_batch(
    pitches: Sequence[np.ndarray],
    cumulative: np.ndarray,
    config: SeedFitConfig,
    vocab: Vocab,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` notes drawn uniformly over all notes: (pre-padded contexts, targets)."""
    picks = rng.integers(0, int(cumulative[-1]), config.batch_size)
    melody_index = np.searchsorted(cumulative, picks, side="right")
    rows, targets = [], []
    for m, pick in zip(melody_index, picks, strict=True):
        pitch = pitches[m]
        t = int(pick - (cumulative[m - 1] if m else 0))
        if config.transpose:
            lo, hi = shift_bounds(pitch, vocab)
            lo, hi = max(lo, -config.transpose), min(hi, config.transpose)
            pitch = transpose_ids(pitch, int(rng.integers(lo, hi + 1)) if hi >= lo else 0)
        rows.append(pitch[max(0, t - config.window) : t])
        targets.append(pitch[t])
    return pre_pad(rows, config.window), np.asarray(targets, dtype=np.int64)


def score_seed_keras(model, pitches: Sequence[np.ndarray], window: int) -> Scores:  # type: ignore[no-untyped-def]
    """Valid bits/note during fit: every note with its left context (≤ ``window``)."""
    requests = [(m, t) for m, p in enumerate(pitches) for t in range(len(p))]
    requests.sort(key=lambda r: min(r[1], window))
    out = [np.zeros((len(p), 1)) for p in pitches]
    rows_lp: dict[tuple[int, int], np.ndarray] = {}
    for start in range(0, len(requests), 512):
        chunk = requests[start : start + 512]
        length = max(1, max(min(t, window) for _, t in chunk))
        x = pre_pad([pitches[m][max(0, t - window) : t] for m, t in chunk], length)
        probs = np.asarray(model(x, training=False))
        with np.errstate(divide="ignore"):
            lp = log_softmax_without_bos(np.log(np.maximum(probs, 1e-30)))
        for key, row in zip(chunk, lp, strict=True):
            rows_lp[key] = row
    scores = Scores()
    for m, pitch in enumerate(pitches):
        out[m] = np.stack([rows_lp[(m, t)] for t in range(len(pitch))])
        scores.add_pitch(out[m], pitch)
    return scores


def fit_seed(
    train: Sequence[Melody],
    valid: Sequence[Melody],
    run_dir: str | Path,
    config: SeedFitConfig,
    vocab: Vocab | None = None,
    extra: dict[str, object] | None = None,
) -> FitState:
    """Train (or resume) the seed network in ``run_dir``."""
    from .runtime import setup_tensorflow

    setup_tensorflow(config.threads, config.seed)
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from .model import build_seed_network

    vocab = vocab or Vocab()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = Checkpoint(run_dir)
    meta = {
        "arch": "seed",
        "fit": config.to_dict(),
        "seed": config.to_dict(),
        "vocab": vocab.to_card(),
        "train_melodies": len(train),
        "valid_melodies": len(valid),
        **(extra or {}),
    }
    ckpt.claim(meta)
    pitches = [vocab.encode(m.events)[0] for m in train if m.events]
    valid_pitches = [vocab.encode(m.events)[0] for m in valid if m.events][:: config.valid_every]
    cumulative = np.cumsum([len(p) for p in pitches])
    model = build_seed_network(vocab.n_pitch, config.export_window)
    optimizer = keras.optimizers.Adam(config.learning_rate)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(config.seed)
    state = ckpt.resume(model, optimizer, rng)
    ce = keras.losses.SparseCategoricalCrossentropy()

    @tf.function(
        input_signature=[tf.TensorSpec([None, None], tf.int64), tf.TensorSpec([None], tf.int64)]
    )
    def train_step(x, y):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            loss = ce(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    steps_per_epoch = math.ceil(config.samples_per_epoch / config.batch_size)
    if config.max_steps:
        steps_per_epoch = min(steps_per_epoch, config.max_steps)
    interactive = sys.stderr.isatty()
    while state.epoch < config.epochs:
        started = time.time()
        total = 0.0
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"seed epoch {state.epoch + 1}/{config.epochs}",
            unit="batch",
            file=sys.stderr,
            mininterval=0.5 if interactive else 60,
        )
        for _ in bar:
            total += float(train_step(*sample_batch(pitches, cumulative, config, vocab, rng)))
        bar.close()
        train_time = time.time() - started
        valid_scores = (
            score_seed_keras(model, valid_pitches, config.window).summary() if valid_pitches else {}
        )
        state.train_seconds += train_time
        state.epoch += 1
        record = {
            "epoch": state.epoch,
            "train_pitch_and_rest_bits": round(total / steps_per_epoch / math.log(2), 4),
            "epoch_seconds": round(train_time, 1),
            "valid_subset": valid_scores,
        }
        state.history.append({**record, "valid": valid_scores})
        valid_bits = valid_scores.get("pitch_bits") if valid_scores else None
        ckpt.finish_epoch(model, optimizer, state, rng, record, valid_bits)  # type: ignore[arg-type]
    return state
