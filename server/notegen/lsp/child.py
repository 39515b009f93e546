"""Long work (big generations) in a child process that exits when the work is done.

Why not a thread of the server: measured on the 20,000-note benchmark, ``generateMelody``
of 100,000 notes in the server's own process delayed completions of *other* documents by up
to 90–120 ms (the generation's pure-Python parts and its big joins hold the GIL), and left
~300 MB of the server's heap resident for good (pymalloc arenas pinned by a few survivors:
VmRSS 214 → 511 MB, not given back). A child process loads the same model file (~0.15 s),
computes, sends its result back pickled and exits, so its memory goes back to the system and
the server's interpreter is never shared with it. It runs at a lower priority
(:data:`CHILD_NICE`), so on a busy machine the server's completions get the CPU first.

Cancelling the awaiting task kills the child (``$/cancelRequest`` stops the work at once).
A child that cannot load the model raises :class:`ChildModelError`; one that fails or
dies raises :class:`ChildFailed`, whose message says how (and the tail of its stderr).
Small jobs (ghost text, a phrase) stay in the server, where the model is warm: see
:data:`CHILD_MIN_NOTES`.

The child is ``python -m notegen.lsp.child``: it reads one pickled job on stdin (a model
path, a module-level function, a document and arguments), calls ``fn(model, view, *args)``
and writes ``("ok", result)`` or ``("error", kind, message)`` pickled on stdout.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from .documents import DocumentView

if TYPE_CHECKING:  # (the server's side only: the child never loads asyncio, ~40 ms of its start)
    import asyncio

log = logging.getLogger(__name__)
T = TypeVar("T")

CHILD_MIN_NOTES = int(os.environ.get("NOTEGEN_CHILD_MIN_NOTES", "2000"))
"""Generations (and continuations) of at least this many notes run in a child process.

Below it the child's start (~0.25 s: the interpreter, numpy, ONNX Runtime and the model) and
its cold model would cost more than the work: a phrase of 16 notes takes a few ms in the
server. ``$NOTEGEN_CHILD_MIN_NOTES`` changes it (tests use 0 and a huge value to compare
both paths)."""
CHILD_NICE = 5
"""The child's niceness above the server's: completions first on a busy machine."""
RESULT_PROTOCOL = 4
"""Pickle protocol of the child's result. Protocol 5 unpickles each numpy array as a view of
its own ``bytearray`` (three more small objects per array, alive as long as the array): a
whole-file reading of the benchmark piece (3,506 arrays) took 17.0 MB in 39,597 blocks in the
server that way, 15.5 MB in 23,688 blocks with protocol 4 (and 64 instead of 88 ms to load)."""
STDERR_TAIL = 2000
"""Characters of a failed child's stderr quoted in the error."""


def wanted(notes: int) -> bool:
    """Whether a job of ``notes`` notes runs in a child process."""
    return notes >= CHILD_MIN_NOTES


class ChildFailed(Exception):
    """The child process failed or died; the message says how."""


class ChildUnavailable(ChildFailed):
    """No child process could be started; the work never began (the caller may do it)."""


class ChildModelError(ChildFailed):
    """The child could not load the model (the message names the file and why)."""


_running: set[asyncio.subprocess.Process] = set()


async def run_in_child(
    model_path: Path | None, fn: Callable[..., T], view: DocumentView, *args: Any
) -> T:
    """``fn(model, view, *args)`` in a child process that loads ``model_path`` itself
    (``None``: work that needs no model, ``fn`` gets ``None``).

    ``fn`` must be a module-level function and its arguments and result picklable; the view
    travels as its uri, version and text.
    """
    import asyncio

    payload = pickle.dumps(
        (
            None if model_path is None else str(model_path),
            fn,
            (view.uri, view.version, view.text),
            args,
        ),
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    # The answer is unpickled as it comes out of the pipe, on a thread of its own: gathered
    # first (communicate), a whole-file reading's 6 MB of pickle lay beside the objects made
    # from it, at the moment the new reading lands beside the old one (the soak's peak).
    answer_end, child_end = os.pipe()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=child_end,
            stderr=asyncio.subprocess.PIPE,
            env=_child_env(),
        )
    except OSError as exc:  # no process to be had (out of memory, process limit...)
        os.close(answer_end)
        raise ChildUnavailable(f"cannot start a process for the work ({exc})") from None
    finally:
        os.close(child_end)  # (the child's copy is its own: the pipe ends when it does)
    answer = _read_answer(answer_end)
    _running.add(process)
    try:
        _, err = await process.communicate(payload)
        loaded = await answer
    except BaseException:  # cancelled (or the server stops): the work stops with it
        _kill(process)
        await process.wait()  # reaped before the reply: no work outlives its request
        raise
    finally:
        _running.discard(process)
    return _result(process.returncode, loaded, err)  # type: ignore[no-any-return]


