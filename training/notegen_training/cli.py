"""``notegen-train``: extract, fit, export, quantize, evaluate.

The shipped model, from a fresh clone (``runs/`` is git-ignored; extraction parses ~1,500
music21 files once, cached in ~/.cache/notegen; the fit took 56 min on 2 shared CPU cores)::

    notegen-train extract --out runs/melodies
    notegen-train fit --train runs/melodies/train.jsonl.gz --valid runs/melodies/valid.jsonl.gz \\
        --out runs/main --seed 0
    notegen-train export runs/main --out models/notegen.onnx
    notegen-train quantize models/notegen.json   # int8 LSTM weights; float graph kept beside
    notegen-train evaluate models/notegen.json runs/melodies/valid.jsonl.gz \\
        --ngram-train runs/melodies/train.jsonl.gz --seed-model models/seed.json --record valid

A small model of your own in a few minutes: ``fit --corpus my_pieces/ --out runs/mine`` (MIDI,
MusicXML, ABC and Sonic Pi files, folders or globs; converted once into shards, then streamed)
and shrink it, e.g. ``--units 128 --epochs 10``. ``convert`` does the conversion alone;
``fit --shards DIR --distributed`` trains on several workers (``TF_CONFIG``). An interrupted
convert or fit resumes when the same command is run again."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from notegen.model.tunes import KINDS

from .corpora.commands import (
    add_convert_args,
    add_stream_fit_args,
    cmd_convert,
    cmd_stream_fit,
    wants_stream,
)
from .corpus import CorpusError


def _fit_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from .fit import FitConfig

    d = FitConfig()
    p = sub.add_parser("fit", help="train a model (resumes from the checkpoint in --out)")
    p.add_argument("--train", nargs="+", default=[], help="melody .jsonl(.gz) or Sonic Pi files")
    p.add_argument("--valid", nargs="*", default=[], help="validation melodies")
    p.add_argument(
        "--corpus",
        nargs="*",
        default=[],
        help="your own music: MIDI, MusicXML, ABC, Sonic Pi files, folders or globs",
    )
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
    p.add_argument(
        "--samples-per-epoch", type=int, default=40_000, help="seed arch: notes sampled per epoch"
    )
    p.add_argument("--limit", type=int, default=None, help="use only the first N train melodies")
    p.add_argument(
        "--voices", nargs="*", default=[], help="multi-voice pieces (extract-voices .jsonl.gz)"
    )
    p.add_argument("--valid-voices", nargs="*", default=[], help="validation pieces")
    p.add_argument(
        "--conditioning",
        action="store_true",
        help="add the conditioning input (other voices, metre, distance to the end)",
    )
    p.add_argument("--voices-repeat", type=int, default=d.voices_repeat)
    p.add_argument("--init-from", default=None, help="start from this model's .onnx weights")
    add_stream_fit_args(p)


def cmd_fit(args: argparse.Namespace) -> int:
    from .sources import load_melodies

    if wants_stream(args):
        return cmd_stream_fit(args, _fit_config(args))

    train = load_melodies([*args.train, *args.corpus])
    if args.limit:
        train = train[: args.limit]
    valid = load_melodies(args.valid)
    if not train:
        raise CorpusError("no training melodies (give --train and/or --corpus)")
    extra = {
        "command": "notegen-train " + shlex.join(args.argv),
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
            samples_per_epoch=args.samples_per_epoch,
        )
        fit_seed(train, valid, args.out, config, extra=extra)
        return 0
    from .fit import fit
    from .voices_corpus import read_pieces

    train_pieces = [p for path in args.voices for p in read_pieces(path)]
    valid_pieces = [p for path in args.valid_voices for p in read_pieces(path)]
    extra["voices"] = list(args.voices)
    extra["valid_voices"] = list(args.valid_voices)
    fit(
        train,
        valid,
        args.out,
        _fit_config(args),
        extra=extra,
        train_pieces=train_pieces,
        valid_pieces=valid_pieces,
    )
    return 0


def _fit_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from notegen.model.conditioning import COND_DIM

    from .fit import FitConfig

    return FitConfig(
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
        conditioning=COND_DIM if args.conditioning else 0,
        voices_repeat=args.voices_repeat,
        init_from=args.init_from,
    )


def _extract_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("extract", help="extract melodies from the music21 corpus (cached)")
    p.add_argument("--out", required=True, help="folder for train/valid/test .jsonl.gz")
    p.add_argument("--cache", default=None, help="cache folder (default ~/.cache/notegen)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--folders",
        nargs="*",
        default=None,
        help="corpus folders (default: essenFolksong oneills1850 ryansMammoth "
        "airdsAirs miscFolk bach)",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N source files")
    p.add_argument(
        "--check",
        default=None,
        help="a melodies folder (train/valid .jsonl.gz) whose split must be reproduced",
    )
    p.add_argument(
        "--only",
        choices=("train", "valid", "test"),
        default=None,
        help="extract one split, converting only its tunes (e.g. the test split next to "
        "../shared/data/melodies, which holds train and valid)",
    )
    p.add_argument(
        "--known",
        default=None,
        help="with --only: a melodies folder with the other splits, whose melodies count "
        "for duplicates as in a whole extraction",
    )


def cmd_extract(args: argparse.Namespace) -> int:
    from . import music21_corpus as m21
    from .corpus import read_jsonl, write_jsonl

    sources = m21.list_sources(args.folders) if args.folders else m21.list_sources()
    if args.limit:
        sources = sources[: args.limit]
    cache = Path(args.cache) if args.cache else None
    if args.known and not args.only:
        raise SystemExit("extract: --known goes with --only")
    melodies = m21.extract(sources, cache, workers=args.workers, only=args.only)
    parts = m21.split(melodies)
    report: dict[str, object] = {"sources": len(sources), "melodies": len(melodies)}
    if args.only:
        known = []
        for name in parts.keys() - {args.only}:
            path = Path(args.known) / f"{name}.jsonl.gz" if args.known else None
            if path is not None and path.exists():
                known.extend(read_jsonl(path))
        # a melody is dropped if an earlier id (of any split) has the same notes
        kept = m21.deduplicate([*known, *melodies])
        parts = {args.only: [m for m in kept if m21.split_of(m.id) == args.only]}
        report["known_melodies"] = len(known)
    out = Path(args.out)
    for name, items in parts.items():
        write_jsonl(out / f"{name}.jsonl.gz", items)
        report[name] = {"melodies": len(items), "events": sum(len(m) for m in items)}
    if args.check:
        check: dict[str, object] = {}
        for name in ("train", "valid"):
            path = Path(args.check) / f"{name}.jsonl.gz"
            if not path.exists():
                continue
            theirs = {m.id: m for m in read_jsonl(path)}
            ours = {m.id: m for m in parts[name]}
            same_notes = sum(
                1 for k in ours.keys() & theirs.keys() if ours[k].events == theirs[k].events
            )
            check[name] = {
                "reference": len(theirs),
                "ours": len(ours),
                "common_ids": len(ours.keys() & theirs.keys()),
                "only_ours": sorted(ours.keys() - theirs.keys())[:20],
                "only_reference": sorted(theirs.keys() - ours.keys())[:20],
                "only_ours_count": len(ours.keys() - theirs.keys()),
                "only_reference_count": len(theirs.keys() - ours.keys()),
                "identical_notes": same_notes,
            }
        report["check"] = check
    print(json.dumps(report, indent=1))
    return 0


def _extract_voices_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "extract-voices", help="extract multi-voice pieces (aligned voices) from music21"
    )
    p.add_argument("--out", required=True, help="folder for train/valid/test .jsonl.gz")
    p.add_argument("--cache", default=None, help="cache folder (default ~/.cache/notegen)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--collections", nargs="*", default=None, help="corpus folders (default: bach chorales)"
    )


def cmd_extract_voices(args: argparse.Namespace) -> int:
    from . import voices_corpus as vc

    sources = (
        vc.list_piece_sources(args.collections) if args.collections else vc.list_piece_sources()
    )
    cache = Path(args.cache) if args.cache else None
    pieces = vc.extract_pieces(sources, cache, workers=args.workers)
    report: dict[str, object] = {"sources": len(sources), "pieces": len(pieces)}
    for name, items in vc.split_pieces(pieces).items():
        vc.write_pieces(Path(args.out) / f"{name}.jsonl.gz", items)
        report[name] = {
            "pieces": len(items),
            "voices": sum(len(p.voices) for p in items),
            "notes": sum(e.pitch is not None for p in items for v in p.voices for e in v.events),
        }
    print(json.dumps(report, indent=1))
    return 0


def _export_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("export", help="export a fit's best weights to ONNX + model card")
    p.add_argument("run", help="run directory written by fit")
    p.add_argument("--out", required=True, help="path of the .onnx (the card goes beside it)")
    p.add_argument("--weights", choices=["best", "last"], default="best")
    p.add_argument("--atol", type=float, default=1e-5)


def cmd_export(args: argparse.Namespace) -> int:
    from .package import export_run

    card = export_run(
        Path(args.run),
        Path(args.out),
        weights=args.weights,
        atol=args.atol,
        command="notegen-train " + shlex.join(args.argv),
    )
    print(json.dumps({k: card[k] for k in ("onnx", "sha256", "parity", "size_bytes")}, indent=1))
    return 0


def _quantize_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "quantize",
        help="int8 LSTM weights for the card's graph (the float graph kept as NAME.fp32.onnx)",
    )
    p.add_argument("card", help="the model card (.json) of an exported stateful model")


def cmd_quantize(args: argparse.Namespace) -> int:
    from .quantize import quantize_card

    card = quantize_card(Path(args.card))
    print(
        json.dumps({k: card[k] for k in ("onnx", "sha256", "size_bytes", "quantization")}, indent=1)
    )
    return 0


def _evaluate_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("evaluate", help="bits/note of a model on melodies (prints JSON)")
    p.add_argument("model", help="a .onnx or .json model (stateful or seed architecture)")
    p.add_argument("data", nargs="+", help="melodies .jsonl(.gz) or Sonic Pi files/folders")
    p.add_argument(
        "--ngram-train",
        nargs="*",
        default=None,
        help="also score Kneser-Ney n-grams trained on these melodies",
    )
    p.add_argument("--ngram-orders", nargs="*", type=int, default=[3, 6, 9])
    p.add_argument("--seed-model", default=None, help="also score this seed-architecture model")
    p.add_argument(
        "--voices",
        action="store_true",
        help="data are multi-voice pieces (extract-voices .jsonl.gz, or Sonic Pi files read as "
        "the server reads them): score each voice with the other voices as context and alone",
    )
    p.add_argument(
        "--record",
        default=None,
        metavar="NAME",
        help="store the results under metrics.NAME in the model's card",
    )


def cmd_evaluate_voices(args: argparse.Namespace) -> int:
    from .evaluate import piece_voices, score_stateful, sonicpi_voices
    from .sources import is_jsonl
    from .voices_corpus import read_pieces

    jsonl = [d for d in args.data if is_jsonl(Path(d))]
    rb = [d for d in args.data if not is_jsonl(Path(d))]
    pieces = [p for path in jsonl for p in read_pieces(path)]
    sets = [piece_voices(pieces)] if pieces else []
    if rb:
        sets.append(sonicpi_voices(rb))
    melodies = [m for s in sets for m in s.melodies]
    if not melodies:
        raise CorpusError("no voices in " + ", ".join(args.data))
    together = [x for s in sets for x in s.together]
    alone = [x for s in sets for x in s.alone]
    result: dict[str, object] = {
        "data": [str(d) for d in args.data],
        "voices": len(melodies),
        "pieces": len(pieces) + len(rb),
    }
    for label, settings in (("with_voices", together), ("alone", alone)):
        for name, scores in score_stateful(args.model, melodies, settings).items():
            result[f"{label}_{name}" if name != "model" else label] = scores.summary()
    if args.record:
        from .package import record_metrics

        record_metrics(Path(args.model), args.record, result)
    print(json.dumps(result, indent=1))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import score_model, score_ngram
    from .sources import load_melodies

    if args.voices:
        return cmd_evaluate_voices(args)

    melodies = load_melodies(args.data)
    if not melodies:
        raise CorpusError("no melodies in " + ", ".join(args.data))
    result: dict[str, object] = {
        "data": [str(d) for d in args.data],
        "melodies": len(melodies),
    }
    for name, scores in score_model(args.model, melodies).items():
        result[name] = scores.summary()
    if args.seed_model:
        result["seed_architecture"] = score_model(args.seed_model, melodies)["model"].summary()
    if args.ngram_train:
        train = load_melodies(args.ngram_train)
        for name, scores in score_ngram(train, melodies, args.ngram_orders).items():
            result[name] = scores.summary()
    if args.record:
        from .package import record_metrics

        record_metrics(Path(args.model), args.record, result)
        if args.seed_model:
            seed_result = {**result, "model": result["seed_architecture"]}
            seed_result.pop("seed_architecture")
            seed_result.pop("network", None)
            record_metrics(Path(args.seed_model), args.record, seed_result)
    print(json.dumps(result, indent=1))
    return 0


def _save_section(args: argparse.Namespace, model: str | Path, key: str, spec: dict) -> int:
    """Write a fitted section into the model's card with the command that made it, and show it."""
    from .package import update_card

    spec = {**spec, "command": "notegen-train " + shlex.join(args.argv)}
    update_card(Path(model), key, spec)
    print(json.dumps(spec, indent=1))
    return 0


