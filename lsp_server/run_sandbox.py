"""One run's view of the server's shared sandbox: every call carries the run's cancel event, so
cancelling a run stops its container at once (the warm pools and the other runs go on), and says which
step it is (rendering, running) to the run's progress."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from viscodex.sandbox import Sandbox


class RunSandbox:
    """Stands in for ``Sandbox`` in one ``Loop``: the same methods, each with ``cancel`` set."""

    def __init__(self, sandbox: Sandbox, cancel: threading.Event, on_step: Callable[[str], None]) -> None:
        self._sandbox = sandbox
        self._cancel = cancel
        self._on_step = on_step

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)

    def _call(self, step: str, method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from viscodex.sandbox import RunCancelled

        if self._cancel.is_set():
            raise RunCancelled()
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
