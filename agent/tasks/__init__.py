"""The four tasks. Each is a small class: its prompts, its code's language, and how it is verified."""

from __future__ import annotations

from .base import KINDS, Kind, SolveRequest, Task, Verification


def make_task(kind: Kind) -> Task:
    if kind == "algorithm":
        from .algorithm import AlgorithmTask

        return AlgorithmTask()
    if kind == "fix":
        from .fix import FixTask

        return FixTask()
    if kind == "ui":
        from .ui import UiTask

        return UiTask()
    if kind == "chart":
        from .chart import ChartTask

        return ChartTask()
    raise ValueError(f"unknown task kind {kind!r}; one of {', '.join(KINDS)}")


__all__ = ["KINDS", "Kind", "SolveRequest", "Task", "Verification", "make_task"]
