"""A warm pool: containers started (and preloaded) ahead of time; recycled after a proven reset.

A run takes a ready container, so it pays neither container start-up nor the role's preload (matplotlib
import, chromium launch). Nothing of one run reaches the next:

- a recycling pool (``exec`` and ``chart``) gets a container back only after its shim reset it (every
  other process killed, the writable mounts and IPC objects wiped, each checked) and the host saw no
  process but the shim left in the container's cgroup. The container is destroyed instead after
  ``max_runs`` jobs, after a run that hit a limit (timeout, memory, pids, output cap) or failed, and
  whenever the reset cannot be proven;
- the ``html`` pool never recycles: its browser is one long-lived process that ran the page's code, and
  nothing outside it can prove that process clean. Each container serves one render.

The pool refills ahead of demand: it keeps ``size`` containers ready plus as many as were in use at once
in the last ``demand_window_s`` seconds, within a memory budget shared by every pool of a sandbox (each
idle container counted at its memory limit). Idle containers beyond that are destroyed once no run has
come for the window, never while runs come. A run whose pool is empty waits for a container being reset
or started rather than starting one inline; it cold-starts only when more runs wait than containers are
on their way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import docker

from .container import Role, WarmContainer
from .errors import SandboxError
from .limits import Limits
from .results import PageFonts

log = logging.getLogger(__name__)
COUNTS = ("runs", "started", "cold_starts", "recycled")


class MemoryBudget:
    """The memory idle containers may hold, shared by the pools of one sandbox (MiB, at their limits)."""

    def __init__(self, limit_mb: int) -> None:
        self.limit_mb = limit_mb
        self.used_mb = 0
        self._lock = threading.Lock()

    def take(self, mb: int) -> bool:
        with self._lock:
            if self.used_mb + mb > self.limit_mb:
                return False
            self.used_mb += mb
            return True

    def give_back(self, mb: int) -> None:
        with self._lock:
            self.used_mb = max(0, self.used_mb - mb)


class WarmPool:
    """Keeps ready containers of one role and one set of container limits."""

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
        *,
        recycle: bool = False,
        max_runs: int = 1,
        budget: MemoryBudget | None = None,
        demand_window_s: float = 30.0,
        fonts: PageFonts = "system",
    ) -> None:
        self._labels = dict(labels or {})
        self._client = client
        self._image = image
        self.role: Role = role
        self._limits = limits
        self.fonts: PageFonts = fonts
        self.size = size
        self.recycle = recycle and max_runs > 1
        self.max_runs = max_runs if self.recycle else 1
        self._budget = budget or MemoryBudget(1 << 40)
        self._demand_window_s = demand_window_s
        self._executor = executor
        self._ready_timeout_s = ready_timeout_s
        self._ready: list[WarmContainer] = []
        self._starting = 0
        self._resetting = 0
        self._waiting = 0
        self._wanting = 0
        self._cold = 0
        self._creating = 0
        """Cold starts whose container is being created (not in ``_in_use`` yet)."""
        """Containers in ``_in_use`` whose run is still in ``acquire`` (cold-starting): counted once."""
        """Runs inside ``acquire``: with those in use, the demand the pool sizes itself by."""
        self._cond = threading.Condition()
        self._closed = False
        self._jobs: set[Future[None]] = set()
        self._in_use: set[WarmContainer] = set()
        self._demand: deque[tuple[float, int]] = deque()
        self._last_acquire = time.monotonic()
        self._trim_timer: threading.Timer | None = None
        self.stats: Counter[str] = Counter()
        """Counts: ``runs``, ``started`` (containers), ``cold_starts`` (a run waited for a start),
        ``recycled`` (a run got a reset container), ``destroyed_<reason>``."""
        self.last_error: BaseException | None = None

    # --- taking and giving back -------------------------------------------------------------------

    def acquire(self, cancel: threading.Event | None = None) -> WarmContainer:
        """A ready container; if none, one being reset or started; else one started now (cold)."""
        with self._cond:
            if self._closed:
                raise SandboxError("this sandbox is closed")
            self.stats["runs"] += 1
            self._wanting += 1
            self._note_demand(len(self._in_use) - self._cold + self._wanting)
            self._last_acquire = time.monotonic()
        try:
            return self._acquire(cancel)
        finally:
            with self._cond:
                self._wanting -= 1

    def _acquire(self, cancel: threading.Event | None) -> WarmContainer:
        with self._cond:
            while not self._ready and self._waiting < self._resetting + self._starting:
                if cancel is not None and cancel.is_set():
                    from .errors import RunCancelled

                    raise RunCancelled()
                self._waiting += 1
                try:
                    self._cond.wait(0.05)
                finally:
                    self._waiting -= 1
                if self._closed:
                    raise SandboxError("this sandbox is closed")
            container = self._ready.pop(0) if self._ready else None
            if container is not None:
                self._budget.give_back(self._limits.memory_mb)
                self._in_use.add(container)
                if container.runs:
                    self.stats["recycled"] += 1
            else:
                self.stats["cold_starts"] += 1
                self._creating += 1
        if container is not None:
            self.refill()
            return container
        try:
            container = self._new_container()
        finally:
            with self._cond:
                self._creating -= 1
        with self._cond:
            closed = self._closed
            if not closed:
                self._in_use.add(container)
                self._cold += 1
        if closed:  # close() ran while the container started: it could not have killed this one
            container.destroy()
            raise SandboxError("this sandbox is closed")
        try:
            container.wait_ready(self._ready_timeout_s, cancel)
        except BaseException:
            self.release(container)
            raise
        finally:
            with self._cond:
                self._cold -= 1
        self.refill()
        return container

    def release(self, container: WarmContainer, reusable: bool = False) -> None:
        """Give a used container back. ``reusable``: its run ended normally, within every limit; it is
        then reset and checked in the background and made ready again, else destroyed (in the background;
        ``close`` waits for it) and a successor started. After ``close`` it is destroyed right here."""
        with self._cond:
            self._in_use.discard(container)
            closed = self._closed
            recycle = not closed and reusable and self.recycle and container.recycle
            if recycle:
                self._resetting += 1
        if closed:
            container.destroy()
            return
        if recycle:
            self._submit(lambda: self._recycle(container))
            return
        self._destroy_later(container, "after_run" if self.max_runs == 1 else "limit_or_failure")
        self.refill()

    def _recycle(self, container: WarmContainer) -> None:
        reason = ""
        try:
            proof = container.await_reset()
            if not proof.get("ok"):
                reason = "unproven"
                log.warning("sandbox reset not proven, container destroyed: %s", proof.get("failures"))
            elif proof.get("limit_hit"):
                reason = "limit_or_failure"
            elif container.runs >= self.max_runs:
                reason = "max_runs"
            else:
                pids = container.host_processes()
                if pids is not None and pids != [container.host_pid]:
                    reason = "unproven"
                    log.warning("processes outlived the sandbox reset: %s", pids)
        except (SandboxError, OSError) as exc:
            reason = "unproven"
            log.warning("sandbox reset failed, container destroyed: %s", exc)
        with self._cond:
            self._resetting -= 1
            keep = not reason and not self._closed and self._budget.take(self._limits.memory_mb)
            if keep:
                self._ready.insert(0, container)  # the most recently used first: its pages are warm
            self._cond.notify_all()
        if not keep:
            self._destroy_later(container, reason or ("closed" if self._closed else "over_budget"))
            self.refill()

    def _destroy_later(self, container: WarmContainer, reason: str) -> None:
        with self._cond:  # an RLock: callers may hold it already
            self.stats[f"destroyed_{reason}"] += 1
        self._submit(container.destroy)

    # --- keeping it full ----------------------------------------------------------------------------

    def _note_demand(self, in_use: int) -> None:
        """Record how many containers are in use now (called under the lock)."""
        now = time.monotonic()
        self._demand.append((now, in_use))
        while self._demand and self._demand[0][0] < now - self._demand_window_s:
            self._demand.popleft()

    def target(self) -> int:
        """How many containers should be ready or on their way: ``size``, plus the recent peak of
        concurrent use (a pool of size 0 stays cold: warming is off)."""
        if self.size == 0:
            return 0
        with self._cond:
            since = time.monotonic() - self._demand_window_s
            peak = max((n for t, n in self._demand if t >= since), default=0)
        return self.size + peak

    def refill(self) -> None:
        """Start what the target lacks (and, when the pool holds more than ``size``, look again once it
        has been quiet for the demand window)."""
        target = self.target()
        starts = 0
        with self._cond:
            if self._closed:
                return
            have = self._count()
            while have + starts < target and self._budget.take(self._limits.memory_mb):
                starts += 1
            self._starting += starts
            if have > self.size and self._trim_timer is None:
                self._trim_later(self._demand_window_s)
        for _ in range(starts):
            self._submit(self._start_one)

    def _count(self) -> int:
        """Containers ready, starting, being reset, in use or being created for a run (under the lock)."""
        return len(self._ready) + self._starting + self._resetting + len(self._in_use) + self._creating

    def _trim_later(self, delay_s: float) -> None:
        """Schedule ``_trim_when_quiet`` (called under the lock)."""
        self._trim_timer = threading.Timer(delay_s, self._trim_when_quiet)
        self._trim_timer.daemon = True
        self._trim_timer.start()

    def _trim_when_quiet(self) -> None:
        """Once no run has asked for a container for the demand window, destroy the idle containers
        beyond the target (the least recently used first), keeping ``size`` ready. Never while runs
        come: destroying a container costs the CPU they would wait for."""
        target = self.target()
        with self._cond:
            self._trim_timer = None
            if self._closed:
                return
            quiet_s = time.monotonic() - self._last_acquire
            if quiet_s < self._demand_window_s:
                self._trim_later(self._demand_window_s - quiet_s)
                return
            have = self._count()
            while have > target and len(self._ready) > self.size:
                container = self._ready.pop()
                self._budget.give_back(self._limits.memory_mb)
                self._destroy_later(container, "idle")  # submitted under the lock: close() waits for it
                have -= 1

    def _submit(self, fn: Any) -> None:
        future: Future[None] = self._executor.submit(fn)
        with self._cond:
            self._jobs.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._cond:
            self._jobs.discard(future)
            self._cond.notify_all()

    def _new_container(self) -> WarmContainer:
        with self._cond:
            self.stats["started"] += 1
        return WarmContainer(
            self._client, self._image, self.role, self._limits, self._labels, recycle=self.recycle, fonts=self.fonts
        )

    def _start_one(self) -> None:
        """Start one container for the ready list; its budget share was taken by ``refill``."""
        container: WarmContainer | None = None
        try:
            container = self._new_container()
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
            else:
                self._budget.give_back(self._limits.memory_mb)
            self._cond.notify_all()
        if container is not None:  # the pool closed while it started
            container.destroy()

    # --- looking at it -------------------------------------------------------------------------------

    def ready_count(self) -> int:
        with self._cond:
            return len(self._ready)

    def snapshot(self) -> dict[str, Any]:
        """Sizes now and counts so far, for ``doctor`` and the benchmarks."""
        target = self.target()
        with self._cond:
            return {
                "role": self.role,
                "memory_mb": self._limits.memory_mb,
                "recycle": self.recycle,
                "max_runs": self.max_runs,
                "target": target,
                "ready": len(self._ready),
                "in_use": len(self._in_use),
                "resetting": self._resetting,
                "starting": self._starting,
                **{name: 0 for name in COUNTS},
                **dict(self.stats),
            }

    def wait_warm(self, timeout_s: float = 120.0) -> bool:
        """Block until the pool is full and idle, no reset or destroy still running (True), or the
        timeout passes / starts keep failing (False)."""
        self.refill()
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self._ready) < self.size or self._jobs:
                if self._starting == 0 and self._resetting == 0 and not self._jobs and len(self._ready) < self.size:
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
            if self._trim_timer is not None:
                self._trim_timer.cancel()
                self._trim_timer = None
            ready, self._ready = self._ready, []
            in_use = list(self._in_use)
            self._cond.notify_all()
        for container in ready:
            self._budget.give_back(self._limits.memory_mb)
            self._submit(container.destroy)
        for container in in_use:  # a run still going (e.g. on Ctrl-C): kill it, its caller sees an error
            container.kill()
        with self._cond:
            while self._jobs or self._starting or self._resetting:
                self._cond.wait(1.0)
