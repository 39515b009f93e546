"""``tf.data`` pipelines over converted shards: what training holds in memory is bounded by
the shuffle buffer, the interleave cycle and the prefetch depth, never by the corpus size.

Training: shard files (split between workers when there are enough of them, else records
are) → ``interleave`` of GZIP TFRecord readers → tokens (the vocabulary of
``models/FORMAT.md``, computed here so the shards do not depend on it) → random
transposition → ``shuffle`` buffer of voices → rows of at most ``max_len`` events (the first
starts from ``<bos>``) → batches bucketed by length → ``repeat`` → ``prefetch``. Elements are
the 5-tuple the fit's step takes: ``(x_pitch, x_duration, y_pitch, y_duration, weight)``
(plus the conditioning rows for a conditioned model); padding has weight 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..tokens import Vocab

BUCKETS = (16, 32, 64, 128, 256)


TRAINING_FEATURES = ("pitch", "beats")


def feature_spec(names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """How each feature of a shard's examples parses (``names``: only these)."""
    import tensorflow as tf

    spec = {
        "pitch": tf.io.RaggedFeature(tf.int64),
        "beats": tf.io.RaggedFeature(tf.float32),
        "onset": tf.io.RaggedFeature(tf.float32),
        "conditioning": tf.io.RaggedFeature(tf.float32),
        "bar_position": tf.io.RaggedFeature(tf.float32),
        "context_pitch": tf.io.RaggedFeature(tf.int64),
        "context_count": tf.io.RaggedFeature(tf.int64),
        "bpm": tf.io.FixedLenFeature([1], tf.float32),
        "time_signature": tf.io.FixedLenFeature([2], tf.int64),
        "id": tf.io.FixedLenFeature([], tf.string),
    }
    return spec if names is None else {k: spec[k] for k in names}


def parse(record: Any, conditioning: bool = False) -> dict[str, Any]:
    """The features training reads (the conditioning rows only for a conditioned model: they
    are most of a record's bytes)."""
    import tensorflow as tf

    names = (*TRAINING_FEATURES, "conditioning") if conditioning else TRAINING_FEATURES
    return tf.io.parse_single_example(record, feature_spec(names))


