"""`viscodex-lsp`: start the language server on stdio (what editors expect) or on TCP."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

import viscodex
from viscodex.agent import run_app

from .server import build_server

EXIT_USAGE = 2

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def serve(
    tcp: Annotated[bool, typer.Option(help="Listen on TCP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="TCP address; localhost unless you mean it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 2087,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Run the VisCodex language server."""
    if version:
        print(f"viscodex-lsp {viscodex.__version__}")
        return
    server = build_server()
    if tcp:
        try:
            server.start_tcp(host, port)
        except OSError as exc:  # an unknown host, a port in use or out of range, no permission
            print(f"viscodex-lsp: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None
    else:
        server.start_io()


def main() -> None:
    run_app(app, "viscodex-lsp")