def _tune_copy_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tune-copy",
        help="fit the within-melody copy model's weights on VALIDATION melodies into the card",
    )
    p.add_argument("model", help="an exported stateful model (.onnx or .json)")
    p.add_argument("data", nargs="+", help="validation melodies (.jsonl(.gz)) or Sonic Pi files")
    p.add_argument("--max-order", type=int, default=12, help="longest suffix matched (12)")


def cmd_tune_copy(args: argparse.Namespace) -> int:
    from .copy_fit import fit_copy_mixture
    from .sources import load_melodies

    melodies = load_melodies(args.data)
    if not melodies:
        raise CorpusError("no melodies in " + ", ".join(args.data))
    mixture = fit_copy_mixture(args.model, melodies, max_order=args.max_order)
    spec = {
        **mixture.to_card(),
        "fitted_on": [str(d) for d in args.data],
    }
    return _save_section(args, args.model, "copy_mixture", spec)


def _tune_rhythm_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tune-rhythm",
        help="fit the rhythm experts' weights (notegen.model.rhythm) on VALIDATION data into "
        "the card",
    )
    p.add_argument("model", help="an exported stateful model (.onnx or .json)")
    p.add_argument("--melodies", nargs="*", default=[], help="validation melodies (.jsonl(.gz))")
    p.add_argument(
        "--voices",
        nargs="*",
        default=[],
        help="validation pieces (extract-voices .jsonl.gz): each voice with the others and alone",
    )
    p.add_argument(
        "--sonicpi",
        nargs="*",
        default=[],
        help="Sonic Pi files/folders (voices read as the server reads them, with the others and "
        "alone); each file is also scored with weights fitted without it (leave one piece out)",
    )
    p.add_argument(
        "--record",
        default=None,
        metavar="NAME",
        help="store the leave-one-piece-out figures under metrics.NAME in the card",
    )
    p.add_argument("--max-order", type=int, default=16, help="longest rhythm matched (16)")


