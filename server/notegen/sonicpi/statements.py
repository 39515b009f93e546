"""Melodies written as statements: runs of ``play :e4`` / ``sleep 0.5`` in one block.

Live coders rarely write note arrays; they write ``play`` and ``sleep`` one after another
inside ``live_loop``, ``in_thread``, ``define`` or ``N.times do … end``. A *run* of such
statements in one block is read as a melody, with the same types as a note array (a
:class:`PlayRun` is a :class:`~notegen.sonicpi.types.NoteArray` of kind ``"play"``), so the
model, diagnostics, hover and the training corpus see it like any other array:

* ``play NOTE[, opts]`` then ``sleep D``: one note lasting D beats (the time until the next
  note: several ``sleep`` in a row add up, as Sonic Pi waits for all of them);
* several ``play`` before a ``sleep``: one chord, its top note the melody (as in arrays);
* ``synth :x, note: NOTE`` (and ``control s, note: NOTE``, which moves a sounding synth to a
  new note), ``play_chord [...]``, ``play [...]``, ``play chord(:e3, :minor)``
  (a chord Sonic Pi's chord table resolves; any other code is *dynamic*: no pitch, no error);
* ``sample`` and other statements are ignored; a ``use_bpm`` starts a new run (its tempo is the
  run's ``bpm``); a nested block that plays or sleeps ends the run, and is a run of its own;
* ``N.times do … end`` is read once, with ``repeat = N``;
* names hold what was last assigned above them in the block (or around it), and a note picked
  from a ring of known notes (``play notes.tick``) is the one Sonic Pi plays the first time
  through (``notegen.sonicpi.rings``); ``play … do |s|`` plays its note, its block is a thread;
* a run whose every note is code Sonic Pi alone can evaluate (``play a1[i][j]``, ``play n``)
  is no melody unless its voice has written notes (then it is part of that melody), but a
  ``play`` being typed (no note yet) makes one, so the cursor there has a context.

Works on the reader's token list (comments and strings never look like statements) and never
raises on half-typed code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from notegen.sonicpi.arithmetic import evaluate
from notegen.sonicpi.brackets import elements
from notegen.sonicpi.lexer import Token
from notegen.sonicpi.rings import (
    Ring,
    Ticks,
    chord_call,
    label,
    pick,
    ring_at,
    substitute,
    top_level_commas,
)
from notegen.sonicpi.types import DurationArray, NoteArray, NoteToken, NumberToken, Span

if TYPE_CHECKING:
    from notegen.sonicpi.reader import _Doc

LineKind = Literal["play", "sleep"]

_BLOCK_WORDS = frozenset(
    ["if", "unless", "while", "until", "case", "begin", "def", "class", "module", "for"]
)
_BREAK_WORDS = frozenset(["else", "elsif", "when", "rescue", "ensure", "in"])
_CONTINUE_AFTER = frozenset(
    [",", "+", "-", "*", "/", "%", "=", "(", "[", "{", "|", "&&", "||", "=>", "\\", ".", "&."]
)
_MODIFIERS = frozenset(["if", "unless", "while", "until"])
_PLAIN_ARGS = frozenset(["sym", "num"])
SLOT_HEADS = ("play", "play_chord", "synth", "control", "sleep")
"""The statements that take a note or beats (a slot): the only ones :func:`_line` reads."""
_INDENT_RE = re.compile(r"[ \t]*")
_LOOP_KINDS = frozenset(["live_loop", "loop", "times", "each", "while", "until"])


@dataclass(slots=True)
class PlayLine:
    """One melody statement of a run.

    ``slot`` is where its argument goes (the note of ``play``/``note:``, the beats of
    ``sleep``): from just after ``play `` to the end of the argument (empty while it is being
    typed). ``options`` are its ``key: value`` options as written, in order.
    """

    kind: LineKind
    start: int
    end: int
    slot: Span
    head: str
    note: NoteToken | None = None
    beats: NumberToken | None = None
    options: tuple[tuple[str, str], ...] = ()
    step: int = -1
    """Index of the note (step) this line belongs to; ``-1`` for a sleep before any note."""
    block_end: int | None = None
    """Just past the ``end`` of the block a ``play … do |s|`` line opens (where the statement
    ends, and where lines after it go); ``None`` for a line without a block."""

    @property
    def stop(self) -> int:
        """Where the statement ends: after its block, if it opens one."""
        return self.end if self.block_end is None else self.block_end


@dataclass(slots=True)
class DefineCall:
    """A call of a ``define`` that plays (``dow``): where, which, and the beats of the
    ``sleep``s right after it before the block ends (they lengthen its last note)."""

    offset: int
    name: str
    tail: float = 0.0


@dataclass(slots=True)
class PlayBlock:
    """The block a run sits in: ``live_loop :name``, ``in_thread``, ``4.times``, top level…"""

    kind: str
    name: str | None = None
    repeat: int | None = None
    start: int = 0
    """Offset of the start of the block's first line (its ``do`` line; 0 at top level)."""
    end: int | None = None
    """Offset just past its ``end`` (``None`` at top level or when unclosed)."""
    bpm: float | None = None
    plays: bool = False
    """The block (or one inside it) plays or sleeps: it ends a run of the block around it."""
    calls: list[DefineCall] = field(default_factory=list)
    """Where a top-level block calls a ``define`` written above it."""
    looped: bool = False
    """The block repeats (``live_loop``, ``loop``, ``N.times``…, or sits in one that does; a
    ``define`` called in one)."""


