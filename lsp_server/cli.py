"""`viscodex-lsp`: start the language server on stdio (what editors expect) or on TCP."""

from __future__ import annotations

from typing import Annotated

import typer

import viscodex

from .server import build_server

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command()
def serve(
    tcp: Annotated[bool, typer.Option(help="Listen on TCP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="TCP address; localhost unless you mean it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 2087,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Run the VisCodex language server."""
    if version:
        print(f"viscodex-lsp {viscodex.__version__}")
        return
    server = build_server()
    if tcp:
        server.start_tcp(host, port)
    else:
        server.start_io()


def main() -> None:
    app()
