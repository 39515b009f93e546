"""``notegen-train convert`` and the streamed ``notegen-train fit`` (``--corpus`` without
``--train``, ``--shards``, ``--distributed``), kept out of ``cli.py``'s in-memory path."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

INTERRUPTED = 130


def add_convert_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "convert",
        help="convert MIDI/MusicXML/ABC/Sonic Pi files into sharded training examples (cached)",
    )
    p.add_argument("--corpus", nargs="+", required=True, help="files, folders or glob patterns")
    p.add_argument(
        "--out",
        required=True,
        help="shards folder (a re-run converts only new content)",
    )
    p.add_argument("--workers", type=int, default=1, help="reader processes (default 1)")
    p.add_argument("--shard-examples", type=int, default=512, help="voices per shard file")


def add_stream_fit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", default=None, help="train from a folder written by convert")
    p.add_argument(
        "--distributed",
        action="store_true",
        help="MultiWorkerMirroredStrategy; workers from TF_CONFIG (needs --shards)",
    )
    p.add_argument("--convert-workers", type=int, default=1, help="reader processes for --corpus")
    p.add_argument("--shuffle-buffer", type=int, default=4096, help="voices in the shuffle buffer")
    p.add_argument("--valid-limit", type=int, default=2000, help="validation voices per epoch")


def wants_stream(args: argparse.Namespace) -> bool:
    """The streamed fit: shards, a cluster, or a corpus given without in-memory melodies."""
    return bool(args.shards or args.distributed or (args.corpus and not args.train))


def cmd_convert(args: argparse.Namespace) -> int:
    from .shards import convert

    try:
        report = convert(
            args.corpus, args.out, workers=args.workers, shard_examples=args.shard_examples
        )
    except KeyboardInterrupt:
        print(
            f"notegen-train convert: interrupted; finished shards are kept in {args.out} — "
            "run the same command again to convert the rest",
            file=sys.stderr,
        )
        return INTERRUPTED
    print(report.line(), file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=1))
    return 0


def cmd_stream_fit(args: argparse.Namespace, config: Any) -> int:
    """Convert ``--corpus`` into ``<out>/corpus`` (unless ``--shards``), then fit from it."""
    from .train import PeerLost, StreamOptions, fit_stream

    if args.arch != "notegen":
        raise ValueError("--arch seed trains from --train melodies only")
    out = Path(args.out)
    shards = Path(args.shards) if args.shards else out / "corpus"
    if args.corpus:
        if args.distributed:
            raise ValueError(
                "with --distributed, convert first (notegen-train convert --corpus ... --out "
                "DIR) and give every worker --shards DIR"
            )
        from .shards import convert

        try:
            report = convert(args.corpus, shards, workers=args.convert_workers)
        except KeyboardInterrupt:
            print(
                "notegen-train fit: interrupted while converting; run the same command "
                "again to resume",
                file=sys.stderr,
            )
            return INTERRUPTED
        print(report.line(), file=sys.stderr)
    options = StreamOptions(
        shuffle_buffer=args.shuffle_buffer,
        valid_limit=args.valid_limit,
        steps_per_epoch=args.max_steps,
    )
    extra = {
        "command": "notegen-train " + shlex.join(args.argv),
        "sources": [str(p) for p in args.corpus] or [str(shards)],
        "valid_sources": [f"{shards} (valid split)"],
    }
    try:
        state = fit_stream(
            shards, out, config, options=options, distributed=args.distributed, extra=extra
        )
    except KeyboardInterrupt:
        return INTERRUPTED
    except PeerLost as err:
        print(f"notegen-train fit: {err}", file=sys.stderr)
        return err.exit_code
    print(
        json.dumps(
            {
                "epochs": state.epoch,
                "best_epoch": state.best_epoch,
                "best_valid_pitch_bits": state.best_valid,
                "last": state.history[-1] if state.history else None,
            },
            indent=1,
        )
    )
    return 0