def _read_answer(fd: int) -> asyncio.Future[Any]:
    """The answer unpickled from the pipe ``fd`` (closed after), on a thread started now: a
    pool's thread could be busy while the child blocks on a full pipe. ``None`` when the
    child wrote no whole pickle (it failed or was killed: its exit code says how)."""
    import asyncio

    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any) -> None:
        if not done.cancelled():
            done.set_result(value)

    def read() -> None:
        try:
            with open(fd, "rb") as pipe:
                value = pickle.load(YieldingStream(pipe))
        except Exception:
            value = None
        with contextlib.suppress(RuntimeError):  # (the loop closed: nobody waits any more)
            loop.call_soon_threadsafe(settle, value)

    threading.Thread(target=read, name="notegen-answer", daemon=True).start()
    return done


class YieldingStream:
    """A child's pickled answer, read so that other threads run while it is unpickled.

    ``pickle.loads`` is one C call: it holds the GIL for the whole answer (a reading of the
    20,000-note benchmark piece, 11.6 MB pickled: 22-28 ms, in which a completion asked
    meanwhile waited 18-22 ms, measured; 5.9 MB and ~10 ms since the voices each voice hears
    are moved onto its beats when read, :class:`notegen.model.ensemble.MovedVoice`). From a stream
    the unpickler reads one frame (up to 64 kB) or one large bytes object at a time, through
    :meth:`read` or :meth:`readinto`; each first gives the GIL away (``time.sleep(0)``), so a
    waiting thread gets it between frames (the same piece: ~485 reads, the longest wait
    2.5-3.6 ms, the unpickling itself ~2x slower, off the requests' path). ``source``: the
    pipe (or bytes, for tests)."""

    def __init__(self, source: IO[bytes] | bytes) -> None:
        self._source = io.BytesIO(source) if isinstance(source, bytes) else source

    def read(self, size: int | None = -1) -> bytes:
        time.sleep(0)
        return self._source.read(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        time.sleep(0)
        return self._source.readinto(buffer)  # type: ignore[attr-defined,no-any-return]

    def readline(self) -> bytes:
        time.sleep(0)
        return self._source.readline()


def _result(code: int | None, answer: Any, err: bytes) -> Any:
    tail = err.decode("utf-8", "replace")[-STDERR_TAIL:].strip()
    if isinstance(answer, tuple) and answer and answer[0] == "ok" and code == 0:
        return answer[1]
    if isinstance(answer, tuple) and len(answer) == 3 and answer[0] == "error":
        _, kind, message = answer
        if kind == "model":
            raise ChildModelError(message)
        raise ChildFailed(f"{message}{_quoted(tail)}")
    if code is not None and code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code} without a result"
    raise ChildFailed(f"the generation process {how}{_quoted(tail)}")


def _quoted(tail: str) -> str:
    return f" (its last words: {tail})" if tail else ""


def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()


def kill_children() -> None:
    """Kill every running child (the server is stopping)."""
    for process in list(_running):
        _kill(process)


def _child_env() -> dict[str, str]:
    """The server's environment, with this ``notegen`` first on the child's path."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = root if not path else f"{root}{os.pathsep}{path}"
    return env


# -- the child's side ------------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Linux: SIGKILL this process when the server goes (so a killed server leaves no work)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the server went before the line above
        os._exit(1)


def main(argv: list[str]) -> int:
    """The child: one job from stdin, its result on stdout."""
    if argv:
        _die_with_parent(int(argv[0]))
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICE)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the result
    model_path, fn, (uri, version, text), args = pickle.load(sys.stdin.buffer)
    from notegen.model.network import MelodyModel, ModelError

    try:
        model = None if model_path is None else MelodyModel.load(model_path)
    except ModelError as exc:
        answer: tuple[Any, ...] = ("error", "model", str(exc))
    else:
        try:
            answer = ("ok", fn(model, DocumentView(uri, version, text), *args))
        except Exception as exc:
            log.exception("child work failed")
            answer = ("error", "work", f"{type(exc).__name__}: {exc}")
    pickle.dump(answer, out, protocol=RESULT_PROTOCOL)
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
