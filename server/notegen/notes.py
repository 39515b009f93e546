"""Sonic Pi's note grammar: symbol ⇄ MIDI number, and spelling a pitch in a document's style.

The rules mirror Sonic Pi's ``note.rb`` exactly (3.x and 4.x share it), so that every symbol
Sonic Pi accepts maps to the same MIDI number here and every symbol it rejects is rejected:

* ``\\A:?(([a-gA-G])([sSbBfF]?))([-]?[0-9]*)\\Z`` — a letter in any case, an optional modifier
  ``s`` (sharp), ``b``/``f`` (flat) in any case, an optional octave that may be negative;
* default octave 4; ``midi = 12 * octave + pitch_class + 12`` (``:C4`` = 60, ``:Cb4`` = 59,
  ``:Bs4`` = 72); a lone ``-`` as octave reads as 0 because Ruby's ``"-".to_i`` is 0;
* Ruby's ``\\Z`` also matches before one trailing newline, so ``"c4\\n"`` is accepted;
* ``:r`` and ``:rest`` (lower case only, as Sonic Pi compares symbols) and ``nil`` are rests;
* numbers (ints and floats) are MIDI notes as they are.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "DEFAULT_STYLE",
    "REST_SYMBOLS",
    "NoteError",
    "NoteStyle",
    "infer_style",
    "is_rest",
    "midi_to_hz",
    "note_to_midi",
    "parse_note",
    "playable_hz",
    "spell",
]

NOTE_RE = re.compile(r"\A:?(([a-gA-G])([sSbBfF]?))(-?[0-9]*)\n?\Z")
"""Sonic Pi's ``MIDI_NOTE_RE``; the optional ``\\n`` stands in for Ruby's ``\\Z``."""

REST_SYMBOLS = frozenset({"r", "rest"})
"""Rest names as Sonic Pi's ``note()`` compares them: exact, lower-case symbols."""

_LETTER_TO_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_MODIFIER = {"": 0, "s": 1, "b": -1, "f": -1}
DEFAULT_OCTAVE = 4
MAX_SONIC_PI_NOTE = 231
"""The highest MIDI note Sonic Pi plays (its notes are 0-231)."""


class NoteError(ValueError):
    """A note Sonic Pi would reject, with the message it would give."""


def is_rest(text: str) -> bool:
    """Whether a symbol (with or without its colon) is one of Sonic Pi's rests."""
    return text.removeprefix(":") in REST_SYMBOLS


def note_to_midi(note: str | int | float | None) -> int | float | None:
    """Resolve a Sonic Pi note to its MIDI number, or ``None`` for a rest.

    Accepts symbols with or without the colon (``":Ef5"``, ``"ef5"``), ``"r"``/``"rest"`` and
    numbers (``60``, ``61.5``), which are returned unchanged as Sonic Pi plays them unchanged.
    Text is always a note name, as in Sonic Pi: ``"60"`` is rejected, ``60`` is not.
    Raises :class:`NoteError` for anything Sonic Pi rejects.
    """
    if note is None:
        return None
    if isinstance(note, bool):
        raise NoteError(f"Invalid note: {note!r} (expected a note symbol or a number)")
    if isinstance(note, (int, float)):
        if isinstance(note, float) and not math.isfinite(note):
            raise NoteError(f"Invalid note: {note!r} (not a finite number)")
        return note
    if not isinstance(note, str):
        raise NoteError(f"Invalid note: {note!r} (expected a note symbol or a number)")
    if note.removeprefix(":") in REST_SYMBOLS:
        return None
    match = NOTE_RE.match(note)
    if match is None:
        raise NoteError(_explain_invalid(note))
    letter, modifier, octave_text = match.group(2), match.group(3), match.group(4)
    octave = _ruby_to_i(octave_text) if octave_text else DEFAULT_OCTAVE
    pitch_class = _LETTER_TO_CLASS[letter.lower()] + _MODIFIER[modifier.lower()]
    return octave * 12 + pitch_class + 12


def parse_note(note: str | int | float | None) -> int | float | None:
    """Alias of :func:`note_to_midi`, kept for readers who think of it as parsing."""
    return note_to_midi(note)


