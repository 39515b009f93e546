"""Convert a corpus once into sharded, GZIP-compressed TFRecord files, cached by file content.

Layout of a shards folder::

    manifest.jsonl              one line per source file content (sha256): read / skipped + why
    train-00000.tfrecord.gz     tf.train.Example per voice (see :func:`to_example`)
    valid-00000.tfrecord.gz ... test-...
    corpus.json                 totals: files read, skipped by reason, voices and events per split

Why this shape: a 170k-file collection cannot be held in memory, and parsing it again for every
fit wastes hours. The manifest is keyed by the sha256 of the file's bytes, so a second run (or
a run over a folder with new files) converts only content it has not seen — renamed or moved
files are not parsed again, exact copies are trained on once (counted as ``duplicate``), and an
edited file is converted anew. Shards are written to a temporary name and renamed when full;
the manifest lines of their files are appended only after the rename, so a run stopped at any
moment (Ctrl-C, a crash) loses at most the files of the shard being filled, and the same
command resumes. The split (train / valid / test) is the project's rule applied to each piece:
``sha1("<sha256>#<piece>") % 100``, so it does not depend on file names or order.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..corpus import split_of
from .errors import UnreadableFile
from .files import expand
from .read import read_file

MANIFEST = "manifest.jsonl"
SUMMARY = "corpus.json"
FORMAT_VERSION = 3
SPLITS = ("train", "valid", "test")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FileResult:
    """What converting one file gave: its examples by split, or why it was skipped."""

    sha256: str
    path: str
    status: str  # read | skipped
    reason: str = ""
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    info: dict[str, int] = field(default_factory=dict)

    def entry(self, shard: int | None) -> dict[str, Any]:
        counts = {
            split: {"examples": len(items), "events": sum(len(e["pitch"]) for e in items)}
            for split, items in self.examples.items()
        }
        out: dict[str, Any] = {"sha256": self.sha256, "path": self.path, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        if counts:
            out["splits"] = counts
        if self.info:
            out["skipped_inside"] = self.info
        if shard is not None:
            out["shard"] = shard
        return out


def convert_one(job: tuple[str, str | None, str]) -> FileResult:
    """Read one file into examples by split (runs in a worker process)."""
    raw, kind, sha = job
    path = Path(raw)
    try:
        pieces, info = read_file(path, kind, path.name)
    except UnreadableFile as err:
        return FileResult(sha, raw, "skipped", err.reason)
    except Exception as err:  # a reader bug must not stop a 170k-file conversion: report it
        return FileResult(sha, raw, "skipped", f"reader error ({type(err).__name__}: {err})")
    examples: dict[str, list[dict[str, Any]]] = {}
    for number, piece in enumerate(pieces):
        split = split_of(f"{sha}#{number}")
        examples.setdefault(split, []).extend(piece.examples())
    if not examples:
        return FileResult(sha, raw, "skipped", "no voice with at least two notes", info=info)
    return FileResult(sha, raw, "read", examples=examples, info=info)


def to_example(example: dict[str, Any]) -> bytes:
    """A voice as a serialized ``tf.train.Example``: pitch (MIDI, -1 = rest), beats, onset
    (beats from the piece's start), bar_position, context_pitch + context_count (the other
    voices at each onset), conditioning (``notegen.model.conditioning`` rows, flattened), bpm,
    time_signature, id."""
    import tensorflow as tf

    def ints(values: Iterable[int]) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    def floats(values: Iterable[float]) -> tf.train.Feature:
        return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))

    features = {
        "pitch": ints(example["pitch"]),
        "beats": floats(example["beats"]),
        "onset": floats(example["onset"]),
        "conditioning": floats(example["conditioning"]),
        "bar_position": floats(example["bar_position"]),
        "context_pitch": ints(example["context_pitch"]),
        "context_count": ints(example["context_count"]),
        "bpm": floats([example["bpm"]]),
        "time_signature": ints(example["time_signature"]),
        "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[example["id"].encode()])),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def manifest_entries(folder: Path) -> Iterator[dict[str, Any]]:
    """The manifest's entries, streamed (a line cut short by a crash is ignored)."""
    path = folder / MANIFEST
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def read_manifest(folder: Path) -> set[str]:
    """The sha256 of every file content already converted (read or skipped).

    Only the hashes stay in memory while converting (~110 bytes a file), not the entries."""
    return {entry["sha256"] for entry in manifest_entries(folder)}


