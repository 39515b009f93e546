"""notegen-lsp never dies: not on any document text, not on thousands of rapid edits.

The real server process is driven over stdio by the minimal JSON-RPC client of the benchmarks
(raw JSON, so the client itself never refuses to send odd input). Every document comes from a
seeded generator, so a failure names the case that broke it and can be replayed:

* fuzzed texts: random unicode (astral characters, control characters, CRLF), broken and
  unbalanced arrays, huge and non-finite numbers, deep nesting, unterminated strings, heredocs
  and ``=begin`` comments, very long lines, mutations of a valid Sonic Pi document — each
  followed by completion, hover and inline-completion requests at random valid positions;
* typing: thousands of incremental edits sent as fast as the pipe takes them, completion
  requests in flight in between (some cancelled), then a check that the server's copy of the
  text matches ours (a diagnostic lands exactly on the bad note typed last).

"Answers" means a result, or one of the errors a protocol allows for overtaken requests
(RequestCancelled, ContentModified) — never an internal error.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures.rpc import SERVER, rpc

OVERTAKEN = {-32800, -32801}  # RequestCancelled, ContentModified


VALID = """use_bpm 80
a1=[]
b1=[]
a1[0]=[:C4,:D4,:Eb4,:r,:G4,:Fs4,:G4]
b1[0]=[0.5,0.5,1,0.5,0.5,0.5,1]
c1=[80]
play_pattern_timed [:c4, :e4, :g4], [0.25]
notes = (ring :e3, :a3, :b3)
in_thread do
  a1.length.times do |s|
    use_bpm c1[s]
    a1[s].length.times do |i|
      play a1[s][i]
      sleep b1[s][i]
    end
  end
end
"""

TOKENS = [
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "\r\n",
    "\r",
    "\t",
    ":C4",
    ":cs-1",
    ":Bs9",
    ":Ef",
    ":H4",
    ":r",
    ":rest",
    ":R",
    "nil",
    "60",
    "61.5",
    "-3",
    "0",
    "1e309",
    "-1e309",
    "1e-400",
    "99999999999999999999999999",
    "0x1F",
    "1_000",
    ".5",
    "5.",
    "(",
    ")",
    "{",
    "}",
    "do",
    "end",
    '"',
    "'",
    "#",
    "#{",
    "=begin\n",
    "\n=end\n",
    "<<~EOS\n",
    "__END__\n",
    "a1[0]=[",
    "b1[0]=[",
    "c1=[",
    "a99999999999999999999[3]=[",
    "b1[-1]=[",
    "ring(",
    "play_pattern_timed [",
    "*",
    "+",
    "%w[",
    "\x00",
    "\u00e9",
    "\U0001f3b5",
    "\u200b",
    "\ufeff",
    "𝄞",
    "\\",
    "?",
    ";",
]


def _random_unicode(rng: random.Random, n: int) -> str:
    pools = [(0x20, 0x7E), (0x00, 0x1F), (0xA0, 0x2FFF), (0xE000, 0xFFFD), (0x10000, 0x1FAFF)]
    out = []
    for _ in range(n):
        lo, hi = rng.choice(pools)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def _token_soup(rng: random.Random) -> str:
    return "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 400)))


def _mutated(rng: random.Random) -> str:
    text = VALID
    for _ in range(rng.randint(1, 12)):
        at = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text = text[:at] + rng.choice(TOKENS) + text[at:]
        elif op < 0.8:
            text = text[:at] + text[at + rng.randint(1, 20) :]
        else:
            end = min(len(text), at + rng.randint(1, 40))
            text = text[:at] + text[at:end] * rng.randint(2, 5) + text[end:]
    return text


def _deep_nesting(rng: random.Random) -> str:
    depth = rng.choice((50, 500, 5000))
    inner = rng.choice((":C4", "", ":C4,:D4", "[", "1e309"))
    closing = "]" * depth if rng.random() < 0.5 else ""
    return f"a1[0]={'[' * depth}{inner}{closing}\nb1[0]=[{'(' * depth}1\n"


def _huge_numbers(rng: random.Random) -> str:
    big = "9" * rng.choice((30, 400, 5000))
    return (
        f"a1[0]=[{big},:C4,-{big},1e308,1e309,-0.0,{big}.5,:C{big}]\n"
        f"b1[0]=[{big},1e-400,0,-1,1e309,nan,Infinity,0.5]\n"
        f"a{big}[{big}]=[:C4]\nb{big}[{big}]=[1]\nc1=[{big}]\n"
    )


def _unterminated(rng: random.Random) -> str:
    opener = rng.choice(['"', "'", "=begin\n", "<<~EOS\n", "%w[", "#{", "/*", "(", "[", "{"])
    at = rng.randrange(len(VALID))
    return VALID[:at] + opener + VALID[at:]


def _long_line(rng: random.Random) -> str:
    notes = ",".join(rng.choice((":C4", ":Ds5", ":r", "60", ":Bf3")) for _ in range(8_000))
    return f"a1[0]=[{notes}]\nb1[0]=[{','.join(['0.25'] * 7_999)}]\n"


GENERATORS: list[tuple[str, Callable[[random.Random], str]]] = [
    ("unicode", lambda rng: _random_unicode(rng, rng.randint(0, 600))),
    ("token soup", _token_soup),
    ("mutated document", _mutated),
    ("deep nesting", _deep_nesting),
    ("huge numbers", _huge_numbers),
    ("unterminated", _unterminated),
]


def fuzz_cases(seed: int, count: int) -> Iterator[tuple[str, str]]:
    """(kind, text) pairs: every generator in turn, plus one very long line and an empty text."""
    rng = random.Random(seed)
    yield "empty", ""
    yield "long line", _long_line(rng)
    for i in range(count):
        kind, make = GENERATORS[i % len(GENERATORS)]
        yield kind, make(rng)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def random_position(rng: random.Random, text: str) -> dict[str, int]:
    """A legal LSP position (UTF-16 columns) in ``text``, lines split as LSP splits them."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    line = rng.randrange(len(lines))
    column = rng.randint(0, len(lines[line]))
    character = utf16_len(lines[line][:column])
    if rng.random() < 0.1:  # past the end of the line: LSP says it means the end of the line
        character = utf16_len(lines[line]) + rng.randint(1, 50)
    return {"line": line, "character": character}


