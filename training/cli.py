"""`viscodex-train`: the open pipeline that makes a VisCodex model (tiny test models, merge, data,
fine-tuning) and scores it. Commands are added here as each stage lands."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

import viscodex

app = typer.Typer(
    help="Make and score VisCodex models.", no_args_is_help=True, pretty_exceptions_enable=False
)

EXIT_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int) -> typer.Exit:
    """One line on stderr and an exit code, no traceback: for failures the user can act on."""
    print(f"viscodex-train: {message}", file=sys.stderr)
    return typer.Exit(code)


@app.callback()
def _root() -> None:
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
        raise fail(f"{out} exists and is not a folder", EXIT_USAGE)
    if out.is_dir() and not force and any(out.iterdir()):
        raise fail(f"{out} exists and is not empty (--force replaces its vlm/, code/ and base/)", EXIT_USAGE)

    from .tiny import build_tiny_models, directory_size

    started = time.perf_counter()
    try:
        models = build_tiny_models(out, seed=seed, force=force)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc}", EXIT_FAILED) from None
    elapsed = time.perf_counter() - started
    for name, path in models.items():
        print(f"{name:<5} {path.resolve()}  {directory_size(path) / 1e6:.1f} MB")
    print(f"built in {elapsed:.1f} s (seed {seed})")


def main() -> None:
    app()
