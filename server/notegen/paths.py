"""Paths as users write them in settings, the environment and on the command line."""

from __future__ import annotations

import os
from pathlib import Path


def user_path(text: str | os.PathLike[str]) -> Path:
    """``text`` with a leading ``~`` or ``~user`` expanded, and left as it is when that user
    or home is unknown (``Path.expanduser`` raises ``RuntimeError`` then: a setting of
    ``~nosuchuser/models`` stopped every diagnostic of the documents that use it). The path
    that is then not found is reported as any missing file is."""
    return Path(os.path.expanduser(os.fspath(text)))
