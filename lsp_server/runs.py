"""What all runs of the server share: the worker process they happen in (one model backend and one
sandbox with its warm pools, see ``run_worker``), a bound on how many run at a time, and the wire to it.
The worker starts on the first run, never before: the server starts without importing the model layer,
torch or Docker, and its own process only speaks the protocol, so code actions, hovers and edits are
answered while four generations render and score.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .settings import LspSettings

if TYPE_CHECKING:
    from viscodex.agent import Event, SolveRequest

log = logging.getLogger(__name__)
LINE_LIMIT = 64 << 20
"""The longest line the worker may send (an event carries a candidate's critique, a result its code)."""
CLOSE_WAIT_S = 60.0
"""How long closing waits for the worker to remove its containers before it is killed."""


class Unavailable(Exception):
    """The model or the sandbox cannot serve runs; the message names the fix."""


class RunFailed(Exception):
    """The worker could not do the run: its message names the fix; ``code`` is the CLI's exit code for
    the same failure (2: bad input, 3: the model or the sandbox unavailable), None for a bug."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RunOutcome:
    """What a run produced, as the worker reports it: the best code and how it did."""

    code: str
    kind: str
    verified: bool
    score: float
    iterations: int
    run_dir: Path


@dataclass
class _Pending:
    future: asyncio.Future[RunOutcome]
    on_event: Callable[[Event], None]
    on_step: Callable[[str], None]


class Runner:
    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock | None = None
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._slots: asyncio.Condition | None = None
        self.active = 0
        self.queued = 0

    @property
    def worker_pid(self) -> int | None:
        """The worker process's pid while it runs (its containers carry it as their owner)."""
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

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

    async def solve(
        self,
        settings: LspSettings,
        request: SolveRequest,
        run_dir: Path,
        on_event: Callable[[Event], None],
        on_step: Callable[[str], None],
    ) -> RunOutcome:
        """Run the agent's loop in the worker; its events and sandbox steps come back as they happen.
        Cancelling the caller cancels the run there (its container is removed at once)."""
        from pydantic import TypeAdapter

        from viscodex.agent import SolveRequest

        proc = await self._worker()
        run_id = next(self._ids)
        future: asyncio.Future[RunOutcome] = asyncio.get_running_loop().create_future()
        self._pending[run_id] = _Pending(future, on_event, on_step)
        message = {
            "op": "solve",
            "id": run_id,
            "model": settings.model_flags(),
            "sandbox_jobs": settings.sandbox_job_limit,
            "request": TypeAdapter(SolveRequest).dump_python(request, mode="json"),
            "run_dir": str(run_dir),
        }
        try:
            self._send(proc, message)
            return await future
        except asyncio.CancelledError:
            self._send(proc, {"op": "cancel", "id": run_id})
            raise
        finally:
            self._pending.pop(run_id, None)

    async def _worker(self) -> asyncio.subprocess.Process:
        """The worker, started on first use and again after it died."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._proc is None or self._proc.returncode is not None:
                self._proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "viscodex.lsp_server.run_worker",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=LINE_LIMIT,
                )
                self._reader = asyncio.create_task(self._read(self._proc))
                log.info("run worker started (pid %s)", self._proc.pid)
            return self._proc

    @staticmethod
    def _send(proc: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
        if proc.stdin is None or proc.stdin.is_closing():
            raise RunFailed("the run worker has stopped; try again (a new one starts)", None)
        proc.stdin.write((json.dumps(message) + "\n").encode())

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        """Route the worker's lines to their runs until it ends; then fail the runs still waiting."""
        from viscodex.agent.events import EVENT_ADAPTER

        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                log.warning("the run worker wrote a line that is not JSON: %.200r", line)
                continue
            if "log" in message:
                record = message["log"]
                logger = logging.getLogger(record.get("name", __name__))
                logger.log(record.get("level", logging.INFO), "%s", record.get("message"))
                continue
            pending = self._pending.get(message.get("id"))
            if pending is None or pending.future.done():
                continue
            try:
                if "event" in message:
                    pending.on_event(EVENT_ADAPTER.validate_python(message["event"]))
                elif "step" in message:
                    pending.on_step(str(message["step"]))
                elif "result" in message:
                    result = message["result"]
                    pending.future.set_result(RunOutcome(**{**result, "run_dir": Path(result["run_dir"])}))
                elif "error" in message:
                    pending.future.set_exception(RunFailed(message["error"]["message"], message["error"]["code"]))
                elif message.get("cancelled"):
                    pending.future.cancel()
            except Exception:  # a malformed message fails its run, never the reader
                log.exception("bad message from the run worker")
                pending.future.set_exception(RunFailed("the run worker sent a message the server cannot read", None))
        code = await proc.wait()
        if self._pending:
            log.error("the run worker stopped (exit code %s) with %d run(s) in flight", code, len(self._pending))
        if code != 0:  # killed or crashed: it could not remove its containers, so the server does
            await asyncio.to_thread(_reap_orphans)
        for pending in list(self._pending.values()):
            if not pending.future.done():
                message = f"the run worker stopped (exit code {code}); the server's log (stderr) says why"
                pending.future.set_exception(RunFailed(message, None))

    async def close(self) -> None:
        """Ask the worker to close (runs cancelled, backends and the sandbox closed: no container
        outlives the server) and wait for it; kill it when it does not go in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(RunFailed, ConnectionError):
            self._send(proc, {"op": "close"})
        try:
            await asyncio.wait_for(proc.wait(), CLOSE_WAIT_S)
        except TimeoutError:
            log.error("the run worker did not close within %.0f s; killed", CLOSE_WAIT_S)
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    def close_sync(self) -> None:
        """At exit without an event loop: SIGTERM makes the worker close as ``close`` does; wait for it."""
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + CLOSE_WAIT_S
        while time.monotonic() < deadline:
            try:
                os.kill(proc.pid, 0)
            except ProcessLookupError:
                return
            if _zombie(proc.pid):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)


def _reap_orphans() -> None:
    """Remove the containers of sandbox owners that are gone (a worker that crashed)."""
    import docker

    from viscodex.sandbox.owners import reap_orphans

    try:
        removed = reap_orphans(docker.from_env())
    except (docker.errors.DockerException, OSError) as exc:  # Docker down: the next sandbox reaps them
        log.warning("could not remove the stopped worker's containers: %s", exc)
        return
    if removed:
        log.info("removed %d container(s) of the stopped run worker", len(removed))


def _zombie(pid: int) -> bool:
    """The process has exited and only waits to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
