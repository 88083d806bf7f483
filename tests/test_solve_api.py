"""``viscodex.agent.solve`` for Python callers: it opens the model backend and the sandbox, runs the loop,
reports events and closes both, against the real sandbox and a scripted model server (a TEST DOUBLE).
Hermetic through conftest: no user VISCODEX_* variable or config file reaches it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import docker
import pytest
from conftest import own_containers
from PIL import Image, ImageDraw
from scripted_model import ScriptedModel, serve

from viscodex.agent import Event, SolveRequest, solve, solve_sync
from viscodex.model import ModelSettings, ModelUnavailable

pytestmark = pytest.mark.docker

TESTS_JSON = '```json\n{"tests": [{"input": "2 3\\n", "output": "5\\n"}]}\n```'
WRONG = "```python\na, b = map(int, input().split())\nprint(a * b)\n```"
RIGHT = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"


@pytest.fixture
def problem(tmp_path: Path) -> Path:
    image = Image.new("RGB", (400, 120), "white")
    ImageDraw.Draw(image).text((10, 10), "Read a and b. Print a + b.", fill="black")
    path = tmp_path / "problem.png"
    image.save(path)
    return path


def test_solve_sync_runs_the_loop_and_reports_events(
    sandbox_image: str, docker_client: docker.DockerClient, problem: Path, tmp_path: Path
) -> None:
    events: list[Event] = []
    request = SolveRequest(images=(problem,), kind="algorithm", max_iters=3)
    with serve(ScriptedModel([TESTS_JSON, WRONG, RIGHT])) as model:
        result = solve_sync(
            request, settings=ModelSettings(model_url=model.url), emit=events.append, run_dir=tmp_path / "run"
        )
    assert result.verified and result.iterations == 2 and result.reason == "verified"
    assert result.best is not None and result.best.code == "a, b = map(int, input().split())\nprint(a + b)\n"
    types = [e.type for e in events]
    assert types[0] == "started" and types[-1] == "done" and types.count("score") == 2
    assert json.loads((tmp_path / "run" / "report.json").read_text())["verified"] is True
    assert own_containers(docker_client) == []


def test_async_solve_with_an_unreachable_model_raises_before_any_run(
    sandbox_image: str, problem: Path, tmp_path: Path
) -> None:
    request = SolveRequest(images=(problem,), kind="algorithm", max_iters=1)
    settings = ModelSettings(model_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(ModelUnavailable):
        asyncio.run(solve(request, settings=settings, run_dir=tmp_path / "run"))
    assert not (tmp_path / "run").exists()
