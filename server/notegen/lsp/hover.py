"""``textDocument/hover`` on a note: MIDI number, frequency, and how likely the model found it.

The probability is the model's for that note at that place: given the voice's earlier sections
and the notes before it in the array, the same context a completion there would use. Without
a model the hover still shows the MIDI number and frequency, and says why there is no model.
"""

from __future__ import annotations

import re

import numpy as np
from notegen.notes import midi_to_hz
from notegen.sampling import softmax
from notegen.sonicpi.types import NoteToken

from .context import NoteContext
from .engine import Engine

_PICK_RE = re.compile(r"\.(?:tick|look)\b")
"""A note picked from a ring (``play notes.tick``): its pitch is the first time through's."""


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
        heard = ", ".join(f"{p:g} ({midi_to_hz(p):.2f} Hz)" for p in pitches)
        lines.append(f"**chord** — MIDI {heard}; the model hears the top note")
    elif token.midi is None:
        lines.append(f"**{text}** — a rest")
    else:
        lines.append(f"**{text}** — MIDI {token.midi:g} · {midi_to_hz(token.midi):.2f} Hz")
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
