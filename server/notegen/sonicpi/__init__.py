"""Read and write Sonic Pi source: note arrays, cursor contexts and playable blocks.

``read`` finds every note array (voice/section form, ``play_pattern_timed``, rings, plain
assignments, the seed's bare lines); ``context_at`` says what the cursor sits in, for
completion; ``render_block`` writes a playable voice in Robin Newman's ``aN``/``bN``/``cN`` form.
"""

from notegen.sonicpi.context import context_at, context_in
from notegen.sonicpi.quoted import Quoted
from notegen.sonicpi.reader import read, read_with_quoted
from notegen.sonicpi.types import (
    ArrayKind,
    CursorContext,
    DurationArray,
    LineIndex,
    NoteArray,
    NoteToken,
    NumberToken,
    Span,
)
from notegen.sonicpi.writer import format_duration, next_free_voice, render_block

__all__ = [
    "ArrayKind",
    "CursorContext",
    "DurationArray",
    "LineIndex",
    "NoteArray",
    "NoteToken",
    "NumberToken",
    "Quoted",
    "Span",
    "context_at",
    "context_in",
    "format_duration",
    "next_free_voice",
    "read",
    "read_with_quoted",
    "render_block",
]
