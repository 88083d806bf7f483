"""`viscodex-agent solve IMAGE ...`: from a picture to checked code, with progress, a run folder and
exit codes 0 verified, 1 best effort, 2 bad usage or input, 3 model or sandbox unavailable."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from viscodex.model.images import ImageInputError
from viscodex.model.settings import ModelSettings
from viscodex.sandbox import UI_STACKS, RunCancelled, SandboxPolicy

from . import solver
from .cli_errors import UsageError, expected_failures, fail
from .cli_sandbox import PackageSetOpt, PackagesOpt, PolicyOpt, load_policy
from .events import Candidate, Done, Emit, Event, Failed, ParseError, SandboxResult, Score, Started
from .exit_codes import ExitCode
from .loop import SolveResult
from .tasks.base import KINDS, SolveRequest
from .tasks.pictures import check_picture, model_budget

err = Console(stderr=True)


def _human(event: Event) -> None:
    """The progress a person reads: iteration, score, time."""
    t = f"[dim]{event.elapsed_s:6.1f}s[/dim]"
    if isinstance(event, Started):
        err.print(f"{t} {event.kind} task, {event.backend} model {event.model}; run folder {event.run_dir}")
    elif isinstance(event, Candidate):
        err.print(f"{t} iteration {event.iteration}: candidate {event.index} ({event.chars} chars)")
    elif isinstance(event, ParseError):
        err.print(f"{t}   [yellow]syntax error[/yellow], not run: {event.errors[0]}")
    elif isinstance(event, SandboxResult):
        status = "timed out" if event.timed_out else f"exit {event.exit_code}"
        err.print(f"{t}   ran in the sandbox: {status} ({event.duration_s:.2f} s)")
    elif isinstance(event, Score):
        mark = "[green]passed[/green]" if event.passed else ""
        err.print(f"{t}   score {event.score:.3f} {mark}")
        for line in event.critique[:3]:
            err.print(f"[dim]      {line.splitlines()[0][:110] if line else ''}[/dim]")
    elif isinstance(event, Done):
        verdict = "[green]verified[/green]" if event.verified else "[yellow]best effort, not verified[/yellow]"
        err.print(f"{t} {verdict}: score {event.score:.3f} after {event.iterations} iteration(s) ({event.reason})")


def _json(event: Event) -> None:
    sys.stdout.write(event.model_dump_json() + "\n")
    sys.stdout.flush()


def _check_images(images: list[Path], kind: str, max_image_tokens: int) -> None:
    """Refuse, before any model or sandbox starts, a picture the run could not use (exit 2)."""
    budget = model_budget(max_image_tokens)
    for image in images:
        try:
            check_picture(image, kind, budget)
        except ImageInputError as exc:
            raise UsageError(f"{image}: {exc}") from None


def solve(
    images: Annotated[list[Path], typer.Argument(help="The picture(s): a UI, a chart, a problem or an error.")],
    kind: Annotated[str, typer.Option(help=f"auto or one of {', '.join(KINDS)}.")] = "auto",
    out: Annotated[Path | None, typer.Option(help="Where to write the best code.")] = None,
    context: Annotated[list[Path] | None, typer.Option(help="Files the code goes into (repeatable).")] = None,
    repo: Annotated[Path | None, typer.Option(help="Repository for the fix task.")] = None,
    test_cmd: Annotated[str | None, typer.Option(help="Test command for the fix task.")] = None,
    instruction: Annotated[str, typer.Option("--instruction", "-m", help="What you want, in words.")] = "",
    stack: Annotated[str, typer.Option(help="UI stack: html, tailwind or react.")] = "html",
    max_iters: Annotated[int, typer.Option(min=1, max=50, help="Most rounds of run-and-fix.")] = 3,
    candidates: Annotated[int, typer.Option(min=1, max=8, help="Candidates per round, run in parallel.")] = 1,
    threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Visual score that counts as verified.")] = 0.9,
    timeout: Annotated[float | None, typer.Option(help="Sandbox time limit per run, seconds.")] = None,
    run_dir: Annotated[Path | None, typer.Option(help="Run folder (default .viscodex/runs/<time>-<kind>).")] = None,
    model_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    model_name: Annotated[str | None, typer.Option(help="Model name on that server.")] = None,
    model_path: Annotated[Path | None, typer.Option(help="Local checkpoint (embedded backend).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON event per line on stdout.")] = False,
    policy: PolicyOpt = None,
    package_set: PackageSetOpt = None,
    packages: PackagesOpt = None,
) -> None:
    """Turn IMAGE into code that was run and checked in the sandbox."""
    emit = _json if json_out else _human

    def report(message: str, code: ExitCode) -> None:
        if json_out:
            _json(Failed(elapsed_s=0.0, error=message, exit_code=int(code)))

    with expected_failures(report):
        if kind != "auto" and kind not in KINDS:
            raise UsageError(f"unknown --kind {kind!r}; use auto or one of {', '.join(KINDS)}")
        missing = [str(p) for p in [*images, *(context or [])] if not p.is_file()]
        if missing:
            raise UsageError(f"no such file: {', '.join(missing)}")
        if stack not in UI_STACKS:
            raise UsageError(f"unknown --stack {stack!r}; use one of {', '.join(UI_STACKS)}")
        if kind == "fix" and repo is None:
            raise UsageError("--kind fix needs --repo DIR")
        if repo is not None and not repo.is_dir():
            raise UsageError(f"--repo {repo} is not a folder")
        sandbox_policy = load_policy(policy, package_set, packages)
        settings = ModelSettings.from_flags(model_url=model_url, model_name=model_name, model_path=model_path)
        _check_images(images, kind, settings.max_image_tokens)
        request = SolveRequest(
            images=tuple(images),
            kind=kind,  # type: ignore[arg-type]
            instruction=instruction,
            context_files=tuple(context or ()),
            repo=repo,
            test_cmd=test_cmd,
            max_iters=max_iters,
            candidates=candidates,
            threshold=threshold,
            timeout_s=timeout,
            max_image_tokens=settings.max_image_tokens,
            stack=stack,
        )
        folder = run_dir or solver.default_run_dir(kind)
    # Settings were read above: a ValidationError from here on is a bug, not bad configuration.
    with expected_failures(report, configuring=False):
        try:
            result = asyncio.run(_run(request, settings, sandbox_policy, folder, emit))
        except KeyboardInterrupt:
            report("interrupted", ExitCode.FAILED)
            raise fail("interrupted; no sandbox container is left running", ExitCode.FAILED) from None
    if result.best is not None:
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(result.best.path, out)
            if not json_out:
                err.print(f"wrote {out}")
        elif not json_out:
            err.print(f"best code: {result.best.path}")
    raise typer.Exit(int(ExitCode.OK if result.verified else ExitCode.FAILED))


async def _run(
    request: SolveRequest, settings: ModelSettings, policy: SandboxPolicy, folder: Path, emit: Emit
) -> SolveResult:
    try:
        return await solver.solve(request, settings=settings, policy=policy, emit=emit, run_dir=folder)
    except RunCancelled:
        raise KeyboardInterrupt from None