def cmd_tune_rhythm(args: argparse.Namespace) -> int:
    from notegen.model.conditioning import Setting

    from .evaluate import piece_voices, sonicpi_voices
    from .package import update_card
    from .rhythm_fit import fit_rhythm_mixture
    from .sources import load_melodies
    from .voices_corpus import read_pieces

    melodies = load_melodies(args.melodies) if args.melodies else []
    settings: list[Setting | None] = [None] * len(melodies)
    groups: list[str | None] = [None] * len(melodies)
    pieces = [p for path in args.voices for p in read_pieces(path)]
    if pieces:
        voices = piece_voices(pieces)
        melodies += voices.melodies * 2
        settings += voices.together + voices.alone
        groups += [None] * (2 * len(voices.melodies))
    if args.sonicpi:
        voices = sonicpi_voices(args.sonicpi)
        melodies += voices.melodies * 2
        settings += voices.together + voices.alone
        groups += [m.id.rsplit("#", 1)[0] for m in voices.melodies] * 2
    if not melodies:
        raise CorpusError("no melodies or voices given")
    mixture, held = fit_rhythm_mixture(
        args.model, melodies, settings, max_order=args.max_order, groups=groups
    )
    spec = {
        **mixture.to_card(),
        "fitted_on": [str(d) for d in [*args.melodies, *args.voices, *args.sonicpi]],
        "command": "notegen-train " + shlex.join(args.argv),
    }
    update_card(Path(args.model), "rhythm_mixture", spec)
    if held and args.record:
        from .package import record_metrics

        record_metrics(Path(args.model), args.record, {"data": args.sonicpi, **held})
    print(
        json.dumps(
            {**{k: v for k, v in spec.items() if k != "weights"}, "held_out": held}, indent=1
        )
    )
    return 0


