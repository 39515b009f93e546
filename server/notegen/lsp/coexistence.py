"""Which open documents notegen serves, so it stays silent in other Ruby files.

``enable`` (setting): ``auto`` serves documents that look like Sonic Pi
(:func:`notegen.sonicpi.recognise.looks_like_sonic_pi`) and those whose path matches one of the
``include`` globs; ``always`` serves every document the client sends; ``never`` serves none.
Completion, ghost text, hover, code actions and diagnostics ask :meth:`Coexistence.serves`;
explicit commands (Generate melody...) always run, because the user asked for them.

The answer is cached per document version: a new empty ``.rb`` file starts being served as soon
as its first ``play`` or voice array is typed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlparse

from notegen.config import Settings
from notegen.sonicpi.recognise import looks_like_sonic_pi

__all__ = ["Coexistence", "glob_matches"]


@lru_cache(maxsize=64)
def _glob_regex(glob: str) -> re.Pattern[str]:
    """``**`` any folders, ``*`` within one name, ``?`` one character, ``{a,b}`` either.

    A glob without a leading ``/`` may match at any folder depth (``music/*.rb`` matches
    ``/home/me/music/a.rb``), as globs in editor settings do.
    """
    out = [] if glob.startswith("/") else ["(?:.*/)?"]
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "{" and "}" in glob[i:]:
            end = glob.index("}", i)
            out.append("(?:" + "|".join(re.escape(p) for p in glob[i + 1 : end].split(",")) + ")")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("file", "") else uri


def glob_matches(globs: tuple[str, ...], uri: str) -> bool:
    """Whether the document's path matches any of ``globs``."""
    path = _path(uri).replace("\\", "/")
    return any(_glob_regex(g.replace("\\", "/")).match(path) for g in globs if g.strip())


class Coexistence:
    """Per-document decision, recomputed only when the document's version changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int | None, bool]] = {}

    def serves(
        self,
        settings: Settings,
        uri: str,
        version: int | None,
        text: str,
        language_id: str | None,
    ) -> bool:
        if settings.enable == "never":
            return False
        if settings.enable == "always" or glob_matches(settings.include, uri):
            return True
        cached = self._cache.get(uri)
        if cached is not None and cached[0] == version and version is not None:
            return cached[1]
        answer = looks_like_sonic_pi(text, language_id)
        self._cache[uri] = (version, answer)
        return answer

    def forget(self, uri: str) -> None:
        self._cache.pop(uri, None)
