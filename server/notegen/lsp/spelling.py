"""Writing suggested notes the way the user writes them, and matching what they typed.

A partial token (``:C``, ``:c``, ``Ef``, ``:eb``, ``6``) matches a note when any Sonic Pi
spelling of it starts with the partial, ignoring case and the colon; the suggestion then uses
the document's style, except for the accidental the user chose (typing ``:Eb`` keeps ``b``).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Literal

from notegen.notes import NoteStyle, spell


@functools.lru_cache(maxsize=64)
def _variants(style: NoteStyle) -> list[NoteStyle]:
    """The document's style first, then the other accidental spellings in its case (memoised:
    a completion asks for every candidate, ~16 times, and three ``replace`` calls each cost
    more than the spelling itself)."""
    out = [style]
    choices: tuple[tuple[Literal["sharp", "flat"], Literal["f", "b"]], ...] = (
        ("sharp", "b"),
        ("flat", "b"),
        ("flat", "f"),
    )
    for accidental, letter in choices:
        variant = replace(style, accidental=accidental, flat_letter=letter)
        if variant not in out:
            out.append(variant)
    return out


def spell_note(midi: int | float | None, style: NoteStyle, numeric: bool = False) -> str:
    """A note (``None`` = rest) as the document writes notes: symbol, or number when numeric."""
    if numeric and midi is not None:
        return str(midi)
    return spell(midi, style)


def spell_matching(
    midi: int | None, style: NoteStyle, partial: str, numeric: bool = False
) -> str | None:
    """The spelling of ``midi`` that the typed ``partial`` is a prefix of, or ``None``."""
    typed = partial.removeprefix(":").lower()
    if not typed:
        return spell_note(midi, style, numeric)
    if typed[0].isdigit() or (numeric and not partial.startswith(":")):
        if midi is None:
            return None
        text = str(midi)
        return text if text.startswith(typed) else None
    if midi is None:
        for rest in (style.rest, ":r", ":rest"):
            if rest[1:].startswith(typed):
                return rest
        return None
    for variant in _variants(style):
        text = spell(midi, variant)
        if text[1:].lower().startswith(typed):
            return text
    return None
