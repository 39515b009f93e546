"""The model as the server holds it: loaded once, in the background, used from one thread.

Inference runs on a single worker thread, never on the event loop: ONNX Runtime is fastest
single-threaded for batch-1 steps, and one worker keeps requests in order and makes the context
cache lock-free in practice. A model that cannot be loaded leaves ``error`` set (the message
names the file and why) and every model-free feature keeps working.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from notegen.generate import ContextCache
from notegen.model import MelodyModel, ModelError, default_model_path

log = logging.getLogger(__name__)
T = TypeVar("T")


class Engine:
    """Owns the model, its :class:`ContextCache`, a small result cache and the worker thread."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notegen-infer")
        self.model: MelodyModel | None = None
        self.cache: ContextCache | None = None
        self.error: str | None = None
        self.path: Path | None = None
        self._loading: Future[None] | None = None
        self._lock = threading.Lock()
        self.results: OrderedDict[Any, Any] = OrderedDict()

    # -- loading -------------------------------------------------------------------------------

    def load(self, path: str | Path | None) -> Future[None]:
        """Start loading ``path`` (``None``: the default model) on the worker; idempotent."""
        target = Path(path).expanduser() if path else default_model_path()
        with self._lock:
            if self.path == target and self._loading is not None:
                return self._loading
            self.path = target
            self._loading = self.executor.submit(self._load, target)
            return self._loading

    def _load(self, path: Path) -> None:
        try:
            model = MelodyModel.load(path)
        except ModelError as exc:
            self.model, self.cache, self.error = None, None, str(exc)
            log.error("model not loaded: %s", exc)
            return
        except Exception as exc:  # a broken runtime, not a bad file: still say which file
            self.model, self.cache = None, None
            self.error = f"{path}: cannot load model ({type(exc).__name__}: {exc})"
            log.exception("model not loaded")
            return
        self.model, self.cache, self.error = model, ContextCache(model), None
        self.results.clear()
        log.info("model loaded: %s", path)

    async def ready(self) -> MelodyModel | None:
        """Wait for the current load (if any) and return the model, or ``None`` with ``error``."""
        loading = self._loading
        if loading is not None and not loading.done():
            await asyncio.wrap_future(loading)
        return self.model

    # -- running -------------------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the inference thread and await it (cancellable)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn, *args)

    def remember(self, key: Any, compute: Callable[[], T], capacity: int = 256) -> T:
        """A tiny LRU for results that depend only on ``key`` (called on the worker thread)."""
        if key in self.results:
            self.results.move_to_end(key)
            return self.results[key]  # type: ignore[no-any-return]
        value = compute()
        self.results[key] = value
        while len(self.results) > capacity:
            self.results.popitem(last=False)
        return value

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
