"""``textDocument/hover`` on a note: MIDI number, frequency, and how likely the model found it.

The probability is the model's for that note at that place: given the voice's earlier sections
and the notes before it in the array, the same context a completion there would use. Without
a model the hover still shows the MIDI number and frequency, and says why there is no model.
A number outside Sonic Pi's notes (MIDI 0-231: ``9999``, ``1e308``, ``10**400``) is named as
such, without a frequency or a probability: neither means anything there.
"""

from __future__ import annotations

import re

import numpy as np

from notegen.model.sampling import softmax
from notegen.notes import MAX_SONIC_PI_NOTE, playable_hz
from notegen.sonicpi.types import NoteToken

from .context import NoteContext
from .engine import Engine

_PICK_RE = re.compile(r"\.(?:tick|look)\b")
"""A note picked from a ring (``play notes.tick``): its pitch is the first time through's."""

OUTSIDE = f"outside 0–{MAX_SONIC_PI_NOTE}"


def midi_number(midi: int | float) -> str:
    """``60``, ``61.5``, ``1e+308``: a MIDI number as short text. An integer no float holds
    (``10**400``: ``:g`` raises OverflowError, ``str`` may refuse its digits) by its bound."""
    try:
        return f"{float(midi):g}"
    except OverflowError:
        return "over 1e+308" if midi > 0 else "under -1e+308"


def heard(midi: int | float) -> str:
    """One pitch of a chord: ``60 (261.63 Hz)``, or ``9999 (outside 0–231)``."""
    hz = playable_hz(midi)
    return f"{midi_number(midi)} ({OUTSIDE if hz is None else f'{hz:.2f} Hz'})"


def token_under(nc: NoteContext) -> NoteToken | None:
    """The element of the array under the cursor (document offsets)."""
    offset = nc.local.offset - nc.local.base
    for token in nc.array.notes:
        if token.span.start <= offset <= token.span.end and token.text.strip():
            return token  # (an empty ``play `` being typed has nothing to hover: "**** — a rest")
    return None


def likelihood(engine: Engine, nc: NoteContext, token: NoteToken) -> tuple[float, int, int] | None:
    """(probability, rank, vocabulary size) of ``token`` after the context, if a model is up."""
    model, cache = engine.model, engine.cache
    if model is None or cache is None or token.error is not None:
        return None
    if token.midi is not None and playable_hz(token.midi) is None:
        return None  # (a note Sonic Pi does not play; ``10**400`` is not even a float)
    primed = nc.prime(cache)
    probs = softmax(primed.pitch_logits)
    probs[0] = 0.0
    pid = model.pitch_id(token.midi)
    p = float(probs[pid])
    rank = int(np.sum(probs > p)) + 1
    return p, rank, len(model.pitch_vocab) - 1


def describe(engine: Engine, nc: NoteContext, token: NoteToken) -> str:
    """Markdown for the hover."""
    lines: list[str] = []
    text = token.text.strip()
    if token.error is not None:
        return f"**{text}** — {token.error}"
    if token.chord is not None:
        pitches = [p for p in token.chord if p is not None]
        named = ", ".join(heard(p) for p in pitches)
        lines.append(f"**chord** — MIDI {named}; the model hears the top note")
    elif token.midi is None:
        lines.append(f"**{text}** — a rest")
    elif (hz := playable_hz(token.midi)) is None:
        lines.append(
            f"**{text}** — MIDI {midi_number(token.midi)}, outside Sonic Pi's notes "
            f"(MIDI 0–{MAX_SONIC_PI_NOTE}), so no frequency"
        )
    else:
        lines.append(f"**{text}** — MIDI {token.midi:g} · {hz:.2f} Hz")
    if _PICK_RE.search(text):
        lines.append("The first time through; each `tick` moves on to the ring's next note.")
    scored = likelihood(engine, nc, token)
    if scored is not None:
        p, rank, size = scored
        folded = ""
        if token.midi is not None and engine.model is not None:
            read_as = engine.model.pitch_of(engine.model.pitch_id(token.midi))
            if read_as is not None and read_as != round(token.midi):
                folded = f" (read as MIDI {read_as}, inside the model's range)"
        lines.append(f"Model: {p:.1%} likely here — rank {rank} of {size}{folded}")
    elif engine.error:
        lines.append(f"Model unavailable: {engine.error}")
    return "\n\n".join(lines)
