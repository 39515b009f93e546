"""Does this text look like a Sonic Pi program, or like other Ruby?

Sonic Pi files are Ruby files, so a Ruby workspace (a Rails app, a gem) is full of ``.rb`` files
notegen must leave alone: no note suggestions in ``[:c, :d, :e]`` symbol arrays, no "Generate
melody" on every line. A file counts as Sonic Pi when a line *starts* with something only
Sonic Pi code writes (or a statement after a ``;`` does: ``x='ab';a1[0]=[...]``): a voice
array (``a1[0]=[...]``, or plain ``a1=[:r,:G3,...]``),
``play`` of a note, chord or array,
``live_loop``, ``use_synth``/``with_synth``, ``use_bpm``, ``play_pattern(_timed)``,
``sample :name``, ``with_fx``, ``in_thread``. ``sleep`` alone does not count: Ruby's
``Kernel#sleep`` is everywhere in ordinary code. Comments never count (a line starting with
``#`` matches nothing). Only the first :data:`RECOGNISE_CHARS` characters are looked at.
Lines end where LSP ends them, at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (and at nothing else:
not at U+2028), as everywhere else in the server.
"""

from __future__ import annotations

import re

from notegen.sonicpi.reader import lone_cr_as_lf

__all__ = ["SONIC_PI_LANGUAGE_IDS", "looks_like_sonic_pi"]

SONIC_PI_LANGUAGE_IDS = frozenset({"sonic-pi", "sonicpi"})

_SIGN = r"""(?:
        a\d+[ \t]*\[[ \t]*\d+[ \t]*\][ \t]*=[ \t]*\[          # voice array a1[0]=[
      | a\d+[ \t]*=[ \t]*\[[ \t]*(?::[A-Ga-g][sSbBfF]?-?\d|:r\b|:rest\b)  # plain a1=[:r,:G3
      | play[ \t]+(?::[A-Ga-g]|\d|\[|chord\b|scale\b|\(|ring\b|note\b)   # play :c4 / 60 / [...]
      | play_pattern(?:_timed)?\b
      | play_chord\b
      | (?:live_loop|in_thread|with_fx|use_synth|with_synth|use_bpm|with_bpm|use_random_seed)\b
      | sample[ \t]+:
    )"""
_SIGNS = re.compile(r"^[ \t]*" + _SIGN, re.MULTILINE | re.VERBOSE)
_AFTER_SEMICOLON = re.compile(r";[ \t]*(?=[aplisuw])" + _SIGN, re.VERBOSE)  # (fails fast)


RECOGNISE_CHARS = 262_144
"""Characters of a document looked at (the largest real piece in the data is ~78 kB).

The decision is taken on the event loop at every new version; the whole of a 5 MB document
took ~30 ms for ordinary text and ~300 ms for 5 MB of blank lines (each line start tried)."""


def looks_like_sonic_pi(text: str, language_id: str | None = None) -> bool:
    """``True`` for a Sonic Pi language id, or text with a line only Sonic Pi code writes."""
    if language_id in SONIC_PI_LANGUAGE_IDS:
        return True
    # ``^`` (MULTILINE) and the line bounds below know only ``\n``: an old Mac editor's lone
    # ``\r`` ends a line too (same length, so every offset stays put).
    text = lone_cr_as_lf(text[:RECOGNISE_CHARS])
    if _SIGNS.search(text) is not None:
        return True
    line_end, comment = -1, -1  # the end of the last match's line, where its comment starts
    for found in _AFTER_SEMICOLON.finditer(text):
        at = found.start()
        if at > line_end:  # a later line than the last match's
            start = text.rfind("\n", 0, at) + 1
            line_end = text.find("\n", at)
            line_end = len(text) if line_end < 0 else line_end
            comment = text.find("#", start, line_end)
        if comment < 0 or comment > at:  # (a ';' in a comment does not count)
            return True
    return False
