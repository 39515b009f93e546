"""The process lister that finds Sonic Pi runs `ps` without the server's stdin: that stream is
the client's messages, and a child holding it could take them (the server reads stdin on its
event loop; see test_stdin_on_the_loop.py)."""

from __future__ import annotations

import os
import sys

from notegen.playback.sonic_pi_discovery import _run_lister


def test_a_lister_sees_no_stdin_even_when_the_server_has_one():
    read_end, write_end = os.pipe()
    os.write(write_end, b"Content-Length: 2\r\n\r\n{}")
    os.close(write_end)
    saved = os.dup(0)
    os.dup2(read_end, 0)  # (the server's stdin: a client's messages waiting)
    try:
        out, error = _run_lister(
            [sys.executable, "-c", "import sys; print(len(sys.stdin.buffer.read()))"],
            "a stdin reader",
            30.0,
        )
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(read_end)
    assert error is None
    assert out is not None and out.strip() == "0"
