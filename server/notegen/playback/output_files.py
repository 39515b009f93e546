"""Write an output file safely: never over an existing file unasked, never half-written.

The file is written under a temporary name in the target's own directory, then renamed; without
``force`` the rename is a hard link, which fails if the target appeared meanwhile.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["check_target", "install", "temp_beside"]


def check_target(path: Path, force: bool) -> None:
    """Refuse (``FileExistsError``) to write over an existing file unless ``force``."""
    if path.is_dir():
        raise FileExistsError(f"{path} is a directory")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; give --force to overwrite it")


def temp_beside(path: Path) -> Path:
    """A fresh, unused name in ``path``'s directory (so the final rename stays on one disk)."""
    return path.with_name(f".{path.stem}.notegen-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


def install(temp: Path, path: Path, force: bool) -> None:
    """Give the finished ``temp`` the name ``path``: atomically, and without replacing an
    existing file unless ``force`` (a file that appeared meanwhile is not overwritten)."""
    if force:
        os.replace(temp, path)
        return
    try:
        os.link(temp, path)  # fails when path exists: no check-then-write race
    except FileExistsError:
        temp.unlink(missing_ok=True)
        raise FileExistsError(f"{path} exists; give --force to overwrite it") from None
    except OSError:  # no hard links on this file system
        if path.exists():
            temp.unlink(missing_ok=True)
            raise FileExistsError(f"{path} exists; give --force to overwrite it") from None
        os.replace(temp, path)
        return
    temp.unlink()
