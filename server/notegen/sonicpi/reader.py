"""Find every note array in Sonic Pi source, with the durations and tempo that belong to it.

The reader works on tokens (so comments and strings never look like notes) and on bracket
groups that survive half-typed code (see :mod:`notegen.sonicpi.brackets`). It recognises:

* the voice/section form ``a1[0]=[...]`` with ``b1[0]=[...]`` durations and ``c1=[...]`` bpm,
  and the plain voice form ``a1=[...]`` with ``b1=[...]`` (and ``c1=[70]`` or ``c1=70``): read
  whatever their share of rests, empty or not (``section`` is ``None``);
* ``play_pattern_timed [notes], [durations]`` (or a single duration), ``play_pattern [notes]``;
* ``(ring :c4, :e4)``, ``ring(...)``, ``[...].ring``; ``notes = [:c4, :e4]``; any other array
  literal holding note symbols (``play [:c4, :e4]``);
* the seed's bare lines of comma-separated symbols ``:C3,:B2,:r,...``.

Names the piece assigns a number once (``Last = 4``, ``q = 0.5``) are evaluated in durations
and notes; any other name is code only Sonic Pi can evaluate (``dynamic``), never an error.
Arrays holding strings (``[["Grand Piano", 0, :c1]]``) are data, not note arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

from notegen.notes import REST_SYMBOLS, NoteError, note_to_midi
from notegen.sonicpi.arithmetic import Number, evaluate, literal
from notegen.sonicpi.brackets import Group, elements, match_groups
from notegen.sonicpi.lexer import Token, tokenize
from notegen.sonicpi.names import is_music_name
from notegen.sonicpi.quoted import Quoted
from notegen.sonicpi.statements import read_runs
from notegen.sonicpi.types import ArrayKind, DurationArray, NoteArray, NoteToken, NumberToken, Span

_VOICE_RE = re.compile(r"a([0-9]+)")
_DUR_RE = re.compile(r"b([0-9]+)")
_BPM_RE = re.compile(r"c([0-9]+)")
_PATTERN_CMDS = ("play_pattern_timed", "play_pattern")


@dataclass(slots=True)
class _Doc:
    """One parse of a text: tokens without comments, bracket groups, and the source."""

    text: str
    tokens: list[Token]
    sig: list[Token]
    groups: dict[int, Group]
    closers: dict[int, int]
    names: dict[str, Number] = field(default_factory=dict)
    """Names the piece assigns one number (``Last = 4``): what :func:`evaluate` may use."""
    _strings: list[int] | None = None
    _notes: tuple[list[int], list[int]] | None = None

    # Counting tokens one by one for every bracket group took depth² steps in nested arrays
    # (``[`` x 100,000: minutes of a play command's whole-file reading): prefix counts, made on
    # first use, answer for any range in constant time.

    def strings_in(self, a: int, b: int) -> int:
        """How many string tokens ``sig[a:b]`` holds."""
        if self._strings is None:
            self._strings = list(accumulate((t.kind == "str" for t in self.sig), initial=0))
        b = max(a, min(b, len(self.sig)))
        return self._strings[b] - self._strings[a]

    def symbols_in(self, a: int, b: int) -> tuple[int, int]:
        """How many symbols ``sig[a:b]`` holds, and how many of them name notes."""
        if self._notes is None:
            is_sym = [t.kind == "sym" for t in self.sig]
            is_note = [t.kind == "sym" and _is_note_symbol(t.value) for t in self.sig]
            self._notes = (
                list(accumulate(is_sym, initial=0)),
                list(accumulate(is_note, initial=0)),
            )
        b = max(a, min(b, len(self.sig)))
        symbols, notes = self._notes
        return symbols[b] - symbols[a], notes[b] - notes[a]

    def tok_text(self, a: int, b: int) -> str:
        if a >= b:
            return ""
        return self.text[self.sig[a].start : self.sig[b - 1].end]

    def span(self, a: int, b: int) -> Span:
        if a >= b:
            pos = self.sig[a].start if a < len(self.sig) else len(self.text)
            return Span(pos, pos)
        return Span(self.sig[a].start, self.sig[b - 1].end)

    def is_op(self, i: int, *values: str) -> bool:
        return 0 <= i < len(self.sig) and self.sig[i].kind == "op" and self.sig[i].value in values

    def is_ident(self, i: int, *values: str) -> bool:
        return (
            0 <= i < len(self.sig)
            and self.sig[i].kind == "ident"
            and (not values or self.sig[i].value in values)
        )


def lone_cr_as_lf(text: str) -> str:
    """``text`` with every lone ``\\r`` line ending made ``\\n``: same length, same offsets.

    Editors (and LSP) end lines at ``\\n``, ``\\r\\n`` or a lone ``\\r``; the lexer only
    needs to know where lines end, and this keeps every offset valid in the original text.
    """
    if "\r" not in text:
        return text
    return _LONE_CR.sub("\n", text)


_LONE_CR = re.compile(r"\r(?!\n)")


def parse(text: str) -> _Doc:
    text = lone_cr_as_lf(text)
    tokens = tokenize(text)
    sig = [t for t in tokens if t.kind != "comment"]
    groups = match_groups(sig)
    closers = {g.closer: o for o, g in groups.items() if g.closer is not None}
    doc = _Doc(text, tokens, sig, groups, closers)
    doc.names = _constants(doc)
    return doc


def _constants(doc: _Doc) -> dict[str, Number]:
    """``name = <arithmetic>`` statements whose name only ever gets that one value.

    A name assigned two different values, updated (``x += 1``) or assigned something the
    evaluator cannot read is left out: its value depends on where Sonic Pi is in the piece.
    """
    found: dict[str, Number] = {}
    varying: set[str] = set()
    sig = doc.sig
    for i, tok in enumerate(sig):
        if tok.kind != "ident" or not (i == 0 or sig[i - 1].kind == "nl"):
            continue
        if not doc.is_op(i + 1, "=", "+=", "-=", "*=", "/=", "||=", "&&=", "**=", "%="):
            continue
        name = tok.value
        j = i + 2
        while j < len(sig) and sig[j].kind != "nl":
            j += 1
        value = None
        if sig[i + 1].value == "=" and all(
            t.kind in ("num", "op") or (t.kind == "ident" and t.value in found)
            for t in sig[i + 2 : j]
        ):
            res = evaluate(sig[i + 2 : j], names=found)
            value = res.value if res.error is None and not res.dynamic else None
        if value is None or (name in found and found[name] != value):
            varying.add(name)
            found.pop(name, None)
        elif name not in varying:
            found[name] = value
    return found


def read(text: str) -> list[NoteArray]:
    """Every note array of ``text`` in document order; never raises on any input."""
    try:
        return _read(parse(text))
    except RecursionError:  # pragma: no cover - pathological nesting
        return []


def read_doc(doc: _Doc) -> list[NoteArray]:
    return _read(doc)


def read_with_quoted(text: str) -> tuple[list[NoteArray], Quoted]:
    """As :func:`read`, and where the text's comments and strings lie, from the same parse
    (a cursor's context later needs both: :func:`notegen.sonicpi.context.context_in`)."""
    try:
        doc = parse(text)
        return _read(doc), Quoted(doc.tokens, doc.text)
    except RecursionError:  # pragma: no cover - pathological nesting
        return [], Quoted((), text)


@dataclass(slots=True)
class _Target:
    """The left side of ``x = [...]``: its name, span and, for aN[k]/bN[k], voice and section."""

    name: str
    span: Span
    base: str
    index: int | None


def _target_before(doc: _Doc, i: int) -> _Target | None:
    """The assignment target when token ``i`` is the first token after ``=``."""
    eq = i - 1
    if not doc.is_op(eq, "="):
        return None
    j = eq - 1
    if doc.is_op(j, "]"):
        opener = _opener_of(doc, j)
        if opener is None or not doc.is_ident(opener - 1):
            return None
        base = doc.sig[opener - 1].value
        inner = [t for t in doc.sig[opener + 1 : j] if t.kind != "nl"]
        plain_int = len(inner) == 1 and inner[0].kind == "num" and inner[0].value.isascii()
        index = int(inner[0].value) if plain_int and inner[0].value.isdigit() else None
        return _Target(doc.tok_text(opener - 1, j + 1), doc.span(opener - 1, j + 1), base, index)
    if doc.is_ident(j):
        name = doc.sig[j].value
        return _Target(name, doc.span(j, j + 1), name, None)
    return None


def _opener_of(doc: _Doc, closer: int) -> int | None:
    return doc.closers.get(closer)


def _is_index(doc: _Doc, i: int) -> bool:
    """``x[0]`` indexes; ``play [60]`` (space before) is a literal argument."""
    if i == 0:
        return False
    prev, tok = doc.sig[i - 1], doc.sig[i]
    if tok.space_before or prev.end != tok.start:
        return False
    if prev.kind == "ident":
        return prev.value not in _PATTERN_CMDS and prev.value not in ("play", "ring")
    return prev.kind in ("str", "sym", "num") or (prev.kind == "op" and prev.value in ")]}")


def _followed_by_ring(doc: _Doc, group: Group) -> bool:
    return (
        group.closer is not None
        and doc.is_op(group.stop, ".", "&.")
        and doc.is_ident(group.stop + 1, "ring")
    )


def _read(doc: _Doc) -> list[NoteArray]:
    arrays: list[NoteArray] = []
    durations: dict[tuple[int, int | None], list[DurationArray]] = {}
    bpm_lists: dict[int, list[float | None]] = {}
    bpm_single: dict[tuple[int, int | None], float | None] = {}
    claimed: set[int] = set()  # openers already used (chords, durations)

    for opener in sorted(doc.groups):
        if opener in claimed:
            continue
        group = doc.groups[opener]
        tok = doc.sig[opener]
        if tok.value == "[" and not _is_index(doc, opener):
            target = _target_before(doc, opener)
            if target is not None and _is_plain(target) and not _is_data(doc, opener):
                if (m := _VOICE_RE.fullmatch(target.base)) is not None:
                    arr = _note_array(doc, opener, "voice", target, claimed)
                    arr.voice = int(m.group(1))
                    arrays.append(arr)
                    continue
                if (m := _DUR_RE.fullmatch(target.base)) is not None and not _has_note_symbols(
                    doc, opener
                ):
                    durations.setdefault((int(m.group(1)), None), []).append(
                        _duration_array(doc, opener, target.name, claimed)
                    )
                    continue
            if target is not None and target.index is not None:
                if (m := _VOICE_RE.fullmatch(target.base)) is not None:
                    arr = _note_array(doc, opener, "voice", target, claimed)
                    arr.voice, arr.section = int(m.group(1)), target.index
                    arrays.append(arr)
                    continue
                if (m := _DUR_RE.fullmatch(target.base)) is not None:
                    key = (int(m.group(1)), target.index)
                    durations.setdefault(key, []).append(
                        _duration_array(doc, opener, target.name, claimed)
                    )
                    continue
            if (
                target is not None
                and target.index is None
                and (m := _BPM_RE.fullmatch(target.base))
            ):
                values = _duration_array(doc, opener, target.name, claimed).values
                bpm_lists.setdefault(int(m.group(1)), [v.value for v in values])
                continue
            cmd = _pattern_command(doc, opener)
            if cmd is not None:
                arr = _note_array(doc, opener, cmd, None, claimed)
                arr.durations = (
                    _pattern_durations(doc, group, claimed) if cmd.endswith("timed") else None
                )
                arrays.append(arr)
                continue
            kind: ArrayKind = (
                "ring"
                if _followed_by_ring(doc, group)
                else ("assign" if target is not None else "array")
            )
            if _is_data(doc, opener):
                _claim_children(doc, opener, claimed)  # its inner arrays are data too
                continue
            arr = _note_array(doc, opener, kind, target, claimed, tentative=True)
            if _has_note_symbols(doc, opener):
                _claim_children(doc, opener, claimed)
                arrays.append(arr)
            continue
        if tok.value == "(":
            ring_skip = _ring_call(doc, opener)
            if ring_skip is None:
                continue
            # `x = (ring ...)` starts at '(', `x = ring(...)` at `ring`
            target = _target_before(doc, opener if ring_skip else opener - 1)
            arr = _note_array(doc, opener, "ring", target, claimed, skip=ring_skip, tentative=True)
            if _has_note_symbols(doc, opener, skip=ring_skip) and not _is_data(
                doc, opener, skip=ring_skip
            ):
                _claim_children(doc, opener, claimed)
                arrays.append(arr)
    _single_bpm(doc, bpm_single)
    arrays.extend(_bare_lines(doc))
    arrays.extend(read_runs(doc))  # play/sleep statements (statements.py)
    arrays.sort(key=lambda a: a.span.start)
    arrays = _without_declarations(arrays)
    _attach_voice_data(arrays, durations, bpm_lists, bpm_single)
    return arrays


def _without_declarations(arrays: list[NoteArray]) -> list[NoteArray]:
    """Drop ``a1=[]`` where ``a1[k]=[...]`` follows: it declares the sections' container."""
    indexed = {a.voice for a in arrays if a.kind == "voice" and a.section is not None}
    return [
        a
        for a in arrays
        if not (a.kind == "voice" and a.section is None and not a.notes and a.voice in indexed)
    ]


def _single_bpm(doc: _Doc, out: dict[tuple[int, int | None], float | None]) -> None:
    """``c1[0]=70``: tempo given per section instead of as a list; ``c1=70`` for the voice."""
    for i, tok in enumerate(doc.sig):
        if tok.kind != "op" or tok.value != "=":
            continue
        target = _target_before(doc, i + 1)
        if target is None or not _BPM_RE.fullmatch(target.base):
            continue
        if target.index is None and not (_is_plain(target) and not doc.is_op(i + 1, "[")):
            continue
        j = i + 1
        while j < len(doc.sig) and doc.sig[j].kind != "nl" and not doc.is_op(j, ";"):
            j += 1
        m = _BPM_RE.fullmatch(target.base)
        assert m is not None
        value = evaluate(doc.sig[i + 1 : j], names=doc.names).value
        out[(int(m.group(1)), target.index)] = None if value is None else float(value)


def _is_plain(target: _Target) -> bool:
    """``a1 = [...]``: a plain name, not ``a1[0]`` nor ``a1[i]``."""
    return target.index is None and target.name == target.base


def _is_data(doc: _Doc, opener: int, skip: int = 0) -> bool:
    """Strings, or inner arrays mixing symbols and numbers: data (``[["Piano", 0, :c1]]``).

    Sonic Pi plays symbols and numbers; a string in an array means the array holds names,
    settings or labels, and its symbols are not a melody.
    """
    group = doc.groups[opener]
    if doc.strings_in(opener + 1 + skip, group.inner_end):
        return True
    for a, _ in elements(doc.sig, doc.groups, opener, skip):
        if doc.is_op(a, "[") and a in doc.groups:
            inner = {
                doc.sig[x].kind
                for x, y in elements(doc.sig, doc.groups, a)
                if y - x == 1 and doc.sig[x].kind in ("sym", "num")
            }
            if inner == {"sym", "num"}:
                return True
    return False


def _pattern_command(doc: _Doc, opener: int) -> ArrayKind | None:
    """``play_pattern_timed [..]`` or ``play_pattern_timed([..], ..)``: the command's name."""
    prev = opener - 1
    if doc.is_ident(prev, *_PATTERN_CMDS):
        return _pattern_kind(doc.sig[prev].value)
    if doc.is_op(prev, "(") and doc.is_ident(prev - 1, *_PATTERN_CMDS):
        return _pattern_kind(doc.sig[prev - 1].value)
    return None


def _pattern_kind(name: str) -> ArrayKind:
    return "play_pattern_timed" if name == "play_pattern_timed" else "play_pattern"


def _ring_call(doc: _Doc, opener: int) -> int | None:
    """Tokens to skip for ``(ring ...)`` (1) or ``ring(...)`` (0); ``None`` if not a ring."""
    if doc.is_ident(opener + 1, "ring"):
        return 1
    if doc.is_ident(opener - 1, "ring") and doc.sig[opener - 1].end == doc.sig[opener].start:
        return 0
    return None


def _pattern_durations(doc: _Doc, notes: Group, claimed: set[int]) -> DurationArray | None:
    """The second argument of ``play_pattern_timed``: an array or one number for all notes."""
    i = notes.stop
    if notes.closer is None or not doc.is_op(i, ","):
        return None
    i += 1
    while i < len(doc.sig) and doc.sig[i].kind == "nl":
        i += 1
    if doc.is_op(i, "[") and i in doc.groups:
        return _duration_array(doc, i, None, claimed)
    j = i
    while j < len(doc.sig) and doc.sig[j].kind != "nl" and not doc.is_op(j, ",", ")", ";"):
        if doc.is_op(j, "(") and j in doc.groups:
            j = max(doc.groups[j].stop, j + 1)
            continue
        j += 1
    if j == i or (doc.sig[j - 1].kind == "op" and doc.sig[j - 1].value == ":"):
        return None
    res = evaluate(doc.sig[i:j], names=doc.names)
    if res.dynamic:
        return None  # a variable: the durations are not in this file's text
    value = None if res.value is None else float(res.value)
    tok = NumberToken(doc.tok_text(i, j), doc.span(i, j), value, res.error)
    return DurationArray(None, doc.span(i, j), [tok], scalar=True)


def _group_span(doc: _Doc, opener: int) -> Span:
    group = doc.groups[opener]
    start = doc.sig[opener].start
    if group.closer is not None:
        return Span(start, doc.sig[group.closer].end)
    return Span(start, _cut_offset(doc, group))


def _cut_offset(doc: _Doc, group: Group) -> int:
    """Where an unclosed group ends: the start of the token (often a newline) that cut it."""
    if group.stop < len(doc.sig):
        return doc.sig[group.stop].start
    return len(doc.text)


def _duration_array(doc: _Doc, opener: int, name: str | None, claimed: set[int]) -> DurationArray:
    group = doc.groups[opener]
    values: list[NumberToken] = []
    sig = doc.sig
    for a, b in elements(sig, doc.groups, opener):
        res = literal(sig[a]) if b == a + 1 else None  # (most elements: one token)
        if res is None:
            res = evaluate(sig, names=doc.names, start=a, stop=b)
        value = None if res.value is None else float(res.value)
        error = res.error
        if error is None and value is None and not res.dynamic:
            error = "a rest is not a duration"
        values.append(
            NumberToken(doc.tok_text(a, b), doc.span(a, b), value, error, dynamic=res.dynamic)
        )
    _claim_children(doc, opener, claimed)
    span = _group_span(doc, opener)
    return DurationArray(
        name,
        span,
        values,
        open=doc.sig[opener].start,
        close=doc.sig[group.closer].start if group.closer is not None else None,
    )


def _claim_children(doc: _Doc, opener: int, claimed: set[int]) -> None:
    group = doc.groups[opener]
    for idx in range(opener + 1, group.inner_end):
        if idx in doc.groups:
            claimed.add(idx)


def _note_array(
    doc: _Doc,
    opener: int,
    kind: ArrayKind,
    target: _Target | None,
    claimed: set[int],
    skip: int = 0,
    tentative: bool = False,
) -> NoteArray:
    group = doc.groups[opener]
    # Only arrays that Sonic Pi plays note by note reject chord and scale names.
    names_ok = kind in ("assign", "array", "ring")
    notes = [
        _note_token(doc, a, b, names_ok=names_ok)
        for a, b in elements(doc.sig, doc.groups, opener, skip)
    ]
    if not tentative:
        _claim_children(doc, opener, claimed)
    span = _group_span(doc, opener)
    content_start = doc.sig[opener + skip].end if skip else doc.sig[opener].end
    content_end = doc.sig[group.closer].start if group.closer is not None else span.end
    return NoteArray(
        kind=kind,
        name=target.name if target else None,
        voice=None,
        section=None,
        span=span,
        open=doc.sig[opener].start,
        close=doc.sig[group.closer].start if group.closer is not None else None,
        content_start=content_start,
        content_end=content_end,
        notes=notes,
        name_span=target.span if target else None,
    )


def _note_token(doc: _Doc, a: int, b: int, depth: int = 0, *, names_ok: bool = False) -> NoteToken:
    """One element of a note array: a note, a rest, a chord, or an error saying why not.

    With ``names_ok``, Sonic Pi's chord and scale names (``:M``, ``:sus2``, ``:dorian``) are
    dynamic elements rather than invalid notes.
    """
    text, span = doc.tok_text(a, b), doc.span(a, b)
    first = doc.sig[a]
    if first.kind == "op" and first.value == "[" and a in doc.groups:
        group = doc.groups[a]
        if depth >= 2:  # an array of chords of chords is code, not a melody
            return NoteToken(text, span, None, dynamic=True)
        if group.stop == b and (group.closer is None or group.closer == b - 1):
            parts = [
                _note_token(doc, x, y, depth + 1, names_ok=names_ok)
                for x, y in elements(doc.sig, doc.groups, a)
            ]
            chord = tuple(p.midi for p in parts)
            pitched = [m for m in chord if m is not None]
            error = next((p.error for p in parts if p.error), None)
            dynamic = error is None and any(p.dynamic for p in parts)
            top = max(pitched) if pitched and not dynamic else None
            return NoteToken(text, span, top, error, chord, dynamic=dynamic)
    if b - a == 1 and first.kind == "str":
        return _string_note(text, span, first.value)
    res = literal(first, notes=True) if b - a == 1 else None
    if res is None:
        res = evaluate(doc.sig, notes=True, names=doc.names, start=a, stop=b)
    if res.error and names_ok and b - a == 1 and first.kind == "sym" and is_music_name(text):
        return NoteToken(text, span, None, dynamic=True)
    return NoteToken(text, span, res.value, res.error, dynamic=res.dynamic)


def _string_note(text: str, span: Span, value: str) -> NoteToken:
    """``"C4"`` plays as :C4, but ``"r"`` is not a rest: Sonic Pi only rests on symbols."""
    if value in REST_SYMBOLS:
        return NoteToken(text, span, None, f"Invalid note: {value!r} (rests are symbols, :r)")
    try:
        return NoteToken(text, span, note_to_midi(value))
    except NoteError as exc:
        return NoteToken(text, span, None, str(exc))


def _has_note_symbols(doc: _Doc, opener: int, skip: int = 0) -> bool:
    """An array holds notes when most of its symbols are note names (not ``:bd_haus``)."""
    notes = symbols = 0
    for a, b in elements(doc.sig, doc.groups, opener, skip):
        if doc.is_op(a, "[") and a in doc.groups:
            a, b = a + 1, doc.groups[a].inner_end  # a chord: its notes count
        s, n = doc.symbols_in(a, b)
        symbols, notes = symbols + s, notes + n
    return notes > 0 and 2 * notes >= symbols


@lru_cache(maxsize=4096)
def _is_note_symbol(value: str) -> bool:
    """A symbol that names a note (not a rest, not ``:bd_haus``)."""
    if value in REST_SYMBOLS:
        return False
    try:
        note_to_midi(value)
    except NoteError:
        return False
    return True


def _bare_lines(doc: _Doc) -> list[NoteArray]:
    """Top-level lines made only of note symbols and commas, with at least one comma."""
    out: list[NoteArray] = []
    depth_zero: list[bool] | None = None  # (made once a line starts with a symbol)
    sig = doc.sig
    n = len(sig)
    start = 0
    for i in range(n + 1):
        if i < n and sig[i].kind != "nl":
            continue
        if i > start and sig[start].kind == "sym":  # (a line of anything else is no bare line)
            if depth_zero is None:
                depth_zero = _top_level_mask(doc)
            arr = _bare_line(doc, list(range(start, i)), depth_zero)
            if arr is not None:
                out.append(arr)
        start = i + 1
    return out


def _top_level_mask(doc: _Doc) -> list[bool]:
    """Which tokens lie outside every bracket group: one pass over the tokens (marking each
    group's tokens one by one took depth² steps: 50,000 nested ``[`` never finished)."""
    n = len(doc.sig)
    opened = [0] * (n + 1)  # groups starting minus groups ending at each token
    for opener, group in doc.groups.items():
        if opener < min(group.stop, n):
            opened[opener] += 1
            opened[min(group.stop, n)] -= 1
    mask, depth = [], 0
    for k in range(n):
        depth += opened[k]
        mask.append(depth == 0)
    return mask


def _bare_line(doc: _Doc, line: list[int], depth_zero: list[bool]) -> NoteArray | None:
    toks = [doc.sig[i] for i in line]
    if not all(depth_zero[i] for i in line) or toks[0].kind != "sym":
        return None
    if not all(t.kind == "sym" or (t.kind == "op" and t.value == ",") for t in toks):
        return None
    if not any(t.kind == "op" for t in toks):
        return None
    notes: list[NoteToken] = []
    for tok in toks:
        if tok.kind == "sym":
            res = evaluate([tok], notes=True)
            notes.append(
                NoteToken(
                    doc.text[tok.start : tok.end], Span(tok.start, tok.end), res.value, res.error
                )
            )
    if not any(n.midi is not None for n in notes):
        return None
    start = toks[0].start
    line_end = doc.text.find("\n", start)
    line_end = len(doc.text) if line_end < 0 else line_end
    if line_end > start and doc.text[line_end - 1] == "\r":
        line_end -= 1
    return NoteArray(
        kind="bare",
        name=None,
        voice=None,
        section=None,
        span=Span(start, line_end),
        open=None,
        close=None,
        content_start=start,
        content_end=line_end,
        notes=notes,
    )


def _attach_voice_data(
    arrays: list[NoteArray],
    durations: dict[tuple[int, int | None], list[DurationArray]],
    bpm_lists: dict[int, list[float | None]],
    bpm_single: dict[tuple[int, int | None], float | None],
) -> None:
    """Give each aN[k] (or plain aN) its bN[k] (bN), the nearest in the text, and its tempo.

    The tempo is ``cN[k]``, else ``cN[k]`` of the list ``cN=[...]`` (its first value for a
    plain voice), else a plain ``cN=70``.
    """
    for arr in arrays:
        if arr.kind != "voice" or arr.voice is None:
            continue
        key = (arr.voice, arr.section)
        candidates = durations.get(key, [])
        if candidates:
            arr.durations = min(candidates, key=lambda d: abs(d.span.start - arr.span.start))
        section = arr.section if arr.section is not None else 0
        if key in bpm_single:
            arr.bpm = bpm_single[key]
        elif arr.voice in bpm_lists and section < len(bpm_lists[arr.voice]):
            arr.bpm = bpm_lists[arr.voice][section]
        elif (arr.voice, None) in bpm_single:
            arr.bpm = bpm_single[(arr.voice, None)]
