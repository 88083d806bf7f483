"""One run's view of the server's shared sandbox: every call carries the run's cancel event, so
cancelling a run stops its container at once (the warm pools and the other runs go on), says which
step it is (rendering, running) to the run's progress, and holds one of the server's sandbox job slots.

The slots bound the containers at work over all runs (``sandbox_jobs``, by default one less than the
cores): a render is a browser at full speed, and several of them at once would take every core from the
editor and from this server's answers to it. The model calls, which are most of a run's time, are not
bounded by them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from viscodex.sandbox import Sandbox


class JobSlots:
    """Sandbox jobs at a time over all the runs of a server. The limit comes with each job (the settings
    may change between runs); a waiting job gives way to its run's cancel at once."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.active = 0

    @contextmanager
    def hold(self, limit: int, cancel: threading.Event, on_wait: Callable[[], None]) -> Iterator[None]:
        from viscodex.sandbox import RunCancelled

        with self._changed:
            waited = False
            while self.active >= limit:
                if cancel.is_set():
                    raise RunCancelled()
                if not waited:
                    on_wait()
                    waited = True
                self._changed.wait(0.1)
            self.active += 1
        try:
            yield
        finally:
            with self._changed:
                self.active -= 1
                self._changed.notify()


class RunSandbox:
    """Stands in for ``Sandbox`` in one ``Loop``: the same methods, each with ``cancel`` set."""

    def __init__(
        self,
        sandbox: Sandbox,
        cancel: threading.Event,
        on_step: Callable[[str], None],
        slots: JobSlots | None = None,
        limit: int = 1,
    ) -> None:
        self._sandbox = sandbox
        self._cancel = cancel
        self._on_step = on_step
        self._slots = slots or JobSlots()
        self._limit = limit

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)

    def _call(self, step: str, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from viscodex.sandbox import RunCancelled

        if self._cancel.is_set():
            raise RunCancelled()
        with self._slots.hold(self._limit, self._cancel, lambda: self._on_step("waiting for the sandbox")):
            self._on_step(step)
            return method(*args, cancel=self._cancel, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("running", self._sandbox.run, args, kwargs)

    def run_chart(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("rendering", self._sandbox.run_chart, args, kwargs)

    def render_html(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("rendering", self._sandbox.render_html, args, kwargs)

    def render_html_blocks(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("rendering", self._sandbox.render_html_blocks, args, kwargs)
