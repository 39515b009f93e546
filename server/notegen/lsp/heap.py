"""The server process's memory: Python's collector and glibc's heap.

A server that reads 100,000-token files and holds 5 MB documents allocates in bursts: the
collector is tuned so a reading does not stop completions for full collections, and glibc's
heap (its arenas, the sizes that get their own mapping, the top it keeps) so that what a
reading or a closed document freed goes back to the system, while a huge document's
keystrokes do not fault their text's pages in again each time. Each setting's docstring
says what it was measured against. Off glibc the heap's settings are no-ops.
"""

from __future__ import annotations

import functools
import gc
from typing import Any

GC_THRESHOLDS = (20_000, 20, 1_000)
"""Python's collector, tuned for a server that reads 100,000-token files: with the default
(700, 10, 10) a reading triggered full collections of ~25-60 ms each, and any completion
waiting then waited for them. Young collections now come every 20,000 allocations, and full
ones only from :func:`release_memory`, after a reading, when typing has paused."""


def tune_gc() -> None:
    """Move everything alive at start-up (modules, lsprotocol's types, the model) out of the
    collector's sight (``gc.freeze``) and set :data:`GC_THRESHOLDS`."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def release_memory() -> None:
    """After a whole-file reading: collect cycles, then give the freed heap back (glibc
    ``malloc_trim``).

    A reading of a big file allocates ~2x what it keeps (lexer tokens, the previous reading);
    without this the freed arenas stay in the resident set for good.
    """
    gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


MALLOC_ARENAS = 2
"""glibc gives each thread that allocates its own heap arena (up to 8 per core); freed memory
in one arena is not reused by another thread. The server's threads (event loop, inference,
reading, generation, stdin) share two: measured on the soak benchmark, see its README."""
MMAP_THRESHOLD = 8 * 1024 * 1024
"""Blocks from this size up get their own mapping, returned to the system when freed.

glibc's threshold starts at 128 kB but rises to the largest block freed so far (up to 32 MB):
after a reading's big arrays were freed, the next ones came from the heap and pinned its pages
between longer-lived blocks. Fixed, it stops rising: the soak benchmark's server was ~10-17 MB
smaller once idle after each storm (measured at 1 MB: 178/183/191 against 195/205/198 MB).

Not at 1 MB, as it was: a fresh mapping is paid again page by page at its first touch, so
each 5 MB copy of a huge document's text (the splice of every keystroke, the JSON of
``didOpen``) cost ~3 ms instead of ~0.3 ms (``s[:-1]`` of a 5 MB string, measured). At 8 MB a
5 MB document's keystroke completes in p50 18 ms instead of 26, its first completion in 39
instead of 63 ms (``huge_documents.py``), and the soak is unchanged (once idle 167/178/183 MB).
Not lower than 1 MB: a completion makes ~8 blocks of 128-512 kB, and a mapping each cost it
~0.8 ms (measured)."""
HUGE_TEXT = 1_000_000
"""A document from this many characters up keeps the heap's top from keystroke to keystroke."""
HUGE_TEXT_COPIES = 6
"""How many of a huge document's sizes the heap's top keeps (:func:`trim_threshold_for`).

Not 3, as it was: an Enter in the 4.8 MB document of 400,000 ``play``/``sleep`` lines frees
the old text, its two halves and the line table's copies (3.2 MB each) at once, which could
pass three texts' worth, so the top went back and was faulted in again. Typing there
(``huge_documents.py``'s keystroke: an Enter, ``play ``, a completion, the note and its
``sleep``) made ~1,790 page faults a keystroke at 3 and ~62 at 6; p50 16.6 / 16.7 against
13.2 / 12.3 ms (in turns, 100 keystrokes each)."""
TRIM_THRESHOLD = 128 * 1024
"""glibc's own: free memory at a heap's top past this much goes back to the system at once."""
MAX_TRIM_THRESHOLD = 32 * 1024 * 1024


def trim_threshold_for(largest: int) -> int:
    """``M_TRIM_THRESHOLD`` while the largest open document has ``largest`` characters.

    Each keystroke in a 5 MB document frees the old text and its two halves (the splice) and
    makes the new one: at 128 kB the heap's top went back to the system after every keystroke
    and was faulted in again by the next, ~3 ms of a 5 MB splice that takes ~0.8 ms with the
    top kept (a 5 MB string spliced 200 times, measured). Kept for every document, though, it
    stays resident for good in the second arena (``malloc_trim`` does not shrink that one's
    top): the soak benchmark's server was ~5 MB bigger once idle and ~13 MB after closing its
    document (one run at 16 MB for all). So only while a huge document is open, and
    :data:`HUGE_TEXT_COPIES` times its size."""
    if largest < HUGE_TEXT:
        return TRIM_THRESHOLD
    return min(MAX_TRIM_THRESHOLD, HUGE_TEXT_COPIES * largest)


def limit_malloc_arenas() -> None:
    """``mallopt(M_ARENA_MAX, MALLOC_ARENAS)`` and a fixed ``M_MMAP_THRESHOLD`` before the
    server starts its threads (glibc)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(-8, MALLOC_ARENAS)  # M_ARENA_MAX
        libc.mallopt(-3, MMAP_THRESHOLD)  # M_MMAP_THRESHOLD (also stops its dynamic rise)


def set_trim_threshold(value: int) -> None:
    """``mallopt(M_TRIM_THRESHOLD, value)`` (glibc; elsewhere nothing)."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(-1, value)


@functools.cache
def _libc() -> Any:
    """glibc's ``mallopt`` and ``malloc_trim`` (``None`` elsewhere: nothing to tune)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim"):
            return libc
    except OSError:  # not glibc: nothing to do
        pass
    return None
