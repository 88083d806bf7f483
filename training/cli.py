"""`viscodex-train`: the open pipeline that makes a VisCodex model (tiny test models, merge, data,
fine-tuning) and scores it. Commands are added here as each stage lands."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import viscodex
from viscodex.agent.cli_errors import console_main, version_option
from viscodex.agent.cli_errors import fail as shared_fail
from viscodex.agent.exit_codes import ExitCode

from .data.cli import app as data_app
from .demo.cli import demo as demo_command
from .merge.methods import MethodName
from .sft.cli import sft as sft_command

if TYPE_CHECKING:
    from .eval.run import EvalConfig
    from .merge.recipe import MergeRecipe

app = typer.Typer(help="Make and score VisCodex models.", no_args_is_help=True, pretty_exceptions_enable=False)

PROG = "viscodex-train"
BENCH_NAMES = ("chartmimic", "mmcode", "design2code", "infibench")
"""``eval.run.BENCHES``, spelled out so a usage error answers before the harness is imported."""
app.add_typer(data_app, name="data")
app.command("sft")(sft_command)
app.command("demo")(demo_command)


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
    eval_suite: Annotated[
        str | None, typer.Option("--eval", help="Score each merge on a benchmark: chartmimic, mmcode, design2code.")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="--eval: the benchmark's data.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="--eval: only the first K items.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="--eval: items in flight at once.")] = 2,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="--eval: longest answer (default: the model's).")
    ] = None,
    prune: Annotated[bool, typer.Option("--prune", help="--eval: delete every merge but the best.")] = False,
    force: Annotated[bool, typer.Option(help="Replace existing merges.")] = False,
    download: Annotated[bool | None, typer.Option(help="Fetch hub ids (default: only for --preset).")] = None,
) -> None:
    """Merge once per lam, as the paper's sweep did; with --eval, score each merge through the embedded
    backend, write OUT/sweep.md and sweep.json (the paper's lam ablation) and point OUT/best at the best."""
    from viscodex.agent.cli_errors import UsageError, expected_failures

    with expected_failures():
        try:
            values = [float(v) for v in lams.split(",") if v.strip()]
        except ValueError:
            raise UsageError(f"--lams must be numbers separated by commas, not {lams!r}") from None
        if not values:
            raise UsageError("--lams is empty")
        if eval_suite is not None:
            if eval_suite not in BENCH_NAMES:
                raise UsageError(f"unknown --eval {eval_suite!r}; use {', '.join(BENCH_NAMES)}")
            if data is None:
                raise UsageError("--eval needs --data (the benchmark's folder or file)")
            if not (data.exists() or str(data).startswith("hub:")):
                raise UsageError(f"--data {data} does not exist (a folder, a file, or hub:OWNER/NAME)")
        elif data is not None or prune:
            raise UsageError("--data and --prune go with --eval")
    from .eval import sweep

    points = []
    for value in values:
        folder = sweep.merge_folder(out, value)
        if folder.is_dir() and not force:
            print(f"{folder}: already merged, kept (--force merges it again)")
        else:
            recipe = _recipe(config, preset, {"vlm": vlm, "code": code, "base": base}, {"lam": value})
            _progress_merge(recipe, folder, force, preset is not None if download is None else download)
        if eval_suite is None:
            continue
        from viscodex.model.settings import ModelSettings

        from .eval.run import EvalConfig

        settings = ModelSettings.from_flags(model_path=folder, backend="embedded", max_tokens=max_tokens)
        run = EvalConfig(
            bench=eval_suite,  # type: ignore[arg-type]
            data=data,  # type: ignore[arg-type]
            out=sweep.eval_folder(out, value),
            settings=settings,
            limit=limit,
            workers=workers,
        )
        _run_eval([run])
        summary = json.loads((run.out / "summary.json").read_text(encoding="utf-8"))
        points.append(sweep.SweepPoint(value, folder, summary))
    if eval_suite is not None:
        table = sweep.write_sweep(out, eval_suite, points, prune=prune)
        print((out / "sweep.md").read_text(encoding="utf-8"), end="")
        if table["best"] is None:
            raise fail("no merge got a headline score; see each run's summary in OUT/eval/", ExitCode.FAILED)


@app.command("eval")
def eval_command(
    bench: Annotated[str, typer.Option("--bench", help="chartmimic (ori_500), mmcode, design2code or infibench.")],
    data: Annotated[Path, typer.Option("--data", help="Its folder (MMCode: or .jsonl[.gz]), or hub:OWNER/NAME.")],
    model_url: Annotated[str | None, typer.Option("--model-url", help="OpenAI-compatible server URL.")] = None,
    model_path: Annotated[Path | None, typer.Option("--model-path", help="Local checkpoint (embedded).")] = None,
    model_name: Annotated[str | None, typer.Option("--model-name", help="Model name the server serves.")] = None,
    agent: Annotated[bool, typer.Option("--agent", help="Answer inside the agent loop, not single shot.")] = False,
    max_iters: Annotated[
        str,
        typer.Option(
            "--max-iters", help="Agent loop: iterations per item; several (1,2,4) score each budget in OUT/iters-N/."
        ),
    ] = "3",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first K items.")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Items in flight at once.")] = 2,
    samples: Annotated[int, typer.Option("--samples", min=1, help="MMCode: answers per problem (n).")] = 1,
    k: Annotated[str, typer.Option("--k", help="MMCode: the k of pass@k, comma-separated.")] = "1",
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="Sampling temperature.")] = 0.0,
    out: Annotated[Path | None, typer.Option("--out", help="Run folder (default eval-BENCH).")] = None,
    no_quirks: Annotated[
        bool, typer.Option("--no-quirks", help="Switch off every reproduced quirk of the official code.")
    ] = False,
    no_quirk: Annotated[
        list[str] | None,
        typer.Option(
            "--no-quirk",
            help="Switch off one quirk (repeatable): savefig-cut, ticks-last-char, "
            "loose-output, no-verdict-passes (viscodex/training/eval/quirks.py).",
        ),
    ] = None,
    judge_url: Annotated[
        str | None, typer.Option("--judge-url", help="ChartMimic: OpenAI-compatible judge for the high-level score.")
    ] = None,
    judge_model: Annotated[str | None, typer.Option("--judge-model", help="The judge's model name (gpt-4o).")] = None,
    ray: Annotated[
        str | None, typer.Option("--ray", help="Score items on a Ray cluster (ADDRESS, or 'local' to start one).")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Longest answer (default: the model settings').")
    ] = None,
    clip: Annotated[
        str | None,
        typer.Option(
            "--clip",
            help="Design2Code: the CLIP model (an open_clip folder, hf-hub:NAME or ARCH:PRETRAINED;"
            " default ViT-B-32:openai, as the benchmark's authors).",
        ),
    ] = None,
) -> None:
    """Score a model on a benchmark of the paper as the benchmark's authors score it; resumable."""
    from viscodex.agent.cli_errors import UsageError, expected_failures

    with expected_failures():
        if bench not in BENCH_NAMES:
            raise UsageError(f"unknown --bench {bench!r}; use {', '.join(BENCH_NAMES)}")
        if not (data.exists() or str(data).startswith("hub:")):
            raise UsageError(f"--data {data} does not exist (a folder, a file, or hub:OWNER/NAME)")
        if model_url is not None and model_path is not None:
            raise UsageError("give --model-url or --model-path, not both")
        try:
            ks = tuple(sorted({int(v) for v in k.split(",") if v.strip()}))
        except ValueError:
            raise UsageError(f"--k must be whole numbers separated by commas, not {k!r}") from None
        if not ks or min(ks) < 1:
            raise UsageError("--k needs at least one k >= 1")
        if bench == "mmcode" and max(ks) > samples:
            raise UsageError(f"pass@{max(ks)} needs --samples >= {max(ks)}")
        try:
            budgets = [int(v) for v in max_iters.split(",") if v.strip()]
        except ValueError:
            raise UsageError(f"--max-iters must be whole numbers separated by commas, not {max_iters!r}") from None
        if not budgets or min(budgets) < 1:
            raise UsageError("--max-iters needs at least one budget >= 1")
        if len(budgets) > 1 and not agent:
            raise UsageError("several --max-iters budgets need --agent")
        if clip is not None and bench != "design2code":
            raise UsageError("--clip is Design2Code's CLIP model; it has no use with " + bench)
        if judge_url is not None and bench != "chartmimic":
            raise UsageError("--judge-url scores ChartMimic's high-level score; it has no use with " + bench)
        from .eval import quirks

        try:
            kept = quirks.resolve(bench, no_quirk or (), no_quirks)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        from dataclasses import replace

        from viscodex.model.settings import ModelSettings

        from .eval.run import EvalConfig

        settings = ModelSettings.from_flags(
            model_url=model_url,
            model_path=model_path,
            model_name=model_name,
            backend="server" if model_url is not None else ("embedded" if model_path is not None else None),
            max_tokens=max_tokens,
        )
        config = EvalConfig(
            bench=bench,  # type: ignore[arg-type]
            data=data,
            out=out or Path(f"eval-{bench}"),
            settings=settings,
            agent=agent,
            max_iters=budgets[0],
            limit=limit,
            workers=workers,
            samples=samples,
            ks=ks,
            temperature=temperature,
            quirks=kept,
            judge=None
            if judge_url is None
            else ModelSettings.from_flags(model_url=judge_url, model_name=judge_model, backend="server"),
            ray=ray,
        )
        if clip is not None:
            config = replace(config, clip=clip)
    if len(budgets) == 1:
        _run_eval([config])
    else:
        _run_eval([replace(config, max_iters=b, out=config.out / f"iters-{b}") for b in budgets], config.out)


