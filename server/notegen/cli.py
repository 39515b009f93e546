"""Command lines: ``notegen-lsp`` (the language server) and ``notegen-melody`` (no editor).

``notegen-lsp`` speaks LSP on stdio by default, or listens with ``--tcp``/``--ws`` on ``--host``
(127.0.0.1) and ``--port``. Logs go to stderr or ``--log-file``, never to stdout: stdout is the
protocol. Heavy imports (pygls, numpy, onnxruntime) happen after argument parsing, so
``--version`` and ``--help`` are instant.

``notegen-melody generate`` prints a playable block to stdout, with the options of the
``notegen.generateMelody`` command. Other subcommands (``play``, ``render``) plug in through
``notegen.playback.play_cli.add_subcommands(subparsers)`` when that module is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from notegen import __version__

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _setup_logging(log_file: str | None, verbose: int) -> None:
    """Log to ``log_file`` or stderr; never stdout (the LSP channel)."""
    level = logging.WARNING - 10 * min(verbose, 2)
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# -- notegen-lsp -------------------------------------------------------------------------------


def lsp_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notegen-lsp",
        description="notegen language server: melody completion for Sonic Pi (stdio by default)",
    )
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="speak LSP on stdio (default)")
    transport.add_argument("--tcp", action="store_true", help="listen for one client over TCP")
    transport.add_argument("--ws", action="store_true", help="listen for one client over WebSocket")
    parser.add_argument("--host", default="127.0.0.1", help="address for --tcp/--ws (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=2087,
        help="port for --tcp/--ws (2087; 0: any free port, printed on stderr)",
    )
    parser.add_argument(
        "--model", help="model .onnx or its .json card (default: $NOTEGEN_MODEL or shipped)"
    )
    parser.add_argument("--log-file", help="write logs here instead of stderr")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--version", action="version", version=f"notegen-lsp {__version__}")
    return parser


def lsp_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``notegen-lsp``."""
    args = lsp_parser().parse_args(argv)
    if not 0 <= args.port < 65536:
        print(f"notegen-lsp: --port must be 0-65535, not {args.port}", file=sys.stderr)
        return 2
    _setup_logging(args.log_file, args.verbose)
    from notegen.lsp.server import create_server

    server = create_server(args.model)
    transport = "tcp" if args.tcp else "ws" if args.ws else "stdio"
    return server.serve(transport, args.host, args.port)


# -- notegen -----------------------------------------------------------------------------------


def _add_generate(subparsers: argparse._SubParsersAction) -> None:
    gen = subparsers.add_parser(
        "generate",
        help="print a playable Sonic Pi block (same options as notegen.generateMelody)",
        description="Generate a melody with the model and print a playable Sonic Pi voice.",
    )
    gen.add_argument("--length", type=int, default=32, help="notes in the melody (32)")
    gen.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (1.0)")
    gen.add_argument("--top-p", dest="top_p", type=float, default=0.95, help="nucleus (0.95)")
    gen.add_argument("--top-k", dest="top_k", type=int, default=0, help="top-k, 0 = off (0)")
    gen.add_argument("--seed", type=int, help="random seed: same seed, same block")
    gen.add_argument("--key", help="tonic, e.g. c, :eb, fs (default: from --context or none)")
    gen.add_argument("--scale", help="Sonic Pi scale name, e.g. major, minor_pentatonic")
    gen.add_argument("--bpm", type=float, help="tempo (default: the context's, else 60)")
    gen.add_argument("--seed-notes", dest="seed_notes", help='opening notes, e.g. ":c4, :e4"')
    gen.add_argument(
        "--context", type=Path, help="a Sonic Pi file: voice number, key and style come from it"
    )
    gen.add_argument("--voice", type=int, help="voice number (default: next free in --context)")
    gen.add_argument("--model", help="model .onnx or .json card (default: shipped model)")
    gen.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from notegen.model.ensemble import piece_lines, setting_for
    from notegen.model.generate import generate_block
    from notegen.model.generate_options import (
        ArgumentError,
        GenerateOptions,
        parse_generate_options,
    )
    from notegen.model.network import MelodyModel, ModelError, default_model_path
    from notegen.sonicpi import next_free_voice
    from notegen.sonicpi.piece import piece_bpm, piece_of
    from notegen.sonicpi.placement import new_voice_placement
    from notegen.sonicpi.reader import parse, read_doc

    raw = {
        k: getattr(args, k)
        for k in ("length", "temperature", "top_p", "top_k", "seed", "key", "scale", "bpm")
    }
    raw["seed_notes"] = args.seed_notes
    try:
        options = parse_generate_options(raw, GenerateOptions())
    except ArgumentError as exc:
        option = exc.name.replace("_", "-")
        print(f"notegen-melody generate: --{option}: {exc.why}", file=sys.stderr)
        return 2
    text = ""
    if args.context is not None:
        try:
            text = args.context.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"notegen-melody generate: --context {args.context}: {exc}", file=sys.stderr)
            return 2
    if args.voice is not None and args.voice < 1:
        print(f"notegen-melody generate: --voice must be ≥ 1, not {args.voice}", file=sys.stderr)
        return 2
    try:
        model = MelodyModel.load(args.model or default_model_path())
    except ModelError as exc:
        print(f"notegen-melody generate: {exc}", file=sys.stderr)
        return 1
    # The piece: its voices' key, tempo (cN, else the use_bpm where they play, else the one in
    # force where the block would go), spelling, form and the register they leave free.
    doc = parse(text)
    piece = piece_of(doc, read_doc(doc))
    voices = [ev for v in piece.voices for ev in v.melody()]
    # the new voice hears the piece's voices (a conditioned model; others ignore it)
    setting = setting_for(piece_lines(piece), args.voice)
    block = generate_block(
        model,
        options,
        voice=args.voice or next_free_voice(text),
        document_events=voices or [ev for a in piece.arrays for ev in a.events()],
        document_bpm=piece_bpm(doc, piece, new_voice_placement(doc).offset) if text else None,
        style=piece.style,
        form=piece.form,
        register=piece.new_voice_register(),
        setting=setting,
    )
    sys.stdout.write(block.text.rstrip("\n") + "\n")
    return 0


def main_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="notegen-melody", description="notegen: melodies for Sonic Pi"
    )
    parser.add_argument("--version", action="version", version=f"notegen-melody {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate(subparsers)
    from notegen.model import library as model_library

    model_library.add_subcommand(subparsers)
    if importlib.util.find_spec("notegen.playback.play_cli") is not None:
        from notegen.playback import play_cli

        play_cli.add_subcommands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``notegen-melody``."""
    args = main_parser().parse_args(argv)
    _setup_logging(None, args.verbose)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(lsp_main())