def _tune_imitation_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tune-imitation",
        help="fit the imitation expert's weights (notegen.model.imitation) on VALIDATION voices",
    )
    p.add_argument("model", help="an exported stateful model (.onnx or .json)")
    p.add_argument("voices", nargs="+", help="validation pieces (extract-voices .jsonl.gz)")
    p.add_argument("--max-order", type=int, default=16, help="longest interval run matched (16)")


def cmd_tune_imitation(args: argparse.Namespace) -> int:
    from .evaluate import piece_voices
    from .imitation_fit import fit_imitation_mixture
    from .voices_corpus import read_pieces

    pieces = [p for path in args.voices for p in read_pieces(path)]
    if not pieces:
        raise CorpusError("no pieces in " + ", ".join(args.voices))
    voices = piece_voices(pieces)
    mixture = fit_imitation_mixture(
        args.model, voices.melodies, voices.together, max_order=args.max_order
    )
    spec = {
        **mixture.to_card(),
        "fitted_on": [str(d) for d in args.voices],
    }
    return _save_section(args, args.model, "imitation_mixture", spec)


DEFAULT_TUNE_KINDS = (
    "pitch_duration",
    "interval_duration",
    "pitch",
    "interval",
    "melody_interval",
)
"""The training tunes' views the shipped model mixes, most specific first (valid melodies,
halves cross-validated: each adds top-3 on top of the ones before)."""


