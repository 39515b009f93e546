"""Training loop for :class:`MelodyLSTM`: whole melodies, bucketed, resumable, bits/note logged.

Why not windows of concatenated melodies: evaluation (and the server) always starts a melody
from ``<bos>`` with zero state, so training does the same — each row is one melody from its
start (melodies longer than ``max_len`` continue in further rows without ``<bos>``). Rows of
similar length are batched together and padding carries zero loss weight, which keeps the
graph free of ``mask_zero``. Every epoch a checkpoint (weights, optimizer slots, RNG state,
history) is written; ``fit`` on the same run directory resumes from it.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .corpus import Melody
from .metrics import Scores, log_softmax_without_bos
from .tokens import Vocab, shift_bounds, transpose_ids
from .voices_corpus import Piece

Example = tuple[np.ndarray, ...]
"""(pitch ids, duration ids) or, for a conditioned model, (pitch, duration, rows ``[T, C]``)."""
Batch = tuple[np.ndarray, ...]
"""x_pitch, x_duration, y_pitch, y_duration, weights[, conditioning rows ``[B, T, C]``]."""


@dataclass
class FitConfig:
    """Everything that decides the result of a fit; stored in the checkpoint and the card."""

    epochs: int = 40
    batch_size: int = 64
    max_len: int = 256
    learning_rate: float = 2e-3
    min_learning_rate: float = 5e-5
    warmup_epochs: int = 1
    clipnorm: float = 1.0
    transpose: int = 5
    seed: int = 0
    max_steps: int | None = None  # per epoch; for smoke tests
    threads: int = 2
    units: int = 384
    layers: int = 2
    dropout: float = 0.4
    pitch_embedding: int = 64
    duration_embedding: int = 16
    conditioning: int = 0
    """Conditioning width (``notegen.model.conditioning.COND_DIM``); 0 = the unconditioned model."""
    voices_repeat: int = 2
    """How many times each voice of a multi-voice piece is seen per epoch."""
    init_from: str | None = None
    """A shipped ``.onnx`` whose weights start the fit (``warm_start``)."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class FitState:
    epoch: int = 0
    history: list[dict[str, object]] = field(default_factory=list)
    best_valid: float | None = None
    best_epoch: int | None = None
    train_seconds: float = 0.0
    rng_state: dict[str, object] | None = None


def encode_melodies(melodies: Sequence[Melody], vocab: Vocab) -> list[Example]:
    """(pitch ids, duration ids) per melody, without ``<bos>``; empty melodies dropped."""
    return [vocab.encode(m.events) for m in melodies if len(m.events) > 0]


def rows_of(
    pitch: np.ndarray, duration: np.ndarray, max_len: int, cond: np.ndarray | None = None
) -> list[Batch]:
    """Split one melody into (input, target) rows of at most ``max_len`` steps.

    Inputs are the targets shifted right with ``<bos>`` (0) in front, so row 0 starts the
    melody from ``<bos>``; later rows start from the previous event.
    """
    x_p = np.concatenate([[0], pitch[:-1]])
    x_d = np.concatenate([[0], duration[:-1]])
    out = []
    for start in range(0, len(pitch), max_len):
        end = start + max_len
        row = (
            x_p[start:end],
            x_d[start:end],
            pitch[start:end],
            duration[start:end],
            np.ones(min(end, len(pitch)) - start, np.float32),
        )
        out.append(row if cond is None else (*row, cond[start:end]))
    return out


def pad_rows(rows: Sequence[Batch]) -> Batch:
    """Post-pad rows to the longest; padded steps get weight 0 (a unidirectional LSTM's
    outputs at real steps never see the padding after them)."""
    length = max(len(r[0]) for r in rows)
    arrays = []
    for k in range(len(rows[0])):
        dtype = np.int64 if k < 4 else np.float32
        block = np.zeros((len(rows), length, *rows[0][k].shape[1:]), dtype=dtype)
        for i, row in enumerate(rows):
            block[i, : len(row[k])] = row[k]
        arrays.append(block)
    return tuple(arrays)


def training_batches(
    examples: Sequence[Example], config: FitConfig, vocab: Vocab, rng: np.random.Generator
) -> Iterator[Batch]:
    """One epoch: each melody transposed by a random shift that keeps it in range, cut into
    rows, rows bucketed by length (sorted inside shuffled pools of 50 batches)."""
    from .conditioned import Hiding, augment

    hiding = Hiding()
    rows: list[Batch] = []
    for pitch, duration, *cond in examples:
        shift = 0
        if config.transpose:
            lo, hi = shift_bounds(pitch, vocab)
            lo, hi = max(lo, -config.transpose), min(hi, config.transpose)
            shift = int(rng.integers(lo, hi + 1)) if hi >= lo else 0
            pitch = transpose_ids(pitch, shift)
        rows_cond = augment(cond[0], shift, hiding, rng) if cond else None
        rows.extend(rows_of(pitch, duration, config.max_len, rows_cond))
    order = rng.permutation(len(rows))
    pool = config.batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(rows[i][0]))
        for b in range(0, len(chunk), config.batch_size):
            batches.append([rows[i] for i in chunk[b : b + config.batch_size]])
    for index in rng.permutation(len(batches)):
        yield pad_rows(batches[index])


