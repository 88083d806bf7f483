"""What the loop reports while it works: typed events that the CLI, the language server and `--json`
(one JSON object a line) all consume. Nothing prints from inside the loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    elapsed_s: float = Field(description="Seconds since the run started.")


class Started(_Event):
    type: Literal["started"] = "started"
    kind: str
    images: list[str]
    run_dir: str
    backend: str
    model: str
    max_iters: int


class Candidate(_Event):
    type: Literal["candidate"] = "candidate"
    iteration: int
    index: int
    language: str
    chars: int
    path: str


class ParseError(_Event):
    type: Literal["parse_error"] = "parse_error"
    iteration: int
    index: int
    errors: list[str]


class SandboxResult(_Event):
    type: Literal["sandbox_result"] = "sandbox_result"
    iteration: int
    index: int
    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    duration_s: float
    stderr_tail: str


class Score(_Event):
    type: Literal["score"] = "score"
    iteration: int
    index: int
    score: float
    passed: bool
    components: dict[str, float]
    critique: list[str]


class Done(_Event):
    type: Literal["done"] = "done"
    verified: bool
    score: float
    iterations: int
    reason: str
    output: str | None
    run_dir: str


class Failed(_Event):
    """The run could not go on (bad input or usage, a model or sandbox unavailable, an error): what, how
    to fix it, and the exit code the CLI ends with."""

    type: Literal["failed"] = "failed"
    error: str
    exit_code: int


Event = Annotated[Started | Candidate | ParseError | SandboxResult | Score | Done | Failed, Field(discriminator="type")]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
Emit = Callable[[Event], None]


def parse_event(line: str) -> Event:
    """An event back from its JSON line (the language server and tests read `--json` output so)."""
    return EVENT_ADAPTER.validate_json(line)