def _ruby_to_i(text: str) -> int:
    """Ruby's ``String#to_i`` for ``-?[0-9]*``: a lone ``-`` is 0."""
    digits = text.lstrip("-")
    value = int(digits) if digits else 0
    return -value if text.startswith("-") else value


def _explain_invalid(note: str) -> str:
    """Sonic Pi's message (``Invalid note: :x``) plus the rule it broke, for diagnostics."""
    body = note.removeprefix(":")
    shown = ":" + body if body else repr(note)
    if not body:
        why = "empty note name"
    elif body[0].lower() not in "abcdefg":
        if body.lower() in REST_SYMBOLS:
            why = "rests are written in lower case, :r or :rest"
        else:
            why = f"a note starts with a letter a–g, not {body[0]!r}"
    else:
        rest = body[1:]
        mod = rest[:1] if rest[:1].lower() in ("s", "b", "f") else ""
        octave = rest[len(mod) :]
        if octave and not re.fullmatch(r"-?[0-9]*", octave):
            why = (
                f"after {body[: 1 + len(mod)]!r} only an octave number may follow, "
                f"not {octave!r} (modifiers are s, b or f)"
            )
        else:
            why = "not a note name"
    return f"Invalid note: {shown} ({why})"


def midi_to_hz(midi: float) -> float:
    """Frequency in Hz with A4 (MIDI 69) at 440 Hz, as Sonic Pi's ``midi_to_hz``.

    Total, as Ruby's floats are: a note array may hold ``1e308`` or ``10**400``, whose power of
    two overflows Python's float (OverflowError) where Ruby's saturates to ``Infinity``/``0.0``.
    """
    try:
        return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    except OverflowError:
        return math.inf if midi > 0 else 0.0


def playable_hz(midi: float) -> float | None:
    """The frequency of a note Sonic Pi plays (MIDI 0-231), else ``None``.

    For what is shown to a user: beyond Sonic Pi's notes a frequency is meaningless (``9999``
    is a 3,000-digit figure in Hz) and NaN has none.
    """
    return midi_to_hz(midi) if 0 <= midi <= MAX_SONIC_PI_NOTE else None


@dataclass(frozen=True)
class NoteStyle:
    """How a document spells its notes and lays out its lists, so insertions read like it.

    ``accidental`` chooses sharps (``Cs``) or flats (``Db``) for black keys; ``flat_letter`` is
    ``f`` (``:Ef5``, Robin Newman's habit) or ``b`` (``:Eb5``); ``case`` is ``upper``
    (``:C4``, ``:Fs3``) or ``lower`` (``:c4``, ``:fs3``); ``rest`` is ``:r`` or ``:rest``.
    ``pitch_names`` (12 entries or none) is, per pitch class, the name the document writes
    for it (``"Bf"`` for 10 in a file that writes ``:Bf4`` 40 times; ``""`` where it writes
    none): it wins over ``accidental``, which only decides pitch classes the file never spells.
    ``separator`` is what the document puts between list elements (``","`` or ``", "``;
    ``None``: the writer's own default) and ``whole_float`` whether it writes whole beats as
    ``1.0`` rather than ``1``.
    """

    accidental: Literal["sharp", "flat"] = "sharp"
    flat_letter: Literal["f", "b"] = "b"
    case: Literal["upper", "lower"] = "upper"
    rest: Literal[":r", ":rest"] = ":r"
    pitch_names: tuple[str, ...] = ()
    separator: str | None = None
    whole_float: bool = False

    def joiner(self, default: str = ", ") -> str:
        """The list separator to write: the document's, else ``default``."""
        return self.separator if self.separator is not None else default


DEFAULT_STYLE = NoteStyle()

_SHARP_NAMES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")


def spell(midi: int | float | None, style: NoteStyle = DEFAULT_STYLE) -> str:
    """Spell a MIDI number (``None`` = rest) as a Sonic Pi symbol in ``style``.

    Integral numbers become symbols that :func:`note_to_midi` maps back to the same number;
    fractional (microtonal) numbers have no symbol and are written as numbers.
    """
    if midi is None:
        return style.rest
    if isinstance(midi, float) and not midi.is_integer():
        return repr(midi)
    value = int(midi)
    octave, pitch_class = divmod(value - 12, 12)
    own = style.pitch_names[pitch_class] if len(style.pitch_names) == 12 else ""
    if own:
        # the document's own name for this pitch class; ``Bs``/``Cb`` cross an octave line
        offset = _LETTER_TO_CLASS[own[0].lower()] + _MODIFIER[own[1:].lower()]
        return f":{own}{(value - 12 - offset) // 12}"
    names = _SHARP_NAMES if style.accidental == "sharp" else _FLAT_NAMES
    name = names[pitch_class]
    if style.accidental == "flat" and style.flat_letter == "f":
        name = name.replace("b", "f")
    if style.case == "lower":
        name = name.lower()
    return f":{name}{octave}"


