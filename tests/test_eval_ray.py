"""`viscodex-train eval --ray`: the items' scoring runs on Ray actors, each with its own sandbox, here on a
local Ray instance (`--ray local` starts one for the run). The model is the scripted OpenAI-compatible
server of tests/scripted_model.py (a test double); the sandbox is the real one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import require_module
from helpers import console
from scripted_model import ScriptedModel, serve

require_module("ray")  # skips without it on a developer's machine; CI installs the ray extra, so fails there

ADD = "a, b = map(int, input().split())\nprint(a + b)"


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "mmcode.jsonl"
    io_spec = json.dumps({"inputs": ["2 3\n", "10 -4\n"], "outputs": ["5\n", "6\n"]})
    data.write_text(
        "".join(
            json.dumps({"problem_id": f"p{i}", "question": "Add the two numbers.", "input_output": io_spec}) + "\n"
            for i in range(3)
        )
    )
    return data


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_items_are_scored_on_ray_actors_with_the_local_pools_verdicts(tmp_path: Path, sandbox_image: str) -> None:
    data = _data(tmp_path)
    answers = [f"```python\n{ADD}\n```", f"```python\n{ADD.replace('a + b', 'a * b')}\n```", "no code"]
    verdicts = {}
    for mode in ("ray", "local"):
        out = tmp_path / mode
        flags = ["--ray", "local"] if mode == "ray" else []
        with serve(ScriptedModel(list(answers))) as model:
            proc = console(
                "viscodex-train",
                *("eval", "--bench", "mmcode", "--data", str(data), "--out", str(out)),
                *("--model-url", model.url, "--workers", "2", *flags),
                timeout=600,
            )
        assert proc.returncode == 0, proc.stderr
        rows = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
        verdicts[mode] = {r["id"]: r["verdicts"] for r in rows}
        summary = json.loads((out / "summary.json").read_text())
        if mode == "ray":
            actors = summary["config"]["ray_actors"]
            # two actors, each its own process (not the CLI's), each with its own sandbox
            assert summary["config"]["ray"] == "local" and len(actors) == 2 and len(set(actors)) == 2
            assert all(int(a.rsplit(":", 1)[1]) != os.getpid() for a in actors)
        else:
            assert summary["config"]["ray_actors"] is None
    # the model answers in request order, so which id got which answer can differ: compare as multisets
    assert sorted(map(json.dumps, verdicts["ray"].values())) == sorted(map(json.dumps, verdicts["local"].values()))
    assert sorted(map(json.dumps, verdicts["ray"].values())) == sorted(
        map(json.dumps, [[[True, True]], [[False, False]], [[-2]]])
    )