# -- the server (``tiny_model``: tests/e2e/conftest.py, a small seeded real ONNX model) ---------
@pytest.fixture
def server(tiny_model: Path, tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    client = rpc.RpcClient(
        [str(SERVER), "--model", str(tiny_model)],
        cwd=tmp_path,
        stderr_path=tmp_path / "server.log",
    )
    try:
        init = client.initialize(tmp_path, initialization_options={})
        yield client, init
    finally:
        client.close()


def answer(pending: Any, timeout: float = 30.0) -> tuple[Any, dict[str, Any] | None]:
    """(result, error) of a request; raises only if the server died or never answered."""
    try:
        return pending.wait(timeout), None
    except rpc.RpcError as exc:
        return None, exc.error


def completion_labels(result: Any) -> list[str]:
    items = result.get("items", []) if isinstance(result, dict) else result or []
    return [item["label"] for item in items]


def server_log(client: Any) -> str:
    """The end of the server's stderr, to put the crash next to the case that caused it."""
    path = Path(client.stderr_path) if client.stderr_path else None
    if path is None or not path.exists():
        return ""
    return "\nserver log:\n" + path.read_text(errors="replace")[-3000:]


def assert_alive(client: Any, what: str) -> None:
    code = client.process.poll()
    assert code is None, f"server exited with {code} {what}{server_log(client)}"


def requests_after_change(
    client: Any, caps: dict[str, Any], uri: str, text: str, rng: random.Random
) -> list[tuple[str, Any]]:
    """Completion, hover and (when offered) inline completion at random valid positions."""
    sent = []
    for _ in range(3):
        sent.append(
            (
                "completion",
                client.send(
                    "textDocument/completion",
                    {
                        "textDocument": {"uri": uri},
                        "position": random_position(rng, text),
                        "context": {"triggerKind": 2, "triggerCharacter": ","},
                    },
                ),
            )
        )
    sent.append(
        (
            "hover",
            client.send(
                "textDocument/hover",
                {"textDocument": {"uri": uri}, "position": random_position(rng, text)},
            ),
        )
    )
    if caps.get("inlineCompletionProvider"):
        sent.append(
            (
                "inlineCompletion",
                client.send(
                    "textDocument/inlineCompletion",
                    {
                        "textDocument": {"uri": uri},
                        "position": random_position(rng, text),
                        "context": {"triggerKind": 1},
                    },
                ),
            )
        )
    if caps.get("diagnosticProvider"):
        sent.append(
            ("diagnostic", client.send("textDocument/diagnostic", {"textDocument": {"uri": uri}}))
        )
    return sent


def bad_note_diagnostic(client: Any, uri: str, line: int, start: int, since: int) -> Any:
    """Wait for published diagnostics that flag the note starting at (line, start)."""

    def flags_it(params: Any) -> bool:
        return params.get("uri") == uri and any(
            d["range"]["start"]["line"] == line and d["range"]["start"]["character"] == start
            for d in params.get("diagnostics", [])
        )

    return client.wait_notification("textDocument/publishDiagnostics", flags_it, 20, since)


# -- tests -----------------------------------------------------------------------------------
def test_fuzzed_document_texts_never_kill_the_server(server: tuple[Any, dict], tmp_path: Path):
    client, init = server
    caps = init["capabilities"]
    uri = (tmp_path / "fuzz.rb").as_uri()
    rng = random.Random(11)
    client.did_open(uri, VALID)
    failures = []
    version = 1
    for index, (kind, text) in enumerate(fuzz_cases(seed=20240611, count=150)):
        version += 1
        client.did_change(uri, version, [{"text": text}])
        for method, pending in requests_after_change(client, caps, uri, text, rng):
            try:
                _result, error = answer(pending)
            except rpc.ServerDied:
                pytest.fail(
                    f"server died on case {index} ({kind}) {method}: {text[:300]!r}"
                    f"{server_log(client)}"
                )
            if error is not None and error.get("code") not in OVERTAKEN:
                failures.append(f"case {index} ({kind}) {method}: {error} on {text[:120]!r}")
        assert_alive(client, f"after case {index} ({kind}): {text[:300]!r}")
    assert not failures, "internal errors:\n" + "\n".join(failures[:20]) + server_log(client)

    # Still itself afterwards: a clean document gets its diagnostics and its completions.
    since = len(client.notifications)
    final = VALID.replace(":Eb4", ":H4")
    client.did_change(uri, version + 1, [{"text": final}])
    bad_note_diagnostic(client, uri, 3, final.splitlines()[3].index(":H4"), since)
    items = client.request(
        "textDocument/completion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 3, "character": 11},
            "context": {"triggerKind": 2, "triggerCharacter": ","},
        },
    )
    assert completion_labels(items), "no completion inside a note array after the fuzzing"