def _tune_tunes_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tune-tunes",
        help="index the TRAINING melodies (notegen.model.tunes) beside the model and fit the "
        "index's weights on VALIDATION melodies",
    )
    p.add_argument(
        "model", help="an exported stateful model (.json card; the index goes beside it)"
    )
    p.add_argument("--train", nargs="+", required=True, help="training melodies (.jsonl.gz)")
    p.add_argument("--valid", nargs="+", required=True, help="validation melodies (.jsonl.gz)")
    p.add_argument(
        "--voices",
        nargs="*",
        default=[],
        help="validation pieces (extract-voices .jsonl.gz): the weights for a voice heard with "
        "other voices (without them a voice takes the weights of a melody alone)",
    )
    p.add_argument(
        "--kinds",
        nargs="+",
        choices=KINDS,
        default=list(DEFAULT_TUNE_KINDS),
        help="the views indexed, in the order they are mixed (default: %(default)s)",
    )
    p.add_argument(
        "--index-valid",
        action="store_true",
        help="after the fit, index the validation melodies too (the weights stay those "
        "fitted with the training melodies alone; the validation figures are then not "
        "held out)",
    )


def cmd_tune_tunes(args: argparse.Namespace) -> int:
    from notegen.model.network import MelodyModel

    from .evaluate import piece_voices
    from .sources import load_melodies
    from .tunes_fit import build_experts, fit_tunes, reindex
    from .voices_corpus import read_pieces

    card = Path(args.model).with_suffix(".json")
    train, valid = load_melodies(args.train), load_melodies(args.valid)
    if not train or not valid:
        raise CorpusError("no training or no validation melodies")
    pieces = [p for path in args.voices for p in read_pieces(path)]
    voices = piece_voices(pieces) if pieces else None
    model = MelodyModel.load(card)
    file = card.with_suffix(".tunes.npz").name
    experts = build_experts(model, train, args.kinds)
    fit = fit_tunes(
        card, experts, file, valid, (voices.melodies, voices.together) if voices else None
    )
    indexed = [m for m in train if m.events]
    mixture = fit.mixture
    if args.index_valid:
        indexed += [m for m in valid if m.events]
        mixture = replace(
            mixture, experts=tuple(reindex(model, e, indexed) for e in mixture.experts)
        )
    mixture.save(card.parent / file)
    figures = {}
    for name, scored in (("alone", fit.alone), ("with_voices", fit.heard)):
        if scored is not None:
            weights = scored.weights()
            figures[name] = {
                "events": len(scored.served),
                "bits_before": round(scored.bits(None), 4),
                "bits_after_each": [
                    round(scored.bits(weights[: k + 1]), 4) for k in range(len(weights))
                ],
                "bits_after": round(scored.bits(weights), 4),
                "bits_held_out_halves": round(scored.held_out_bits(), 4),
            }
    index = mixture.index
    spec = {
        **mixture.to_card(),
        "tokens": index.size if index is not None else 0,
        "melodies": len(indexed),
        "fit": figures,
        "fitted_with_index_of": [str(d) for d in args.train],
        "indexed": [str(d) for d in [*args.train, *(args.valid if args.index_valid else [])]],
        "fitted_on": [str(d) for d in [*args.valid, *args.voices]],
    }
    return _save_section(args, card, "tune_mixture", spec)