_FLAT_MAJOR_TONICS = frozenset({5, 10, 3, 8, 1, 6})
_SHARP_MAJOR_TONICS = frozenset({7, 2, 9, 4, 11})
_MODE_TO_MAJOR = {
    "major": 0,
    "ionian": 0,
    "minor": 3,
    "aeolian": 3,
    "harmonic_minor": 3,
    "melodic_minor": 3,
    "minor_pentatonic": 3,
    "major_pentatonic": 0,
    "dorian": -2,
    "phrygian": -4,
    "lydian": -5,
    "mixolydian": 5,
    "locrian": 1,
}


def style_for_key(style: NoteStyle, tonic: int | None, scale: str | None) -> NoteStyle:
    """``style`` with sharps or flats chosen by the key's signature (E♭ major: flats).

    Pitch classes the document spells itself keep its names (``pitch_names``); C major and
    keys whose signature is unknown keep the document's overall choice.
    """
    if tonic is None:
        return style
    shift = _MODE_TO_MAJOR.get(scale or "major")
    if shift is None:
        return style
    major = (tonic + shift) % 12
    if major in _FLAT_MAJOR_TONICS:
        return replace(style, accidental="flat")
    if major in _SHARP_MAJOR_TONICS:
        return replace(style, accidental="sharp")
    return style


# Each pattern starts with its literal character and looks behind it only once that matched:
# a pattern that starts with a lookbehind is tried at every position of the text, one that
# starts with a literal only where that character is. The same matches, found faster: a fresh
# document's first completion infers the style of the text around its cursor
# (``benchmarks/style_inference.py``; figures in benchmarks/README, "Issue 12, session 25").
_SYMBOL_IN_TEXT = re.compile(r":(?<![\w:]:)([a-gA-G][sSbBfF]?-?[0-9]*|rest|r)\b")
"""A note symbol's body: ``:`` not after a word character or another ``:``."""

_LIST_COMMA = re.compile(r",(?<=[\w\]],)( *)(?=[:\[0-9-])")
"""A list's comma (after a word or ``]``, before a value) and the blanks after it."""
_NUMBER_IN_LIST = re.compile(r"[\[,]\s*([0-9]+(?:\.[0-9]+)?)\s*(?=[,\]])")
"""A number that is a whole list element (the ``[`` or ``,`` before it is matched, not the
one after: the next element's match starts there)."""


def infer_style(text: str) -> NoteStyle:
    """Infer the spelling and layout habits of a document from the code it already holds.

    Majority votes, each falling back to :data:`DEFAULT_STYLE` when the document has no
    evidence (for instance no accidentals at all keeps sharps). Each pitch class keeps the
    name the document writes most for it (``:Bf4`` → ``Bf``), in the document's case.
    """
    symbols, spaced = _votes(text)
    return _style(symbols, spaced, text)


def infer_style_by_line(text: str) -> NoteStyle:
    """:func:`infer_style` of ``text``, each line's votes remembered (:data:`LINE_VOTES`).

    For the text around a cursor in a file with no whole reading (a huge one, or before its
    first reading): its spelling is inferred at every keystroke from ~4,000 characters that
    differ by the keystroke's line only (~1.5 ms a keystroke on the 200,000-note document).
    The same votes: a symbol or a list comma never spans a line, and each line's distinct
    symbols are merged in the order they first appear, as one pass over the text meets them.

    A line written again is merged once, its votes times its count (counted at C speed), in
    the place of its first appearance, which keeps that order: ``play``/``sleep`` code
    repeats a few lines (``  sleep 0.25``), and the ~500 lines around a cursor in the 4.8 MB
    ``play`` document took 1.34 ms a keystroke merged one by one, 0.12 ms so."""
    symbols: Counter[str] = Counter()
    spaced: Counter[bool] = Counter()
    for line, times in Counter(text.split("\n")).items():
        with _LINE_LOCK:
            known = _LINE_VOTES.get(line)
        if known is None:
            known = _votes(line)
            with _LINE_LOCK:
                if len(_LINE_VOTES) >= LINE_VOTES:
                    del _LINE_VOTES[next(iter(_LINE_VOTES))]  # the oldest
                _LINE_VOTES[line] = known
        if times == 1:
            symbols.update(known[0])
            spaced.update(known[1])
        else:
            symbols.update({symbol: n * times for symbol, n in known[0].items()})
            spaced.update({kind: n * times for kind, n in known[1].items()})
    return _style(symbols, spaced, text)


