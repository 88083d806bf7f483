"""`viscodex-lsp`: start the language server on stdio (what editors expect) or on TCP."""

from __future__ import annotations

from typing import Annotated

import typer

from viscodex.agent.cli_errors import console_main, fail, version_option
from viscodex.agent.exit_codes import ExitCode

from .scheduling import request_short_slice
from .server import build_server

PROG = "viscodex-lsp"

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def serve(
    tcp: Annotated[bool, typer.Option(help="Listen on TCP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="TCP address; localhost unless you mean it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 2087,
    version: Annotated[bool, version_option(PROG)] = False,
) -> None:
    """Run the VisCodex language server."""
    request_short_slice()  # before any thread starts: they all inherit it
    server = build_server()
    if tcp:
        try:
            server.start_tcp(host, port)
        except OSError as exc:  # an unknown host, a port in use or out of range, no permission
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ExitCode.USAGE, PROG) from None
    else:
        server.start_io()


def main() -> None:
    console_main(app, PROG)