def token_ids(pitch: Any, beats: Any, vocab: Vocab) -> tuple[Any, Any]:
    """The same ids as :meth:`Vocab.encode`, in TensorFlow ops: notes fold by octaves into the
    pitch range, rests are 1; durations snap in log space, non-positive → the default."""
    import tensorflow as tf

    lo, hi = vocab.pitch_range
    value = tf.cast(pitch, tf.int64)
    up = tf.where(value < lo, ((lo - value + 11) // 12) * 12, 0)
    down = tf.where(value > hi, ((value - hi + 11) // 12) * 12, 0)
    folded = tf.maximum(tf.cast(lo, tf.int64), value + up - down)
    pitch_ids = tf.where(value < 0, tf.constant(1, tf.int64), folded - lo + 2)
    mids = tf.constant(vocab._log_mid, tf.float64)
    beats = tf.cast(beats, tf.float64)
    beats = tf.where(beats > 0, beats, tf.constant(vocab.default_duration, tf.float64))
    duration_ids = tf.searchsorted(mids, tf.math.log(beats), side="left") + 1
    return pitch_ids, tf.cast(duration_ids, tf.int64)


def transpose(pitch_ids: Any, limit: int, vocab: Vocab) -> tuple[Any, Any]:
    """Shift the notes by a random number of semitones in ``[-limit, limit]`` that keeps
    every note inside the vocabulary (0 when none does); returns the ids and the shift."""
    import tensorflow as tf

    if limit <= 0:
        return pitch_ids, tf.constant(0, tf.int32)
    notes = tf.boolean_mask(pitch_ids, pitch_ids >= 2)
    top = tf.constant([vocab.n_pitch - 1], tf.int64)
    lowest = tf.reduce_min(tf.concat([notes, top], 0))  # no notes: any shift is harmless
    highest = tf.reduce_max(tf.concat([notes, tf.constant([2], tf.int64)], 0))
    low = tf.maximum(-limit, tf.cast(2 - lowest, tf.int32))
    high = tf.minimum(limit, tf.cast(vocab.n_pitch - 1 - highest, tf.int32))
    shift = tf.cond(
        high >= low,
        lambda: tf.random.uniform([], low, high + 1, dtype=tf.int32),
        lambda: tf.constant(0, tf.int32),
    )
    return tf.where(pitch_ids >= 2, pitch_ids + tf.cast(shift, tf.int64), pitch_ids), shift


def augment_rows(rows: Any, shift: Any, width: int) -> Any:
    """The training rows of one voice for one pass: transposed with its notes and parts
    hidden at random (``notegen_training.conditioned.augment``, the in-memory fit's rule)."""
    import tensorflow as tf

    from ..conditioned import Hiding, augment

    hiding = Hiding()

    def run(values: np.ndarray, by: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng()
        return augment(values, int(by), hiding, rng).astype(np.float32)

    out = tf.numpy_function(run, [rows, shift], tf.float32, stateful=True)
    return tf.reshape(out, [-1, width])


def rows(pitch_ids: Any, duration_ids: Any, max_len: int, cond: Any = None) -> Any:
    """A dataset of (input, target[, conditioning]) rows of at most ``max_len`` steps for one
    voice (the conditioning row of a step describes the event it predicts)."""
    import tensorflow as tf

    zero = tf.zeros([1], tf.int64)
    x_p = tf.concat([zero, pitch_ids[:-1]], 0)
    x_d = tf.concat([zero, duration_ids[:-1]], 0)
    n = tf.size(pitch_ids, out_type=tf.int64)
    starts = tf.range(0, n, max_len, dtype=tf.int64)

    def cut(start: Any) -> tuple[Any, ...]:
        end = tf.minimum(start + max_len, n)
        w = tf.ones([end - start], tf.float32)
        row = (x_p[start:end], x_d[start:end], pitch_ids[start:end], duration_ids[start:end], w)
        return row if cond is None else (*row, cond[start:end])

    return tf.data.Dataset.from_tensor_slices(starts).map(cut)


def train_dataset(
    files: Sequence[Path],
    *,
    batch_size: int,
    vocab: Vocab,
    max_len: int = 256,
    transpose_limit: int = 0,
    shuffle_buffer: int = 4096,
    num_shards: int = 1,
    shard_index: int = 0,
    seed: int = 0,
    conditioning: int = 0,
) -> Any:
    """Endless batches for training (an epoch is a number of steps, the same on every worker,
    so collective ops never wait for a worker that ran out of data)."""
    import tensorflow as tf

    if not files:
        raise FileNotFoundError("no training shards")
    ds = tf.data.Dataset.from_tensor_slices([str(f) for f in files])
    by_file = num_shards > 1 and len(files) >= num_shards
    if by_file:
        ds = ds.shard(num_shards, shard_index)
    ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=min(4, len(files)),
        block_length=16,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=False,
    )
    if num_shards > 1 and not by_file:
        ds = ds.shard(num_shards, shard_index)  # fewer files than workers: split the records

    def tokens(record: Any) -> tuple[Any, ...]:
        example = parse(record, bool(conditioning))
        p, d = token_ids(example["pitch"], example["beats"], vocab)
        p, shift = transpose(p, transpose_limit, vocab)
        if not conditioning:
            return p, d
        cond = tf.reshape(example["conditioning"], [-1, conditioning])
        return p, d, augment_rows(cond, shift, conditioning)

    ds = ds.map(tokens, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.filter(lambda p, *_: tf.size(p) > 0)
    # after parsing: the buffer holds token ids, not serialized records (whose conditioning
    # rows an unconditioned fit never reads)
    ds = ds.shuffle(shuffle_buffer, seed=seed + shard_index, reshuffle_each_iteration=True)
    ds = ds.flat_map(lambda p, d, *cond: rows(p, d, max_len, *cond))
    boundaries = [b + 1 for b in BUCKETS if b < max_len]
    ds = ds.bucket_by_sequence_length(
        lambda *row: tf.shape(row[0])[0],
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def valid_dataset(
    files: Sequence[Path],
    *,
    vocab: Vocab,
    batch_size: int = 32,
    limit: int | None = None,
    conditioning: int = 0,
) -> Any:
    """Whole voices (never cut: each event keeps its full left context), padded batches."""
    import tensorflow as tf

    ds = tf.data.TFRecordDataset([str(f) for f in files], compression_type="GZIP")
    if limit:
        ds = ds.take(limit)

    def whole(record: Any) -> tuple[Any, ...]:
        example = parse(record, bool(conditioning))
        p, d = token_ids(example["pitch"], example["beats"], vocab)
        zero = tf.zeros([1], tf.int64)
        w = tf.ones(tf.shape(p), tf.float32)
        row = (tf.concat([zero, p[:-1]], 0), tf.concat([zero, d[:-1]], 0), p, d, w)
        if not conditioning:
            return row
        return (*row, tf.reshape(example["conditioning"], [-1, conditioning]))

    ds = ds.map(whole).filter(lambda *row: tf.size(row[2]) > 0)
    return ds.padded_batch(batch_size).prefetch(2)


def steps_per_epoch(summary: dict[str, Any], batch_size: int, max_len: int) -> int:
    """About one pass over the training voices: rows ≈ voices + events / max_len."""
    train = summary["splits"]["train"]
    rows = train["examples"] + train["events"] / max_len
    return max(1, math.ceil(rows / batch_size))


def bits(logits: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Summed -log2 p(target) over weighted steps with ``<bos>`` excluded, and the weight."""
    from ..metrics import log_softmax_without_bos

    lp = log_softmax_without_bos(logits)
    picked = np.take_along_axis(lp, targets[..., None], axis=-1)[..., 0]
    picked = np.where(weights > 0, picked, 0.0)  # padding targets <bos>: log p = -inf
    return float(-(picked * weights).sum() / math.log(2)), float(weights.sum())
