"""Work-done progress for one run: the agent's events (and the sandbox's steps) as ``$/progress``
begin / report / end, with the iteration, the score so far and the step in each report."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

    from viscodex.agent import Event

TITLE = "VisCodex"


class RunProgress:
    """One run's progress token. Without a token (the client does not do progress) every call is a
    no-op; everything else is safe to call from any thread."""

    def __init__(self, server: LanguageServer, token: str | int | None, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.token = token
        self.loop = loop
        self.iteration = 0
        self.max_iters = 0
        self.best: float | None = None
        self.step = "queued"
        self.ended = False

    @classmethod
    async def start(cls, server: LanguageServer, token: str | int | None, on_cancel: Callable[[], None]) -> RunProgress:
        """Progress under the client's ``workDoneToken``, or a token the server creates
        (``window/workDoneProgress/create``) when the client can show progress; ``on_cancel`` runs when
        the client sends ``window/workDoneProgress/cancel`` for it."""
        loop = asyncio.get_running_loop()
        window = server.client_capabilities.window
        if token is None and window is not None and window.work_done_progress:
            token = f"viscodex-{uuid.uuid4().hex[:12]}"
            try:
                await server.work_done_progress.create_async(token)
            except JsonRpcException:  # a client that refuses the token gets no progress, not a failed run
                token = None
        progress = cls(server, token, loop)
        if token is not None:
            server.work_done_progress.tokens.setdefault(token, _future())
            server.work_done_progress.tokens[token].add_done_callback(
                lambda f: loop.call_soon_threadsafe(on_cancel) if f.cancelled() else None
            )
        return progress

    def _message(self) -> str:
        parts = []
        if self.iteration:
            parts.append(f"iteration {self.iteration}/{self.max_iters}")
        if self.best is not None:
            parts.append(f"score {self.best:.2f}")
        parts.append(self.step)
        return " · ".join(parts)

    def _percentage(self) -> int | None:
        if not self.max_iters:
            return None
        return min(99, int(100 * max(self.iteration - 1, 0) / self.max_iters))

    def begin(self, message: str) -> None:
        self.step = message
        if self.token is not None:
            value = types.WorkDoneProgressBegin(title=TITLE, cancellable=True, message=message, percentage=0)
            self.server.work_done_progress.begin(self.token, value)

    def report(self, step: str | None = None) -> None:
        """A report with the current iteration, score and ``step``; thread-safe."""
        if step is not None:
            self.step = step
        if self.token is None or self.ended:
            return
        value = types.WorkDoneProgressReport(message=self._message(), percentage=self._percentage(), cancellable=True)
        self.loop.call_soon_threadsafe(self._send_report, value)

    def _send_report(self, value: types.WorkDoneProgressReport) -> None:
        if self.token is not None and not self.ended:
            self.server.work_done_progress.report(self.token, value)

    def on_event(self, event: Event) -> None:
        """The agent's event as a step: generating, syntax check, rendering/running, scoring."""
        from viscodex.agent import Candidate, ParseError, SandboxResult, Score, Started

        if isinstance(event, Started):
            self.max_iters, self.iteration = event.max_iters, 1
            self.report(f"{event.kind} task: generating")
        elif isinstance(event, Candidate):
            self.iteration = event.iteration
            self.report("syntax check")
        elif isinstance(event, ParseError):
            self.report("syntax error, sent back to the model")
        elif isinstance(event, SandboxResult):
            self.report("scoring")
        elif isinstance(event, Score):
            self.best = event.score if self.best is None else max(self.best, event.score)
            if event.passed:
                self.report("verified")
            elif self.iteration < self.max_iters:
                self.iteration += 1
                self.report("generating")
            else:
                self.report("finishing")

    def forget(self) -> None:
        """Drop a token that was created but never begun (the request was refused first)."""
        if self.token is not None:
            self.ended = True
            self.server.work_done_progress.tokens.pop(self.token, None)

    def end(self, message: str) -> None:
        if self.token is not None and not self.ended:
            self.ended = True
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(self.token, None)


def _future() -> Any:
    from concurrent.futures import Future

    return Future()