@dataclass(slots=True)
class PlayRun(NoteArray):
    """A run of melody statements, read as a note array of kind ``"play"``.

    ``notes[i]`` is step ``i`` (a note, a chord or a rest); ``durations`` holds the beats of
    each step (its sleeps); ``lines`` are the statements themselves and ``block`` where they sit.
    """

    lines: list[PlayLine] = field(default_factory=list)
    block: PlayBlock = field(default_factory=lambda: PlayBlock("top"))
    indent: str = ""
    outer: PlayBlock | None = None
    """The top-level block the run sits in (its *voice*: a ``live_loop``, ``in_thread``,
    ``define``…; the run's own block or one around it); ``None`` at top level."""
    lead: float = 0.0
    """Beats of the ``sleep``s before its first ``play`` (time the voice waits first)."""
    ticks: bool = False
    """Something ticks while it plays (``notes.tick``, ``if spread(3, 8).tick``): its notes
    are those of the first time through, and the next time differs."""

    @property
    def plays(self) -> list[PlayLine]:
        return [line for line in self.lines if line.kind == "play"]


# -- statements ---------------------------------------------------------------------------------


def _statements(doc: _Doc) -> list[tuple[int, int]]:
    """Token ranges ``[a, b)`` of the statements (newlines and ``;`` end them, except inside
    brackets and after a token that continues the line)."""
    sig = doc.sig
    out: list[tuple[int, int]] = []
    start = 0
    i = 0
    n = len(sig)
    nxt = 0  # the first token after a run of newlines (found once per run, not per newline:
    while i < n:  # 40,000 blank or comment lines took 50 s to read)
        tok = sig[i]
        if tok.kind == "op" and i in doc.groups:
            i = max(doc.groups[i].stop, i + 1)
            continue
        if tok.kind == "nl":
            prev = sig[i - 1] if i > start else None
            if nxt <= i:
                nxt = i + 1
                while nxt < n and sig[nxt].kind == "nl":
                    nxt += 1
            chained = nxt < n and sig[nxt].kind == "op" and sig[nxt].value in (".", "&.")
            continued = prev is not None and prev.kind == "op" and prev.value in _CONTINUE_AFTER
            if tok.value == ";" or not (continued or chained):
                if i > start:
                    out.append((start, i))
                start = i + 1
        i += 1
    if start < n:
        out.append((start, n))
    return out


def _split_do(doc: _Doc, a: int, b: int) -> list[tuple[int, int]]:
    """Split ``2.times do play 60`` after ``do |x|`` and ``… sleep 1 end`` before ``end``."""
    parts: list[tuple[int, int]] = []
    i = a
    while i < b:
        if doc.is_op(i, "(", "[", "{") and i in doc.groups:
            i = max(doc.groups[i].stop, i + 1)
            continue
        if doc.is_ident(i, "do") and i > a:
            j = i + 1
            if doc.is_op(j, "|"):
                j += 1
                while j < b and not doc.is_op(j, "|"):
                    j += 1
                j = min(j + 1, b)
            parts.append((a, j))
            while j < b and doc.sig[j].kind == "nl":
                j += 1  # `do |s|` continues the statement (a `|` ends the line) to the next
            a = i = j
            continue
        i += 1
    if a < b:
        if b - a > 1 and doc.is_ident(b - 1, "end"):
            parts.extend([(a, b - 1), (b - 1, b)])
        else:
            parts.append((a, b))
    return parts


def _is_do_line(doc: _Doc, a: int, b: int) -> bool:
    if doc.is_ident(b - 1, "do"):
        return True
    if doc.is_op(b - 1, "|"):
        j = b - 2
        while j > a and not doc.is_op(j, "|"):
            j -= 1
        return doc.is_ident(j - 1, "do")
    return False


def _block_of(doc: _Doc, a: int, b: int, line_start: int) -> PlayBlock:
    """What a ``… do`` line opens: ``live_loop :x``, ``4.times``, ``in_thread``…"""
    first = doc.sig[a]
    block = PlayBlock(first.value if first.kind == "ident" else "block", start=line_start)
    if first.kind == "num" and doc.is_op(a + 1, ".") and doc.is_ident(a + 2, "times"):
        block.kind = "times"
        res = evaluate([first])
        if isinstance(res.value, int):
            block.repeat = res.value
    elif first.kind == "ident" and doc.sig[a + 1 : a + 2] and doc.sig[a + 1].kind == "sym":
        block.name = doc.sig[a + 1].value
    return block


