"""The client's ``notegen`` settings: typed, validated, with defaults.

Settings arrive as ``initializationOptions`` (the ``notegen`` object itself) and with
``workspace/didChangeConfiguration`` (``{"notegen": {...}}``). A bad value never stops the
server: it is reported (the caller shows the warnings) and replaced by its default, and the
other values still apply.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = ["SECTION", "Settings", "SlipSettings", "SonicPiSettings", "parse_settings"]

SECTION = "notegen"
_CLIENT_ONLY = {"server"}  # VS Code's server.command / server.pythonPath: not ours to check


@dataclass(frozen=True)
class SonicPiSettings:
    """Where a running Sonic Pi listens (``port`` ``None`` = find it automatically)."""

    host: str = "127.0.0.1"
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SlipSettings:
    """Slip hints (``notegen.lsp.slip_hints``): how eager, and whether every piece is checked.

    ``sensitivity``: ``"off"``, ``"low"``, ``"default"`` or ``"high"``. ``allPieces``: also check
    pieces with a single voice (off by default: no harmony to weigh, thin evidence).
    """

    sensitivity: str = "default"
    allPieces: bool = False


SLIP_SENSITIVITIES = ("off", "low", "default", "high")


@dataclass(frozen=True)
class Settings:
    """Every server setting, with the defaults the documentation promises."""

    modelPath: str | None = None  # camelCase: the client's key names, kept verbatim
    temperature: float = 1.0
    topK: int = 0
    topP: float = 0.95
    maxItems: int = 12
    phraseLength: int = 8
    maxContext: int = 256
    inlineSuggestions: bool = True
    sonicPi: SonicPiSettings = field(default_factory=SonicPiSettings)
    # Which documents are served (notegen.lsp.coexistence): "auto" = those that look like
    # Sonic Pi or match an ``include`` glob; "always"; "never".
    enable: str = "auto"
    include: tuple[str, ...] = ()
    # Hovers on note arrays carry a piano-roll picture (a data: URI image): for clients that
    # render Markdown images (VS Code turns it on); text-only hovers would show base64.
    pianoRoll: bool = False
    # Models side by side (notegen.lsp.model_choice): the folder of user models (None: the
    # default, ~/.local/share/notegen/models) and folder → model name for documents in it.
    modelsDir: str | None = None
    folderModels: tuple[tuple[str, str], ...] = ()
    slips: SlipSettings = field(default_factory=SlipSettings)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    number = _number(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


# key → (checker returning the clean value or None, description of what is accepted)
_RULES: dict[str, tuple[Any, str]] = {
    "modelPath": (
        lambda v: v if v is None or (isinstance(v, str) and v.strip()) else None,
        "a path to a .onnx model or its .json card, or null for the shipped model",
    ),
    "temperature": (
        lambda v: n if (n := _number(v)) is not None and 0 <= n <= 10 else None,
        "a number from 0 to 10",
    ),
    "topK": (
        lambda v: n if (n := _integer(v)) is not None and 0 <= n <= 1000 else None,
        "an integer from 0 (off) to 1000",
    ),
    "topP": (
        lambda v: n if (n := _number(v)) is not None and 0 < n <= 1 else None,
        "a number greater than 0 and at most 1",
    ),
    "maxItems": (
        lambda v: n if (n := _integer(v)) is not None and 1 <= n <= 200 else None,
        "an integer from 1 to 200",
    ),
    "phraseLength": (
        lambda v: n if (n := _integer(v)) is not None and 1 <= n <= 64 else None,
        "an integer from 1 to 64",
    ),
    "maxContext": (
        lambda v: n if (n := _integer(v)) is not None and 1 <= n <= 4096 else None,
        "an integer from 1 to 4096",
    ),
    "inlineSuggestions": (
        lambda v: v if isinstance(v, bool) else None,
        "true or false",
    ),
    "pianoRoll": (
        lambda v: v if isinstance(v, bool) else None,
        "true or false",
    ),
    "modelsDir": (
        lambda v: v if v is None or (isinstance(v, str) and v.strip()) else None,
        "a folder of model cards, or null for ~/.local/share/notegen/models",
    ),
    "folderModels": (
        lambda v: (
            tuple(sorted(v.items()))
            if isinstance(v, dict)
            and all(isinstance(k, str) and k and isinstance(n, str) and n for k, n in v.items())
            else None
        ),
        'an object from folder to model name, e.g. {"/home/me/baroque": "baroque"}',
    ),
    "enable": (
        lambda v: v if v in ("auto", "always", "never") else None,
        '"auto", "always" or "never"',
    ),
    "include": (
        lambda v: (
            (v,)
            if isinstance(v, str)
            else tuple(v)
            if isinstance(v, list) and all(isinstance(g, str) for g in v)
            else None
        ),
        "a glob or a list of globs",
    ),
}


_HOST = re.compile(r"[A-Za-z0-9._:%\[\]-]{1,253}")
"""A host name, an IPv4 or an IPv6 address (bracketed or not, with a zone): no spaces and no
control characters (a NUL reached the socket, which raised TypeError in the play command)."""


def _sonic_pi(value: Any, warnings: list[str]) -> SonicPiSettings:
    default = SonicPiSettings()
    if value is None:
        return default
    if not isinstance(value, dict):
        warnings.append(f"notegen.sonicPi must be an object, not {value!r}; using defaults")
        return default
    host = value.get("host", default.host)
    if not isinstance(host, str) or not _HOST.fullmatch(host.strip()):
        warnings.append(
            f"notegen.sonicPi.host must be a host name, not {host!r}; using {default.host}"
        )
        host = default.host
    port = value.get("port", default.port)
    if port is not None and ((p := _integer(port)) is None or not 1 <= p <= 65535):
        warnings.append(
            f"notegen.sonicPi.port must be a port number 1-65535 or null, not {port!r}; "
            "finding it automatically"
        )
        port = None
    elif port is not None:
        port = _integer(port)
    extra = {k: v for k, v in value.items() if k not in ("host", "port")}
    for key, low, high in (("token", -(2**31), 2**31 - 1), ("replyPort", 1, 65535)):
        given = extra.get(key)
        if given is not None and ((n := _integer(given)) is None or not low <= n <= high):
            warnings.append(
                f"notegen.sonicPi.{key} must be an integer {low}-{high}, not {given!r}; "
                "finding it automatically"
            )
            del extra[key]
        elif given is not None:
            extra[key] = n
    return SonicPiSettings(host=host.strip(), port=port, extra=extra)


def _slips(value: Any, base: SlipSettings, warnings: list[str]) -> SlipSettings:
    if not isinstance(value, dict):
        warnings.append(f"notegen.slips must be an object, not {value!r}; using defaults")
        return SlipSettings()
    out = base
    for key, item in value.items():
        if key == "sensitivity":
            if item in SLIP_SENSITIVITIES:
                out = replace(out, sensitivity=item)
            else:
                warnings.append(
                    f"notegen.slips.sensitivity must be one of {', '.join(SLIP_SENSITIVITIES)}, "
                    f"not {item!r}; using the default 'default'"
                )
                out = replace(out, sensitivity="default")
        elif key == "allPieces":
            if isinstance(item, bool):
                out = replace(out, allPieces=item)
            else:
                warnings.append(
                    f"notegen.slips.allPieces must be true or false, not {item!r}; "
                    "using the default False"
                )
                out = replace(out, allPieces=False)
        else:
            warnings.append(f"notegen.slips.{key} is not a notegen setting; ignored")
    return out


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Validate ``raw`` (the ``notegen`` object, or ``{"notegen": {...}}``) into settings.

    Keys absent from ``raw`` keep their value from ``base`` (defaults when ``None``); present
    but invalid values fall back to the default and add a warning naming key, value and rule.
    """
    warnings: list[str] = []
    current = base or Settings()
    if raw is None:
        return current, warnings
    if isinstance(raw, dict) and isinstance(raw.get(SECTION), dict):
        raw = raw[SECTION]
    if not isinstance(raw, dict):
        warnings.append(f"notegen settings must be an object, not {raw!r}; using defaults")
        return current, warnings
    defaults = Settings()
    changes: dict[str, Any] = {}
    known = {f.name for f in fields(Settings)}
    for key, value in raw.items():
        if key == "sonicPi":
            changes["sonicPi"] = _sonic_pi(value, warnings)
            continue
        if key == "slips":
            changes["slips"] = _slips(value, current.slips, warnings)
            continue
        if key in _CLIENT_ONLY:
            continue
        if key not in known:
            warnings.append(f"notegen.{key} is not a notegen setting; ignored")
            continue
        check, accepted = _RULES[key]
        clean = check(value)
        if clean is None and not (key in ("modelPath", "modelsDir") and value is None):
            default = getattr(defaults, key)
            warnings.append(
                f"notegen.{key} must be {accepted}, not {value!r}; using the default {default!r}"
            )
            clean = default
        changes[key] = clean
    return replace(current, **changes), warnings
