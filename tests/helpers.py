"""Helpers shared by several test files: running the console scripts as a user does, a scripted solve,
a free port, and pages more than one test renders. (Fixtures live in conftest.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scripted_model import ScriptedModel

from viscodex.agent import Event, parse_event

BIN = Path(sys.executable).parent
AGENT = str(BIN / "viscodex-agent")


def interrupt(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """Ctrl-C ``proc`` (SIGINT) and collect its output. A process that has not exited within ``timeout``
    fails the test with what explains it: its signal masks and, when it was started with
    ``PYTHONFAULTHANDLER=1`` (see ``FAULTHANDLER``), every thread's stack, dumped by SIGABRT."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        masks = ""
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
            masks = " ".join(line for line in status if line.startswith(("State", "SigBlk", "SigIgn", "SigCgt")))
        except OSError:
            pass
        proc.send_signal(signal.SIGABRT)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        raise AssertionError(
            f"still running {timeout:.0f} s after SIGINT ({masks}); its stderr:\n{stderr[-6000:]}"
        ) from None


FAULTHANDLER = {"PYTHONFAULTHANDLER": "1"}
"""Environment for a child that :func:`interrupt` may have to explain: its stacks on SIGABRT."""


def console(
    prog: str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run console script ``prog`` of this environment with ``args``; ``env`` adds to the environment."""
    return subprocess.run(
        [str(BIN / prog), *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def agent(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`viscodex-agent ARGS...` as a user runs it."""
    return console("viscodex-agent", *args, env=env, timeout=timeout)


def solve_cli(model: ScriptedModel, image: Path, tmp_path: Path, *args: str) -> tuple[int, list[Event], Path]:
    """`viscodex-agent solve IMAGE --json` against a scripted model: exit code, parsed events, run folder."""
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [AGENT, "solve", str(image), "--model-url", model.url, "--json", "--run-dir", str(run_dir), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    events = [parse_event(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, run_dir


def busy_containers(client: Any, pids: Iterable[int]) -> list[str]:
    """The sandbox containers of these owner processes that are running a job: the shim plus the job's
    process (an idle warm container holds only its shim)."""
    import docker

    from viscodex.sandbox.owners import LABEL, LABEL_PID

    busy = []
    for pid in pids:
        filters = {"label": [LABEL, f"{LABEL_PID}={pid}"], "status": "running"}
        # ignore_removed: the SDK inspects each listed container; one that ended in between is not busy
        for container in client.containers.list(filters=filters, ignore_removed=True):
            try:
                if len(container.top().get("Processes") or []) > 1:
                    busy.append(container.id)
            except docker.errors.APIError:
                continue  # it ended between the listing and the look
    return busy


def vllm_answer(checkpoint: Path, request: Any, tmp_path: Path, lock_path: Path, monkeypatch: Any) -> Any:
    """``request`` answered by ``checkpoint`` served with vLLM on the CPU, as ``viscodex-agent serve`` serves
    it (fp32, a small KV cache); one vLLM server at a time over the xdist workers (conftest's
    ``vllm_lock_path``). Without vLLM: conftest's skip, a failure in CI."""
    import asyncio
    import importlib.util

    from conftest import missing_service
    from filelock import FileLock

    from viscodex.model.chat import complete
    from viscodex.model.serve import ServeOptions, VllmServer
    from viscodex.model.server_backend import ServerBackend
    from viscodex.model.settings import ModelSettings

    if importlib.util.find_spec("vllm") is None:
        missing_service("vLLM is not installed (python scripts/install_vllm.py)")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    opts = ServeOptions(model=str(checkpoint), port=free_port(), max_model_len=2048, dtype="float32")
    with FileLock(str(lock_path)), VllmServer(opts, log_path=tmp_path / "vllm.log", gpu=False) as server:
        return asyncio.run(complete(ServerBackend(ModelSettings(model_url=server.url)), request))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REACT = """<!doctype html><html><head></head><body><div id="root"></div>
<script type="text/babel">
function Card({ title }) { return <h1 style={{color: "#16a34a"}}>{title}</h1>; }
ReactDOM.createRoot(document.getElementById("root")).render(<Card title="Hello from React" />);
</script></body></html>"""
"""A React 18 + JSX page (the `react` UI stack)."""


def kernel_takes_slices() -> bool:
    """Linux 6.12 or later: ordinary threads have a slice of their own (``sched_attr.sched_runtime``)."""
    major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    return sys.platform.startswith("linux") and (major, minor) >= (6, 12)


def slice_ns(sched: str) -> int | None:
    """The time slice in a ``/proc/PID/sched`` (or ``/proc/PID/task/TID/sched``) text: ``se.slice``, in
    nanoseconds, as the kernel writes it; None where it is not shown."""
    for line in sched.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "se.slice":
            return int(value)
    return None
