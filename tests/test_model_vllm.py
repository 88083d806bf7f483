"""The real serving path: `viscodex-agent serve` starts vLLM on the tiny VLM; its greedy token ids must
equal the embedded transformers backend's on the same requests. That equality is the proof that image
normalisation, the image processor and the chat template agree between the two backends.

Tiny models write nonsense: these tests assert on token ids, finish reasons and paths, never on text.
All tests here share one vLLM server (xdist group "vllm"), started once per session.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import missing_service
from filelock import FileLock
from helpers import FAULTHANDLER, free_port, interrupt
from PIL import Image

from viscodex.model.chat import ChatMessage, ChatRequest, complete
from viscodex.model.embedded_backend import EmbeddedBackend
from viscodex.model.errors import ModelUnavailable
from viscodex.model.select import open_backend
from viscodex.model.server_backend import ServerBackend
from viscodex.model.settings import ModelSettings

# The timeout covers waiting for the other worker's vLLM server to stop (``vllm_lock_path``).
pytestmark = [pytest.mark.xdist_group("vllm"), pytest.mark.slow, pytest.mark.timeout(900)]
AGENT = str(Path(sys.executable).parent / "viscodex-agent")


@pytest.fixture(scope="module")
def vllm_url(
    tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, vllm_lock_path: Path
) -> Iterator[str]:
    """`viscodex-agent serve` on the tiny VLM, as a user runs it; stopped with Ctrl-C after this module's
    tests (a session-long server kept its CPU threads busy under every later test of its worker, and
    Ctrl-C-timed tests elsewhere ran out of time). Its OpenMP threads sleep when idle
    (``OMP_WAIT_POLICY=PASSIVE``) instead of spinning on the test machine's few cores."""
    if importlib.util.find_spec("vllm") is None:
        missing_service("vLLM is not installed (python scripts/install_vllm.py)")
    with FileLock(str(vllm_lock_path)):  # one vLLM server at a time across xdist workers
        port = free_port()
        env = {
            **os.environ,
            "VLLM_CPU_KVCACHE_SPACE": "1",
            "OMP_WAIT_POLICY": "PASSIVE",
            **FAULTHANDLER,
            "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache")),
        }
        cmd = [AGENT, "serve", "--model", str(tiny_models["vlm"]), "--port", str(port)]
        cmd += ["--max-model-len", "2048", "--dtype", "float32"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        assert proc.stdout is not None
        deadline = time.monotonic() + 600
        url = ""
        while not url:
            if proc.poll() is not None:
                pytest.fail(f"viscodex-agent serve exited {proc.returncode}: {proc.stderr.read()[-3000:]}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail("vLLM did not become healthy within 600 s")
            if select.select([proc.stdout], [], [], 1.0)[0]:
                url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}/v1"
        yield url
        interrupt(proc, timeout=120)
        assert proc.returncode == 0
        with pytest.raises(ProcessLookupError):  # no vLLM worker outlives the command
            os.killpg(proc.pid, 0)


@pytest.fixture(scope="session")
def embedded(tiny_models: dict[str, Path]) -> EmbeddedBackend:
    backend = EmbeddedBackend(ModelSettings(model_path=tiny_models["vlm"]))
    asyncio.run(backend.check())
    return backend


def _rgba() -> Image.Image:
    image = Image.new("RGBA", (120, 90), (10, 200, 30, 0))
    image.paste((200, 0, 0, 255), (0, 0, 60, 45))
    image.paste((0, 0, 255, 128), (60, 45, 120, 90))
    return image


CASES = {
    "one image": [Image.new("RGB", (300, 200), (200, 30, 30))],
    "two images": [
        Image.new("RGB", (300, 200), (200, 30, 30)),
        Image.effect_noise((100, 140), 50).convert("RGB"),
    ],
    "large image": [Image.effect_noise((2400, 1600), 80).convert("RGB")],
    "transparency": [_rgba()],
}


@pytest.mark.parametrize("name", list(CASES))
def test_vllm_greedy_ids_equal_transformers(vllm_url: str, embedded: EmbeddedBackend, name: str) -> None:
    request = ChatRequest.single("Write the HTML for this screenshot.", CASES[name], max_tokens=16)
    server = ServerBackend(ModelSettings(model_url=vllm_url))

    async def both() -> tuple[object, object]:
        await server.check()
        return await complete(server, request), await complete(embedded, request)

    served, local = asyncio.run(both())
    assert served.token_ids, "vLLM returned no token ids"  # type: ignore[attr-defined]
    assert served.token_ids == local.token_ids  # type: ignore[attr-defined]
    assert served.finish_reason == local.finish_reason  # type: ignore[attr-defined]
    assert len(served.token_ids) == 16 or served.finish_reason == "stop"  # type: ignore[attr-defined]


def test_multi_turn_with_system_prompt_parity(vllm_url: str, embedded: EmbeddedBackend) -> None:
    request = ChatRequest(
        [
            ChatMessage("system", "You write code."),
            ChatMessage("user", "Chart to code:", (Image.new("RGB", (64, 64), "white"),)),
            ChatMessage("assistant", "import matplotlib"),
            ChatMessage("user", "Now fix the colours."),
        ],
        max_tokens=8,
    )
    server = ServerBackend(ModelSettings(model_url=vllm_url))
    served = asyncio.run(complete(server, request))
    local = asyncio.run(complete(embedded, request))
    assert served.token_ids == local.token_ids


def test_concurrent_requests_all_answer(vllm_url: str) -> None:
    server = ServerBackend(ModelSettings(model_url=vllm_url))
    request = ChatRequest.single("hi", [Image.new("RGB", (56, 56), "blue")], max_tokens=8)

    async def many() -> list[object]:
        return list(await asyncio.gather(*(complete(server, request) for _ in range(8))))

    results = asyncio.run(many())
    assert len({tuple(r.token_ids) for r in results}) == 1  # type: ignore[attr-defined]


def test_selection_prefers_a_live_server(vllm_url: str, tiny_models: dict[str, Path]) -> None:
    backend = asyncio.run(open_backend(ModelSettings(model_url=vllm_url, model_path=tiny_models["vlm"])))
    assert backend.name == "server"


def test_selection_falls_back_to_embedded(tiny_models: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"
    settings = ModelSettings(model_url=down, model_path=tiny_models["vlm"], connect_timeout_s=1)
    with caplog.at_level("INFO"):
        backend = asyncio.run(open_backend(settings))
    assert backend.name == "embedded"
    assert "trying the embedded backend" in caplog.text and "model backend: embedded" in caplog.text


def test_selection_without_any_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as info:
        asyncio.run(open_backend(ModelSettings(model_path=tmp_path / "none")))
    message = str(info.value)
    assert "viscodex-train merge --preset viscodex-8b" in message and "--model-url" in message


def test_embedded_stream_cancels_promptly(embedded: EmbeddedBackend) -> None:
    request = ChatRequest.single("go", max_tokens=2000)

    async def cancel_after_first() -> float:
        stream = embedded.stream(request)
        await stream.__anext__()
        start = time.monotonic()
        await stream.aclose()
        return time.monotonic() - start

    assert asyncio.run(cancel_after_first()) < 2.0


def test_serve_missing_model_exits_3(tmp_path: Path) -> None:
    proc = subprocess.run(
        [AGENT, "serve", "--model", str(tmp_path / "nothing"), "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "config.json" in proc.stderr


@pytest.mark.docker
@pytest.mark.parametrize("kind", ["chart", "algorithm"])
def test_solve_end_to_end_with_the_tiny_model(vllm_url: str, sandbox_image: str, tmp_path: Path, kind: str) -> None:
    """The whole path with the real server: the tiny model writes nonsense, so the run must end as
    best effort (exit 1) with the right events, never as a crash."""
    from viscodex.agent import parse_event

    image = {"chart": "examples/chart/quarterly_sales.png", "algorithm": "examples/algorithm/pair_sum.png"}[kind]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [
            AGENT,
            "solve",
            str(root / image),
            "--kind",
            kind,
            "--model-url",
            vllm_url,
            "--json",
            "--max-iters",
            "2",
            "--run-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VISCODEX_MAX_TOKENS": "256"},
    )
    assert proc.returncode == 1, proc.stderr
    events = [parse_event(line) for line in proc.stdout.splitlines()]
    kinds = [e.type for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done" and "candidate" in kinds
    assert events[0].backend == "server" and events[0].model == "viscodex"
    assert not events[-1].verified
    assert (tmp_path / "run" / "report.json").is_file()
