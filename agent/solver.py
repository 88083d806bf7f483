"""``solve``: from a picture to checked code, for Python callers; ``viscodex-agent solve`` is one of them.

It opens the model backend the settings name and a sandbox under the policy, runs the loop with them and
closes both, whatever happens. Progress comes as events through ``emit``; the result says whether the
best candidate was verified and where the run folder is. Callers that hold their own model backend or
sandbox use ``Loop`` directly.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from viscodex.model.settings import ModelSettings
from viscodex.sandbox import Sandbox, SandboxPolicy

from .events import Emit, Event
from .loop import Loop, SolveResult
from .tasks.base import SolveRequest

__all__ = ["default_run_dir", "solve", "solve_sync"]


def default_run_dir(kind: str) -> Path:
    """``.viscodex/runs/<date>-<time>-<kind>`` under the current folder."""
    return Path(".viscodex") / "runs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}"


def _ignore(_event: Event) -> None:
    pass


async def solve(
    request: SolveRequest,
    *,
    settings: ModelSettings | None = None,
    policy: SandboxPolicy | None = None,
    emit: Emit | None = None,
    run_dir: Path | None = None,
) -> SolveResult:
    """Run the verify-and-iterate loop on ``request`` and return its result.

    ``settings``: which model and how to reach it (default: ``ModelSettings()``, read from
    ``VISCODEX_*`` variables and the config file). ``policy``: the sandbox's limits and package set
    (default: the sandbox's). ``emit``: called with each event as it happens (default: none).
    ``run_dir``: where the candidates and ``report.json`` go (default: ``default_run_dir``).

    Raises ``viscodex.model.ModelError`` (``ModelUnavailable`` and kin) when the model cannot be
    reached, ``viscodex.sandbox.SandboxError`` (``SandboxUnavailable`` and kin) when the sandbox
    cannot run, and ``RunCancelled`` when the run is cancelled; a candidate that fails is a result.
    """
    from viscodex.model.select import open_backend  # LangChain and openai: imported when needed

    model = await open_backend(settings if settings is not None else ModelSettings())
    try:
        sandbox = await asyncio.to_thread(Sandbox, policy=policy)
        try:
            folder = run_dir if run_dir is not None else default_run_dir(request.kind)
            return await Loop(request, model, sandbox, folder, emit or _ignore).run()
        finally:
            await asyncio.to_thread(sandbox.close)
    finally:
        await model.aclose()


def solve_sync(
    request: SolveRequest,
    *,
    settings: ModelSettings | None = None,
    policy: SandboxPolicy | None = None,
    emit: Emit | None = None,
    run_dir: Path | None = None,
) -> SolveResult:
    """``solve`` for callers without an event loop (it runs one); same arguments, same result."""
    return asyncio.run(solve(request, settings=settings, policy=policy, emit=emit, run_dir=run_dir))
