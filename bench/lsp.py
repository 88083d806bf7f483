"""The language server's responsiveness, as ratios measured in one run (issue 11's targets):

    .venv/bin/python bench/lsp.py [--idle 300] [--generations 4] [--first 15] [--starts 10] [--default-slice]
                                  [--client-slice] [--json out.json]

- code-action latency while 4 generations run, p95, over the idle server's p95 (target <= 2x); the idle
  figure pools code actions timed before and after the runs, so a drift in the machine's load from
  others weighs on both sides;
- the first ``$/progress`` after ``viscodex/imageToCode``, over an idle code-action round trip (<= 3x);
- ``initialize`` (process start to its answer) over a bare pygls server's (<= 2x), and the idle RSS.

For reference it also times the idle server's code actions while cpu_count + 1 processes that are not
the server's burn the CPU: on a small machine the runs' renders and OCR load the CPU alike, and that
ratio is what the machine's load alone does to a round trip. ``--default-slice`` runs the server without
its short time slice (``lsp_server/scheduling.py``): the A/B of that choice. ``--client-slice`` gives the
bench's own client the same short slice (its burners and the scripted model keep the default): a round trip
also waits for the client to wake up and read the answer, which no server can speed up; with it, what is
left of the ratio is the server's. An editor is a process of its own that the server does not schedule.

A real client (pygls' own, over stdio) drives `viscodex-lsp`. The model is the scripted OpenAI-compatible
server of the agent tests (a TEST DOUBLE that streams its answer after ``--model-delay`` seconds, as a model
would take its time); the sandbox is the real one (UI runs: render, score, iterate). The code actions are on
a Markdown line with an image reference, so each one reads the line and checks the file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from PIL import Image, ImageDraw
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scripted_model import ScriptedModel, serve

from viscodex.lsp_server.scheduling import request_short_slice

BIN = Path(sys.executable).parent
BARE = "from pygls.lsp.server import LanguageServer\nLanguageServer('bare', '1').start_io()\n"
PAGE = (
    "```html\n<!DOCTYPE html><html><body style='margin:24px;font-family:sans-serif'>"
    "<h1>Pricing</h1><p>Pick a plan</p><button>Buy now</button></body></html>\n```"
)


def screenshot() -> bytes:
    """A 1280x800 UI screenshot-like picture."""
    image = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1280, 64), fill=(30, 60, 120))
    draw.text((24, 20), "Pricing", fill="white")
    for column in range(3):
        x = 80 + column * 400
        draw.rectangle((x, 160, x + 320, 600), outline=(200, 200, 200), width=2)
        draw.text((x + 24, 190), f"Plan {column + 1}", fill="black")
        draw.rectangle((x + 24, 520, x + 200, 568), fill=(40, 140, 80))
        draw.text((x + 40, 536), "Buy now", fill="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Client:
    """A pygls client that answers what the server asks (progress tokens, applyEdit, configuration) and
    timestamps each ``$/progress``."""

    def __init__(self) -> None:
        self.lsp = LanguageClient("bench", "1")
        self.progress: dict[Any, list[tuple[float, str]]] = {}
        self.progressed = asyncio.Event()
        self.values: list[dict[str, Any]] = []

        @self.lsp.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params: types.WorkDoneProgressCreateParams) -> None:
            self.progress.setdefault(params.token, [])

        @self.lsp.feature(types.PROGRESS)
        def progress(params: types.ProgressParams) -> None:
            value = params.value if isinstance(params.value, dict) else {}
            self.progress.setdefault(params.token, []).append((time.perf_counter(), value.get("kind", "")))
            self.values.append(value)
            self.progressed.set()

        @self.lsp.feature(types.WORKSPACE_APPLY_EDIT)
        def apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            return types.ApplyWorkspaceEditResult(applied=False)

        @self.lsp.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(params: types.ConfigurationParams) -> list[None]:
            return [None for _ in params.items]

        @self.lsp.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(params: types.LogMessageParams) -> None:
            pass

        @self.lsp.feature(types.WINDOW_SHOW_MESSAGE)
        def show_message(params: types.ShowMessageParams) -> None:
            print(f"server says: {params.message}", file=sys.stderr)

    async def start(self, command: list[str], workspace: Path, options: dict[str, Any]) -> float:
        """Start the server and initialize it; seconds from the process start to the answer."""
        started = time.perf_counter()
        await self.lsp.start_io(*command)
        await self.lsp.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(
                    window=types.WindowClientCapabilities(work_done_progress=True),
                    workspace=types.WorkspaceClientCapabilities(apply_edit=True, configuration=True),
                ),
                root_uri=workspace.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
                initialization_options=options,
            )
        )
        took = time.perf_counter() - started
        self.lsp.initialized(types.InitializedParams())
        return took

    async def stop(self) -> None:
        await self.lsp.shutdown_async(None)
        self.lsp.exit(None)
        await self.lsp.stop()

    async def code_action(self, uri: str) -> float:
        at = types.Position(line=2, character=4)
        started = time.perf_counter()
        actions = await self.lsp.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=at, end=at),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        took = time.perf_counter() - started
        assert actions, "no code action on the image reference"
        return took


def _model_process(answers: list[str], delay_s: float, conn: Any) -> None:
    """The scripted model in a process of its own, as a real model server is: in the bench's process its
    request parsing (JSON bodies holding the pictures) would hold the client's GIL and count as the server's
    latency."""
    with serve(ScriptedModel(answers, delay_s=delay_s)) as model:
        conn.send(model.url)
        conn.recv()  # until the bench is done
        conn.send(len(model.requests))


class ModelProcess:
    def __init__(self, answers: list[str], delay_s: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_model_process, args=(answers, delay_s, child), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()
        self.calls = 0

    def __enter__(self) -> ModelProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self.calls = self._conn.recv()
        self._process.join(timeout=10)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def workspace_with_note(root: Path, png: bytes) -> tuple[Path, str]:
    (root / "img").mkdir(parents=True, exist_ok=True)
    (root / "img" / "hero.png").write_bytes(png)
    note = root / "note.md"
    note.write_text("# Pricing page\n\n![hero](img/hero.png)\n")
    return note, note.as_uri()


DEFAULT_SLICE = (
    "import viscodex.lsp_server.scheduling as s; s.restore_default_slice(); "
    "s.request_short_slice = lambda *a, **k: False; from viscodex.lsp_server.cli import main; main()"
)
"""The server as it was before it asked for a short slice: the A/B's other side (--default-slice). It
gives back a slice inherited from a --client-slice bench."""
BURNER = "import viscodex.lsp_server.scheduling as s\ns.restore_default_slice()\nwhile True: pass"
"""A process that burns a core with the kernel's default slice, whatever the bench's own is."""


def server_command(default_slice: bool) -> list[str]:
    return [sys.executable, "-c", DEFAULT_SLICE] if default_slice else [str(BIN / "viscodex-lsp")]


def slice_ns(pid: int) -> float:
    """The kernel's time slice of a process's main thread (se.slice in /proc/PID/sched); 0 if not shown."""
    for line in Path(f"/proc/{pid}/sched").read_text().splitlines():
        if line.split(":")[0].strip() == "se.slice":
            return float(line.split(":")[1])
    return 0.0


async def startup(starts: int, workspace: Path) -> dict[str, float]:
    """initialize from process start, ours and a bare pygls server's, alternated; our idle RSS."""
    ours, bare, rss = [], [], []
    for _ in range(starts):
        client = Client()
        ours.append(await client.start([str(BIN / "viscodex-lsp")], workspace, {}))
        await asyncio.sleep(0.5)
        rss.append(rss_mb(client.lsp._server.pid))  # type: ignore[union-attr]
        await client.stop()
        client = Client()
        bare.append(await client.start([sys.executable, "-c", BARE], workspace, {}))
        await client.stop()
    return {
        "initialize_s": statistics.median(ours),
        "bare_initialize_s": statistics.median(bare),
        "initialize_ratio": statistics.median(ours) / statistics.median(bare),
        "idle_rss_mb": statistics.median(rss),
    }


