"""The ``use_bpm`` in force where a voice plays, as Sonic Pi's threads inherit it.

``use_bpm`` sets the tempo of the current thread from that point on; ``in_thread`` and
``live_loop`` start with their parent's tempo at the moment they are created; ``with_bpm n do``
sets it for its block only. Walking the code in order with a stack of blocks (``do``/``end``,
``def``, ``if``...) therefore gives, at any token, the tempo Sonic Pi would play there: the
innermost block that set one, else its parents', else none (Sonic Pi's default is 60).
A ``use_bpm`` whose value only Sonic Pi knows (``use_bpm c1[i]``) leaves the tempo unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from notegen.sonicpi.arithmetic import evaluate
from notegen.sonicpi.reader import _Doc, parse

_VOICE_NAME = re.compile(r"a([0-9]+)")
_BLOCK_WORDS = frozenset({"def", "class", "module", "begin", "case"})
_CONDITIONAL = frozenset({"if", "unless", "while", "until", "for"})
_LOOP_HEADS = frozenset({"while", "until", "for"})
_UNKNOWN = -1.0


@dataclass(slots=True)
class _Frame:
    bpm: float | None = None
    """The tempo set in this block (``_UNKNOWN`` after a ``use_bpm`` we cannot evaluate)."""


@dataclass(slots=True)
class Tempi:
    """What the walk found: each voice's tempo where it is first played, the top level's."""

    voices: dict[int, float] = field(default_factory=dict)
    top_level: float | None = None


def _in_force(stack: list[_Frame]) -> float | None:
    for frame in reversed(stack):
        if frame.bpm is not None:
            return None if frame.bpm == _UNKNOWN else frame.bpm
    return None


def voice_tempi(text: str | _Doc, stop: int | None = None) -> Tempi:
    """Tempo in force at each voice's first use (``play a1[i]``, ``a1.length``...).

    ``top_level`` is the tempo the top level has set by ``stop`` (an offset; the end of the
    text when ``None``): what a voice inserted there would start with.
    """
    doc = parse(text) if isinstance(text, str) else text
    sig = doc.sig
    stack = [_Frame()]
    out = Tempi()
    pending_with: float | None = None
    loop_line = False  # `while x do`: that `do` belongs to the loop head
    for i, tok in enumerate(sig):
        if stop is not None and tok.start >= stop:
            break
        if tok.kind == "nl":
            loop_line = False
            continue
        if tok.kind != "ident":
            continue
        word = tok.value
        line_start = i == 0 or sig[i - 1].kind == "nl"
        if word == "do":
            if loop_line:
                loop_line = False
                continue
            stack.append(_Frame(pending_with))
            pending_with = None
        elif word == "end":
            if len(stack) > 1:
                stack.pop()
        elif line_start and (word in _BLOCK_WORDS or word in _CONDITIONAL):
            stack.append(_Frame())
            loop_line = word in _LOOP_HEADS
        elif word in ("use_bpm", "with_bpm"):
            j = i + 1
            while j < len(sig) and sig[j].kind != "nl" and not doc.is_ident(j, "do"):
                j += 1
            res = evaluate(sig[i + 1 : j], names=doc.names)
            value = (
                float(res.value)
                if res.value is not None and res.error is None and res.value > 0
                else _UNKNOWN
            )
            if word == "use_bpm":
                stack[-1].bpm = value
            else:
                pending_with = value
        elif (m := _VOICE_NAME.fullmatch(word)) is not None and not _assigned(doc, i):
            voice = int(m.group(1))
            if voice not in out.voices:
                bpm = _in_force(stack)
                if bpm is not None:
                    out.voices[voice] = bpm
    out.top_level = stack[0].bpm if stack[0].bpm not in (None, _UNKNOWN) else None
    return out


def _assigned(doc: _Doc, i: int) -> bool:
    """``a1 = ...`` or ``a1[0] = ...``: a definition, not where the voice plays."""
    j = i + 1
    if doc.is_op(j, "[") and j in doc.groups:
        j = doc.groups[j].stop
    return doc.is_op(j, "=")