class ShardWriter:
    """Open TFRecord writers, one per split, under temporary names; ``flush`` renames them
    and only then appends the manifest lines of the files they hold."""

    def __init__(self, folder: Path, first_shard: int) -> None:
        self.folder = folder
        self.shard = first_shard
        self.writers: dict[str, Any] = {}
        self.pending: list[dict[str, Any]] = []
        self.count = 0

    def tmp(self, split: str) -> Path:
        return self.folder / f".{split}-{self.shard:05d}.tfrecord.gz.tmp"

    def add(self, result: FileResult) -> None:
        import tensorflow as tf

        for split, items in result.examples.items():
            if split not in self.writers:
                self.writers[split] = tf.io.TFRecordWriter(str(self.tmp(split)), "GZIP")
            for item in items:
                self.writers[split].write(to_example(item))
                self.count += 1
        self.pending.append(result.entry(self.shard))

    def flush(self) -> None:
        for split, writer in self.writers.items():
            writer.close()
            self.tmp(split).replace(self.folder / f"{split}-{self.shard:05d}.tfrecord.gz")
        if self.pending:
            append_manifest(self.folder, self.pending)
        if self.writers:
            self.shard += 1
        self.writers, self.pending, self.count = {}, [], 0

    def abandon(self) -> None:
        """Stopped: drop the shard being filled (its files are converted again next time)."""
        for split, writer in self.writers.items():
            writer.close()
            self.tmp(split).unlink(missing_ok=True)
        self.writers, self.pending, self.count = {}, [], 0


