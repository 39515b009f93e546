"""The arguments of ``notegen.generateMelody`` and ``notegen-melody generate``, validated.

The language server and the command line take the same argument object; every bad one is
an :class:`ArgumentError` that names it and says why, raised before any text is changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class ArgumentError(ValueError):
    """A bad argument: ``name`` says which one, the message says why."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"{name}: {why}")
        self.name = name
        self.why = why


MAX_LENGTH = 100_000


@dataclass(frozen=True)
class GenerateOptions:
    """Validated arguments of ``notegen.generateMelody`` / ``notegen-melody generate``."""

    length: int = 32
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 0.95
    seed: int | None = None
    key: str | int | None = None
    scale: str | None = None
    bpm: float | None = None
    seed_notes: tuple[int | float | None, ...] = ()

    def sampling(self) -> dict[str, Any]:
        """The keywords every generation function samples with (temperature, top-k, top-p,
        seed): one place to pass them on."""
        return {
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "seed": self.seed,
        }


def _number(args: dict, name: str, default: float, lo: float, hi: float, *, lo_open=False):
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ArgumentError(name, f"must be a number, not {value!r}")
    if value < lo or value > hi or (lo_open and value == lo):
        low = f"greater than {lo:g}" if lo_open else f"at least {lo:g}"
        raise ArgumentError(name, f"must be {low} and at most {hi:g}, not {value!r}")
    return float(value)


def _integer(args: dict, name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ArgumentError(name, f"must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ArgumentError(name, f"must be from {lo} to {hi}, not {value}")
    return value


def parse_seed_notes(value: object) -> tuple[int | float | None, ...]:
    """Seed notes as a list (``[":c4", "e4", 67, ":r"]``) or text (``":c4, :e4 :g4"``)."""
    from notegen.notes import MAX_SONIC_PI_NOTE, NoteError, note_to_midi

    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = [t for t in value.replace(",", " ").split() if t]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ArgumentError("seed_notes", f"must be a list of notes, not {value!r}")
    out: list[int | float | None] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = item.strip().strip("[]")
        try:
            midi = note_to_midi(item)  # type: ignore[arg-type]
        except NoteError as exc:
            raise ArgumentError(f"seed_notes[{i}]", str(exc)) from None
        # (one above 231 was written into the generated voice as ``:Ab40`` or worse)
        if midi is not None and not (math.isfinite(midi) and 0 <= midi <= MAX_SONIC_PI_NOTE):
            given = f"{item!r} (MIDI {midi:g})" if isinstance(item, str) else f"{midi:g}"
            why = f"is {given}: Sonic Pi's notes are 0-{MAX_SONIC_PI_NOTE}"
            raise ArgumentError(f"seed_notes[{i}]", why)
        out.append(midi)
    return tuple(out)


def parse_generate_options(args: object, defaults: GenerateOptions) -> GenerateOptions:
    """Validate a generateMelody argument object; :class:`ArgumentError` names the bad one."""
    from notegen.model.sampling import ScaleError, parse_key, parse_scale

    if not isinstance(args, dict):
        raise ArgumentError("arguments", f"must be one JSON object, not {args!r}")
    length = _integer(args, "length", defaults.length, 1, MAX_LENGTH)
    key = args.get("key", defaults.key)
    if isinstance(key, str) and key.strip().lower() in ("", "auto", ":auto"):
        key = None
    if key is not None:
        try:
            parse_key(key)
        except ScaleError as exc:
            raise ArgumentError("key", str(exc)) from None
    scale = args.get("scale", defaults.scale)
    if isinstance(scale, str) and scale.strip().lower() in ("", "auto", ":auto"):
        scale = None
    if scale is not None:
        try:
            scale = parse_scale(scale)
        except ScaleError as exc:
            raise ArgumentError("scale", str(exc)) from None
    seed_notes = parse_seed_notes(args.get("seed_notes"))
    assert length is not None
    if len(seed_notes) > length:
        raise ArgumentError("seed_notes", f"has {len(seed_notes)} notes, more than length {length}")
    bpm = args.get("bpm")
    if bpm is not None:
        bpm = _number(args, "bpm", 60.0, 1, 10_000)  # (1e-300 was written as use_bpm 1e-300)
    return GenerateOptions(
        length=length,
        temperature=_number(args, "temperature", defaults.temperature, 0, 10),
        top_k=_integer(args, "top_k", defaults.top_k, 0, 1000) or 0,
        top_p=_number(args, "top_p", defaults.top_p, 0, 1, lo_open=True),
        seed=_integer(args, "seed", defaults.seed, 0, 2**63 - 1),
        key=key,
        scale=scale,
        bpm=bpm,
        seed_notes=seed_notes,
    )
