"""`viscodex-train`: the open pipeline that makes a VisCodex model (tiny test models, merge, data,
fine-tuning) and scores it. Commands are added here as each stage lands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

import viscodex
from viscodex.agent.cli_errors import console_main, version_option
from viscodex.agent.cli_errors import fail as shared_fail
from viscodex.agent.exit_codes import ExitCode

from .merge.methods import MethodName

if TYPE_CHECKING:
    from .merge.recipe import MergeRecipe

app = typer.Typer(help="Make and score VisCodex models.", no_args_is_help=True, pretty_exceptions_enable=False)

PROG = "viscodex-train"


def fail(message: str, code: ExitCode) -> typer.Exit:
    """One line on stderr and an exit code, no traceback: the same failure style as every VisCodex command."""
    return shared_fail(message, code, PROG)


@app.callback()
def _root(
    version: Annotated[bool, version_option(PROG)] = False,
) -> None:
    """Make and score VisCodex models."""


@app.command()
def version() -> None:
    """Print the VisCodex version."""
    print(f"viscodex-train {viscodex.__version__}")


@app.command()
def tiny(
    out: Annotated[Path, typer.Option("--out", help="Folder to write vlm/, code/ and base/ into.")],
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Replace vlm/, code/ and base/ in a folder that is not empty.")
    ] = False,
) -> None:
    """Write three tiny random checkpoints for tests: a Qwen2.5-VL VLM, a Qwen2 "code" model and the
    Qwen2 "base" both derive from, with a locally trained tokenizer. Seconds, a few MB, no download."""
    # Checked before importing torch and transformers (seconds), so a usage error answers at once.
    if out.exists() and not out.is_dir():
        raise fail(f"{out} exists and is not a folder", ExitCode.USAGE)
    if out.is_dir() and not force and any(out.iterdir()):
        raise fail(f"{out} exists and is not empty (--force replaces its vlm/, code/ and base/)", ExitCode.USAGE)

    from .tiny import build_tiny_models, directory_size

    started = time.perf_counter()
    try:
        models = build_tiny_models(out, seed=seed, force=force)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc}", ExitCode.FAILED) from None
    elapsed = time.perf_counter() - started
    for name, path in models.items():
        print(f"{name:<5} {path.resolve()}  {directory_size(path) / 1e6:.1f} MB")
    print(f"built in {elapsed:.1f} s (seed {seed})")


RecipeOpt = Annotated[Path | None, typer.Option("--config", help="A merge recipe (YAML).")]
PresetOpt = Annotated[str | None, typer.Option("--preset", help="A named recipe: viscodex-8b.")]


def _recipe(
    config: Path | None,
    preset: str | None,
    overrides: dict[str, object],
    parameters: dict[str, object],
) -> MergeRecipe:
    """--preset or --config as the base, the flags given on top; errors as one line, exit 2."""
    from pydantic import ValidationError

    from .merge.recipe import PRESETS, MergeRecipe

    if config is not None and preset is not None:
        raise fail("give --config or --preset, not both", ExitCode.USAGE)
    data: dict[str, object] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise fail(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}", ExitCode.USAGE)
        data = PRESETS[preset].model_dump()
    elif config is not None:
        import yaml

        try:
            data = MergeRecipe.load(config).model_dump()
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise fail(f"cannot read recipe {config}: {' '.join(str(exc).split())[:300]}", ExitCode.USAGE) from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    params = dict(data.get("parameters") or {})  # type: ignore[call-overload]
    params.update({k: v for k, v in parameters.items() if v is not None})
    data["parameters"] = params
    try:
        return MergeRecipe.model_validate(data)
    except ValidationError as exc:
        raise fail(f"bad merge recipe: {' '.join(str(exc).split())[:400]}", ExitCode.USAGE) from None


def _progress_merge(recipe: MergeRecipe, out: Path, force: bool, download: bool) -> None:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from .merge.engine import MergeError, run_merge
    from .merge.resolve import HubUnavailable, resolve_input

    try:
        dirs = [resolve_input(ref, allow_download=download) for ref in (recipe.vlm, recipe.code, recipe.base)]
        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
        with Progress("[progress.description]{task.description}", *columns, transient=False) as bar:
            task = bar.add_task(f"merging into {out.name}", total=None)
            report = run_merge(
                recipe,
                dirs[0],
                dirs[1],
                dirs[2],
                out,
                force=force,
                progress=lambda d, t: bar.update(task, completed=d, total=t),
            )
    except HubUnavailable as exc:
        raise fail(str(exc), ExitCode.UNAVAILABLE) from None
    except MergeError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc}", ExitCode.FAILED) from None
    print(
        f"{out}: {report.tensors_merged} tensors merged, {report.tensors_copied} copied, "
        f"{report.bytes_written / 1e6:.1f} MB in {report.seconds:.1f} s"
    )
    for note in report.notes:
        print(f"note: {note}")


@app.command()
def merge(
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default for --preset: the cache).")] = None,
    vlm: Annotated[str | None, typer.Option("--vlm", help="Qwen2.5-VL checkpoint (folder or hub id).")] = None,
    code: Annotated[str | None, typer.Option("--code", help="Coding LLM (a fine-tune of --base).")] = None,
    base: Annotated[str | None, typer.Option("--base", help="The LLM both were fine-tuned from.")] = None,
    lam: Annotated[float | None, typer.Option("--lam", help="Weight of the VLM's task vector (0.7).")] = None,
    method: Annotated[MethodName | None, typer.Option(help="The merge method (default task_arithmetic).")] = None,
    density: Annotated[float | None, typer.Option(help="TIES/DARE: fraction kept.")] = None,
    seed: Annotated[int | None, typer.Option(help="DARE's seed.")] = None,
    dtype: Annotated[str | None, typer.Option(help="input | float32 | bfloat16 | float16")] = None,
    config: RecipeOpt = None,
    preset: PresetOpt = None,
    force: Annotated[bool, typer.Option(help="Replace --out if it exists.")] = False,
    download: Annotated[bool | None, typer.Option(help="Fetch hub ids (default: only for --preset).")] = None,
) -> None:
    """Merge a coding LLM into a VLM's language backbone by task arithmetic; stream, exact, atomic."""
    recipe = _recipe(
        config,
        preset,
        {"vlm": vlm, "code": code, "base": base, "method": method, "dtype": dtype},
        {"lam": lam, "density": density, "seed": seed},
    )
    if out is None:
        if preset is None:
            raise fail("--out is required (only --preset has a default place)", ExitCode.USAGE)
        from viscodex.model.settings import cache_dir

        out = cache_dir() / "models" / preset
    _progress_merge(recipe, out, force, preset is not None if download is None else download)