def append_manifest(folder: Path, entries: Sequence[dict[str, Any]]) -> None:
    with (folder / MANIFEST).open("a", encoding="utf-8") as handle:
        for entry in entries:
            handle.write(json.dumps(entry) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def next_shard(folder: Path) -> int:
    numbers = [int(p.name.split("-")[1].split(".")[0]) for p in folder.glob("*-*.tfrecord.gz")]
    return max(numbers, default=-1) + 1


@dataclass
class ConvertReport:
    """Totals over the whole manifest (this run and earlier ones)."""

    files: int
    read: int
    skipped: dict[str, int]
    duplicates: int
    cached: int
    converted: int
    splits: dict[str, dict[str, int]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "files": self.files,
            "read": self.read,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": self.skipped,
            "duplicates": self.duplicates,
            "cached": self.cached,
            "converted_now": self.converted,
            "splits": self.splits,
        }

    def line(self) -> str:
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        parts = [f"{self.files} files: {self.read} read"]
        parts.append(f"{sum(self.skipped.values())} skipped" + (f" ({why})" if why else ""))
        parts.append(f"{self.duplicates} duplicates of other files")
        voices = " / ".join(f"{s} {self.splits[s]['examples']}" for s in SPLITS)
        return "; ".join(parts) + f"; voices: {voices} ({self.cached} files from the cache)"


def reason_kind(reason: str) -> str:
    """The reason without its file-specific detail, for counting ("not readable MusicXML")."""
    return reason.split(" (", 1)[0]


def _jobs(
    sources: Iterable[tuple[Path, str | None]],
    done: set[str],
    tally: Counter[str],
    seen: set[str],
    on_duplicate: Any,
) -> Iterator[tuple[str, str | None, str]]:
    """Hash each file; yield the ones whose content is neither cached nor seen this run."""
    for path, kind in sources:
        tally["files"] += 1
        try:
            sha = sha256_file(path)
        except OSError as err:
            sha = "unreadable:" + str(path)
            if sha not in done:
                yield str(path), "__oserror__:" + (err.strerror or str(err)), sha
            continue
        if sha in seen:
            tally["duplicates"] += 1
            on_duplicate(path)
            continue
        seen.add(sha)
        if sha in done:
            tally["cached"] += 1
            continue
        yield str(path), kind, sha


def _convert_job(job: tuple[str, str | None, str]) -> FileResult:
    raw, kind, sha = job
    if kind is not None and kind.startswith("__oserror__:"):
        return FileResult(sha, raw, "skipped", "cannot read (" + kind.split(":", 1)[1] + ")")
    return convert_one(job)


def convert(
    paths: Sequence[str | Path],
    folder: str | Path,
    *,
    workers: int = 1,
    shard_examples: int = 512,
    progress: bool = True,
) -> ConvertReport:
    """Convert every file of ``paths`` not yet in ``folder``'s manifest; write the summary.

    Unreadable files are reported on stderr (name and reason) and skipped. ``KeyboardInterrupt``
    stops cleanly: finished shards and their manifest lines stay, the partial shard goes.
    """
    from tqdm import tqdm

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    check_format(out)
    done = read_manifest(out)
    sources = list(expand(paths))
    tally: Counter[str] = Counter()
    seen: set[str] = set()
    writer = ShardWriter(out, next_shard(out))
    bar = tqdm(
        total=len(sources), desc="converting", unit="file", file=sys.stderr, disable=not progress
    )

    def note_duplicate(path: Path) -> None:
        bar.update(1)

    jobs = _jobs(sources, done, tally, seen, note_duplicate)
    pool = None
    try:
        if workers > 1:
            from multiprocessing import get_context

            pool = get_context("spawn").Pool(workers)
            results: Iterable[FileResult] = pool.imap(_convert_job, jobs, chunksize=8)
        else:
            results = map(_convert_job, jobs)
        for result in results:
            bar.update(1)
            tally["converted"] += 1
            if result.status == "skipped":
                bar.write(f"skipped {result.path}: {result.reason}", file=sys.stderr)
                append_manifest(out, [result.entry(None)])
                continue
            writer.add(result)
            if writer.count >= shard_examples:
                writer.flush()
        writer.flush()
    except BaseException:
        writer.abandon()
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    report = summarize(out, tally, seen)
    (out / SUMMARY).write_text(json.dumps(report.to_dict(), indent=1))
    return report


def check_format(folder: Path) -> None:
    """Refuse to add to shards of another format (their examples would not parse alike)."""
    summary = folder / SUMMARY
    if summary.exists():
        version = json.loads(summary.read_text()).get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{folder} holds shards of format {version}, this notegen writes format "
                f"{FORMAT_VERSION}: convert into a new folder"
            )


def summarize(folder: Path, tally: Counter[str], shas: set[str]) -> ConvertReport:
    """Totals over the manifest entries of this run's files (cached or converted now)."""
    skipped: Counter[str] = Counter()
    splits = {s: {"examples": 0, "events": 0} for s in SPLITS}
    read = 0
    counted: set[str] = set()
    for entry in manifest_entries(folder):
        if entry["sha256"] not in shas or entry["sha256"] in counted:
            continue
        counted.add(entry["sha256"])
        if entry["status"] != "read":
            skipped[reason_kind(entry.get("reason", ""))] += 1
            continue
        read += 1
        for split, counts in entry.get("splits", {}).items():
            splits[split]["examples"] += counts["examples"]
            splits[split]["events"] += counts["events"]
    return ConvertReport(
        files=tally["files"],
        read=read,
        skipped=dict(skipped),
        duplicates=tally["duplicates"],
        cached=tally["cached"],
        converted=tally["converted"],
        splits=splits,
    )


def shard_files(folder: str | Path, split: str) -> list[Path]:
    """The finished shards of one split, in order."""
    return sorted(Path(folder).glob(f"{split}-*.tfrecord.gz"))


def load_summary(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / SUMMARY
    if not path.exists():
        raise FileNotFoundError(f"{path}: no converted corpus here (run notegen-train convert)")
    check_format(Path(folder))
    return json.loads(path.read_text())  # type: ignore[no-any-return]
