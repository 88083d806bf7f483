"""`viscodex-train`: the open pipeline that makes a VisCodex model (tiny test models, merge, data,
fine-tuning) and scores it. Commands are added here as each stage lands."""

from __future__ import annotations

import typer

import viscodex

app = typer.Typer(
    help="Make and score VisCodex models.", no_args_is_help=True, pretty_exceptions_enable=False
)


@app.callback()
def _root() -> None:
    """Make and score VisCodex models."""


@app.command()
def version() -> None:
    """Print the VisCodex version."""
    print(f"viscodex-train {viscodex.__version__}")


def main() -> None:
    app()