def evaluation_batches(examples: Sequence[Example], batch_size: int = 64) -> Iterator[Batch]:
    """Whole melodies (no cut, so every event keeps its full left context), sorted by length."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i][0]))
    for b in range(0, len(order), batch_size):
        rows = [
            rows_of(*examples[i][:2], 10**9, *examples[i][2:])[0] for i in order[b : b + batch_size]
        ]
        yield pad_rows(rows)


def score_keras(model, examples: Sequence[Example]) -> Scores:  # type: ignore[no-untyped-def]
    """Bits/note of a Keras :class:`MelodyLSTM` on whole melodies (valid during fit)."""
    scores = Scores()
    for x_p, x_d, y_p, y_d, w, *cond in evaluation_batches(examples):
        h, c = model.zero_state(x_p.shape[0])
        p_logits, d_logits, _, _ = model([x_p, x_d, *cond, h, c], training=False)
        p_lp = log_softmax_without_bos(np.asarray(p_logits))
        d_lp = log_softmax_without_bos(np.asarray(d_logits))
        for i in range(x_p.shape[0]):
            n = int(w[i].sum())
            scores.add_pitch(p_lp[i, :n], y_p[i, :n])
            scores.add_duration(d_lp[i, :n], y_d[i, :n])
    return scores


def learning_rate_at(config: FitConfig, epoch: int) -> float:
    """Linear warm-up, then cosine decay to ``min_learning_rate`` at the last epoch."""
    if epoch < config.warmup_epochs:
        return config.learning_rate * (epoch + 1) / (config.warmup_epochs + 1)
    span = max(1, config.epochs - config.warmup_epochs - 1)
    progress = min(1.0, (epoch - config.warmup_epochs) / span)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.min_learning_rate + (config.learning_rate - config.min_learning_rate) * cosine


class Checkpoint:
    """Files of a run directory: ``last.weights.h5`` + ``optimizer.npz`` + ``state.json``
    (resume), ``best.weights.h5`` (lowest valid pitch bits), ``config.json``."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.state_path = run_dir / "state.json"
        self.last = run_dir / "last.weights.h5"
        self.best = run_dir / "best.weights.h5"
        self.optimizer = run_dir / "optimizer.npz"
        self.config_path = run_dir / "config.json"

    def exists(self) -> bool:
        return self.state_path.exists() and self.last.exists()

    def save(self, model, optimizer, state: FitState) -> None:  # type: ignore[no-untyped-def]
        model.save_weights(str(self.last) + ".tmp.weights.h5")
        Path(str(self.last) + ".tmp.weights.h5").replace(self.last)
        values = {f"v{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)}
        np.savez(self.dir / "optimizer.tmp.npz", **values)
        (self.dir / "optimizer.tmp.npz").replace(self.optimizer)
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(state), indent=1))
        tmp.replace(self.state_path)

    def load(self, model, optimizer) -> FitState:  # type: ignore[no-untyped-def]
        model.load_weights(str(self.last))
        with np.load(self.optimizer) as saved:
            for i, variable in enumerate(optimizer.variables):
                variable.assign(saved[f"v{i}"])
        return FitState(**json.loads(self.state_path.read_text()))

    def claim(self, meta: dict[str, object]) -> None:
        """Write ``config.json``, refusing a directory that holds a fit with other settings."""
        if self.exists():
            previous = json.loads(self.config_path.read_text())
            if previous["fit"] != meta["fit"] or previous["vocab"] != meta["vocab"]:
                raise ValueError(f"{self.dir} holds a fit with other settings; use another --out")
        self.config_path.write_text(json.dumps(meta, indent=1))

    def resume(self, model, optimizer, rng: np.random.Generator) -> FitState:  # type: ignore[no-untyped-def]
        """The saved state with weights, optimizer slots and RNG restored, or a fresh one."""
        if not self.exists():
            return FitState()
        state = self.load(model, optimizer)
        if state.rng_state is not None:
            rng.bit_generator.state = state.rng_state
        log(f"resuming {self.dir} after epoch {state.epoch}")
        return state

    def finish_epoch(  # type: ignore[no-untyped-def]
        self,
        model,
        optimizer,
        state: FitState,
        rng: np.random.Generator,
        record: dict[str, object],
        valid_bits: float | None,
    ) -> None:
        """Keep the best weights (lowest valid pitch bits), checkpoint everything, log."""
        if valid_bits is None or state.best_valid is None or valid_bits < state.best_valid:
            state.best_valid = valid_bits
            state.best_epoch = state.epoch
            model.save_weights(str(self.best))
        state.rng_state = rng.bit_generator.state
        self.save(model, optimizer, state)
        log(json.dumps(record))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fit(
    train: Sequence[Melody],
    valid: Sequence[Melody],
    run_dir: str | Path,
    config: FitConfig,
    vocab: Vocab | None = None,
    extra: dict[str, object] | None = None,
    train_pieces: Sequence[Piece] = (),
    valid_pieces: Sequence[Piece] = (),
) -> FitState:
    """Train (or resume) a :class:`MelodyLSTM` in ``run_dir``; returns the final state.

    ``extra`` (sources, command line) is stored in ``config.json`` for the model card. With
    ``config.conditioning`` the melodies train alone and every voice of ``train_pieces`` with
    its piece's other voices (``conditioned``); the best epoch is still chosen on ``valid``.
    """
    from .runtime import setup_tensorflow

    setup_tensorflow(config.threads, config.seed)
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from .model import ModelConfig, build_melody_lstm

    vocab = vocab or Vocab()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt = Checkpoint(run_dir)
    model_config = ModelConfig(
        vocab.n_pitch,
        vocab.n_duration,
        config.pitch_embedding,
        config.duration_embedding,
        config.units,
        config.layers,
        config.dropout,
        config.conditioning,
    )
    meta = {
        "fit": config.to_dict(),
        "model": model_config.to_dict(),
        "vocab": vocab.to_card(),
        "train_melodies": len(train),
        "valid_melodies": len(valid),
        **(extra or {}),
    }
    ckpt.claim(meta)

    valid_voices: list[Example] = []
    if config.conditioning:
        from .conditioned import melody_example, piece_examples

        train_examples = [melody_example(m, vocab) for m in train if m.events]
        for _ in range(config.voices_repeat):
            train_examples += [e for p in train_pieces for e in piece_examples(p, vocab)]
        valid_examples = [melody_example(m, vocab) for m in valid if m.events]
        valid_voices = [e for p in valid_pieces for e in piece_examples(p, vocab)]
        log(f"{len(train_examples)} training sequences, {len(valid_voices)} valid voices")
    else:
        train_examples = encode_melodies(train, vocab)
        valid_examples = encode_melodies(valid, vocab)
    model = build_melody_lstm(model_config)
    if config.init_from and not ckpt.exists():
        from .warm_start import load_into, max_difference

        load_into(model, config.init_from)
        diff = max_difference(model, config.init_from)
        log(f"weights from {config.init_from}: max logit difference {diff:.2g}")
    optimizer = keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(config.seed)
    state = ckpt.resume(model, optimizer, rng)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    spec = tf.TensorSpec([None, None], tf.int64)
    signature = [spec, spec, spec, spec, tf.TensorSpec([None, None], tf.float32)]
    if config.conditioning:
        signature.append(tf.TensorSpec([None, None, config.conditioning], tf.float32))

    @tf.function(input_signature=signature)
    def train_step(x_p, x_d, y_p, y_d, w, *cond):  # type: ignore[no-untyped-def]
        with tf.GradientTape() as tape:
            h, c = model.zero_state(tf.shape(x_p)[0])
            p_logits, d_logits, _, _ = model([x_p, x_d, *cond, h, c], training=True)
            total = tf.reduce_sum(w)
            pitch_loss = tf.reduce_sum(ce(y_p, p_logits) * w) / total
            duration_loss = tf.reduce_sum(ce(y_d, d_logits) * w) / total
            loss = pitch_loss + duration_loss
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return pitch_loss, duration_loss

    interactive = sys.stderr.isatty()
    while state.epoch < config.epochs:
        epoch = state.epoch
        lr = learning_rate_at(config, epoch)
        optimizer.learning_rate.assign(lr)
        started = time.time()
        sums = np.zeros(2)
        steps = 0
        batches = training_batches(train_examples, config, vocab, rng)
        total = (
            None
            if config.max_steps
            else math.ceil(
                sum(math.ceil(len(e[0]) / config.max_len) for e in train_examples)
                / config.batch_size
            )
        )
        progress = tqdm(
            batches,
            total=total,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="batch",
            file=sys.stderr,
            mininterval=0.5 if interactive else 60,
            disable=None if interactive else False,
        )
        for batch in progress:
            pitch_loss, duration_loss = train_step(*batch)
            sums += (float(pitch_loss), float(duration_loss))
            steps += 1
            if steps % 20 == 0:
                progress.set_postfix(
                    pitch=f"{sums[0] / steps / math.log(2):.3f}b", refresh=interactive
                )
            if config.max_steps and steps >= config.max_steps:
                break
        progress.close()
        train_time = time.time() - started
        valid_scores = score_keras(model, valid_examples).summary() if valid_examples else {}
        voices_scores = score_keras(model, valid_voices).summary() if valid_voices else None
        state.train_seconds += time.time() - started
        state.epoch = epoch + 1
        record = {
            "epoch": state.epoch,
            "lr": lr,
            "train_pitch_and_rest_bits": round(sums[0] / max(1, steps) / math.log(2), 4),
            "train_duration_bits": round(sums[1] / max(1, steps) / math.log(2), 4),
            "epoch_seconds": round(train_time, 1),
            "valid": valid_scores,
        }
        if voices_scores is not None:
            record["valid_voices"] = voices_scores
        state.history.append(record)
        valid_bits = valid_scores.get("pitch_bits") if valid_scores else None
        ckpt.finish_epoch(model, optimizer, state, rng, record, valid_bits)  # type: ignore[arg-type]
    return state
