"""The process where the language server's runs happen: ``python -m viscodex.lsp_server.run_worker``.

Why a process of its own: a run renders, OCRs and scores pictures, and the embedded backend generates
with torch, all of which hold the CPU (and, in Python, the GIL) for long stretches. In the protocol's
process they delayed every code action and hover while generations ran. Here they cannot, and the
worker lowers its own priority (``nice``; its tesseract and other children inherit it), so the editor's
requests win the CPU when both want it. One worker serves all runs of a server: one model backend and
one sandbox with its warm pools, as before. A crash in a run's native code ends the worker, not the
server, which starts a new one for the next run.

The wire is JSON lines. In, on stdin: ``{"op": "solve", "id", "model": {...}, "request": {...},
"run_dir"}``, ``{"op": "cancel", "id"}``, ``{"op": "close"}``. Out, on stdout: ``{"id", "event"}`` (the
agent's typed events), ``{"id", "step"}`` (the sandbox call in flight), ``{"id", "result"}``,
``{"id", "error": {"message", "code"}}``, ``{"id", "cancelled": true}``, and ``{"log": {...}}`` (log
records for the client). End of stdin (the server is gone) closes everything: no container outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, cast

log = logging.getLogger("viscodex.lsp_server.run_worker")  # not __name__: that is __main__ under -m
LINE_LIMIT = 64 << 20
"""The longest message the server may send (a request carries its instruction and code context)."""
NICENESS = 10
"""How far the worker lowers its priority: below the editor and the server, above nothing else."""


class Wire:
    """Writes JSON lines to the server; safe from any thread (a run's sandbox steps come from workers)."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                self._out.write(line)
                self._out.flush()
            except (BrokenPipeError, ValueError):  # the server is gone; stdin's end closes us next
                pass


class WireLogHandler(logging.Handler):
    """The worker's ``viscodex`` log records, sent to the server, which logs them as its own (so the
    client's ``window/logMessage`` still hears which backend was picked, the sandbox being ready...)."""

    def __init__(self, wire: Wire) -> None:
        super().__init__(logging.INFO)
        self.wire = wire

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.wire.send({"log": {"name": record.name, "level": record.levelno, "message": record.getMessage()}})
        except (TypeError, ValueError):  # a record whose arguments do not fit its format
            self.handleError(record)


class Worker:
    """Runs ``solve`` messages on one event loop, on the shared backend and sandbox."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.runs: dict[int, tuple[asyncio.Task[None], threading.Event]] = {}
        self._backend: Any = None
        self._backend_key: tuple[Any, ...] | None = None
        self._retired: list[Any] = []
        self._sandbox: Any = None
        self._opening = asyncio.Lock()
        self._slots: Any = None

    def handle(self, message: dict[str, Any]) -> bool:
        """One message from the server; False when it says to close."""
        op = message.get("op")
        if op == "solve":
            cancel = threading.Event()
            run_id = int(message["id"])
            task = asyncio.create_task(self._solve(run_id, message, cancel))
            self.runs[run_id] = (task, cancel)
            task.add_done_callback(lambda _t: self.runs.pop(run_id, None))
        elif op == "cancel":
            run = self.runs.get(int(message["id"]))
            if run is not None:
                run[1].set()  # the sandbox call in flight stops and its container is removed
                run[0].cancel()
        elif op == "close":
            return False
        return True

    async def _solve(self, run_id: int, message: dict[str, Any], cancel: threading.Event) -> None:
        from pydantic import TypeAdapter

        from viscodex.agent import Loop, SolveRequest, describe_failure

        from .run_sandbox import JobSlots, RunSandbox

        def step(text: str) -> None:
            self.wire.send({"id": run_id, "step": text})

        try:
            request = TypeAdapter(SolveRequest).validate_python(message["request"])
            backend = await self._backend_for(message["model"])
            sandbox = await self._shared_sandbox()
            if self._slots is None:
                self._slots = JobSlots()
            limit = int(message.get("sandbox_jobs") or 1)
            view = cast(Any, RunSandbox(sandbox, cancel, step, self._slots, limit))
            emit = lambda event: self.wire.send({"id": run_id, "event": event.model_dump(mode="json")})  # noqa: E731
            result = await Loop(request, backend, view, Path(message["run_dir"]), emit).run()
        except asyncio.CancelledError:
            cancel.set()
            self.wire.send({"id": run_id, "cancelled": True})
            return
        except Exception as exc:
            described = describe_failure(exc)
            if described is None:
                log.exception("run %s failed unexpectedly", run_id)
                text = f"an unexpected error ({type(exc).__name__}: {exc}); the log has its traceback"
                self.wire.send({"id": run_id, "error": {"message": text, "code": None}})
            else:
                self.wire.send({"id": run_id, "error": {"message": described[0], "code": int(described[1])}})
            return
        finally:
            cancel.set()
        best = result.best
        self.wire.send(
            {
                "id": run_id,
                "result": {
                    "code": best.code if best is not None else "",
                    "kind": result.kind,
                    "verified": result.verified,
                    "score": best.verification.score if best is not None else 0.0,
                    "iterations": result.iterations,
                    "run_dir": str(result.run_dir),
                },
            }
        )

    async def _backend_for(self, flags: dict[str, Any]) -> Any:
        """The model backend these settings name, opened (and checked to answer) once and shared."""
        from viscodex.model.select import open_backend
        from viscodex.model.settings import ModelSettings

        key = tuple(sorted((name, json.dumps(value, default=str)) for name, value in flags.items()))
        async with self._opening:
            if self._backend is not None and key == self._backend_key:
                return self._backend
            backend = await open_backend(ModelSettings.from_flags(**flags))
            if self._backend is not None:
                self._retired.append(self._backend)  # runs may still use it; closed at the end
            self._backend, self._backend_key = backend, key
            return backend

    async def _shared_sandbox(self) -> Any:
        """The sandbox, started on the first run (in a thread: it talks to Docker)."""
        from viscodex.sandbox import Sandbox

        async with self._opening:
            if self._sandbox is None:
                self._sandbox = await asyncio.to_thread(Sandbox)
                log.info("sandbox ready: image %s", self._sandbox.image)
            return self._sandbox

    async def close(self) -> None:
        """Cancel the runs, close the backends and the sandbox (its containers go)."""
        for task, cancel in list(self.runs.values()):
            cancel.set()
            task.cancel()
        await asyncio.gather(*(task for task, _ in self.runs.values()), return_exceptions=True)
        for backend in [*self._retired, *([self._backend] if self._backend is not None else [])]:
            with contextlib.suppress(Exception):
                await backend.aclose()
        if self._sandbox is not None:
            await asyncio.to_thread(self._sandbox.close)


async def serve(inp: Any, wire: Wire) -> None:
    """Handle messages until ``close``, the end of stdin or SIGTERM (the server going, a user's kill):
    each ends the runs and closes the sandbox."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), inp)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    worker = Worker(wire)

    async def read() -> None:
        while line := await reader.readline():
            try:
                if not worker.handle(json.loads(line)):
                    break
            except (ValueError, KeyError, TypeError):  # not JSON, or not a message: a bug on the other end
                log.warning("the server sent a line the worker cannot read: %.200r", line)
        stop.set()

    reading = asyncio.create_task(read())
    try:
        await stop.wait()
    finally:
        reading.cancel()
        await worker.close()


def main() -> None:
    from .scheduling import restore_default_slice

    restore_default_slice()  # the server's short slice is for its quick requests, not for runs
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the editor's terminal is the server's to handle
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but the wire may write to stdout
    wire = Wire(out)
    # VisCodex's records go to the server, which logs them as its own (stderr at the user's level, the
    # client at INFO); other libraries' warnings go to stderr, which the worker shares with the server.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logger = logging.getLogger("viscodex")
    logger.addHandler(WireLogHandler(wire))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    asyncio.run(serve(sys.stdin.buffer, wire))


if __name__ == "__main__":
    main()
