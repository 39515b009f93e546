"""``notegen-melody play FILE.rb`` and ``notegen-melody render FILE.rb --wav W.wav --midi M.mid``.

``play`` sends a file (or one voice of it: ``--voice N``) to a running Sonic Pi, says which
Sonic Pi it found and how, and prints what Sonic Pi reports as ``FILE:LINE: message`` (an
invalid note at the note's own line); Ctrl-C stops the music. ``render`` writes a standard MIDI
file of the file's note arrays (no Sonic Pi needed) and/or a WAV recorded by Sonic Pi itself;
neither ever replaces an existing file without ``--force``, and each is written under a
temporary name and renamed only when complete. The ``notegen-melody`` command adds these
through :func:`add_subcommands`; ``python -m notegen.playback.play_cli`` runs them on their own.

Exit codes: 0 done, 1 Sonic Pi reported errors or the file has none to render, 2 Sonic Pi is
not reachable (the message says exactly why) or an output file exists.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from notegen.playback.midi_file import Step, write_midi
from notegen.playback.output_files import check_target, install, temp_beside
from notegen.playback.snippets import DEFAULT_BPM, Snippet, block_snippet, voice_snippet
from notegen.playback.sonic_pi_client import Report, RunOutcome, SonicPiClient, SonicPiError
from notegen.sonicpi import LineIndex, NoteArray, Span, read

__all__ = ["add_subcommands", "main", "melody_voices"]

_MARGIN_S = 10.0


def add_subcommands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``play`` and ``render`` on the ``notegen-melody`` command's subparsers."""
    play = subparsers.add_parser(
        "play",
        help="play a Sonic Pi file in a running Sonic Pi",
        description="Send FILE to a running Sonic Pi and report its "
        "errors with their line. Ctrl-C stops the music.",
    )
    play.add_argument("file", type=Path, help="Sonic Pi source (.rb)")
    play.add_argument(
        "--voice",
        type=int,
        default=None,
        metavar="N",
        help="play only voice N (its aN/bN arrays and its own loop), not the whole file",
    )
    play.add_argument(
        "--no-wait",
        action="store_true",
        help="send and return at once instead of waiting for the music to end",
    )
    _connection_args(play)
    play.set_defaults(func=_play)

    render = subparsers.add_parser(
        "render",
        help="render a Sonic Pi file to WAV (via Sonic Pi) and/or MIDI",
        description="Write the note arrays of FILE as a standard MIDI file (--midi; no Sonic "
        "Pi needed) and/or record Sonic Pi playing FILE to a WAV file (--wav).",
    )
    render.add_argument("file", type=Path, help="Sonic Pi source (.rb)")
    render.add_argument("--wav", type=Path, help="WAV file to record (needs Sonic Pi)")
    render.add_argument("--midi", type=Path, help="standard MIDI file to write")
    render.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop recording after this long (default: length of the notes plus a margin)",
    )
    render.add_argument(
        "--force", action="store_true", help="overwrite --wav/--midi files that already exist"
    )
    _connection_args(render)
    render.set_defaults(func=_render)


def _connection_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="Sonic Pi's host (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="Sonic Pi's OSC port (default: found automatically; 4557 for 3.x)",
    )
    parser.add_argument(
        "--token",
        type=int,
        default=None,
        help="Sonic Pi 4.x/5 token (default: from its running server's command line)",
    )
    parser.add_argument(
        "--reply-port",
        type=int,
        default=None,
        help="port Sonic Pi sends its replies to (default: found with --port, 4558 for 3.x)",
    )


def _read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"notegen: cannot read {path}: {exc}") from exc


def _connect(args: argparse.Namespace) -> SonicPiClient:
    client = SonicPiClient.connect(args.host, args.port, args.token, reply_port=args.reply_port)
    print(client.endpoint.describe(), file=sys.stderr)
    return client


def _print_errors(path: Path, text: str, snippet: Snippet, errors: list[Report]) -> None:
    """Sonic Pi's errors as ``FILE:LINE: ...``, at the document line each belongs to."""
    lines = LineIndex(text)
    for error in errors:
        span = snippet.locate(error.line, error.text)
        where = f"{path}:{lines.position(span.start)[0] + 1}" if span is not None else str(path)
        print(f"{where}: Sonic Pi {error.kind.replace('_', ' ')}: {error.text}", file=sys.stderr)


def _print_outcome(path: Path, text: str, snippet: Snippet, outcome: RunOutcome) -> int:
    _print_errors(path, text, snippet, outcome.errors)
    if not outcome.listening:
        print(
            "sent; Sonic Pi's GUI holds its reply port, so its errors show in its own log",
            file=sys.stderr,
        )
    return 1 if outcome.errors else 0


