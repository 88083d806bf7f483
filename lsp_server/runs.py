"""What all runs of the server share: one model backend, one sandbox (with its warm pools), a bound on
how many run at a time, and the thread they run in. Each is opened on the first run that needs it, never
before: the server starts without importing the model layer, torch or Docker.

Runs happen on an event loop of their own, in one worker thread, so what the loop does between awaits
(extracting and parsing code, preparing pictures for the model, writing the run folder) never delays the
protocol's loop: code actions, hovers and edits are answered while four generations run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from .settings import LspSettings

if TYPE_CHECKING:
    from viscodex.model.chat import ChatBackend
    from viscodex.sandbox import Sandbox

log = logging.getLogger(__name__)
T = TypeVar("T")


class Unavailable(Exception):
    """The model or the sandbox cannot serve runs; the message names the fix."""


class Runner:
    def __init__(self) -> None:
        self._backend: ChatBackend | None = None
        self._backend_key: tuple[object, ...] | None = None
        self._retired: list[ChatBackend] = []
        self._sandbox: Sandbox | None = None
        self._lock: asyncio.Lock | None = None
        self._slots: asyncio.Condition | None = None
        self.active = 0
        self.queued = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _runs_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="viscodex-runs", daemon=True)
            self._thread.start()
        return self._loop

    async def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work`` on the runs' loop; cancelling the caller cancels it there."""
        future = asyncio.run_coroutine_threadsafe(work, self._runs_loop())
        return await asyncio.wrap_future(future)

    def _opening(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @contextlib.asynccontextmanager
    async def slot(self, settings: Callable[[], LspSettings], on_queued: Callable[[int], None]) -> AsyncIterator[None]:
        """Hold one of the ``max_concurrent_runs`` slots (read each time, so a new setting applies to
        the queue at once); ``on_queued(position)`` is told while the run waits."""
        if self._slots is None:
            self._slots = asyncio.Condition()
        async with self._slots:
            if self.active >= settings().max_concurrent_runs:
                self.queued += 1
                on_queued(self.queued)
                try:
                    await self._slots.wait_for(lambda: self.active < settings().max_concurrent_runs)
                finally:
                    self.queued -= 1
            self.active += 1
        try:
            yield
        finally:
            async with self._slots:
                self.active -= 1
                self._slots.notify_all()

    async def backend(self, settings: LspSettings) -> ChatBackend:
        """The model backend these settings name, opened (and checked to answer) once and shared. On the
        runs' loop only (its HTTP client belongs to that loop)."""
        from viscodex.agent import describe_failure
        from viscodex.model.select import open_backend
        from viscodex.model.settings import ModelSettings

        key = tuple(sorted(settings.model_flags().items()))
        async with self._opening():
            if self._backend is not None and key == self._backend_key:
                return self._backend
            try:
                backend = await open_backend(ModelSettings.from_flags(**settings.model_flags()))
            except Exception as exc:
                described = describe_failure(exc)
                if described is None:
                    raise
                raise Unavailable(described[0]) from None
            if self._backend is not None:
                self._retired.append(self._backend)  # runs may still use it; closed at shutdown
            self._backend, self._backend_key = backend, key  # the model layer logs which one it picked
            return backend

    async def sandbox(self) -> Sandbox:
        """The server's sandbox, started on first use (in a worker thread: it talks to Docker). On the
        runs' loop only."""
        from viscodex.agent import describe_failure
        from viscodex.sandbox import Sandbox

        async with self._opening():
            if self._sandbox is None:
                try:
                    self._sandbox = await asyncio.to_thread(Sandbox)
                except Exception as exc:
                    described = describe_failure(exc)
                    if described is None:
                        raise
                    raise Unavailable(described[0]) from None
                log.info("sandbox ready: image %s", self._sandbox.image)
            return self._sandbox

    async def close(self) -> None:
        """Close the backend(s) and the sandbox on the runs' loop, then stop it."""
        if self._loop is None:
            return
        await self.call(self._close())
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            await asyncio.to_thread(thread.join, 5)

    async def _close(self) -> None:
        """Close the backend(s) and the sandbox: no container outlives the server."""
        backends = [*self._retired, *([self._backend] if self._backend is not None else [])]
        self._backend, self._retired = None, []
        for backend in backends:
            with contextlib.suppress(Exception):
                await backend.aclose()
        if self._sandbox is not None:
            sandbox, self._sandbox = self._sandbox, None
            await asyncio.to_thread(sandbox.close)

    def close_sync(self) -> None:
        """At exit without an event loop: at least the sandbox's containers go."""
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
