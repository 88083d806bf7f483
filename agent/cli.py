"""`viscodex-agent`: the command-line face of the agent and its sandbox."""

from __future__ import annotations

from typing import Annotated

import typer

from . import cli_sandbox, cli_serve, cli_solve, doctor
from .cli_errors import console_main, version_option

PROG = "viscodex-agent"

app = typer.Typer(
    help="VisCodex: from a picture to code that was run and checked.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cli_sandbox.app, name="sandbox")
app.command(name="doctor")(doctor.doctor)
app.command(name="serve")(cli_serve.serve)
app.command(name="solve")(cli_solve.solve)


@app.callback()
def _root(
    version: Annotated[bool, version_option(PROG)] = False,
) -> None:
    """VisCodex: from a picture to code that was run and checked."""


def main() -> None:
    console_main(app, PROG)
