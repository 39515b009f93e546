"""The LSP package's layering: feature modules never import ``server.py`` (nor pygls' server);
only ``server.py`` wires pygls to them, handing each a :class:`notegen.lsp.host.Host`."""

from __future__ import annotations

import subprocess
import sys

FEATURES = [
    "code_actions",
    "commands",
    "completion",
    "context",
    "diagnostics",
    "documents",
    "edits",
    "engine",
    "host",
    "hover",
    "inline",
    "play",
    "play_lines",
    "spelling",
]


def test_feature_modules_load_without_the_server() -> None:
    imports = "; ".join(f"import notegen.lsp.{name}" for name in FEATURES)
    probe = (
        f"import sys; {imports}; "
        "print(sorted(m for m in sys.modules "
        "if m == 'notegen.lsp.server' or m.startswith('pygls.lsp') or m == 'pygls.server'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