def _tune_consonance_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tune-consonance",
        help="fit the weight generation gives notes consonant with the other voices "
        "(notegen.model.consonance) on voices heard with their pieces: VALIDATION chorales "
        "(extract-voices .jsonl.gz) or Sonic Pi files read as the server reads them",
    )
    p.add_argument("model", help="an exported stateful model (.onnx or .json)")
    p.add_argument(
        "voices",
        nargs="+",
        help="validation pieces (extract-voices .jsonl.gz) and/or Sonic Pi .rb files or folders",
    )
    p.add_argument(
        "--match-generated",
        action="store_true",
        help="instead of the likelihood fit: the weight with which each voice of the given Sonic "
        "Pi files, replaced by a generated one, is as consonant as the files' own voices "
        "(notegen_training.consonance_match)",
    )
    p.add_argument("--seeds", default="1,2,3", help="generation seeds of --match-generated")


def cmd_tune_consonance(args: argparse.Namespace) -> int:
    from .consonance_fit import fit_consonance
    from .evaluate import piece_voices, sonicpi_voices
    from .sources import is_jsonl
    from .voices_corpus import read_pieces

    jsonl = [path for path in args.voices if Path(path).is_file() and is_jsonl(Path(path))]
    sonicpi = [path for path in args.voices if path not in jsonl]
    if args.match_generated:
        return _match_consonance(args, jsonl, sonicpi)
    pieces = [p for path in jsonl for p in read_pieces(path)]
    melodies, settings = [], []
    if pieces:
        chorales = piece_voices(pieces)
        melodies += chorales.melodies
        settings += chorales.together
    if sonicpi:
        files = sonicpi_voices(sonicpi)
        melodies += files.melodies
        settings += files.together
    if not melodies:
        raise CorpusError("no voices in " + ", ".join(args.voices))
    fit = fit_consonance(args.model, melodies, settings)
    spec = {
        **fit.bias.to_card(),
        "onsets": fit.onsets,
        "consonant_real": round(fit.real, 4),
        "consonant_sampled_before": round(fit.expected, 4),
        "fitted_on": [str(d) for d in args.voices],
    }
    return _save_section(args, args.model, "consonance_bias", spec)


