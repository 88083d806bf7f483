"""The agent: from a picture to code that was run and checked, as a verify-and-iterate loop over the model
(``viscodex.model``) and the sandbox (``viscodex.sandbox``). It reports typed events and never prints.

This module is its public face: ``solve`` (or ``Loop`` with a model backend and sandbox of one's own),
the request and result, the events, and the failure mapping shared by the console scripts. The language
server, tests and benches import from here, not from the modules behind it.

Only the failure mapping loads with the package; the rest (the loop pulls in the model client, the
sandbox, tree-sitter and the scorers) loads on first use, so console scripts that only need the
failure mapping start at once.
"""

import importlib
import typing

from .cli_errors import describe_failure, run_app
from .exit_codes import ExitCode

if typing.TYPE_CHECKING:
    from .events import (
        Candidate,
        Done,
        Emit,
        Event,
        Failed,
        ParseError,
        SandboxResult,
        Score,
        Started,
        parse_event,
    )
    from .loop import Attempt, IterationTiming, Loop, SolveResult
    from .solver import solve, solve_sync
    from .tasks.base import KINDS, Kind, SolveRequest
    from .tasks.pictures import check_picture, model_budget

_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ["Candidate", "Done", "Emit", "Event", "Failed", "ParseError", "SandboxResult", "Score", "Started"], ".events"
    ),
    "parse_event": ".events",
    **dict.fromkeys(["Attempt", "IterationTiming", "Loop", "SolveResult"], ".loop"),
    **dict.fromkeys(["solve", "solve_sync"], ".solver"),
    **dict.fromkeys(["KINDS", "Kind", "SolveRequest"], ".tasks.base"),
    **dict.fromkeys(["check_picture", "model_budget"], ".tasks.pictures"),
}


def __getattr__(name: str) -> object:
    """Load a name of the loop's side on first use, and keep it."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "KINDS",
    "Attempt",
    "Candidate",
    "Done",
    "Emit",
    "Event",
    "ExitCode",
    "Failed",
    "IterationTiming",
    "Kind",
    "Loop",
    "ParseError",
    "SandboxResult",
    "Score",
    "SolveRequest",
    "SolveResult",
    "Started",
    "check_picture",
    "describe_failure",
    "model_budget",
    "parse_event",
    "run_app",
    "solve",
    "solve_sync",
]
