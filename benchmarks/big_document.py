"""A large, realistic Sonic Pi document for the latency benchmark (2,000 lines, 20,000 notes).

Written the way the seed project's users write melodies: per voice ``aN=[]``/``bN=[]``, one
``aN[k]=[...]`` note array and its ``bN[k]=[...]`` duration array per section, a ``cN`` bpm
array, and an ``in_thread`` loop that plays them. Notes are a seeded random walk in C major
with some accidentals and rests, so the model sees plausible context and the reader sees every
spelling it must handle. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

__all__ = ["ArraySpan", "BigDocument", "document_from_file", "make_document"]

_NAMES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")
_SCALE = (0, 2, 4, 5, 7, 9, 11)
_DURATIONS = ("0.25", "0.5", "0.5", "1", "1", "1.5", "2")


@dataclass(frozen=True)
class ArraySpan:
    """Where one note array's elements sit: the line, and the column after each element."""

    line: int
    open_col: int  # index of '['
    ends: tuple[int, ...]  # column just after each element (where a ',' or ']' follows)


@dataclass(frozen=True)
class BigDocument:
    text: str
    lines: int
    notes: int
    note_arrays: tuple[ArraySpan, ...]


def _symbol(midi: int) -> str:
    octave, pitch_class = divmod(midi - 12, 12)
    return f":{_NAMES[pitch_class]}{octave}"


def _melody(rng: random.Random, count: int) -> list[str]:
    notes: list[str] = []
    degree = rng.randrange(7, 14)
    for _ in range(count):
        if rng.random() < 0.06:
            notes.append(":r")
            continue
        degree = max(0, min(20, degree + rng.choice((-2, -1, -1, 0, 1, 1, 2, 3, -3))))
        midi = 48 + 12 * (degree // 7) + _SCALE[degree % 7]
        if rng.random() < 0.05:
            midi += 1
        notes.append(_symbol(midi))
    return notes


def _loop(voice: int) -> list[str]:
    return [
        "in_thread do",
        f"  a{voice}.length.times do |s|",
        f"    use_bpm c{voice}[s]",
        f"    a{voice}[s].length.times do |i|",
        f"      play a{voice}[s][i], release: b{voice}[s][i]",
        f"      sleep b{voice}[s][i]",
        "    end",
        "  end",
        "end",
    ]


def make_document(
    voices: int = 20, sections: int = 44, total_notes: int = 20_000, seed: int = 1
) -> BigDocument:
    """Build the document; ``total_notes`` are spread evenly over ``voices * sections`` arrays.

    With the defaults each voice takes ``2 + 2*44 + 1 + 9 = 100`` lines: 2,000 lines in all.
    """
    rng = random.Random(seed)
    arrays = voices * sections
    base, extra = divmod(total_notes, arrays)
    lines: list[str] = []
    spans: list[ArraySpan] = []
    notes = 0
    index = 0
    for voice in range(1, voices + 1):
        lines += [f"a{voice}=[]", f"b{voice}=[]"]
        for section in range(sections):
            count = base + (1 if index < extra else 0)
            index += 1
            melody = _melody(rng, count)
            prefix = f"a{voice}[{section}]=["
            ends: list[int] = []
            col = len(prefix)
            for k, symbol in enumerate(melody):
                col += len(symbol) + (1 if k else 0)
                ends.append(col)
            spans.append(ArraySpan(len(lines), len(prefix) - 1, tuple(ends)))
            lines.append(prefix + ",".join(melody) + "]")
            durations = [rng.choice(_DURATIONS) for _ in melody]
            lines.append(f"b{voice}[{section}]=[" + ",".join(durations) + "]")
            notes += count
        lines.append(
            f"c{voice}=[" + ",".join(str(rng.choice((60, 70, 80))) for _ in range(sections)) + "]"
        )
        lines += _loop(voice)
    return BigDocument("\n".join(lines) + "\n", len(lines), notes, tuple(spans))


def document_from_file(path: str) -> BigDocument:
    """Any Sonic Pi file as the benchmark's document: its note arrays (not ``play`` runs) that
    open and close on one line, last on that line, with at least 4 notes, read as the
    server's reader reads them."""
    from notegen.sonicpi.reader import read
    from notegen.sonicpi.types import line_starts

    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    starts = line_starts(text)
    lines = text.split("\n")
    spans: list[ArraySpan] = []
    notes = 0
    for array in read(text):
        if array.kind == "play" or array.open is None or array.close is None:
            continue
        line = max(k for k, s in enumerate(starts) if s <= array.open)
        first = starts[line]
        if array.close >= first + len(lines[line]) or len(array.notes) < 4:
            continue
        if lines[line].rindex("]") != array.close - first:
            continue  # another array closes after it on its line (the latency run's ']')
        spans.append(
            ArraySpan(line, array.open - first, tuple(t.span.end - first for t in array.notes))
        )
        notes += len(array.notes)
    if not spans:
        raise SystemExit(f"{path}: no one-line note array of 4 notes or more to complete in")
    return BigDocument(text, len(lines) - (1 if text.endswith("\n") else 0), notes, tuple(spans))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, default=20)
    parser.add_argument("--sections", type=int, default=44)
    parser.add_argument("--notes", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    doc = make_document(args.voices, args.sections, args.notes, args.seed)
    print(doc.text, end="")


if __name__ == "__main__":
    main()
