"""`viscodex-agent`: the command-line face of the agent and its sandbox."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import typer

from . import cli_sandbox, cli_serve, cli_solve, doctor
from .cli_errors import run_app

app = typer.Typer(
    help="VisCodex: from a picture to code that was run and checked.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cli_sandbox.app, name="sandbox")
app.command(name="doctor")(doctor.doctor)
app.command(name="serve")(cli_serve.serve)
app.command(name="solve")(cli_solve.solve)


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM like Ctrl-C so the same clean-up (no container left) runs for both."""
    raise KeyboardInterrupt


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    run_app(app, "viscodex-agent")
