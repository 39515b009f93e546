"""Rings of notes in play code, and the note ``notes.tick`` / ``.look`` / ``.choose`` plays.

Live coders keep a tune's notes in a ring and play it one note a pass:
``notes = (ring :e4, :g4, :b4)`` … ``play notes.tick``, or inline
``play (scale :e3, :minor_pentatonic).tick``, ``play :ds6 + [0, 3, 7].look``. Sonic Pi's
rules, reproduced here where the ring's notes are written in the file:

* ``tick`` advances a counter of the thread (``live_loop``, ``in_thread``, top level…),
  one per name (``tick(:bass)``), shared by every ring ticked in that thread, starting at 0;
  ``look`` reads it without advancing (0 before any tick); ``ring[k]`` wraps around;
* ``.choose`` (and ``.tick`` of a shuffled ring) is random: no pitch is invented for it;
* a ring is a literal list or ``(ring …)``/``ring(…)``/``(knit …)``, a ``scale``/``chord``
  call (Sonic Pi's tables), ``chord_invert(…)``, optionally ``.ring``, ``.reverse`` or
  ``.shuffle`` after it, or a name that holds one of these where it is read (the reader
  of ``notegen.sonicpi.statements`` keeps track of assignments).

The reader reads one pass of a block, so a ``play notes.tick`` in a ``live_loop`` is the
ring's note of the first pass (the next passes play its next notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from notegen.scales import SCALES
from notegen.sonicpi.arithmetic import Number, evaluate
from notegen.sonicpi.brackets import elements
from notegen.sonicpi.chords import chord_notes
from notegen.sonicpi.lexer import Token

if TYPE_CHECKING:
    from notegen.sonicpi.reader import _Doc

_CHAIN = frozenset(["ring", "reverse", "shuffle"])
_PICKS = frozenset(["tick", "look", "choose"])
DEFAULT_TICK = ""


@dataclass(frozen=True, slots=True)
class Ring:
    """The notes of a ring in order (``None`` = a rest); ``ordered`` is false once shuffled
    (which note a tick gives is then random)."""

    notes: tuple[Number | None, ...]
    ordered: bool = True


@dataclass(slots=True)
class Ticks:
    """The tick counters of one thread: how many ticks each name has had."""

    counts: dict[str, int] = field(default_factory=dict)

    def tick(self, name: str = DEFAULT_TICK) -> int:
        done = self.counts.get(name, 0)
        self.counts[name] = done + 1
        return done

    def look(self, name: str = DEFAULT_TICK) -> int:
        return max(self.counts.get(name, 0) - 1, 0)

    def count(self, doc: _Doc, a: int, b: int) -> None:
        """Advance the counters for every ``tick`` in tokens ``[a, b)`` (``spread(3, 8).tick``
        in a condition, ``c = cd.tick``, a bare ``tick``)."""
        for i in range(a, b):
            if doc.is_ident(i, "tick") and not doc.is_ident(i - 1, "def"):
                self.tick(tick_name(doc, i))

    def repeat(self, before: dict[str, int], times: int) -> None:
        """A block read once but run ``times`` times (``4.times do``) ticks that often."""
        for name, now in list(self.counts.items()):
            self.counts[name] = now + (now - before.get(name, 0)) * (times - 1)


def tick_name(doc: _Doc, i: int) -> str:
    """The counter ``tick``/``look`` at token ``i`` uses: ``tick(:bass)`` → ``"bass"``."""
    if doc.is_op(i + 1, "(") and i + 1 in doc.groups and not doc.sig[i + 1].space_before:
        arg = doc.sig[i + 2] if i + 2 < len(doc.sig) else None
        if arg is not None and arg.kind in ("sym", "str"):
            return arg.value
    return DEFAULT_TICK


def top_level_commas(doc: _Doc, a: int, b: int) -> list[tuple[int, int]]:
    """``[a, b)`` split at commas outside brackets."""
    parts: list[tuple[int, int]] = []
    start = i = a
    while i < b:
        if doc.is_op(i, "(", "[", "{") and i in doc.groups:
            i = max(doc.groups[i].stop, i + 1)
            continue
        if doc.is_op(i, ","):
            parts.append((start, i))
            start = i + 1
        i += 1
    parts.append((start, b))
    return parts


def label(doc: _Doc, a: int, b: int) -> str | None:
    """``release: 2`` → ``"release"`` (a Ruby keyword argument)."""
    if b - a >= 2 and doc.sig[a].kind == "ident" and doc.is_op(a + 1, ":"):
        return doc.sig[a].value
    return None


def substitute(tok: Token, constants: dict[str, Token]) -> Token:
    """A name assigned once to a literal (``key = :e3``) as its value."""
    if tok.kind == "ident" and tok.value in constants:
        value = constants[tok.value]
        return Token("num", tok.start, tok.end, value.value, tok.space_before)
    return tok


def _value(
    doc: _Doc,
    a: int,
    b: int,
    constants: dict[str, Token],
    rings: dict[str, Ring] | None = None,
    ticks: Ticks | None = None,
) -> Number | None:
    toks = pick(doc, a, b, rings or {}, constants, ticks)
    if toks is None:
        return None
    res = evaluate([substitute(t, constants) for t in toks], notes=True)
    return None if res.error or res.dynamic else res.value


def _call_args(doc: _Doc, a: int, b: int, word: str) -> list[tuple[int, int]] | None:
    """The arguments of ``word(x, y)``, ``(word x, y)`` or ``word x, y`` spanning ``[a, b)``."""
    if doc.is_ident(a, word) and doc.is_op(a + 1, "(") and a + 1 in doc.groups:
        group = doc.groups[a + 1]
        if group.stop != b or group.closer is None:
            return None
        return top_level_commas(doc, a + 2, group.closer)
    if doc.is_op(a, "(") and a in doc.groups and doc.is_ident(a + 1, word):
        group = doc.groups[a]
        if group.stop != b or group.closer is None:
            return None
        return top_level_commas(doc, a + 2, group.closer)
    if doc.is_ident(a, word) and a + 1 < b:
        return top_level_commas(doc, a + 1, b)
    return None


def chord_call(
    doc: _Doc,
    a: int,
    b: int,
    constants: dict[str, Token],
    rings: dict[str, Ring] | None = None,
    ticks: Ticks | None = None,
) -> tuple[int | float, ...] | None:
    """``chord(:e3, :minor)`` / ``(chord :e3, :minor)``: its notes; ``()`` when it is a chord
    whose notes only Sonic Pi knows; ``None`` when ``[a, b)`` is not one chord call (code
    around it: ``chord(:e3, :m).tick``). The root may pick from a ring (``chord(keys.tick,
    :m)``), ticking ``ticks``."""
    if not (doc.is_ident(a, "chord") or (doc.is_op(a, "(") and doc.is_ident(a + 1, "chord"))):
        return None
    args = _call_args(doc, a, b, "chord")
    if args is None:
        return None
    if len(args) < 2:
        return ()
    root = _value(doc, *args[0], constants, rings, ticks)
    name_toks = doc.sig[args[1][0] : args[1][1]]
    if root is None or len(name_toks) != 1 or name_toks[0].kind not in ("sym", "str"):
        return ()
    found = _options(doc, args[2:], ("num_octaves", "invert"))
    if found is None:
        return ()
    notes = chord_notes(root, name_toks[0].value, found.get("num_octaves", 1))
    if not notes:
        return ()
    return invert(notes, found.get("invert", 0))


def invert(notes: tuple[Number, ...], shift: int) -> tuple[Number, ...]:
    """Sonic Pi's ``chord_invert``: up, the lowest note goes an octave up (to the end);
    down, the highest an octave down, then sorted."""
    out = list(notes)
    for _ in range(min(abs(shift), 16)):
        out = [*out[1:], out[0] + 12] if shift > 0 else sorted([*out[:-1], out[-1] - 12])
    return tuple(out)


def _options(
    doc: _Doc, options: list[tuple[int, int]], known: tuple[str, ...]
) -> dict[str, int] | None:
    """Integer options among ``known`` (``num_octaves: 2``, ``invert: -1``); ``None`` for any
    other option or a value that is not a literal integer in range."""
    out: dict[str, int] = {}
    for x, y in options:
        key = label(doc, x, y)
        if key not in known:
            return None
        res = evaluate(doc.sig[x + 2 : y])
        if not isinstance(res.value, int) or not -8 <= res.value <= 8:
            return None
        if key == "num_octaves" and res.value < 1:
            return None
        out[key] = res.value
    return out


def scale_call(
    doc: _Doc, a: int, b: int, constants: dict[str, Token]
) -> tuple[int | float, ...] | None:
    """``scale(:e3, :minor_pentatonic, num_octaves: 2)``: its notes, the top octave included
    (Sonic Pi's ``scale`` ends on the tonic an octave up); ``None`` when unknown."""
    args = _call_args(doc, a, b, "scale")
    if args is None or len(args) < 2:
        return None
    root = _value(doc, *args[0], constants)
    name_toks = doc.sig[args[1][0] : args[1][1]]
    if root is None or len(name_toks) != 1 or name_toks[0].kind not in ("sym", "str"):
        return None
    intervals = SCALES.get(name_toks[0].value.lower())
    found = _options(doc, args[2:], ("num_octaves",))
    if intervals is None or found is None:
        return None
    out: list[int | float] = [root]
    for _ in range(found.get("num_octaves", 1)):
        for step in intervals:
            out.append(out[-1] + step)
    return tuple(out)


def _list(
    doc: _Doc, a: int, b: int, constants: dict[str, Token], skip: int = 0
) -> tuple[Number | None, ...] | None:
    """The notes of the bracket group at ``a`` (``skip`` leading words: ``ring``); a chord
    among them (``[(chord :c4, :m7), [:a3, :c4]]``, a progression) is its top note, the one
    a melody model hears, as in arrays."""
    out: list[Number | None] = []
    for x, y in elements(doc.sig, doc.groups, a, skip):
        res = evaluate([substitute(t, constants) for t in doc.sig[x:y]], notes=True)
        if res.error:
            return None
        if res.dynamic:
            chord = ring_at(doc, x, y, {}, constants)
            pitched = [p for p in chord.notes if p is not None] if chord is not None else []
            if not pitched or chord is None or not chord.ordered:
                return None
            out.append(max(pitched))
            continue
        out.append(res.value)
    return tuple(out) if out else None


def _knit(
    doc: _Doc, args: list[tuple[int, int]], constants: dict[str, Token]
) -> tuple[Number | None, ...] | None:
    """``knit :e2, 3, :c2, 1`` → e2 e2 e2 c2."""
    if len(args) % 2:
        return None
    out: list[Number | None] = []
    for k in range(0, len(args), 2):
        note = evaluate([substitute(t, constants) for t in doc.sig[slice(*args[k])]], notes=True)
        count = evaluate(doc.sig[slice(*args[k + 1])])
        if note.error or note.dynamic or not isinstance(count.value, int):
            return None
        if not 0 <= count.value <= 256:
            return None
        out.extend([note.value] * count.value)
    return tuple(out) if out else None


def ring_at(
    doc: _Doc, a: int, b: int, rings: dict[str, Ring], constants: dict[str, Token]
) -> Ring | None:
    """Tokens ``[a, b)`` as a :class:`Ring`, or ``None`` when they are no ring of known notes."""
    end = b
    chain: list[str] = []
    while end - a >= 3 and doc.is_op(end - 2, ".") and doc.is_ident(end - 1, *_CHAIN):
        chain.append(doc.sig[end - 1].value)
        end -= 2
    if a >= end:
        return None
    notes: tuple[Number | None, ...] | None = None
    first = doc.sig[a]
    if end - a == 1 and first.kind == "ident" and first.value in rings:
        base = rings[first.value]
        notes, ordered = base.notes, base.ordered
    else:
        ordered = True
        if doc.is_op(a, "[") and a in doc.groups and doc.groups[a].stop == end:
            notes = _list(doc, a, end, constants)
        elif doc.is_op(a, "(") and a in doc.groups and doc.groups[a].stop == end:
            if doc.is_ident(a + 1, "ring"):
                notes = _list(doc, a, end, constants, skip=1)
            elif doc.is_ident(a + 1, "knit") and (args := _call_args(doc, a, end, "knit")):
                notes = _knit(doc, args, constants)
        elif (
            doc.is_ident(a, "ring")
            and doc.is_op(a + 1, "(")
            and a + 1 in doc.groups
            and doc.groups[a + 1].stop == end
        ):
            notes = _list(doc, a + 1, end, constants)
        if notes is None and (args := _call_args(doc, a, end, "chord_invert")):
            inner = ring_at(doc, *args[0], rings, constants) if len(args) == 2 else None
            shift = evaluate(doc.sig[slice(*args[1])]) if inner is not None else None
            if inner is not None and shift is not None and isinstance(shift.value, int):
                pitched = tuple(n for n in inner.notes if n is not None)
                if len(pitched) == len(inner.notes):
                    notes = invert(pitched, shift.value)
        if notes is None:
            found = scale_call(doc, a, end, constants)
            if found is None:
                chord = chord_call(doc, a, end, constants)
                found = chord or None
            notes = found
    if not notes:
        return None
    for word in reversed(chain):
        if word == "reverse":
            notes = notes[::-1]
        elif word == "shuffle":
            ordered = False
    return Ring(tuple(notes), ordered)


def pick(
    doc: _Doc,
    a: int,
    b: int,
    rings: dict[str, Ring],
    constants: dict[str, Token],
    ticks: Ticks | None,
) -> list[Token] | None:
    """Tokens ``[a, b)`` with each ``ring.tick``/``.look`` replaced by the note it gives
    (``:ds6 + notes.tick`` → ``:ds6 + 64``), ticking ``ticks`` as Sonic Pi would; ``None``
    when a pick has no known note (``.choose``, a shuffled or unknown ring): it stays code.
    Tokens without a pick come back unchanged (another ``tick`` in them still counts)."""
    out: list[Token] = []
    known = True
    i = a
    while i < b:
        if doc.is_op(i, ".") and doc.is_ident(i + 1, *_PICKS):
            word = doc.sig[i + 1]
            name = tick_name(doc, i + 1) if word.value != "choose" else DEFAULT_TICK
            after = i + 2
            if doc.is_op(after, "(") and after in doc.groups and not doc.sig[after].space_before:
                after = doc.groups[after].stop
            start = _operand_start(doc, a, i)
            ring = ring_at(doc, start, i, rings, constants) if start is not None else None
            index: int | None = None
            if word.value == "tick" and ticks is not None:
                index = ticks.tick(name)
            elif word.value == "look" and ticks is not None:
                index = ticks.look(name)
            if ring is None or index is None or not ring.ordered or start is None:
                known = False
                out.extend(doc.sig[i:after])
                i = after
                continue
            note = ring.notes[index % len(ring.notes)]
            del out[len(out) - (i - start) :]
            at = doc.sig[start]
            if note is None:
                out.append(Token("sym", at.start, doc.sig[after - 1].end, "r", at.space_before))
            else:
                value = repr(note)
                out.append(Token("num", at.start, doc.sig[after - 1].end, value, at.space_before))
            i = after
            continue
        if ticks is not None and doc.is_ident(i, "tick") and not doc.is_op(i - 1, "."):
            ticks.tick(tick_name(doc, i))  # a bare `tick` in the expression
        out.append(doc.sig[i])
        i += 1
    return out if known else None


def _operand_start(doc: _Doc, a: int, dot: int) -> int | None:
    """Where the receiver of the method called at ``dot`` starts: a name, a bracket group
    (``[0, 3].look``, ``(scale :e3, :minor).tick``) or ``scale(...)``, with ``.ring``-like
    calls after it; ``None`` for any other receiver (``x.notes.tick``)."""
    j = dot - 1
    while j >= a:
        tok = doc.sig[j]
        if tok.kind == "op" and tok.value in (")", "]") and j in doc.closers:
            j = doc.closers[j]
            if j < a:
                return None
            if j - 1 >= a and doc.is_ident(j - 1) and not doc.sig[j].space_before:
                j -= 1  # scale(...), ring(...)
        elif tok.kind != "ident":
            return None
        if not doc.is_op(j - 1, "."):
            return j
        if not doc.is_ident(j, *_CHAIN) or j - 2 < a:
            return None
        j -= 2
    return None