@app.command("merge-sweep")
def merge_sweep(
    lams: Annotated[str, typer.Option("--lams", help="Comma-separated, e.g. 0.7,0.8,0.85,0.9")],
    out: Annotated[Path, typer.Option("--out", help="Folder for one merge per lam (lam-0.70/ ...).")],
    vlm: Annotated[str | None, typer.Option("--vlm")] = None,
    code: Annotated[str | None, typer.Option("--code")] = None,
    base: Annotated[str | None, typer.Option("--base")] = None,
    config: RecipeOpt = None,
    preset: PresetOpt = None,
    eval_suite: Annotated[str | None, typer.Option("--eval", help="Score each merge (evaluation harness).")] = None,
    force: Annotated[bool, typer.Option(help="Replace existing merges.")] = False,
    download: Annotated[bool | None, typer.Option(help="Fetch hub ids (default: only for --preset).")] = None,
) -> None:
    """Merge once per lam, as the paper's sweep did; with --eval, score each merge."""
    if eval_suite is not None:
        raise fail(
            "--eval needs the evaluation harness, which is not part of this version yet; "
            "run merge-sweep without --eval to write the merges",
            ExitCode.USAGE,
        )
    try:
        values = [float(v) for v in lams.split(",") if v.strip()]
    except ValueError:
        raise fail(f"--lams must be numbers separated by commas, not {lams!r}", ExitCode.USAGE) from None
    if not values:
        raise fail("--lams is empty", ExitCode.USAGE)
    for value in values:
        recipe = _recipe(config, preset, {"vlm": vlm, "code": code, "base": base}, {"lam": value})
        _progress_merge(recipe, out / f"lam-{value:.2f}", force, preset is not None if download is None else download)


def main() -> None:
    console_main(app, PROG)
