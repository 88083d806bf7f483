"""`viscodex-train demo`: make the offline demo model with the project's own pipeline (registered in
``training/cli.py``). Heavy imports wait until the arguments are checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from viscodex.agent.cli_errors import fail
from viscodex.agent.exit_codes import ExitCode

PROG = "viscodex-train"


def demo(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where the model goes (default: the cache, where the settings look for it)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the charts, the split, the weights.")] = 0,
    work: Annotated[
        Path | None, typer.Option("--work", help="Data, checkpoints and eval runs (default: OUT.work).")
    ] = None,
    charts: Annotated[
        int | None, typer.Option("--charts", min=8, help="Synthetic training charts (default 2100).")
    ] = None,
    heldout: Annotated[
        int | None, typer.Option("--heldout", min=1, help="Held-out charts for the figures (default 30).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option("--max-steps", min=1, help="Cap on training steps.")] = None,
    evaluate: Annotated[bool, typer.Option("--eval/--no-eval", help="Score it on the held-out charts.")] = True,
) -> None:
    """Synthetic charts -> `sft` -> `eval`: the small chart model VisCodex uses offline when no real model
    is there, written with a model card (recipe, data digest, figures). Resumable; about an hour on 2 cores."""
    from viscodex.model.presets import DEMO_PRESET, PRESETS

    target = out or PRESETS[DEMO_PRESET].cache_dir()
    if target.exists() and not target.is_dir():
        raise fail(f"--out {target} exists and is not a folder", ExitCode.USAGE, PROG)
    from .pipeline import DemoConfig, DemoError, run_demo

    sizes = {name: value for name, value in (("charts", charts), ("heldout", heldout)) if value is not None}
    config = DemoConfig(
        out=target,
        work=work or target.with_name(f"{target.name}.work"),
        seed=seed,
        max_steps=max_steps,
        evaluate=evaluate,
        **sizes,  # type: ignore[arg-type]  # DemoConfig's defaults where not given
    )
    try:
        card = run_demo(config, lambda line: typer.echo(line, err=True))
    except DemoError as exc:
        raise fail(str(exc), ExitCode.FAILED, PROG) from None
    except KeyboardInterrupt:
        raise fail(
            f"interrupted; run the same command again to continue from {config.work}", ExitCode.FAILED, PROG
        ) from None
    print(
        f"{target}: {card['parameters'] / 1e6:.2f} M parameters, {card['bytes'] / 1e6:.1f} MB; "
        f"card {target / 'README.md'}"
    )