def test_thousands_of_rapid_edits_with_completions_in_between(
    server: tuple[Any, dict], tmp_path: Path
):
    client, init = server
    sync = init["capabilities"].get("textDocumentSync")
    incremental = (sync.get("change") if isinstance(sync, dict) else sync) == 2
    uri = (tmp_path / "typing.rb").as_uri()
    lines = ["a1=[]", "b1=[]", "a1[0]=[:C4]", "b1[0]=[1]", "c1=[90]"]
    client.did_open(uri, "\n".join(lines) + "\n")
    rng = random.Random(5)
    version = 1
    pendings = []
    edits = 0

    def edit(line: int, start: int, end: int, text: str) -> None:
        nonlocal version, edits
        version += 1
        edits += 1
        old = lines[line]
        lines[line] = old[:start] + text + old[end:]
        if incremental:
            change = {
                "range": {
                    "start": {"line": line, "character": start},
                    "end": {"line": line, "character": end},
                },
                "text": text,
            }
        else:
            change = {"text": "\n".join(lines) + "\n"}
        client.did_change(uri, version, [change])

    while edits < 3000:
        close = lines[2].rindex("]")
        if rng.random() < 0.15 and close > len("a1[0]=[:C4"):
            edit(2, close - 1, close, "")  # backspace
        else:
            for char in "," + rng.choice((":C4", ":Ds5", ":r", ":bf3", "62", ":G")):
                edit(2, lines[2].rindex("]"), lines[2].rindex("]"), char)
                if edits % 7 == 0:
                    pendings.append(
                        client.send(
                            "textDocument/completion",
                            {
                                "textDocument": {"uri": uri},
                                "position": {"line": 2, "character": lines[2].rindex("]")},
                                "context": {"triggerKind": 1},
                            },
                        )
                    )
                    if len(pendings) % 10 == 0:
                        client.cancel(pendings[-2])
    assert len(pendings) > 400
    internal = []
    for pending in pendings:
        try:
            _result, error = answer(pending, timeout=60)
        except rpc.ServerDied:
            pytest.fail(
                f"server died during rapid typing (after {edits} edits){server_log(client)}"
            )
        if error is not None and error.get("code") not in OVERTAKEN:
            internal.append(error)
    assert not internal, f"{len(internal)} internal errors, first: {internal[0]}"
    assert_alive(client, f"after {edits} rapid edits")

    # The server's copy is ours: a bad note typed last is flagged exactly where we put it.
    since = len(client.notifications)
    at = lines[2].rindex("]")
    edit(2, at, at, ",:H4")
    bad_note_diagnostic(client, uri, 2, at + 1, since)
    items = client.request(
        "textDocument/completion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 2, "character": at + 1},
            "context": {"triggerKind": 1},
        },
    )
    assert completion_labels(items), "no completion inside the typed array"