async def responsiveness(args: argparse.Namespace, workspace: Path, png: bytes) -> dict[str, float]:
    note, uri = workspace_with_note(workspace, png)
    data = base64.b64encode(png).decode()
    answers = [PAGE] * (args.generations * args.iters + 64)
    with ModelProcess(answers, args.model_delay) as model:
        if args.client_slice and not request_short_slice():
            raise SystemExit("--client-slice: this kernel does not take a per-thread slice (Linux >= 6.12)")
        client_slice = slice_ns(os.getpid())
        client = Client()
        options = {
            "model_url": model.url,
            "backend": "server",
            "max_iters": args.iters,
            "max_concurrent_runs": args.generations,
            "threshold": 1.0,  # never verified: every run does all its iterations
        }
        if args.sandbox_jobs is not None:
            options["sandbox_jobs"] = args.sandbox_jobs
        await client.start(server_command(args.default_slice), workspace, options)
        server_slice = slice_ns(client.lsp._server.pid)  # type: ignore[union-attr]
        client.lsp.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=1, text=note.read_text())
            )
        )
        for _ in range(20):  # warm up: imports, caches
            await client.code_action(uri)
        idle = [await client.code_action(uri) for _ in range(args.idle)]
        # For reference: the same code actions while cpu_count + 1 processes (none of ours) burn the CPU,
        # as a run's renders and OCR do: what a loaded machine alone does to the round trip.
        burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range((os.cpu_count() or 1) + 1)]
        try:
            await asyncio.sleep(0.5)
            burnt = []
            for _ in range(args.idle):
                burnt.append(await client.code_action(uri))
                await asyncio.sleep(0.02)
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()
        request = {
            "images": [{"data": data, "mime": "image/png"}],
            "textDocument": {"uri": uri},
            "position": {"line": 3, "character": 0},
            "kind": "ui",
        }
        # One run first, so the model backend and the sandbox (opened on the first run) are ready.
        await client.lsp.protocol.send_request_async("viscodex/imageToCode", {**request, "kind": "ui"})
        # First $/progress: from sending the request to the first progress notification; then cancelled.
        # Either the server creates the token (window/workDoneProgress/create: one more round trip) or
        # the client sends one in the request (workDoneToken), as clients may.
        first: dict[str, list[float]] = {"server token": [], "client token": []}
        for number in range(2 * args.first):
            how = "server token" if number % 2 == 0 else "client token"
            sent = {**request, "workDoneToken": f"client-{number}"} if how == "client token" else request
            before = set(client.progress)
            client.progressed.clear()
            started = time.perf_counter()
            future = asyncio.ensure_future(
                client.lsp.protocol.send_request_async("viscodex/imageToCode", sent, msg_id=f"first-{number}")
            )
            while not any(client.progress.get(t) for t in set(client.progress) - before):
                await client.progressed.wait()
                client.progressed.clear()
            token = next(t for t in set(client.progress) - before if client.progress.get(t))
            first[how].append(client.progress[token][0][0] - started)
            client.lsp.protocol.notify("$/cancelRequest", types.CancelParams(id=f"first-{number}"))
            await asyncio.gather(future, return_exceptions=True)
            await asyncio.sleep(1.0)  # the cancelled run's threads (its picture check) finish before the next
        idle_round_trip = statistics.median(idle)
        # Code actions while `generations` runs generate, render, score and iterate.
        busy: list[float] = []
        runs = [
            asyncio.ensure_future(client.lsp.protocol.send_request_async("viscodex/imageToCode", request))
            for _ in range(args.generations)
        ]
        while not all(run.done() for run in runs):
            busy.append(await client.code_action(uri))
            await asyncio.sleep(0.02)
        results = await asyncio.gather(*runs, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        # The idle reference again, after the runs (the worker and its pool idle): the machine's load from
        # others drifts over minutes, and both sides of the ratio should see the same drift.
        await asyncio.sleep(2.0)
        idle_after = [await client.code_action(uri) for _ in range(args.idle)]
        await client.stop()
    idle_before = idle
    idle = idle_before + idle_after
    if failed:
        raise SystemExit(f"{len(failed)} of the runs failed: {failed[0]}")
    return {
        "idle_code_action_p50_ms": 1000 * statistics.median(idle),
        "idle_code_action_p95_ms": 1000 * p95(idle),
        "idle_before_p95_ms": 1000 * p95(idle_before),
        "idle_after_p95_ms": 1000 * p95(idle_after),
        "busy_code_action_p50_ms": 1000 * statistics.median(busy),
        "busy_code_action_p95_ms": 1000 * p95(busy),
        "busy_samples": len(busy),
        "busy_ratio_p95": p95(busy) / p95(idle),
        "cpu_burn_code_action_p95_ms": 1000 * p95(burnt),
        "cpu_burn_ratio_p95": p95(burnt) / p95(idle),
        "first_progress_ms": 1000 * statistics.median(first["server token"]),
        "first_progress_ratio": statistics.median(first["server token"]) / idle_round_trip,
        "first_progress_client_token_ms": 1000 * statistics.median(first["client token"]),
        "first_progress_client_token_ratio": statistics.median(first["client token"]) / idle_round_trip,
        "model_calls": model.calls,
        "server_slice_ms": server_slice / 1e6,
        "client_slice_ms": client_slice / 1e6,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", type=int, default=300, help="idle code actions")
    parser.add_argument("--generations", type=int, default=4, help="runs at once during the busy measurement")
    parser.add_argument("--iters", type=int, default=3, help="iterations of each busy run")
    parser.add_argument("--model-delay", type=float, default=1.0, help="seconds the scripted model takes per answer")
    parser.add_argument("--first", type=int, default=15, help="requests timed to their first $/progress")
    parser.add_argument("--starts", type=int, default=10, help="server starts timed (each side)")
    parser.add_argument(
        "--sandbox-jobs", type=int, default=None, help="the server's sandbox_jobs setting (default: its own)"
    )
    parser.add_argument(
        "--default-slice",
        action="store_true",
        help="run the server with the kernel's default time slice (the A/B of lsp_server/scheduling.py)",
    )
    parser.add_argument(
        "--client-slice",
        action="store_true",
        help="give the bench's client a short time slice too (what is left is the server's latency)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    png = screenshot()
    with tempfile.TemporaryDirectory(prefix="viscodex-bench-lsp-") as tmp:
        figures = await startup(args.starts, Path(tmp))
        figures |= await responsiveness(args, Path(tmp), png)
    targets = {
        "busy_ratio_p95": 2.0,
        "first_progress_ratio": 3.0,
        "first_progress_client_token_ratio": 3.0,
        "initialize_ratio": 2.0,
    }
    for name, value in figures.items():
        bound = targets.get(name)
        verdict = "" if bound is None else (" ok" if value <= bound else f" OVER the {bound:g}x target")
        print(f"{name:28s} {value:10.3f}{verdict}")
    print(f"load average: {os.getloadavg()[0]:.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
