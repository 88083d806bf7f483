"""`viscodex-train data ...`: the data commands: synth (``synth_cli.py``), check and export.

Exit codes as every VisCodex command: 0 done (``check``: and nothing found), 1 the work ran but failed
(``check``: issues found; ``export``: nothing could be written), 2 bad usage or input (a path that does
not exist, a layout that cannot be told, a model folder without a tokenizer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from .synth_cli import synth

if TYPE_CHECKING:
    from .export import ImageMode

app = typer.Typer(help="Make, check and export training data.", no_args_is_help=True, pretty_exceptions_enable=False)
app.command("synth")(synth)

PROG = "viscodex-train"

LayoutOpt = Annotated[
    str | None,
    typer.Option("--layout", help="mcd, llava, swift, sharegpt, folder or hub (default: detected)."),
]


def _fail(message: str, code: int) -> typer.Exit:
    from viscodex.agent.cli_errors import fail
    from viscodex.agent.exit_codes import ExitCode

    return fail(message, ExitCode(code), PROG)


@contextmanager
def _bar(label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr (records done, rate, elapsed: a stream's total is not known); yields the
    function that reports the number of records done."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        TextColumn("{task.completed} records {task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None, rate="")
        started = time.monotonic()

        def advance(done: int) -> None:
            if done % 64 == 0 or done < 64:
                elapsed = time.monotonic() - started
                bar.update(task, completed=done, rate=f"({done / elapsed:.0f}/s)" if elapsed > 1 else "")

        yield advance


def _records(path: str, layout: str | None) -> Any:
    from .loaders import DataError, load_records

    try:
        return load_records(path, layout=layout)
    except DataError as exc:
        raise _fail(str(exc), 2) from None


@app.command()
def check(
    data: Annotated[str, typer.Argument(help="A data file, a folder (any layout) or hub:NAME.")],
    model: Annotated[
        Path | None, typer.Option("--model", help="Count tokens with this model's tokenizer and context.")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Token limit (default: the model's context).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    issues: Annotated[
        Path | None, typer.Option("--issues", help="Write every issue as a JSON line to this file.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Check limits (YAML: max_image_pixels, near_image_bits, ...).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Threads decoding images (default: CPUs, at most 8).")
    ] = None,
    layout: LayoutOpt = None,
) -> None:
    """Report what is wrong with a training set: rejected records, broken or huge images, empty or
    unparseable code, exact and near duplicates, token lengths against the model's context. Exits 1 when
    anything is found."""
    import yaml
    from pydantic import ValidationError

    from .check import CheckConfig, TokenCounter, check_records, issue_line
    from .loaders import DataError

    try:
        raw = yaml.safe_load(config.read_text(encoding="utf-8")) if config is not None else {}
        settings = CheckConfig.model_validate({**(raw or {}), **({"max_tokens": max_tokens} if max_tokens else {})})
    except (OSError, yaml.YAMLError, ValidationError, TypeError) as exc:
        raise _fail(f"bad --config {config}: {exc}", 2) from None
    if model is not None and not model.is_dir():
        raise _fail(f"--model {model} is not a folder", 2)
    counter = None
    if model is not None:
        try:
            counter = TokenCounter(model, settings.max_tokens)
        except DataError as exc:
            raise _fail(str(exc), 2) from None
    elif max_tokens is not None:
        raise _fail("--max-tokens needs --model (the tokenizer that counts)", 2)
    items = _records(data, layout)
    sink = issues.open("w", encoding="utf-8") if issues is not None else None
    try:
        with _bar(f"check {data}") as advance:
            report = check_records(
                items,
                settings,
                source=data,
                tokens=counter,
                on_issue=(lambda issue: print(issue_line(issue), file=sink)) if sink is not None else None,
                progress=advance,
                workers=workers,
            )
    except DataError as exc:
        raise _fail(str(exc), 2) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 1) from None
    finally:
        if sink is not None:
            sink.close()
    if as_json:
        print(json.dumps(report.to_json(), indent=2, default=str))
    else:
        print("\n".join(report.lines()))
        if issues is not None:
            print(f"issues: {issues}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def export(
    data: Annotated[str, typer.Argument(help="A data file, a folder (any layout) or hub:NAME.")],
    format: Annotated[str, typer.Option("--format", help="llamafactory or swift.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write NAME.jsonl (and images/) into.")],
    images: Annotated[
        str, typer.Option("--images", help="copy (into OUT/images, the folder travels) or reference (absolute).")
    ] = "copy",
    name: Annotated[str, typer.Option("--name", help="Dataset name: OUT/NAME.jsonl, its dataset_info entry.")] = (
        "viscodex"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing OUT/NAME.jsonl.")] = False,
    layout: LayoutOpt = None,
) -> None:
    """Write the records in the files LLaMA-Factory (ShareGPT + dataset_info.json) or ms-swift (messages
    + images JSONL) train from; rejected records and ones those tools cannot take are counted and skipped."""
    from .export import EXPORT_FORMATS, export_records
    from .loaders import DataError

    if format not in EXPORT_FORMATS:
        raise _fail(f"unknown --format {format!r}; use one of {', '.join(EXPORT_FORMATS)}", 2)
    if images not in ("copy", "reference"):
        raise _fail(f"unknown --images {images!r}; use copy or reference", 2)
    if not name or "/" in name or name.startswith("."):
        raise _fail(f"--name {name!r} is not a file name", 2)
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} exists and is not a folder", 2)
    if (out / f"{name}.jsonl").exists() and not force:
        raise _fail(f"{out / f'{name}.jsonl'} exists (--force replaces it, --name picks another)", 2)
    items = _records(data, layout)
    try:
        with _bar(f"export {data}") as advance:
            report = export_records(
                items,
                out,
                format=format,
                images=cast("ImageMode", images),
                name=name,
                progress=advance,
            )
    except DataError as exc:
        raise _fail(str(exc), 2) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; {out / f'{name}.jsonl'} was not written", 1) from None
    print("\n".join(report.lines()))
    if report.written == 0:
        raise _fail("no record could be exported", 1)
