"""``notegen-train``: extract, fit, export, evaluate.

Typical use (a fresh clone, about an hour on 2 CPU cores for the default sizes)::

    notegen-train extract --out data/melodies
    notegen-train fit --train data/melodies/train.jsonl.gz --valid data/melodies/valid.jsonl.gz \\
        --out runs/main
    notegen-train export runs/main --out models/notegen.onnx
    notegen-train evaluate models/notegen.onnx data/melodies/valid.jsonl.gz

Add ``--corpus my_pieces/`` to ``fit`` to train on your own Sonic Pi files as well.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from .corpus import CorpusError


def _fit_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .fit import FitConfig

    d = FitConfig()
    p = sub.add_parser("fit", help="train a model (resumes from the checkpoint in --out)")
    p.add_argument("--train", nargs="+", default=[], help="melody .jsonl(.gz) or Sonic Pi files")
    p.add_argument("--valid", nargs="*", default=[], help="validation melodies")
    p.add_argument("--corpus", nargs="*", default=[], help="your own Sonic Pi .rb files/folders")
    p.add_argument("--out", required=True, help="run directory (checkpoints, logs)")
    p.add_argument("--arch", choices=["notegen", "seed"], default="notegen")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--max-len", type=int, default=d.max_len)
    p.add_argument("--lr", type=float, default=d.learning_rate)
    p.add_argument(
        "--transpose",
        type=int,
        default=d.transpose,
        help="max semitones of random transposition per melody (0 = off)",
    )
    p.add_argument("--units", type=int, default=d.units)
    p.add_argument("--layers", type=int, default=d.layers)
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--window", type=int, default=64, help="seed arch: context window in training")
    p.add_argument("--limit", type=int, default=None, help="use only the first N train melodies")


def cmd_fit(args: argparse.Namespace) -> int:
    from .sources import load_melodies

    train = load_melodies([*args.train, *args.corpus])
    if args.limit:
        train = train[: args.limit]
    valid = load_melodies(args.valid)
    if not train:
        raise CorpusError("no training melodies (give --train and/or --corpus)")
    extra = {
        "command": "notegen-train " + shlex.join(sys.argv[1:]),
        "sources": [str(p) for p in [*args.train, *args.corpus]],
        "valid_sources": [str(p) for p in args.valid],
    }
    if args.arch == "seed":
        from .seed_fit import SeedFitConfig, fit_seed

        config = SeedFitConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            window=args.window,
            seed=args.seed,
            max_steps=args.max_steps,
            threads=args.threads,
            transpose=args.transpose,
        )
        fit_seed(train, valid, args.out, config, extra=extra)
        return 0
    from .fit import FitConfig, fit

    config = FitConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_len=args.max_len,
        learning_rate=args.lr,
        transpose=args.transpose,
        seed=args.seed,
        max_steps=args.max_steps,
        threads=args.threads,
        units=args.units,
        layers=args.layers,
        dropout=args.dropout,
    )
    fit(train, valid, args.out, config, extra=extra)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notegen-train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _fit_args(sub)
    return parser


COMMANDS = {"fit": cmd_fit}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (CorpusError, ValueError, FileNotFoundError) as err:
        print(f"notegen-train {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
