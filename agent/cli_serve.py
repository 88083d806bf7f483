"""`viscodex-agent serve`: run vLLM's OpenAI-compatible server for a VisCodex model until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from viscodex.model.errors import ModelUnavailable
from viscodex.model.serve import ServeOptions, VllmServer

from .cli_errors import fail
from .exit_codes import ExitCode

err = Console(stderr=True)


def serve(
    model: Annotated[
        str, typer.Option("--model-path", "--model", help="Checkpoint folder or hub id (--model: the old spelling).")
    ],
    host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 unless you mean it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    served_model_name: Annotated[str, typer.Option(help="Name clients ask for.")] = "viscodex",
    max_model_len: Annotated[int, typer.Option(help="Context length (prompt + answer).")] = 8192,
    images_per_prompt: Annotated[int, typer.Option(help="Most images in one request.")] = 8,
    dtype: Annotated[str, typer.Option(help="auto | float32 | bfloat16 | float16")] = "auto",
    startup_timeout: Annotated[float, typer.Option(help="Seconds to wait for health.")] = 900.0,
) -> None:
    """Start vLLM for the model at --model-path, wait until it is healthy, print its URL; Ctrl-C stops it."""
    opts = ServeOptions(
        model=model,
        host=host,
        port=port,
        served_model_name=served_model_name,
        max_model_len=max_model_len,
        images_per_prompt=images_per_prompt,
        dtype=dtype,
    )
    server = VllmServer(opts)
    try:
        server.start()
        with err.status(f"starting vLLM for {model} (log: {server.log_path})") as status:
            server.wait_healthy(startup_timeout, lambda s: status.update(f"starting vLLM for {model}: {s:.0f} s"))
        print(server.url, flush=True)
        err.print(
            f"serving {served_model_name} at {server.url} (device: {'GPU' if server.gpu else 'CPU'}); Ctrl-C stops it"
        )
        assert server.proc is not None
        code = server.proc.wait()
        raise fail(f"vLLM exited with code {code}; see {server.log_path}", ExitCode.UNAVAILABLE)
    except ModelUnavailable as exc:
        raise fail(str(exc), ExitCode.UNAVAILABLE) from None
    except KeyboardInterrupt:
        err.print("stopping vLLM")
        raise typer.Exit(0) from None
    finally:
        server.stop()