# -- one statement --------------------------------------------------------------------------------


def _cut_modifier(doc: _Doc, a: int, b: int) -> int:
    """The end of a statement before a trailing ``if``/``unless`` modifier."""
    i = a
    while i < b:
        if doc.is_op(i, "(", "[", "{") and i in doc.groups:
            i = max(doc.groups[i].stop, i + 1)
            continue
        if doc.is_ident(i, *_MODIFIERS) and i > a:
            return i
        i += 1
    return b


def _options(doc: _Doc, parts: list[tuple[int, int]]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for a, b in parts:
        key = label(doc, a, b)
        if key is not None and key != "note":
            out.append((key, doc.tok_text(a + 2, b)))
    return tuple(out)


@dataclass(slots=True)
class _Names:
    """What the names of a document hold where the reader is: one literal each
    (``key = :e3``), a ring of known notes (``notes = (ring :e4, :g4)``), and the current
    thread's tick counters.

    Names are read in document order, block by block, as Sonic Pi runs a block's lines: the
    value a name has is the last assignment above in the same or an enclosing block (``c =
    chord(:e3, :m)`` in one loop, ``c = :a2`` in another); block parameters, ``+=`` and
    values only Sonic Pi knows make it unknown. A name never assigned above keeps the value
    it has where it is assigned exactly once in the file (``base``)."""

    constants: dict[str, Token]
    rings: dict[str, Ring]
    ticks: Ticks | None = None
    base: tuple[dict[str, Token], dict[str, Ring]] = field(default_factory=lambda: ({}, {}))
    scopes: list[tuple[dict[str, Token | Ring | None], frozenset[str]]] = field(
        default_factory=lambda: [({}, frozenset())]
    )

    def open(self, params: frozenset[str] = frozenset()) -> None:
        self.scopes.append(({name: None for name in params}, params))
        for name in params:
            self._set(name, None)

    def close(self) -> None:
        """The end of a block: its own names go; a name of a block around it that it
        assigned is unknown after it (the block may not have run, or run again)."""
        if len(self.scopes) < 2:
            return
        inner, params = self.scopes.pop()
        outer = self.scopes[-1][0]
        for name in inner:
            if name not in params and any(name in scope for scope, _ in self.scopes):
                outer[name] = None
            self._set(name, self._lookup(name))

    def assign(self, name: str, value: Token | Ring | None) -> None:
        self.scopes[-1][0][name] = value
        self._set(name, value)

    def _lookup(self, name: str) -> Token | Ring | None:
        for scope, _ in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.base[0].get(name) or self.base[1].get(name)

    def _set(self, name: str, value: Token | Ring | None) -> None:
        self.constants.pop(name, None)
        self.rings.pop(name, None)
        if isinstance(value, Ring):
            self.rings[name] = value
        elif value is not None:
            self.constants[name] = value

    def value_of(self, doc: _Doc, a: int, b: int) -> Token | Ring | None:
        """What ``name = <tokens [a, b)>`` gives the name (its ticks counted)."""
        toks = pick(doc, a, b, self.rings, self.constants, self.ticks)
        if toks is not None:
            res = evaluate([substitute(t, self.constants) for t in toks], notes=True)
            if not res.dynamic:
                if res.value is None or res.error:
                    return None
                return Token("num", doc.sig[a].start, doc.sig[b - 1].end, repr(res.value))
        return ring_at(doc, a, b, self.rings, self.constants)


_UPDATES = ("+=", "-=", "*=", "/=", "||=", "<<", "&&=")


def _params(doc: _Doc, a: int, b: int) -> frozenset[str]:
    """The parameters of the block a ``… do |x, y|`` line opens."""
    if not doc.is_op(b - 1, "|"):
        return frozenset()
    j = b - 2
    out: set[str] = set()
    while j > a and not doc.is_op(j, "|"):
        if doc.is_ident(j):
            out.add(doc.sig[j].value)
        j -= 1
    return frozenset(out)


def _line(doc: _Doc, a: int, b: int, names: _Names) -> PlayLine | None:
    """A ``play``/``sleep`` statement (``None`` for anything else, its ticks not counted).

    The ticks of a play line are counted as Ruby evaluates it: a modifier's condition
    (``if spread(3, 8).tick``) first, then the note, then the options."""
    if b - a >= 3 and doc.sig[a].kind == "ident" and doc.is_op(a + 1, "="):
        a += 2  # s = play 60 / s = synth :x, note: 60
    head = doc.sig[a]
    if head.kind != "ident" or head.value not in SLOT_HEADS:
        return None
    full = b
    b = _cut_modifier(doc, a, b)
    start, end = head.start, doc.sig[b - 1].end
    arg = a + 1
    if arg < b and doc.is_op(arg, "(") and arg in doc.groups and not doc.sig[arg].space_before:
        group = doc.groups[arg]  # play(:c4, release: 1)
        parts = top_level_commas(doc, arg + 1, group.inner_end)
    else:
        parts = top_level_commas(doc, arg, b)
    slot_at = _slot_start(doc, head)
    if head.value in ("synth", "control"):
        found = next(((x, y) for x, y in parts if label(doc, x, y) == "note"), None)
        if found is None:
            return None  # synth without note: plays its default note, not a melody
        x, y = found
        slot_at = doc.sig[x + 1].end + 1 if x + 2 >= y else doc.sig[x + 2].start
        _count(names, doc, b, full)
        note = _note(doc, x + 2, y, slot_at, names)
        for part in parts:
            if part != found:
                _count(names, doc, *part)
        head_text = doc.text[head.start : slot_at].rstrip()
        return PlayLine(
            "play", start, end, note.span, head_text, note=note, options=_options(doc, parts)
        )
    first = parts[0]
    if label(doc, *first) is not None:
        # `play note: :e4` names its note; any other label first means no note
        key = label(doc, *first)
        if key != "note" or head.value == "sleep":
            return None
        x, y = first
        slot_at = doc.sig[x + 2].start if x + 2 < y else doc.sig[x + 1].end + 1
        first = (x + 2, y)
    x, y = first
    _count(names, doc, b, full)
    if head.value == "sleep":
        beats = _beats(doc, x, y, slot_at, names)
        return PlayLine("sleep", start, end, beats.span, "sleep", beats=beats)
    note = _note(doc, x, y, slot_at, names, play_chord=head.value == "play_chord")
    for part in parts[1:]:
        _count(names, doc, *part)
    return PlayLine(
        "play", start, end, note.span, head.value, note=note, options=_options(doc, parts[1:])
    )


def _slot_start(doc: _Doc, head: Token) -> int:
    """Where a statement's argument goes: after its word and the one space after it."""
    text = doc.text
    return head.end + 1 if head.end < len(text) and text[head.end] == " " else head.end


def _plain_line(doc: _Doc, a: int, names: _Names, defines: dict[str, PlayBlock]) -> PlayLine | None:
    """``play :e4``, ``play 60`` or ``sleep 0.25`` (the statement's two tokens at ``a``): the
    line :func:`_line` reads there, without the checks a longer statement needs."""
    head, arg = doc.sig[a], doc.sig[a + 1]
    if head.kind != "ident" or arg.kind not in _PLAIN_ARGS or head.value in defines:
        return None
    slot_at = _slot_start(doc, head)
    if head.value == "sleep":
        beats = _beats(doc, a + 1, a + 2, slot_at, names)
        return PlayLine("sleep", head.start, arg.end, beats.span, "sleep", beats=beats)
    if head.value != "play":
        return None
    note = _note(doc, a + 1, a + 2, slot_at, names)
    return PlayLine("play", head.start, arg.end, note.span, "play", note=note)


def _count(names: _Names, doc: _Doc, a: int, b: int) -> None:
    if names.ticks is not None:
        names.ticks.count(doc, a, b)


def _beats(doc: _Doc, a: int, b: int, slot_at: int, names: _Names) -> NumberToken:
    if a >= b:
        return NumberToken("", Span(slot_at, slot_at), None, dynamic=True)
    res = evaluate(doc.sig[a:b])
    if res.dynamic:  # `sleep durations.tick` over a ring of known beats
        toks = pick(doc, a, b, names.rings, names.constants, names.ticks)
        picked = evaluate([substitute(t, names.constants) for t in toks]) if toks else res
        if picked.error is None and picked.value is not None:
            res = picked
    value = None if res.value is None else float(res.value)
    error = res.error
    if error is None and value is None and not res.dynamic:
        error = "a rest is not a duration"
    return NumberToken(doc.tok_text(a, b), doc.span(a, b), value, error, dynamic=res.dynamic)


def _note(
    doc: _Doc,
    a: int,
    b: int,
    slot_at: int,
    names: _Names,
    play_chord: bool = False,
) -> NoteToken:
    """The note a ``play`` plays: a note, a chord (top note on ``midi``), a rest, or code.

    Names assigned once to a note (``play key + 7``) and picks from rings of known notes
    (``play notes.tick``, ``play :ds6 + [0, 3].look``, ``play chord(:e3, :m).tick``) have
    the note Sonic Pi plays there; ``.choose`` and anything else unknown stay code."""
    if a >= b:
        return NoteToken("", Span(slot_at, slot_at), None, dynamic=True)
    text, span = doc.tok_text(a, b), doc.span(a, b)
    first = doc.sig[a]
    if first.kind == "op" and first.value == "[" and a in doc.groups and doc.groups[a].stop == b:
        pitches: list[int | float | None] = []
        for x, y in elements(doc.sig, doc.groups, a):
            res = evaluate(doc.sig[x:y], notes=True)
            if res.dynamic or res.error:
                # the array reader reports its invalid notes; here it is just not a melody note
                _count(names, doc, a, b)
                return NoteToken(text, span, None, dynamic=True)
            pitches.append(res.value)
        return _chord_token(text, span, tuple(pitches))
    chord = chord_call(doc, a, b, names.constants, names.rings, names.ticks)
    if chord is not None:
        if not chord:
            return NoteToken(text, span, None, dynamic=True)
        return _chord_token(text, span, chord)
    if play_chord:
        _count(names, doc, a, b)
        return NoteToken(text, span, None, dynamic=True)
    res = evaluate(doc.sig[a:b], notes=True)
    if not res.dynamic:
        return NoteToken(text, span, res.value, res.error)
    toks = pick(doc, a, b, names.rings, names.constants, names.ticks)
    if toks is None:
        return NoteToken(text, span, None, dynamic=True)
    res = evaluate([substitute(t, names.constants) for t in toks], notes=True)
    if res.error:
        return NoteToken(text, span, None, dynamic=True)
    if res.dynamic and (ring := ring_at(doc, a, b, names.rings, names.constants)) is not None:
        return _chord_token(text, span, ring.notes)  # `play c` of a ring: all its notes
    return NoteToken(text, span, res.value, dynamic=res.dynamic)


def _chord_token(text: str, span: Span, pitches: tuple[int | float | None, ...]) -> NoteToken:
    pitched = [p for p in pitches if p is not None]
    return NoteToken(text, span, max(pitched) if pitched else None, chord=pitches)


# -- runs -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    block: PlayBlock
    ticks: Ticks
    """The tick counters of the thread the block runs in (its own for a new thread)."""
    lines: list[PlayLine] = field(default_factory=list)
    call: DefineCall | None = None
    """The frame's last call of a ``define`` while no run has followed it."""
    ticked: dict[str, int] | None = None
    """The counters when an ``N.times`` block opened (its ticks then count N times)."""
    owner: PlayLine | None = None
    """The ``play … do |s|`` line whose block this is."""
    mark: int = 0
    """The thread's tick total when the frame's current run began."""


_THREAD_KINDS = frozenset(["live_loop", "in_thread", "define", "play", "synth", "play_chord"])
_PLAY_HEADS = frozenset(["play", "synth", "play_chord"])


def _play_with_block(doc: _Doc, a: int, b: int) -> int | None:
    """``play :b2, note_slide: 1 do |s|``: the index of its ``do`` (the block runs in a new
    thread, as Sonic Pi's ``synth`` runs it; the note plays where the line is)."""
    head = a + 2 if b - a >= 3 and doc.is_ident(a) and doc.is_op(a + 1, "=") else a
    if not doc.is_ident(head, *_PLAY_HEADS):
        return None
    j = b - 1
    if doc.is_op(j, "|"):
        j -= 1
        while j > head and not doc.is_op(j, "|"):
            j -= 1
        j -= 1
    return j if j > head and doc.is_ident(j, "do") else None


def _names(doc: _Doc, statements: list[tuple[int, int]]) -> _Names:
    """Names assigned exactly once, to a literal note or number (``key = :e3``: ``play key+7``
    then has a pitch) or to a ring of known notes (``notes = (ring :e4, :g4)``: ``play
    notes.tick``). Names assigned again, by ``+=`` or as block parameters are variables."""
    seen: dict[str, int] = {}
    values: dict[str, Token] = {}
    assigned: list[tuple[str, int, int]] = []
    for i, tok in enumerate(doc.sig):
        if tok.kind == "op" and tok.value in ("|", "+=", "-=", "*=", "/=", "||=", "<<"):
            if doc.is_ident(i - 1):
                seen[doc.sig[i - 1].value] = 2
            if tok.value == "|" and doc.is_ident(i + 1):
                seen[doc.sig[i + 1].value] = 2
            if tok.value == "|" and doc.is_op(i - 1, ","):
                seen[doc.sig[i - 2].value if i >= 2 else ""] = 2
    for a, b in statements:
        if b - a >= 3 and doc.sig[a].kind == "ident" and doc.is_op(a + 1, "="):
            name = doc.sig[a].value
            seen[name] = seen.get(name, 0) + 1
            res = evaluate(doc.sig[a + 2 : b], notes=True)
            if res.value is not None and not res.error and not res.dynamic:
                values[name] = Token("num", doc.sig[a].start, doc.sig[a].end, repr(res.value))
            elif res.dynamic:
                assigned.append((name, a + 2, b))
    constants = {k: v for k, v in values.items() if seen.get(k) == 1}
    rings: dict[str, Ring] = {}
    for name, a, b in assigned:
        if seen.get(name) == 1 and (ring := ring_at(doc, a, b, rings, constants)) is not None:
            rings[name] = ring
    return _Names(dict(constants), dict(rings), base=(constants, rings))


# A line starts after \n, \r\n or a lone \r, and ends before either (``^`` and ``$`` know \n only).
_TOP_ASSIGNMENT_RE = re.compile(
    r"(?:^|(?<=\r))[a-z_][A-Za-z0-9_]*[ \t]*=[ \t]*:?[A-Za-z0-9_.]+"
    r"(?:[ \t]*[-+*][ \t]*:?[A-Za-z0-9_.]+)*[ \t]*(?:#[^\r\n]*)?(?=[\r\n]|\Z)",
    re.MULTILINE,
)


_TOP_RING_RE = re.compile(
    r"(?:^|(?<=\r))([a-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(?:[\[(]|(?:ring|scale|chord|knit)\b)",
    re.MULTILINE,
)
_LINE_END_RE = re.compile(r"[\r\n]")
_WORD_RE = re.compile(r"[a-z_][A-Za-z0-9_]*")
_RING_CHARS = 4000
"""The longest ring assignment copied above a region (a tune's notes over a few lines)."""
_RINGS_CHARS = 16000
"""All ring assignments copied above a region, the nearest first (each completion re-reads
them with the region)."""


_HEAD_CHARS = 1 << 16
_NEAR_CHARS = 1 << 16
"""Above a region further down a document than both together, :func:`top_assignments` reads
the document's first :data:`_HEAD_CHARS` (where a piece sets its key and its tunes) and the
:data:`_NEAR_CHARS` above the region, not everything between: each completion reads them
again, and its two searches took ~90 ms in a 4.8 MB ``live_loop`` of 200,000 ``play``
lines (measured, in process)."""
_TOP_LINE_RE = re.compile(r"\n[a-z_]")
_TOP_LINE_CR_RE = re.compile(r"\r[a-z_]")
"""Where a top-level line that may assign starts (after its line end). Found first, with a
literal search, then matched there: the assignment patterns themselves (a line start before
them) try every character, ~18 ns each, 1.2 ms for 64 kB of ``play`` lines, where this
takes 0.06 ms (measured)."""


def _read_spans(text: str, end: int) -> list[tuple[int, int]]:
    """The stretches of ``text[:end]`` that :func:`top_assignments` searches, in order."""
    if end <= _HEAD_CHARS + _NEAR_CHARS:
        return [(0, end)]
    # the head ends after a line end: a line cut there would end at the search's end (``\Z``)
    head = max(text.rfind("\n", 0, _HEAD_CHARS), text.rfind("\r", 0, _HEAD_CHARS)) + 1
    # (a line cut at the near stretch's start is not at a line start: none is found there)
    return [(0, head), (end - _NEAR_CHARS, end)]


def _top_lines(text: str, lo: int, hi: int) -> list[int]:
    """Offsets in ``lo..hi`` where a line starting with ``[a-z_]`` starts, in order."""
    found = [m.start() + 1 for m in _TOP_LINE_RE.finditer(text, max(0, lo - 1), hi)]
    if text.find("\r", max(0, lo - 1), hi) != -1:  # lone \r line ends (\r\n: \n is next)
        found = sorted(
            found + [m.start() + 1 for m in _TOP_LINE_CR_RE.finditer(text, max(0, lo - 1), hi)]
        )
    if lo == 0 and _WORD_RE.match(text, 0, hi):
        found.insert(0, 0)
    return found


def top_assignments(text: str, end: int, region: str | None = None) -> str:
    """The top-level assignments of a plain value or a ring above ``end`` (``key = :e3``,
    ``shift = 12 + 7``, ``notes = (ring :e4, :g4)``, a list over several lines), one a line:
    what a reader of a region below needs to give ``play key+7`` and ``play notes.tick``
    their pitch (the region alone would see a name it does not know). With ``region``, only
    the rings it names are copied. Far down a long document, only its head and the stretch
    above ``end`` are searched (:data:`_HEAD_CHARS`)."""
    found: list[tuple[int, str]] = []
    rings: list[re.Match[str]] = []
    for lo, hi in _read_spans(text, end):
        for at in _top_lines(text, lo, hi):
            if (assigned := _TOP_ASSIGNMENT_RE.match(text, at, hi)) is not None:
                found.append((at, assigned.group(0)))
            if (ring := _TOP_RING_RE.match(text, at, hi)) is not None:
                rings.append(ring)
    budget = _RINGS_CHARS
    used = None if region is None else set(_WORD_RE.findall(region))
    for m in reversed(rings):  # the nearest first
        if used is not None and m.group(1) not in used:
            continue
        if budget <= 0:
            break
        stop = _statement_end(text, m.start(), min(end, m.start() + _RING_CHARS))
        if stop is not None and stop - m.start() <= budget:
            found.append((m.start(), text[m.start() : stop]))
            budget -= stop - m.start()
    return "".join(part + "\n" for _, part in sorted(found))


def _statement_end(text: str, start: int, limit: int) -> int | None:
    """Where the statement starting at ``start`` ends (the newline with every bracket
    closed); ``None`` past ``limit``. Strings and comments are skipped (a ``]`` in them)."""
    depth = 0
    i = start
    while i < limit:
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "#":
            newline = _LINE_END_RE.search(text, i)
            i = limit if newline is None else newline.start()
            continue
        elif ch in "\"'":
            close = text.find(ch, i + 1)
            if close == -1:
                return None
            i = close
        elif ch in "\r\n" and depth <= 0:
            return i
        i += 1
    return i if depth <= 0 and i >= len(text) else None


def read_runs(doc: _Doc) -> list[PlayRun]:
    """Every run of melody statements of a parsed document, in document order."""
    runs: list[PlayRun] = []
    code: list[PlayRun] = []
    statements = _statements(doc)
    names = _names(doc, statements)
    top = _Frame(PlayBlock("top"), Ticks())
    stack = [top]
    defines: dict[str, PlayBlock] = {}

    def flush(frame: _Frame) -> None:
        run = _run(doc, frame.lines, frame.block)
        total = sum(frame.ticks.counts.values())
        if run is not None:
            run.ticks, frame.mark = total != frame.mark, total
        if run is not None and len(stack) > 1:
            run.outer = stack[1].block
        if run is not None and all(n.dynamic and n.text for n in run.notes):
            code.append(run)  # only code (`play n`): a melody only inside a voice that has one
            run = None
        if run is not None:
            runs.append(run)
            frame.call = None
        elif frame.call is not None:  # `dow` then `sleep 1`: the call's last note lasts longer
            frame.call.tail += sum(
                line.beats.value
                for line in frame.lines
                if line.beats is not None and line.beats.value is not None
            )
        frame.lines = []

    for a0, b0 in statements:
        if b0 - a0 == 2 and (plain := _plain_line(doc, a0, names, defines)) is not None:
            frame = stack[-1]  # (a lone note or number ticks no ring: names.ticks unused)
            frame.lines.append(plain)
            frame.block.plays = True
            continue
        for a, b in _split_do(doc, a0, b0):
            frame = stack[-1]
            names.ticks = frame.ticks
            first = doc.sig[a]
            line_start = doc.text.rfind("\n", 0, first.start) + 1
            if first.kind == "ident" and first.value == "end" and b - a >= 1:
                flush(frame)
                if len(stack) > 1:
                    stack.pop()
                    names.close()
                    frame.block.end = doc.sig[a].end
                    if frame.owner is not None:
                        frame.owner.block_end = frame.block.end
                    if frame.ticked is not None and frame.block.repeat is not None:
                        frame.ticks.repeat(frame.ticked, min(frame.block.repeat, 64))
                    if frame.block.plays:
                        stack[-1].block.plays = True
                        flush(stack[-1])
                continue
            if first.kind == "ident" and first.value in _BREAK_WORDS:
                flush(frame)
                frame.ticks.count(doc, a, b)
                continue
            if first.kind == "ident" and first.value in defines and not doc.is_op(a + 1, "="):
                frame.ticks.count(doc, a, b)
                called = defines[first.value]
                if frame.block.looped:
                    called.looped = True  # a define called in a loop plays again
                if called.plays:  # its notes come between the lines around the call
                    flush(frame)
                    frame.block.plays = True
                    frame.call = DefineCall(first.start, first.value)
                    if len(stack) > 1:
                        stack[1].block.calls.append(frame.call)
                continue
            if (do := _play_with_block(doc, a, b)) is not None:
                line = _line(doc, a, do, names)
                if line is not None:
                    frame.lines.append(line)
                    frame.block.plays = True
                if doc.is_ident(a) and doc.is_op(a + 1, "="):
                    names.assign(doc.sig[a].value, None)  # s = play 60 do |x|
                block = PlayBlock("play", start=line_start)
                block.bpm = frame.block.bpm
                block.looped = frame.block.looped
                stack.append(_Frame(block, Ticks(), owner=line))
                names.open(_params(doc, a, b))
                continue
            if _is_do_line(doc, a, b) or (first.kind == "ident" and first.value in _BLOCK_WORDS):
                frame.ticks.count(doc, a, b)
                block = _block_of(doc, a, b, line_start)
                if block.kind == "define" and block.name is not None:
                    defines[block.name] = block
                block.bpm = frame.block.bpm
                block.looped = frame.block.looped or block.kind in _LOOP_KINDS
                ticks = Ticks() if block.kind in _THREAD_KINDS else frame.ticks
                inner = _Frame(block, ticks, mark=sum(ticks.counts.values()))
                if block.kind == "times":
                    inner.ticked = dict(ticks.counts)
                stack.append(inner)
                names.open(_params(doc, a, b) if _is_do_line(doc, a, b) else frozenset())
                continue
            if doc.is_ident(a, "use_bpm"):
                frame.ticks.count(doc, a, b)
                flush(frame)
                res = evaluate(doc.sig[a + 1 : _cut_modifier(doc, a, b)])
                if isinstance(res.value, (int, float)) and res.value > 0:
                    frame.block.bpm = float(res.value)
                continue
            line = _line(doc, a, b, names)
            assigns = b - a >= 3 and doc.is_ident(a) and doc.is_op(a + 1, "=")
            if line is not None:
                frame.lines.append(line)
                frame.block.plays = True
                if assigns:
                    names.assign(doc.sig[a].value, None)  # s = play 60: a synth node
            elif assigns:
                names.assign(doc.sig[a].value, names.value_of(doc, a + 2, b))
            else:
                frame.ticks.count(doc, a, b)
                if doc.is_ident(a) and doc.is_op(a + 1, *_UPDATES):
                    names.assign(doc.sig[a].value, None)
    while stack:
        flush(stack[-1])
        frame = stack.pop()
        if frame.block.plays and stack:
            stack[-1].block.plays = True
    # a run of notes only Sonic Pi knows (`play n`, `play notes.choose`) has no pitch of its
    # own; in a voice with written notes it is part of that melody (its notes are silences
    # of the voice's time, a cursor there hears the voice), elsewhere it is no melody at all
    # (`play a1[i][j]` loops that play the aN arrays)
    voiced = {id(r.outer) for r in runs if r.outer is not None}
    runs.extend(r for r in code if r.outer is not None and id(r.outer) in voiced)
    runs.sort(key=lambda r: r.span.start)
    return runs


def _run(doc: _Doc, lines: list[PlayLine], block: PlayBlock) -> PlayRun | None:
    """Steps of a run: a note (or chord) per group of plays, lasting until the next play."""
    first_play = next((k for k, line in enumerate(lines) if line.kind == "play"), None)
    if first_play is None:
        return None
    lead = sum(
        line.beats.value
        for line in lines[:first_play]
        if line.beats is not None and line.beats.value is not None
    )
    lines = lines[first_play:]
    notes: list[NoteToken] = []
    beats: list[NumberToken | None] = []
    pending: list[PlayLine] = []
    for line in lines:
        if line.kind == "play":
            pending.append(line)
            line.step = len(notes)
            continue
        assert line.beats is not None
        if pending:
            notes.append(_step_note(pending))
            beats.append(line.beats)
            pending = []
            line.step = len(notes) - 1
        else:
            beats[-1] = _add_beats(beats[-1], line.beats)
            line.step = len(notes) - 1
    if pending:
        notes.append(_step_note(pending))
        beats.append(None)
    values = [b for b in beats if b is not None]  # only the last step can lack a sleep
    start, end = lines[0].start, lines[-1].end
    line_start = doc.text.rfind("\n", 0, start) + 1
    indent = _INDENT_RE.match(doc.text, line_start, start).group(0)  # type: ignore[union-attr]
    span = Span(start, end)
    return PlayRun(
        kind="play",
        name=block.name,
        voice=None,
        section=None,
        span=span,
        open=None,
        close=None,
        content_start=start,
        content_end=max(end, *(line.slot.end for line in lines)),  # `play |`
        notes=notes,
        durations=DurationArray("sleep", span, values),
        bpm=block.bpm,
        lines=lines,
        block=block,
        indent=indent,
        lead=float(lead),
    )


def _step_note(plays: list[PlayLine]) -> NoteToken:
    """One play is its note; several plays before a sleep are one chord (top note heard)."""
    tokens = [p.note for p in plays if p.note is not None]
    if len(tokens) == 1:
        return tokens[0]
    first, last = tokens[0], tokens[-1]
    span = Span(first.span.start, last.span.end)
    text = " ".join(t.text for t in tokens)
    error = next((t.error for t in tokens if t.error), None)
    if error is not None:
        bad = next(t for t in tokens if t.error)
        return NoteToken(bad.text, bad.span, None, error)
    if any(t.dynamic for t in tokens):
        return NoteToken(text, span, None, dynamic=True)
    pitches: list[int | float | None] = []
    for t in tokens:
        pitches.extend(t.chord if t.chord is not None else (t.midi,))
    pitched = [p for p in pitches if p is not None]
    return NoteToken(text, span, max(pitched) if pitched else None, chord=tuple(pitches))


def _add_beats(total: NumberToken | None, more: NumberToken) -> NumberToken:
    """``sleep 0.5`` then ``sleep 0.5``: the note lasts 1 beat until the next one."""
    if total is None:
        return more
    span = Span(total.span.start, more.span.end)
    text = f"{total.text} + {more.text}"
    error = total.error or more.error
    dynamic = total.dynamic or more.dynamic
    value = None
    if error is None and not dynamic and total.value is not None and more.value is not None:
        value = total.value + more.value
    return NumberToken(text, span, value, error, dynamic=dynamic)
