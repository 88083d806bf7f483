"""`viscodex-train data synth`: the command face of ``training/data/synth`` (a rich progress bar, one-line
errors, Ctrl-C that keeps every finished item)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

PROG = "viscodex-train"


def synth(
    kind: Annotated[str, typer.Option("--kind", help="What to make: chart, ui or algorithm.")],
    n: Annotated[int, typer.Option("--n", min=1, help="How many items (ids 0 .. N-1 of this seed).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for records.jsonl, images/, code/, report.json.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Same seed, same programs.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Items rendered at once (sandbox pool).")] = 2,
    level: Annotated[
        str,
        typer.Option("--level", help="full, or basic: short charts of one plotting call (what the demo model learns)."),
    ] = "full",
) -> None:
    """Make N image-code pairs, each program run for real in the sandbox: its code rendered to its picture.

    Resumable: run the same command again after a crash or Ctrl-C and only the missing items are made.
    Programs that fail are counted with their reason in OUT/report.json, never kept.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from viscodex.agent.cli_errors import describe_failure, fail
    from viscodex.agent.exit_codes import ExitCode
    from viscodex.sandbox import Sandbox

    from .synth import KINDS, LEVELS, RECORDS, SynthError, check_folder, synthesize, synthesizer_for

    if kind not in KINDS:
        raise fail(f"unknown --kind {kind!r}; use one of {', '.join(KINDS)}", ExitCode.USAGE, PROG)
    if level not in LEVELS:
        raise fail(f"unknown --level {level!r}; use one of {', '.join(LEVELS)}", ExitCode.USAGE, PROG)
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} exists and is not a folder", ExitCode.USAGE, PROG)
    try:
        synthesizer = synthesizer_for(kind, level)
        check_folder(out, kind, seed, level)
    except SynthError as exc:
        raise fail(str(exc), ExitCode.USAGE, PROG) from None
    err = Console(stderr=True)
    try:
        counts = {"kept": 0, "failed": 0}
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[kept]} kept[/] [red]{task.fields[failed]} failed[/]"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        try:
            # Started before the bar, so a missing image or Docker daemon is one line and no bar.
            box = Sandbox(pool=dict.fromkeys(synthesizer.roles, workers))
            with box, Progress(*columns, console=err) as bar:
                task = bar.add_task(f"synth {kind}", total=n, kept=0, failed=0, rate="")
                started: list[float] = []

                def report(event: str, data: dict[str, Any]) -> None:
                    if event == "start":
                        bar.update(task, completed=data["done"])
                        started.append(bar.get_time())
                        return
                    counts["kept" if data["kept"] else "failed"] += 1
                    minutes = (bar.get_time() - started[0]) / 60
                    made = counts["kept"] + counts["failed"]
                    rate = f"{made / minutes:.0f}/min" if minutes > 0 else ""
                    bar.update(task, advance=1, kept=counts["kept"], failed=counts["failed"], rate=rate)

                summary = synthesize(
                    kind,
                    n=n,
                    seed=seed,
                    out=out,
                    workers=workers,
                    report=report,
                    sandbox=box,
                    synthesizer=synthesizer,
                    level=level,
                )
        except SynthError as exc:
            raise fail(str(exc), ExitCode.USAGE, PROG) from None
        except KeyboardInterrupt:
            raise fail(
                f"interrupted; {counts['kept'] + counts['failed']} items finished this run are kept in "
                f"{out / RECORDS} and skipped when you run the same command again",
                ExitCode.FAILED,
                PROG,
            ) from None
    except Exception as exc:
        described = describe_failure(exc, configuring=False)
        if described is None and not isinstance(exc, OSError):
            raise
        message, code = described or (str(exc), ExitCode.FAILED)
        raise fail(message, code, PROG) from None
    reasons = ", ".join(f"{reason}: {count}" for reason, count in sorted(summary.reasons.items()))
    print(
        f"{summary.kept} kept, {summary.failed} failed{f' ({reasons})' if reasons else ''}; "
        f"{summary.made} made in {summary.elapsed_s:.1f} s ({summary.items_per_minute:.1f} per minute), "
        f"{summary.resumed} already done"
    )
    print(f"records: {out / RECORDS}")
    if summary.sandbox_errors:
        raise fail(
            f"{summary.sandbox_errors} items hit a sandbox error and were not recorded; run the same "
            "command again to retry them",
            ExitCode.FAILED,
            PROG,
        )
