"""`viscodex-train eval` end to end: the model is the scripted OpenAI-compatible server of
tests/scripted_model.py (a test double that replays fixed answers), the sandbox is the real one."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
from pathlib import Path

import docker
import pytest
from conftest import set_image
from helpers import console
from PIL import Image
from scripted_model import ScriptedModel, serve

from viscodex.training.eval.fixtures import GOLD

LINE = GOLD.replace("bar_7.pdf", "line_2.pdf").replace("Sales per year", "Line chart")


def _png(width: int = 90, height: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def _fenced(code: str) -> str:
    return f"Here is the code:\n```python\n{code}\n```\n"


@pytest.fixture
def chart_data(tmp_path: Path, docker_client: docker.DockerClient) -> Path:
    set_image(docker_client, "chartmimic")
    folder = tmp_path / "ori_500"
    folder.mkdir()
    for name, script in (("bar_7", GOLD), ("line_2", LINE)):
        (folder / f"{name}.py").write_text(script)
        (folder / f"{name}.png").write_bytes(_png())
    return folder


def _rows(out: Path) -> dict[str, dict[str, object]]:
    return {row["id"]: row for row in map(json.loads, (out / "items.jsonl").read_text().splitlines())}


def _eval(model: ScriptedModel, *args: str) -> tuple[int, str, str]:
    proc = console("viscodex-train", "eval", "--model-url", model.url, "--workers", "1", *args, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.slow
def test_chartmimic_single_shot_rows_summary_and_resume(chart_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with serve(ScriptedModel([_fenced(GOLD), "I cannot do charts."])) as model:
        code, stdout, stderr = _eval(model, "--bench", "chartmimic", "--data", str(chart_data), "--out", str(out))
    assert code == 0, stderr
    rows = _rows(out)
    assert rows["bar_7"]["text"] == rows["bar_7"]["layout"] == rows["bar_7"]["type"] == rows["bar_7"]["color"] == 100.0
    assert (
        rows["line_2"]["text"] == rows["line_2"]["layout"] == rows["line_2"]["type"] == rows["line_2"]["color"] == 0.0
    )
    # the official prompt with the ground truth's figure size, and the picture
    assert "figsize=(9, 4)" in model.user_texts(0)[0] and model.image_count(0) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["items"] == 2 and summary["metrics"] == {"text": 50.0, "layout": 50.0, "type": 50.0, "color": 50.0}
    assert "| text | 50.00 |" in (out / "summary.md").read_text() and "| text | 50.00 |" in stdout

    # A run killed while writing line_2's row: that row is half a line; only line_2 is done again.
    lines = (out / "items.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["id"] == "bar_7"]
    (out / "items.jsonl").write_text(kept[0] + "\n" + '{"id": "line_2", "te')
    with serve(ScriptedModel([_fenced(LINE)])) as model:
        code, _, stderr = _eval(model, "--bench", "chartmimic", "--data", str(chart_data), "--out", str(out))
    assert code == 0, stderr
    assert len(model.requests) == 1 and "figsize=(9, 4)" in model.user_texts(0)[0]
    rows = _rows(out)
    assert set(rows) == {"bar_7", "line_2"} and rows["line_2"]["type"] == 100.0
    # everything done: nothing is asked again
    with serve(ScriptedModel([])) as model:
        code, _, _ = _eval(model, "--bench", "chartmimic", "--data", str(chart_data), "--out", str(out))
    assert code == 0 and model.requests == []


@pytest.mark.slow
def test_chartmimic_in_the_agent_loop_at_two_budgets(chart_data: Path, tmp_path: Path, sandbox_image: str) -> None:
    out = tmp_path / "agent"
    with serve(ScriptedModel([_fenced(GOLD)] * 8)) as model:
        code, stdout, stderr = _eval(
            model,
            *("--bench", "chartmimic", "--data", str(chart_data), "--out", str(out)),
            *("--agent", "--max-iters", "1,2", "--limit", "1"),
        )
    assert code == 0, stderr
    for budget in (1, 2):
        rows = _rows(out / f"iters-{budget}")
        assert list(rows) == ["bar_7"] and rows["bar_7"]["type"] == 100.0
        assert (out / f"iters-{budget}" / "agent" / "bar_7" / "sample-0").is_dir()
    table = json.loads((out / "summary.json").read_text())
    assert table["budgets"] == [1, 2] and table["metrics"]["type"] == [100.0, 100.0] and table["gain"]["type"] == 0.0
    assert "| type | 100.00 | 100.00 | +0.00 |" in stdout


@pytest.mark.slow
def test_mmcode_pass_at_k_from_samples(tmp_path: Path, sandbox_image: str) -> None:
    io_spec = json.dumps({"inputs": ["2 3\n"], "outputs": ["5\n"]})
    record = {
        "problem_id": "cf_1",
        "question": "Add the two numbers in the picture.",
        "input_output": io_spec,
        "images": [base64.b64encode(_png()).decode()],
        "data_split": "test",
    }
    data = tmp_path / "mmcode_test.jsonl.gz"
    with gzip.open(data, "wt") as f:
        f.write(json.dumps(record) + "\n")
    out = tmp_path / "run"
    right = _fenced("a, b = map(int, input().split())\nprint(a + b)")
    wrong = _fenced("a, b = map(int, input().split())\nprint(a * b)")
    with serve(ScriptedModel([right, wrong])) as model:
        code, _, stderr = _eval(
            model,
            "--bench",
            "mmcode",
            "--data",
            str(data),
            "--out",
            str(out),
            "--samples",
            "2",
            "--k",
            "1,2",
            "--temperature",
            "0.8",
        )
    assert code == 0, stderr
    row = _rows(out)["cf_1"]
    assert row["n"] == 2 and row["passed"] == 1 and row["pass@1"] == 50.0 and row["pass@2"] == 100.0
    assert model.image_count(0) == 1 and "QUESTION:\nAdd the two numbers" in model.user_texts(0)[0]
    assert model.requests[0]["temperature"] == 0.8


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--bench", "nope", "--data", "."], "unknown --bench"),
        (["--bench", "mmcode", "--data", "/does/not/exist"], "does not exist"),
        (["--bench", "mmcode", "--data", ".", "--k", "1,5"], "--samples >= 5"),
        (["--bench", "mmcode", "--data", ".", "--max-iters", "1,2"], "need --agent"),
        (["--bench", "mmcode", "--data", ".", "--no-quirk", "savefig-cut"], "unknown quirk 'savefig-cut' for mmcode"),
        (["--bench", "mmcode", "--data", ".", "--judge-url", "http://127.0.0.1:9/v1"], "ChartMimic's high-level"),
        (["--bench", "chartmimic", "--data", ".", "--clip", "ViT-B-32:openai"], "Design2Code's CLIP model"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    proc = console("viscodex-train", "eval", "--model-url", "http://127.0.0.1:9/v1", *args)
    assert proc.returncode == 2 and needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_data_that_is_no_benchmark_is_exit_2(tmp_path: Path) -> None:
    proc = console(
        "viscodex-train",
        "eval",
        "--bench",
        "chartmimic",
        "--data",
        str(tmp_path),
        "--model-url",
        "http://127.0.0.1:9/v1",
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 2 and "no ChartMimic scripts" in proc.stderr and "Traceback" not in proc.stderr


def _mmcode_data(tmp_path: Path, count: int) -> Path:
    data = tmp_path / "mmcode.jsonl"
    io_spec = json.dumps({"inputs": ["2 3\n"], "outputs": ["5\n"]})
    records = [
        {"problem_id": f"p{i}", "question": f"Problem {i}", "input_output": io_spec, "images": []} for i in range(count)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    return data


@pytest.mark.slow
def test_ctrl_c_keeps_finished_items_and_the_rerun_does_only_the_rest(tmp_path: Path, sandbox_image: str) -> None:
    import subprocess
    import time

    from helpers import BIN, FAULTHANDLER, interrupt

    data, out = _mmcode_data(tmp_path, 4), tmp_path / "run"
    right = _fenced("a, b = map(int, input().split())\nprint(a + b)")
    # Each answer takes 3 s to arrive: Ctrl-C lands while a later item waits for the model.
    with serve(ScriptedModel([right] * 4, delay_s=3.0)) as model:
        args = ["eval", "--bench", "mmcode", "--data", str(data), "--out", str(out), "--workers", "1"]
        proc = subprocess.Popen(
            [str(BIN / "viscodex-train"), *args, "--model-url", model.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **FAULTHANDLER},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            (out / "items.jsonl").is_file() and (out / "items.jsonl").read_text().count("\n") >= 1
        ):
            time.sleep(0.2)
        _, stderr = interrupt(proc, timeout=60)
    assert proc.returncode == 1, stderr
    assert "interrupted; finished items are kept" in stderr and "Traceback" not in stderr
    done = set(_rows(out))
    assert 1 <= len(done) < 4
    with serve(ScriptedModel([right] * 4)) as model:
        proc2 = console("viscodex-train", *args, "--model-url", model.url, timeout=300)
    assert proc2.returncode == 0, proc2.stderr
    assert len(model.requests) == 4 - len(done)
    rows = _rows(out)
    assert set(rows) == {"p0", "p1", "p2", "p3"} and all(r["pass@1"] == 100.0 for r in rows.values())


@pytest.mark.slow
def test_chartmimic_high_level_score_from_a_judge_endpoint(chart_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "judged"
    verdict = "Comments:\n- Chart Types: all there, 20\n- Layout: 10\n\nScore: 73\n\n---"
    with serve(ScriptedModel([_fenced(GOLD)])) as model, serve(ScriptedModel([verdict], name="gpt-4o")) as judge:
        code, stdout, stderr = _eval(
            model,
            *("--bench", "chartmimic", "--data", str(chart_data), "--out", str(out), "--limit", "1"),
            *("--judge-url", judge.url, "--judge-model", "gpt-4o"),
        )
    assert code == 0, stderr
    row = _rows(out)["bar_7"]
    assert row["gpt4v_score"] == 73.0 and row["color"] == 100.0
    # the official judge prompt with the reference picture and the generated chart, at their temperature
    request = judge.requests[0]
    assert judge.user_texts(0)[0].startswith("You are an excellent judge") and judge.image_count(0) == 2
    assert request["model"] == "gpt-4o" and request["temperature"] == 0.1
    assert (out / "judge" / "bar_7.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["gpt4v_score"] == 73.0 and "| gpt4v_score | 73.00 |" in stdout


@pytest.mark.slow
def test_mmcode_quirk_switched_off_changes_the_verdict(tmp_path: Path, sandbox_image: str) -> None:
    data = tmp_path / "mmcode.jsonl"
    io_spec = json.dumps({"inputs": [""], "outputs": ["0.333333"]})
    data.write_text(json.dumps({"problem_id": "third", "question": "Print a third.", "input_output": io_spec}) + "\n")
    third = _fenced("print(1/3)")
    for flags, expected in (([], 100.0), (["--no-quirk", "loose-output"], 0.0)):
        out = tmp_path / ("loose" if not flags else "strict")
        with serve(ScriptedModel([third])) as model:
            code, _, stderr = _eval(model, "--bench", "mmcode", "--data", str(data), "--out", str(out), *flags)
        assert code == 0, stderr
        assert _rows(out)["third"]["pass@1"] == expected
        summary = json.loads((out / "summary.json").read_text())
        assert ("loose-output" in summary["config"]["quirks"]) == (not flags)
        assert any(n.startswith("Quirk loose-output " + ("on" if not flags else "off")) for n in summary["notes"])