def _run_eval(configs: list[EvalConfig], budgets_out: Path | None = None) -> None:
    """Each config in turn (one per agent budget), then with several the table of budgets in ``budgets_out``."""
    import asyncio

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from viscodex.agent.cli_errors import expected_failures

    from .eval.errors import DataError
    from .eval.run import evaluate, write_budgets
    from .eval.scale import RayUnavailable

    err = Console(stderr=True)
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    summaries = []
    config = configs[0]
    with expected_failures(configuring=False):
        try:
            for config in configs:
                with Progress("[progress.description]{task.description}", *columns, console=err) as bar:
                    label = f"{config.bench}" + (f" (agent, {config.max_iters} iterations)" if config.agent else "")
                    tasks: list[TaskID] = []  # the bar appears once the items are loaded: a data error is one line

                    def report(
                        event: str,
                        data: dict[str, Any],
                        bar: Progress = bar,
                        label: str = label,
                        tasks: list[TaskID] = tasks,
                    ) -> None:
                        if event == "start":
                            tasks.append(bar.add_task(label, total=data["total"], completed=data["skipped"]))
                        elif tasks:
                            bar.advance(tasks[0])

                    summaries.append(asyncio.run(evaluate(config, report)))
        except DataError as exc:
            raise fail(str(exc), ExitCode.USAGE) from None
        except RayUnavailable as exc:
            raise fail(str(exc), ExitCode.UNAVAILABLE) from None
        except KeyboardInterrupt:
            raise fail(
                f"interrupted; finished items are kept in {config.out / 'items.jsonl'} and skipped when you "
                "run the same command again",
                ExitCode.FAILED,
            ) from None
    if budgets_out is None:
        print((config.out / "summary.md").read_text(encoding="utf-8"), end="")
        print(f"items: {config.out / 'items.jsonl'} ({summaries[0]['items']} scored)")
    else:
        print(write_budgets(budgets_out, [(c.max_iters, s) for c, s in zip(configs, summaries, strict=True)]), end="")


def main() -> None:
    console_main(app, PROG)
