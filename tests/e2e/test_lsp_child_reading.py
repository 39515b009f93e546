"""A big document's whole-file reading runs in a child process (notegen.lsp.whole_reading):
the server then serves the same diagnostics, completions and hover as with the reading made in
its own process. ``$NOTEGEN_CHILD_READ_MIN_CHARS`` moves the threshold so that a small piece
takes both paths here; the shipped model hears the other voices, so the voices' settings and
harmony tables travel back from the child too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import completion, started

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "notegen.json"
PIECE = """\
use_bpm 90
a1=[]
b1=[]
a1[0]=[:C4,:D4,:E4,:F4,:G4,:E4,:D4,:C4]
b1[0]=[0.5,0.5,1,1,0.5,0.5,1,2]
a1[1]=[:E4,:F4,:G4,:Q4,:E4]
b1[1]=[1,1,1,0.5,0.5]
a2=[]
b2=[]
a2[0]=[:C3,:G3,:E3,:G3]
b2[0]=[2,2,2,2]
a2[1]=[:F3,:A3,:C3]
b2[1]=[2,2,4]
a3=[]
b3=[]
a3[0]=[:G4,:A4,:B4,:C5,:D5]
b3[0]=[1,1,1,1,4]
"""
CHANGED = PIECE.replace("a2[1]=[:F3,:A3,:C3]", "a2[1]=[:F3,:A3,:C3,:E3]").replace(
    "b2[1]=[2,2,4]", "b2[1]=[2,2,2,2]"
)
IN_CHILD = "0"
IN_SERVER = str(10**9)


def start(tmp_path: Path, min_chars: str, name: str) -> Any:
    env = {"NOTEGEN_CHILD_READ_MIN_CHARS": min_chars}
    return started(SHIPPED, tmp_path, name, env, verbose=True)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two servers: every reading in a child process, and none."""
    apart = start(tmp_path, IN_CHILD, "apart")
    inside = start(tmp_path, IN_SERVER, "inside")
    try:
        yield apart, inside
    finally:
        apart.close()
        inside.close()


def diagnostics(client: Any, uri: str, version: int) -> list[dict[str, Any]]:
    found = client.wait_notification(
        "textDocument/publishDiagnostics",
        lambda p: p["uri"] == uri and p.get("version") == version,
        timeout=60,
    )
    return list(found["diagnostics"])


def served(client: Any, uri: str, text: str) -> list[Any]:
    """Completions at the end of every note array and hover on each array's first note."""
    out: list[Any] = []
    for line, row in enumerate(text.splitlines()):
        if row.startswith("a") and "[:" in row:
            out.append(completion(client, uri, line, row.rindex("]")).wait(60))
            hover = {"textDocument": {"uri": uri}, "position": {"line": line, "character": 8}}
            out.append(client.request("textDocument/hover", hover, timeout=60))
    return out


def test_a_reading_in_a_child_process_serves_what_a_reading_in_the_server_serves(
    servers: tuple[Any, Any], tmp_path: Path
) -> None:
    uri = (tmp_path / "piece.rb").as_uri()
    seen = []
    for client in servers:
        client.did_open(uri, PIECE)
        first = diagnostics(client, uri, 1)
        before = served(client, uri, PIECE)
        client.did_change(uri, 2, [{"text": CHANGED}])
        second = diagnostics(client, uri, 2)
        after = served(client, uri, CHANGED)
        seen.append((first, before, second, after))
    apart, inside = seen
    assert apart == inside
    first, before, _second, after = apart
    assert any(":Q4" in d["message"] or "Q4" in d["message"] for d in first)  # a real reading
    assert all(r is not None for r in before + after)
    assert any(item["label"] for r in before[::2] for item in r["items"])
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("apart", "inside")}
    assert logs["apart"].count("in a child process") == 2  # both versions were read there
    assert "in a child process" not in logs["inside"]
