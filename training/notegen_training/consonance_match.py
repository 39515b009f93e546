"""The consonance weight that makes generated voices as consonant as the pieces' own voices.

``tune-consonance`` by default fits the weight by maximum likelihood on real voices: the
sampled distribution, read one real note at a time, becomes as consonant as the voices it
predicts. A generated voice, though, hears its own notes, not the real ones, so what it
sounds like is a second question, and the one issue 10 measures: each voice of a Sonic Pi file
replaced by a generated one, the share of its onsets consonant with everything the other
voices sound, against the piece's own voice over the same span. ``--match-generated`` answers
it directly: the weight is searched (bisection: more weight, more consonance) until the
generated voices of the given files are, pooled over the seeds, as consonant as the files' own.

``benchmarks/voice_consonance.py`` reports the same replacement with :func:`replace_voice`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from notegen.keys import detect_key, tonic_name
from notegen.melody import Event
from notegen.model.conditioning import Setting, VoiceTimes, sounding
from notegen.model.consonance import ConsonanceBias, consonant_notes
from notegen.model.ensemble import VoiceLine, document_lines, setting_for
from notegen.model.generate import generate_block
from notegen.model.generate_options import GenerateOptions
from notegen.model.network import MelodyModel


def consonance(events: Sequence[Event], others: Sequence[VoiceTimes]) -> tuple[int, int]:
    """(consonant onsets, onsets with something else sounding) of a voice from beat 0, by
    :func:`notegen.model.consonance.consonant_notes` (the rule generation weights notes by)."""
    voice = VoiceTimes.of(events)
    notes = np.isfinite(voice.pitches)
    heard = sounding(tuple(others), voice.onsets[notes])
    good = total = 0
    for pitch, row in zip(voice.pitches[notes], heard, strict=True):
        if not np.isfinite(row).any():
            continue
        total += 1
        good += bool(consonant_notes(np.array([pitch]), row)[0])
    return good, total


@dataclass(frozen=True)
class Replacement:
    """One voice of a file and how a generated voice takes its place."""

    own: list[Event]
    """The piece's voice over the span the new one fills (its first ``options.length`` notes)."""
    others: tuple[VoiceTimes, ...]
    """What the other voices sound, on the piece's voice's own time line."""
    options: GenerateOptions
    """The new voice: as many notes, the key detected from the other voices, the voice's bpm."""
    setting: Setting
    """Where the new voice is laid out and what it hears (what ``generateMelody`` gives it)."""


def replace_voice(
    lines: Sequence[VoiceLine], line: VoiceLine, seed: int, max_notes: int = 128
) -> Replacement:
    """How the benchmark and the matching fit replace ``line`` by a generated voice."""
    rest = [ln for ln in lines if ln.number != line.number]
    count = min(max_notes, sum(e.pitch is not None for e in line.events))
    key = detect_key([e for ln in rest for e in ln.events])
    options = GenerateOptions(
        length=count,
        top_p=0.95,
        seed=seed + line.number,
        key=None if key is None else tonic_name(key.tonic),
        scale=None if key is None else key.scale,
        bpm=line.bpms[0],
    )
    pitched = np.cumsum([e.pitch is not None for e in line.events])
    own = list(line.events[: int(np.searchsorted(pitched, count)) + 1])
    # a new voice is laid out on the first other voice's beats (setting_for): it is scored on
    # those, the piece's voice on its own (they differ where tempi do)
    return Replacement(
        own, setting_for(lines, line.number).others, options, setting_for(rest, None)
    )


def file_lines(paths: Sequence[str | Path]) -> list[list[VoiceLine]]:
    """The voices of every Sonic Pi file with at least two (``.rb`` files or folders)."""
    from .sonicpi_corpus import rb_files

    out = []
    for file in rb_files(paths):
        lines = document_lines(file.read_text(encoding="utf-8", errors="replace"))
        if len(lines) >= 2:
            out.append(lines)
    return out


def own_consonance(pieces: Sequence[Sequence[VoiceLine]], max_notes: int = 128) -> float:
    """The pieces' own voices' consonant share, pooled, over the spans new voices fill."""
    good = total = 0
    for lines in pieces:
        for line in lines:
            r = replace_voice(lines, line, 0, max_notes)
            g, t = consonance(r.own, r.others)
            good, total = good + g, total + t
    return good / max(total, 1)


def generated_consonance(
    model: MelodyModel, pieces: Sequence[Sequence[VoiceLine]], seeds: Sequence[int]
) -> float:
    """The generated voices' consonant share, pooled over voices and ``seeds``, with the
    model's current consonance weight."""
    good = total = 0
    for seed in seeds:
        for lines in pieces:
            for line in lines:
                r = replace_voice(lines, line, seed)
                events = generate_block(model, r.options, setting=r.setting).events
                g, t = consonance(events, r.setting.others)
                good, total = good + g, total + t
    return good / max(total, 1)


@dataclass(frozen=True)
class MatchedWeight:
    bias: ConsonanceBias
    pieces: float
    """The files' own voices: share of onsets consonant."""
    generated: float
    """Generated voices with the weight."""
    steps: list[tuple[float, float]]
    """(weight, generated share) of every weight tried."""


def match_weight(
    model_path: str | Path,
    paths: Sequence[str | Path],
    seeds: Sequence[int] = (1, 2, 3),
    low: float = -1.0,
    high: float = 2.0,
    steps: int = 7,
) -> MatchedWeight:
    """Bisect the weight in [``low``, ``high``] until generated voices are as consonant as the
    pieces' own (to (high - low) / 2^steps)."""
    pieces = file_lines(paths)
    if not pieces:
        raise ValueError(
            "no Sonic Pi file with two voices or more in " + ", ".join(map(str, paths))
        )
    model = MelodyModel.load(model_path)
    target = own_consonance(pieces)
    tried: list[tuple[float, float]] = []

    def at(weight: float) -> float:
        model.consonance = ConsonanceBias(weight)
        share = generated_consonance(model, pieces, seeds)
        tried.append((weight, share))
        return share

    for _ in range(steps):
        middle = (low + high) / 2
        if at(middle) < target:
            low = middle
        else:
            high = middle
    weight = (low + high) / 2
    share = at(weight)
    return MatchedWeight(ConsonanceBias(weight), target, share, tried)