LINE_VOTES = 1024
"""Lines whose votes :func:`infer_style_by_line` keeps (a window is ~20-200 lines)."""
_LINE_VOTES: dict[str, tuple[Counter[str], Counter[bool]]] = {}
_LINE_LOCK = threading.Lock()


def _votes(text: str) -> tuple[Counter[str], Counter[bool]]:
    """Each distinct symbol once with its count, in the order it first appears, and the list
    commas with and without a space after them."""
    commas = _LIST_COMMA.findall(text)
    bare = commas.count("")  # (counted at C speed: a line of notes has a comma per note)
    counts = {True: len(commas) - bare, False: bare}
    order = (True, False) if commas and commas[0] else (False, True)
    return (
        Counter(_SYMBOL_IN_TEXT.findall(text)),
        Counter({spaced: counts[spaced] for spaced in order if counts[spaced]}),
    )


def _style(symbols: Counter[str], spaced: Counter[bool], text: str) -> NoteStyle:
    """The style the votes give (whole numbers read from ``text``: a list's number may
    follow its ``[`` or ``,`` on another line)."""
    case: Counter[str] = Counter()
    accidental: Counter[str] = Counter()
    flat_letter: Counter[str] = Counter()
    rest: Counter[str] = Counter()
    names: list[Counter[str]] = [Counter() for _ in range(12)]
    # Each distinct symbol once, with its count, in the order it first appears (so every vote
    # breaks ties as one pass over the matches did): a completion on a long line infers the
    # style of ~6,000 characters around the cursor, ~4 ms one match at a time.
    for body, seen in symbols.items():
        if body in REST_SYMBOLS:
            rest[":" + body] += seen
            continue
        case["upper" if body[0].isupper() else "lower"] += seen
        modifier = body[1:2].lower()
        if modifier == "s":
            accidental["sharp"] += seen
        elif modifier in ("b", "f"):
            accidental["flat"] += seen
            flat_letter[modifier] += seen
        if modifier not in ("s", "b", "f"):
            modifier = ""
        pc = (_LETTER_TO_CLASS[body[0].lower()] + _MODIFIER[modifier]) % 12
        names[pc][body[0].lower() + modifier] += seen

    def vote(counter: Counter[str], default: str) -> str:
        return counter.most_common(1)[0][0] if counter else default

    chosen_case = vote(case, DEFAULT_STYLE.case)
    pitch_names: tuple[str, ...] = ()
    if any(names):
        pitch_names = tuple(
            _in_case(max(counter.items(), key=lambda kv: (kv[1], -len(kv[0])))[0], chosen_case)
            if counter
            else ""
            for counter in names
        )
    whole = Counter(
        number.endswith(".0")
        for number in _NUMBER_IN_LIST.findall(text)
        if number.endswith(".0") or "." not in number
    )
    return NoteStyle(
        accidental=vote(accidental, DEFAULT_STYLE.accidental),  # type: ignore[arg-type]
        flat_letter=vote(flat_letter, DEFAULT_STYLE.flat_letter),  # type: ignore[arg-type]
        case=chosen_case,  # type: ignore[arg-type]
        rest=vote(rest, DEFAULT_STYLE.rest),  # type: ignore[arg-type]
        pitch_names=pitch_names,
        separator=None if not spaced else (", " if spaced[True] >= spaced[False] else ","),
        whole_float=whole[True] > whole[False],
    )


def _in_case(name: str, case: str) -> str:
    return name[:1].upper() + name[1:] if case == "upper" else name.lower()
