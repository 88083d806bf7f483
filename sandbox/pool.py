"""A warm pool: containers started (and preloaded) ahead of time, each used for one run only.

A run takes a ready container, so it pays neither container start-up nor the role's preload (matplotlib
import, chromium launch). Nothing is shared between runs: every container is destroyed after its job and
a fresh one is started in the background to take its place.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import docker

from .container import Role, WarmContainer
from .errors import SandboxError
from .limits import Limits

log = logging.getLogger(__name__)


class WarmPool:
    """Keeps ``size`` ready containers of one role and one set of container limits."""

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        role: Role,
        limits: Limits,
        size: int,
        executor: ThreadPoolExecutor,
        labels: dict[str, str] | None = None,
        ready_timeout_s: float = 90.0,
    ) -> None:
        self._labels = dict(labels or {})
        self._client = client
        self._image = image
        self.role: Role = role
        self._limits = limits
        self.size = size
        self._executor = executor
        self._ready_timeout_s = ready_timeout_s
        self._ready: list[WarmContainer] = []
        self._starting = 0
        self._cond = threading.Condition()
        self._closed = False
        self._jobs: set[Future[None]] = set()
        self._in_use: set[WarmContainer] = set()
        self.last_error: BaseException | None = None

    def acquire(self, cancel: threading.Event | None = None) -> WarmContainer:
        """A ready container: a warm one if there is one, else one started now (a cold start)."""
        with self._cond:
            if self._closed:
                raise SandboxError("this sandbox is closed")
            container = self._ready.pop(0) if self._ready else None
            if container is not None:
                self._in_use.add(container)
                return container  # refilled on release, so the start-up does not compete with this run
        container = WarmContainer(self._client, self._image, self.role, self._limits, self._labels)
        with self._cond:
            closed = self._closed
            if not closed:
                self._in_use.add(container)
        if closed:  # close() ran while the container started: it could not have killed this one
            container.destroy()
            raise SandboxError("this sandbox is closed")
        try:
            container.wait_ready(self._ready_timeout_s, cancel)
        except BaseException:
            self.release(container)
            raise
        return container

    def release(self, container: WarmContainer) -> None:
        """Destroy a used container in the background (``close`` waits for it) and start its successor.

        After ``close`` the executor may be gone, so the container is destroyed right here instead.
        """
        with self._cond:
            self._in_use.discard(container)
            closed = self._closed
        if closed:
            container.destroy()
            return
        self._submit(container.destroy)
        self.refill()

    def refill(self) -> None:
        with self._cond:
            missing = 0 if self._closed else self.size - len(self._ready) - self._starting
            self._starting += max(0, missing)
        for _ in range(missing):
            self._submit(self._start_one)

    def _submit(self, fn: object) -> None:
        future: Future[None] = self._executor.submit(fn)  # type: ignore[arg-type]
        with self._cond:
            self._jobs.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._cond:
            self._jobs.discard(future)
            self._cond.notify_all()

    def _start_one(self) -> None:
        container: WarmContainer | None = None
        try:
            container = WarmContainer(self._client, self._image, self.role, self._limits, self._labels)
            container.wait_ready(self._ready_timeout_s)
        except Exception as exc:  # noqa: BLE001 - kept for diagnosis; acquire() falls back to cold
            log.warning("warm %s container failed to start: %s", self.role, exc)
            self.last_error = exc
            if container is not None:
                container.destroy()
            container = None
        with self._cond:
            self._starting -= 1
            if container is not None and not self._closed:
                self._ready.append(container)
                container = None
            self._cond.notify_all()
        if container is not None:  # the pool closed while it started
            container.destroy()

    def ready_count(self) -> int:
        with self._cond:
            return len(self._ready)

    def wait_warm(self, timeout_s: float = 120.0) -> bool:
        """Block until the pool is full and idle, no destroy still running (True), or the timeout
        passes / starts keep failing (False)."""
        self.refill()
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._ready) < self.size or self._jobs:
                if self._starting == 0 and len(self._ready) < self.size:
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Destroy every container this pool made and wait until all of them are gone."""
        with self._cond:
            self._closed = True
            ready, self._ready = self._ready, []
            in_use = list(self._in_use)
        for container in ready:
            self._submit(container.destroy)
        for container in in_use:  # a run still going (e.g. on Ctrl-C): kill it, its caller sees an error
            container.kill()
        with self._cond:
            while self._jobs or self._starting:
                self._cond.wait(1.0)
