"""`viscodex-train eval --data hub:OWNER/NAME`: a benchmark's published hub repository, read through the
hub's own cache. There is no hub here, so each test lays out a hub cache as huggingface_hub writes it
(``datasets--OWNER--NAME/refs/main`` naming a commit, the files under ``snapshots/<commit>/``) and runs the
command offline (HF_HUB_OFFLINE=1): exactly what a user sees after a first download. The model is the
scripted OpenAI-compatible server of the agent tests; the sandbox is the real one."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from helpers import console
from PIL import Image
from scripted_model import ScriptedModel, serve

COMMIT = "0123456789abcdef0123456789abcdef01234567"
ADD = "a, b = map(int, input().split())\nprint(a + b)"


def _hub_repo(cache: Path, name: str, files: dict[str, bytes]) -> None:
    repo = cache / f"datasets--{name.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    for relative, data in files.items():
        target = repo / "snapshots" / COMMIT / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _env(cache: Path) -> dict[str, str]:
    return {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(out, format="PNG")
    return out.getvalue()


def _chartmimic_archive() -> bytes:
    """A release archive as ChartMimic publishes it: ``ori_500/<id>.py`` and its picture (other tasks'
    folders beside it)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in {
            "ori_500/bar_1.py": b"import matplotlib.pyplot as plt\nplt.bar([1, 2], [3, 4])\n",
            "ori_500/bar_1.png": _png(),
            "ori_500/line_2.py": b"import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\n",
            "ori_500/line_2.png": _png(),
            "edit_500/bar_1.py": b"",
        }.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_chartmimic_from_the_hub_is_its_release_archive_unpacked_once(tmp_path: Path) -> None:
    cache = tmp_path / "hub"
    _hub_repo(cache, "ChartMimic/ChartMimic", {"dataset-iclr.tar.gz": _chartmimic_archive()})
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from viscodex.model.settings import ModelSettings\n"
        "from viscodex.training.eval.run import EvalConfig, load_items\n"
        "config = EvalConfig(bench='chartmimic', data=Path('hub:ChartMimic/ChartMimic'), out=Path(sys.argv[1]),"
        " settings=ModelSettings.from_flags())\n"
        "print(json.dumps([[i.id, str(i.script), str(i.picture)] for i in load_items(config)]))\n"
    )
    out = tmp_path / "run"
    for _ in range(2):  # the second load finds the unpacked folder
        proc = subprocess.run(
            [sys.executable, "-c", script, str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, **_env(cache)},
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        items = json.loads(proc.stdout)
        assert [i[0] for i in items] == ["bar_1", "line_2"]
        assert all(Path(script_path).read_text().startswith("import matplotlib") for _, script_path, _ in items)
    (unpacked,) = (out / "hub").iterdir()
    assert (unpacked / "dataset" / "ori_500" / "bar_1.py").is_file()


@pytest.mark.timeout(600)
def test_mmcode_from_the_hub_is_scored_like_the_local_file(tmp_path: Path, sandbox_image: str) -> None:
    io_spec = json.dumps({"inputs": ["2 3\n"], "outputs": ["5\n"]})
    lines = "".join(
        json.dumps({"problem_id": f"p{i}", "question": "Add the two numbers.", "input_output": io_spec}) + "\n"
        for i in range(2)
    )
    cache = tmp_path / "hub"
    _hub_repo(cache, "likaixin/MMCode", {"mmcode_test.jsonl.gz": gzip.compress(lines.encode())})
    out = tmp_path / "run"
    with serve(ScriptedModel([f"```python\n{ADD}\n```"] * 2)) as model:
        proc = console(
            "viscodex-train",
            *("eval", "--bench", "mmcode", "--data", "hub:likaixin/MMCode", "--out", str(out)),
            *("--model-url", model.url, "--workers", "1"),
            env=_env(cache),
            timeout=500,
        )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == ["p0", "p1"]
    assert all(r["pass@1"] == 100.0 for r in rows)


@pytest.mark.parametrize("bench", ["chartmimic", "mmcode"])
def test_a_hub_dataset_missing_offline_is_one_line_and_exit_2(tmp_path: Path, bench: str) -> None:
    proc = console(
        "viscodex-train",
        *("eval", "--bench", bench, "--data", "hub:nobody/nothing", "--out", str(tmp_path / "o")),
        *("--model-url", "http://127.0.0.1:9/v1"),
        env=_env(tmp_path / "empty-hub"),
    )
    assert proc.returncode == 2, proc.stderr
    assert "hub dataset nobody/nothing" in proc.stderr and "HF_HUB_OFFLINE" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
