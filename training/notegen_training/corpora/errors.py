"""The one exception readers raise for a file that cannot be used, with a reason a user reads."""

from __future__ import annotations


class UnreadableFile(Exception):
    """``reason`` is short and specific ("not a MIDI file: ...", "no notes"); the converter
    reports it with the file name, counts it, and goes on with the next file."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
