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

from functools import lru_cache
from urllib.parse import unquote, urlparse

from notegen.lsp.config import Settings
from notegen.sonicpi.recognise import looks_like_sonic_pi

__all__ = ["Coexistence", "glob_matches"]


Step = tuple[str, tuple[str, ...]]
"""One glob element: ``("lit", (text,))``, ``("alt", options)``, ``("seg", ())`` for ``*``,
``("one", ())`` for ``?``, ``("any", ())`` for ``**`` and ``("dirs", ())`` for ``**/``."""
MAX_PATH_CHARS = 4096
"""Longer paths (the OS's limit) match no glob: matching is O(glob x path)."""


@lru_cache(maxsize=64)
def _glob_steps(glob: str) -> tuple[bool, tuple[Step, ...]]:
    """``**`` any folders, ``*`` within one name, ``?`` one character, ``{a,b}`` either.

    A glob without a leading ``/`` may match at any folder depth (``music/*.rb`` matches
    ``/home/me/music/a.rb``), as globs in editor settings do: the flag says so.
    """
    steps: list[Step] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            steps.append(("dirs", ()))
            i += 3
        elif glob.startswith("**", i):
            steps.append(("any", ()))
            i += 2
        elif glob[i] == "*":
            steps.append(("seg", ()))
            i += 1
        elif glob[i] == "?":
            steps.append(("one", ()))
            i += 1
        elif glob[i] == "{" and "}" in glob[i:]:
            end = glob.index("}", i)
            steps.append(("alt", tuple(glob[i + 1 : end].split(","))))
            i = end + 1
        else:
            steps.append(("lit", (glob[i],)))
            i += 1
    return not glob.startswith("/"), tuple(steps)


def _glob_match(glob: str, path: str) -> bool:
    """Whether ``path`` matches ``glob``, following every way of matching at once.

    A regular expression (``.*a.*a.*b`` for ``**a**a**b``) backtracked exponentially: one
    ``include`` glob with a dozen ``**`` against a long path held the event loop for good.
    Here each step maps the set of reachable path positions to the next: O(glob x path)."""
    if len(path) > MAX_PATH_CHARS:
        return False
    anywhere, steps = _glob_steps(glob)
    n = len(path)
    slashes = [k + 1 for k, c in enumerate(path) if c == "/"]
    at = {0, *slashes} if anywhere else {0}
    for kind, arg in steps:
        if not at:
            return False
        if kind == "lit":
            at = {i + 1 for i in at if i < n and path[i] == arg[0]}
        elif kind == "one":
            at = {i + 1 for i in at if i < n and path[i] != "/"}
        elif kind == "alt":
            at = {i + len(o) for i in at for o in arg if path.startswith(o, i)}
        elif kind == "any":
            at = set(range(min(at), n + 1))
        elif kind == "dirs":
            first = min(at)
            at = at | {k for k in slashes if k > first}
        else:  # "seg": up to the next "/"
            reached: set[int] = set()
            for i in sorted(at):
                while i not in reached:
                    reached.add(i)
                    if i >= n or path[i] == "/":
                        break
                    i += 1
            at = reached
    return n in at


def _path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("file", "") else uri


def glob_matches(globs: tuple[str, ...], uri: str) -> bool:
    """Whether the document's path matches any of ``globs``."""
    path = _path(uri).replace("\\", "/")
    return any(_glob_match(g.replace("\\", "/"), path) for g in globs if g.strip())


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
