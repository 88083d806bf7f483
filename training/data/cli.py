"""`viscodex-train data ...`: the data commands (synth; check and export join here)."""

from __future__ import annotations

import typer

from .synth_cli import synth

app = typer.Typer(help="Make, check and export training data.", no_args_is_help=True, pretty_exceptions_enable=False)
app.command("synth")(synth)