def _match_consonance(args: argparse.Namespace, jsonl: list[str], sonicpi: list[str]) -> int:
    from .consonance_match import match_weight

    if jsonl or not sonicpi:
        raise CorpusError("--match-generated reads Sonic Pi files (.rb or folders) only")
    try:
        seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        raise CorpusError(f"--seeds: comma-separated integers, not {args.seeds!r}") from None
    if not seeds:
        raise CorpusError("--seeds: at least one seed")
    fit = match_weight(args.model, sonicpi, seeds)
    spec = {
        **fit.bias.to_card(),
        "matched": "generated voices as consonant as the files' own",
        "consonant_pieces": round(fit.pieces, 4),
        "consonant_generated": round(fit.generated, 4),
        "seeds": seeds,
        "tried": [[round(w, 4), round(c, 4)] for w, c in fit.steps],
        "fitted_on": [str(d) for d in sonicpi],
    }
    return _save_section(args, args.model, "consonance_bias", spec)


def _tune_repeats_args(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "tune-repeats",
        help="measure how often the TRAINING melodies repeat a note and set the rate generation "
        "keeps to (notegen.model.repeats)",
    )
    p.add_argument("model", help="an exported stateful model (.onnx or .json)")
    p.add_argument("train", nargs="+", help="training melodies (.jsonl.gz, folders, .rb files)")
    p.add_argument("--gain", type=float, default=1.0, help="log-odds per repeat behind the rate")
    p.add_argument("--bound", type=float, default=3.0, help="largest log-odds change")
    p.add_argument("--max-run", type=int, default=9, help="longest run of one pitch (0: none)")


def cmd_tune_repeats(args: argparse.Namespace) -> int:
    from notegen.model.repeats import RepeatControl, training_rate

    from .sources import load_melodies

    melodies = load_melodies(args.train)
    if not melodies:
        raise CorpusError("no melodies in " + ", ".join(args.train))
    rate, pairs = training_rate([e.pitch for e in m.events] for m in melodies)
    if not pairs:
        raise CorpusError("no two pitched notes in a row in " + ", ".join(args.train))
    control = RepeatControl(rate, args.gain, args.bound, args.max_run)
    spec = {
        **control.to_card(),
        "pairs": pairs,
        "melodies": len(melodies),
        "fitted_on": [str(d) for d in args.train],
    }
    return _save_section(args, args.model, "repeats", spec)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notegen-train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _extract_args(sub)
    _extract_voices_args(sub)
    _fit_args(sub)
    add_convert_args(sub)
    _export_args(sub)
    _quantize_args(sub)
    _evaluate_args(sub)
    _tune_copy_args(sub)
    _tune_rhythm_args(sub)
    _tune_imitation_args(sub)
    _tune_consonance_args(sub)
    _tune_tunes_args(sub)
    _tune_repeats_args(sub)
    return parser


COMMANDS = {
    "extract": cmd_extract,
    "extract-voices": cmd_extract_voices,
    "fit": cmd_fit,
    "convert": cmd_convert,
    "export": cmd_export,
    "quantize": cmd_quantize,
    "evaluate": cmd_evaluate,
    "tune-copy": cmd_tune_copy,
    "tune-rhythm": cmd_tune_rhythm,
    "tune-imitation": cmd_tune_imitation,
    "tune-consonance": cmd_tune_consonance,
    "tune-tunes": cmd_tune_tunes,
    "tune-repeats": cmd_tune_repeats,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return COMMANDS[args.command](args)
    except (CorpusError, ValueError, FileNotFoundError) as err:
        print(f"notegen-train {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
