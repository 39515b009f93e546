"""Fit :class:`~notegen_training.model.MelodyLSTM` from converted shards, on one worker or many.

The same loop serves both: under the default strategy it is a plain single-process fit; under
``MultiWorkerMirroredStrategy`` each worker reads its share of the shards and gradients are
summed across workers. The loss is the global mean over real (weight 1) events: each replica
divides its summed loss by the all-reduced event count, so one worker with batch B and two
workers with B/2 each compute the same quantity.

The run directory has the files :mod:`notegen_training.package` exports from
(``config.json``, ``state.json``, ``last``/``best.weights.h5``) plus ``optimizer.npz``. Only
the chief writes; every worker resumes from them, so a worker restarted after a crash — and
a Ctrl-C'd single-process fit — continue where the last checkpoint left off (a Ctrl-C saves
mid-epoch first).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..fit import FitConfig, learning_rate_at
from ..tokens import Vocab
from . import shards as shard_files
from . import stream
from .distributed import EXIT_PEER_LOST, Cluster, is_peer_lost, make_strategy


class PeerLost(RuntimeError):
    """Another worker is gone; this one stops so that all can be restarted together."""

    exit_code = EXIT_PEER_LOST


@dataclass
class StreamState:
    """What ``state.json`` holds: the fit's progress, resumable at any step."""

    epoch: int = 0
    step: int = 0  # steps done in the current epoch (non-zero only after a Ctrl-C)
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0])
    history: list[dict[str, Any]] = field(default_factory=list)
    best_valid: float | None = None
    best_epoch: int | None = None
    train_seconds: float = 0.0
    resumed: list[dict[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class StreamOptions:
    """How data is read; stored with the fit settings (they change the result)."""

    shuffle_buffer: int = 4096
    valid_limit: int | None = 2000
    steps_per_epoch: int | None = None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class RunFiles:
    """The run directory's files, written atomically by the chief."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = run_dir
        self.state = run_dir / "state.json"
        self.last = run_dir / "last.weights.h5"
        self.best = run_dir / "best.weights.h5"
        self.optimizer = run_dir / "optimizer.npz"
        self.config = run_dir / "config.json"

    def exists(self) -> bool:
        return self.state.exists() and self.last.exists() and self.optimizer.exists()

    def claim(self, meta: dict[str, Any]) -> None:
        if self.exists() and self.config.exists():
            previous = json.loads(self.config.read_text())
            for key in ("fit", "model", "vocab", "stream"):
                if previous.get(key) != meta.get(key):
                    raise ValueError(
                        f"{self.dir} holds a fit with other settings ({key}); use another --out"
                    )
        _write_json(self.config, meta)

    def save(self, model: Any, optimizer: Any, state: StreamState) -> None:
        tmp = self.dir / "last.tmp.weights.h5"
        model.save_weights(str(tmp))
        tmp.replace(self.last)
        values = {f"v{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)}
        np.savez(self.dir / "optimizer.tmp.npz", **values)
        (self.dir / "optimizer.tmp.npz").replace(self.optimizer)
        _write_json(self.state, asdict(state))

    def load(self, model: Any, optimizer: Any) -> StreamState:
        model.load_weights(str(self.last))
        with np.load(self.optimizer) as saved:
            for i, variable in enumerate(optimizer.variables):
                variable.assign(saved[f"v{i}"])
        return StreamState(**json.loads(self.state.read_text()))


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    tmp.replace(path)


def fit_stream(
    shards: str | Path,
    run_dir: str | Path,
    config: FitConfig,
    *,
    options: StreamOptions | None = None,
    distributed: bool = False,
    extra: dict[str, Any] | None = None,
    progress: bool = True,
) -> StreamState:
    """Train (or resume) in ``run_dir`` from the shards in ``shards``; returns the state.

    Raises :class:`PeerLost` when, under ``distributed``, another worker disappeared.
    """
    from ..runtime import setup_tensorflow

    setup_tensorflow(config.threads, config.seed)
    strategy, cluster = make_strategy(distributed)  # before any other TensorFlow op
    try:
        return _fit(
            shards,
            Path(run_dir),
            config,
            options or StreamOptions(),
            strategy,
            cluster,
            extra or {},
            progress,
        )
    except Exception as err:
        if distributed and is_peer_lost(err):
            raise PeerLost(
                f"worker {cluster.index}: another worker is gone ({type(err).__name__}); "
                "restart the workers to resume from the last checkpoint"
            ) from err
        raise


def _fit(
    shards: str | Path,
    run_dir: Path,
    config: FitConfig,
    options: StreamOptions,
    strategy: Any,
    cluster: Cluster,
    extra: dict[str, Any],
    progress: bool,
) -> StreamState:
    import keras
    import tensorflow as tf
    from tqdm import tqdm

    from ..model import ModelConfig, build_melody_lstm

    summary = shard_files.load_summary(shards)
    train_files = shard_files.shard_files(shards, "train")
    valid_files = shard_files.shard_files(shards, "valid")
    if not train_files:
        raise FileNotFoundError(f"{shards}: no training shards (was every file skipped?)")
    replicas = strategy.num_replicas_in_sync
    if config.batch_size % replicas:
        raise ValueError(f"--batch-size {config.batch_size} must divide by {replicas} workers")
    vocab = Vocab()
    steps = options.steps_per_epoch or stream.steps_per_epoch(
        summary, config.batch_size, config.max_len
    )
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
    files = RunFiles(run_dir)
    meta = {
        "fit": {k: v for k, v in config.to_dict().items() if k not in ("threads",)},
        "model": model_config.to_dict(),
        "vocab": vocab.to_card(),
        "stream": {**asdict(options), "steps_per_epoch": steps},
        "train_melodies": summary["splits"]["train"]["examples"],
        "valid_melodies": summary["splits"]["valid"]["examples"],
        "corpus": {
            k: summary[k]
            for k in ("files", "read", "skipped", "skipped_by_reason", "duplicates", "splits")
        },
        "workers": cluster.workers,
        **extra,
    }
    if cluster.is_chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        files.claim(meta)

    with strategy.scope():
        model = build_melody_lstm(model_config)
        # Clipping is done here on the all-reduced gradient, not by Keras: Keras clips each
        # worker's part before summing, which lets two workers step up to twice as far as one.
        optimizer = keras.optimizers.Adam(config.learning_rate)
        optimizer.build(model.trainable_variables)
    state = StreamState()
    if files.exists():
        state = files.load(model, optimizer)
        state.resumed.append({"epoch": state.epoch, "step": state.step})
        log(
            f"worker {cluster.index}: resuming {run_dir} at epoch {state.epoch + 1}, "
            f"step {state.step}"
        )

    def dataset_fn(ctx: tf.distribute.InputContext) -> Any:
        return stream.train_dataset(
            train_files,
            batch_size=ctx.get_per_replica_batch_size(config.batch_size),
            vocab=vocab,
            max_len=config.max_len,
            transpose_limit=config.transpose,
            shuffle_buffer=options.shuffle_buffer,
            num_shards=ctx.num_input_pipelines,
            shard_index=ctx.input_pipeline_id,
            seed=config.seed + 1000 * len(state.resumed),
            conditioning=config.conditioning,
        )

    batches = iter(strategy.distribute_datasets_from_function(dataset_fn))
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def replica_step(batch: Any) -> Any:
        x_p, x_d, y_p, y_d, w, *cond = batch
        with tf.GradientTape() as tape:
            h, c = model.zero_state(tf.shape(x_p)[0])
            p_logits, d_logits, _, _ = model([x_p, x_d, *cond, h, c], training=True)
            ctx = tf.distribute.get_replica_context()
            total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(w))
            pitch_loss = tf.reduce_sum(ce(y_p, p_logits) * w) / total
            duration_loss = tf.reduce_sum(ce(y_d, d_logits) * w) / total
            loss = pitch_loss + duration_loss
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
        grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)  # the whole batch's gradient
        grads = [tf.clip_by_norm(g, config.clipnorm) / replicas for g in grads]
        # Keras sums the replicas' gradients again: each passes its share of the clipped sum.
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return tf.stack([pitch_loss, duration_loss])

    @tf.function
    def train_step(iterator: Any) -> Any:
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    show = progress and cluster.is_chief
    while state.epoch < config.epochs:
        epoch = state.epoch
        lr = learning_rate_at(config, epoch)
        optimizer.learning_rate.assign(lr)
        started = time.time()
        bar = tqdm(
            total=steps,
            initial=state.step,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            unit="step",
            file=sys.stderr,
            disable=not show,
            mininterval=0.5 if sys.stderr.isatty() else 30,
        )
        try:
            while state.step < steps:
                losses = train_step(batches).numpy()
                state.sums[0] += float(losses[0])
                state.sums[1] += float(losses[1])
                state.step += 1
                bar.update(1)
                if state.step % 20 == 0:
                    bar.set_postfix(pitch=f"{state.sums[0] / state.step / math.log(2):.3f}b")
            bar.close()
            state.train_seconds += time.time() - started
            started_valid = time.time()
            valid = (
                score(model, valid_files, vocab, options.valid_limit, config.conditioning)
                if valid_files
                else {}
            )
        except KeyboardInterrupt:
            bar.close()
            if state.step < steps:
                state.train_seconds += time.time() - started
            if cluster.is_chief:
                files.save(model, optimizer, state)
                log(
                    f"interrupted at epoch {epoch + 1}, step {state.step}: saved; run the "
                    "same command again to resume"
                )
            raise
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "lr": lr,
            "steps": steps,
            "train_pitch_and_rest_bits": round(state.sums[0] / steps / math.log(2), 4),
            "train_duration_bits": round(state.sums[1] / steps / math.log(2), 4),
            "epoch_seconds": round(started_valid - started, 1),
            "valid": valid,
        }
        state.history.append(record)
        state.epoch, state.step, state.sums = epoch + 1, 0, [0.0, 0.0]
        valid_bits = record["valid"].get("pitch_bits")
        if cluster.is_chief:
            if valid_bits is None or state.best_valid is None or valid_bits < state.best_valid:
                state.best_valid, state.best_epoch = valid_bits, state.epoch
                model.save_weights(str(files.best))
            files.save(model, optimizer, state)
            log(json.dumps(record))
    return state


def score(
    model: Any, files: list[Path], vocab: Vocab, limit: int | None, conditioning: int = 0
) -> dict[str, Any]:
    """Bits per event on whole validation voices (pitch-and-rest and duration heads); a
    conditioned model reads each voice's rows as written (its piece, metre and end known)."""
    sums = np.zeros(3)
    batches = stream.valid_dataset(files, vocab=vocab, limit=limit, conditioning=conditioning)
    for x_p, x_d, y_p, y_d, w, *cond in batches:
        h, c = model.zero_state(x_p.shape[0])
        p_logits, d_logits, _, _ = model([x_p, x_d, *cond, h, c], training=False)
        weights = w.numpy()
        pitch, n = stream.bits(np.asarray(p_logits), y_p.numpy(), weights)
        duration, _ = stream.bits(np.asarray(d_logits), y_d.numpy(), weights)
        sums += (pitch, duration, n)
    if not sums[2]:
        return {}
    return {
        "pitch_bits": round(sums[0] / sums[2], 4),
        "duration_bits": round(sums[1] / sums[2], 4),
        "events": int(sums[2]),
    }