def _snippet(args: argparse.Namespace, text: str) -> tuple[Snippet, str]:
    arrays = read(text)
    if args.voice is not None:
        try:
            return voice_snippet(text, arrays, args.voice), f"voice {args.voice} of {args.file}"
        except ValueError as exc:
            raise SystemExit(f"notegen: {args.file}: {exc}") from exc
    if not text.strip():
        raise SystemExit(f"notegen: {args.file} is empty: nothing to play")
    return block_snippet(text, Span(0, len(text)), arrays), str(args.file)


def _play(args: argparse.Namespace) -> int:
    text = _read_source(args.file)
    snippet, what = _snippet(args, text)
    try:
        with _connect(args) as client:
            if args.no_wait:
                client.run_code(snippet.code)
                print(f"sent {what} to {client.endpoint.describe()}")
                return 0
            try:
                outcome = client.run(snippet.code, timeout=snippet.seconds + _MARGIN_S)
            except KeyboardInterrupt:
                client.stop_all_jobs()
                print("stopped", file=sys.stderr)
                return 130
            if outcome.timed_out and not outcome.errors:
                client.stop_all_jobs()
            status = _print_outcome(args.file, text, snippet, outcome)
            if status == 0:
                print(f"played {what} in {client.endpoint.describe()}")
            return status
    except SonicPiError as exc:
        print(f"notegen: {exc}", file=sys.stderr)
        return 2


def melody_voices(text: str, path: Path | str = "<text>") -> dict[str, list[Step]]:
    """The file's melodies as MIDI steps: one voice per ``aN`` (sections in order), then one
    per ``play_pattern_timed``. Raises ``ValueError`` naming file and line for arrays Sonic Pi
    could not play (invalid notes, missing or bad durations)."""
    lines = LineIndex(text)
    voices: dict[str, list[Step]] = {}
    arrays = [a for a in read(text) if a.durations is not None and a.notes]
    arrays.sort(key=lambda a: (a.voice is None, a.voice or 0, a.section or 0, a.span.start))
    for array in arrays:
        name = (
            f"voice {array.voice}"
            if array.voice is not None
            else (f"{array.name or array.kind} (line {lines.position(array.span.start)[0] + 1})")
        )
        voices.setdefault(name, []).extend(_steps(array, lines, path))
    if not voices:
        raise ValueError(
            f"{path}: no note arrays with durations (aN[k]=[...] with bN[k]=[...], "
            "or play_pattern_timed) to write"
        )
    return voices


def _steps(array: NoteArray, lines: LineIndex, path: Path | str) -> list[Step]:
    bpm = array.bpm if array.bpm and array.bpm > 0 else DEFAULT_BPM
    steps = []
    for index, token in enumerate(array.notes):
        line = lines.position(token.span.start)[0] + 1
        if token.error is not None:
            raise ValueError(f"{path}:{line}: {token.error}")
        beats = array.durations.duration_for(index) if array.durations else None
        if beats is None or beats <= 0:
            raise ValueError(
                f"{path}:{line}: note {token.text} has no positive duration "
                "(Sonic Pi would stop at `sleep nil`)"
            )
        pitches = token.chord if token.chord is not None else (token.midi,)
        steps.append(Step(tuple(float(p) for p in pitches if p is not None), beats, bpm))
    return steps


def _render(args: argparse.Namespace) -> int:
    if args.wav is None and args.midi is None:
        print("notegen-melody render: give --wav OUT.wav and/or --midi OUT.mid", file=sys.stderr)
        return 2
    code = _read_source(args.file)
    try:  # before anything is played or written
        for target in (args.midi, args.wav):
            if target is not None:
                check_target(target.resolve(), args.force)
    except FileExistsError as exc:
        print(f"notegen: {exc}", file=sys.stderr)
        return 2
    if args.midi is not None:
        out = args.midi.resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        temp = temp_beside(out)
        try:
            write_midi(temp, melody_voices(code, args.file))
            install(temp, out, args.force)
        except ValueError as exc:
            print(f"notegen: {exc}", file=sys.stderr)
            return 1
        except FileExistsError as exc:
            print(f"notegen: {exc}", file=sys.stderr)
            return 2
        finally:
            temp.unlink(missing_ok=True)
        print(f"wrote {args.midi}")
    if args.wav is None:
        return 0
    from notegen.playback.render import render_wav  # numpy only when recording

    snippet = block_snippet(code, Span(0, len(code)), read(code))
    try:
        with _connect(args) as client:
            result = render_wav(
                client,
                snippet.code,
                args.wav,
                expected_seconds=snippet.seconds,
                max_seconds=args.max_seconds,
                force=args.force,
            )
    except (SonicPiError, ValueError, FileExistsError) as exc:
        print(f"notegen: {exc}", file=sys.stderr)
        return 2
    _print_errors(args.file, code, snippet, result.errors)
    print(
        f"wrote {result.path} ({result.stats.seconds:.2f} s of sound, "
        f"rms {result.stats.rms:.3f})" + ("" if result.errors else ", no Sonic Pi error")
    )
    return 1 if result.errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="notegen-melody", description=__doc__.split("\n")[0])
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
