"""`viscodex-train data synth`: synthetic pairs rendered for real in the sandbox (issue 14).

What is checked, with the real sandbox (no mock of it anywhere; a counting proxy only counts calls):
determinism by seed, every chart type of the registry rendering to a real picture of its recorded size,
resuming after an interrupt without redoing finished items (in process and through the CLI's Ctrl-C),
failing programs reported with their reason and not kept, the ChartMimic view and the loaders reading
the output, and (further down) the ui and algorithm kinds.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import docker
import pytest
from PIL import Image

from viscodex.sandbox import Sandbox
from viscodex.training.data import Record, load_records
from viscodex.training.data.synth import (
    FAILURES,
    RECORDS,
    REPORT,
    Program,
    SynthError,
    Synthesizer,
    SynthFailure,
    item_id,
    synthesize,
    synthesizer_for,
)
from viscodex.training.data.synth.basic_charts import BASIC_TYPES
from viscodex.training.data.synth.basic_charts import generate as basic_generate
from viscodex.training.data.synth.charts import CHART_TYPES, chart_type_for
from viscodex.training.data.synth.charts import generate as chart_program
from viscodex.training.eval import chartmimic

TRAIN = Path(sys.executable).with_name("viscodex-train")


class Counting:
    """The real sandbox, with its render calls counted (resumability is about not calling it again)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.sandbox, name)
        if name in ("run", "run_chart", "render_html"):

            def counted(*args: Any, **kwargs: Any) -> Any:
                with self.lock:
                    self.calls.append(name)
                return attr(*args, **kwargs)

            return counted
        return attr


@pytest.fixture(scope="module")
def box(docker_client: docker.DockerClient, sandbox_image: str) -> Iterator[Sandbox]:
    with Sandbox(client=docker_client, image=sandbox_image, pool={"chart": 2, "exec": 2, "html": 2}) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def charts(box: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One block of every chart type (seed 0), made on two workers."""
    out = tmp_path_factory.mktemp("charts")
    report = synthesize("chart", n=len(CHART_TYPES), seed=0, out=out, workers=2, sandbox=box)
    assert (report.kept, report.failed, report.status) == (len(CHART_TYPES), 0, "complete"), report.failures
    return out


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / RECORDS).read_text(encoding="utf-8").splitlines()]


def _code(record: dict[str, Any]) -> str:
    return str(record["messages"][1]["content"])


# --- pure: programs by seed --------------------------------------------------------------------------


def test_programs_depend_only_on_seed_kind_and_index() -> None:
    forward = [chart_program(5, i).code for i in range(30)]
    backward = [chart_program(5, i).code for i in reversed(range(30))][::-1]
    assert forward == backward
    assert [chart_program(6, i).code for i in range(30)] != forward
    assert len(set(forward)) == 30
    # every block of len(CHART_TYPES) items deals each type once, in an order that depends on the seed
    for seed in (0, 1):
        block = [chart_type_for(seed, i) for i in range(len(CHART_TYPES))]
        assert sorted(block) == sorted(CHART_TYPES)
    assert [chart_type_for(0, i) for i in range(14)] != [chart_type_for(1, i) for i in range(14)]
    for kind in ("ui", "algorithm"):
        synth = synthesizer_for(kind)
        assert [synth.generate(3, i).code for i in range(6)] == [synth.generate(3, i).code for i in range(6)]
        assert [synth.generate(3, i).code for i in range(6)] != [synth.generate(4, i).code for i in range(6)]


def test_basic_charts_are_short_and_draw_their_type_with_one_call() -> None:
    """The basic level: one plotting call of the chart's type, a few hundred characters, dealt in
    balanced blocks, by seed."""
    calls = {
        "bar": "ax.bar(",
        "line": "ax.plot(",
        "scatter": "ax.scatter(",
        "pie": "ax.pie(",
        "histogram": "ax.hist(",
        "heatmap": "ax.imshow(",
        "area": "ax.fill_between(",
    }
    names = {
        "bar": "bar chart",
        "line": "line chart",
        "scatter": "scatter plot",
        "pie": "pie chart",
        "histogram": "histogram",
        "heatmap": "heatmap",
        "area": "area chart",
    }
    assert set(BASIC_TYPES) == set(calls) and set(BASIC_TYPES) <= set(CHART_TYPES)
    programs = [basic_generate(2, i) for i in range(3 * len(BASIC_TYPES))]
    for block in range(3):
        kinds = [p.meta["chart_type"] for p in programs[block * len(BASIC_TYPES) : (block + 1) * len(BASIC_TYPES)]]
        assert sorted(kinds) == sorted(BASIC_TYPES)
    for program in programs:
        drawn = [name for name, call in calls.items() if call in program.code]
        assert drawn == [program.meta["chart_type"]], program.code
        # the first line names the type, so the plotting call follows a word the model has written
        assert program.code.splitlines()[0] == "# " + names[program.meta["chart_type"]]
        assert len(program.code) < 400 and program.meta["level"] == "basic"
        assert program.id == item_id("chart", 2, program.index)
        compile(program.code, program.id, "exec")
        # whatever a call takes comes from one literal: a guessed length can never mismatch another list
        for node in ast.walk(ast.parse(program.code)):
            if isinstance(node, ast.Call):
                literals = [a for a in [*node.args, *(k.value for k in node.keywords)] if isinstance(a, ast.List)]
                assert len(literals) <= 1, program.code
    assert [p.code for p in programs] == [basic_generate(2, i).code for i in range(len(programs))]
    assert [p.code for p in programs] != [basic_generate(3, i).code for i in range(len(programs))]


def test_basic_charts_render_and_keep_their_level(box: Sandbox, tmp_path: Path) -> None:
    report = synthesize("chart", n=len(BASIC_TYPES), seed=0, out=tmp_path, workers=2, sandbox=box, level="basic")
    assert (report.kept, report.failed) == (len(BASIC_TYPES), 0), report.failures
    assert json.loads((tmp_path / REPORT).read_text())["level"] == "basic"
    records = _records(tmp_path)
    assert sorted(r["meta"]["chart_type"] for r in records) == sorted(BASIC_TYPES)
    assert all(r["meta"]["level"] == "basic" for r in records)
    for record in records:
        with Image.open(tmp_path / record["images"][0]) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 20, f"{record['id']} looks blank"
    with pytest.raises(SynthError, match="--level basic"):
        synthesize("chart", n=1, seed=0, out=tmp_path, workers=1, sandbox=box)


# --- charts, rendered --------------------------------------------------------------------------------


def test_every_chart_type_renders_to_a_real_picture(charts: Path) -> None:
    records = _records(charts)
    assert [r["id"] for r in records] == [item_id("chart", 0, i) for i in range(len(CHART_TYPES))]
    assert sorted(r["meta"]["chart_type"] for r in records) == sorted(CHART_TYPES)
    for record in records:
        assert record["category"] == "chart"
        assert record["messages"][0]["content"].startswith("<image>\n")
        code = _code(record)
        assert code.startswith("```python\nimport matplotlib.pyplot as plt\n") and code.endswith("\n```")
        assert code == "```python\n" + (charts / "code" / f"{record['id']}.py").read_text().rstrip() + "\n```"
        picture = charts / record["images"][0]
        with Image.open(picture) as image:
            assert image.format == "PNG"
            assert image.size == (record["meta"]["width"], record["meta"]["height"])
            assert 400 <= image.width <= 800 and 300 <= image.height <= 800
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 20, f"{record['id']} looks blank"
        w, h = (float(v) for v in record["meta"]["figsize"].split("x"))
        assert (image.width, image.height) == (round(w * 100), round(h * 100))  # tight_layout: the full figure


def test_chart_output_is_a_chartmimic_folder_and_a_loader_input(charts: Path) -> None:
    items = chartmimic.load(charts / "ori_500", charts / "cache")
    assert [item.id for item in items] == [item_id("chart", 0, i) for i in range(len(CHART_TYPES))]
    records = {r["id"]: r for r in _records(charts)}
    for item in items:
        assert item.picture.read_bytes() == (charts / "images" / f"{item.id}.png").read_bytes()
        script = item.script.read_text()
        assert chartmimic.figure_size(script) is not None
        # the ground truth saves its PDF, as ori_500's scripts do (the text metric logs that save)
        assert script.endswith(f'plt.savefig("{item.id}.pdf")\n')
        answer = chartmimic.extract_code(records[item.id]["messages"][1]["content"])
        assert chartmimic.prepare_generated(answer, item.id) == chartmimic.prepare_generated(script, item.id)
    loaded = [r for r in load_records(charts) if isinstance(r, Record)]
    assert len(loaded) == len(CHART_TYPES)
    assert all(r.images[0].is_file() and r.category == "chart" for r in loaded)


def test_same_seed_same_items_other_seed_other_items(charts: Path, box: Sandbox, tmp_path: Path) -> None:
    # one worker here, two for the fixture: the worker count changes nothing either
    again = synthesize("chart", n=2, seed=0, out=tmp_path / "again", workers=1, sandbox=box)
    other = synthesize("chart", n=2, seed=1, out=tmp_path / "other", workers=2, sandbox=box)
    assert again.kept == other.kept == 2
    first, second, third = _records(charts)[:2], _records(tmp_path / "again"), _records(tmp_path / "other")
    assert [r["id"] for r in first] == [r["id"] for r in second]
    assert [_code(r) for r in first] == [_code(r) for r in second]
    for a, b in zip(first, second, strict=True):  # the pictures too: rendering is deterministic
        assert (charts / a["images"][0]).read_bytes() == (tmp_path / "again" / b["images"][0]).read_bytes()
    assert not {_code(r) for r in first} & {_code(r) for r in third}
    assert not {r["id"] for r in first} & {r["id"] for r in third}


def test_interrupted_run_resumes_without_redoing_finished_items(box: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "resume"
    counting = Counting(box)
    seen: list[str] = []

    def stop_after_three(event: str, data: dict[str, Any]) -> None:
        if event == "item":
            seen.append(data["id"])
            if len(seen) == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synthesize("chart", n=6, seed=2, out=out, workers=2, sandbox=cast(Sandbox, counting), report=stop_after_three)
    records = _records(out)
    assert [r["id"] for r in records] == seen
    assert json.loads((out / REPORT).read_text())["status"] == "interrupted"
    stamps = {r["id"]: (out / r["images"][0]).stat().st_mtime_ns for r in records}
    # a crash in the middle of writing a line: the torn line does not count, its item is made again
    torn = item_id("chart", 2, next(i for i in range(6) if item_id("chart", 2, i) not in stamps))
    with (out / RECORDS).open("a") as fh:
        fh.write(json.dumps({"id": torn, "category": "chart"})[:25])
    counting.calls.clear()
    report = synthesize("chart", n=6, seed=2, out=out, workers=2, sandbox=cast(Sandbox, counting))
    assert (report.resumed, report.made, report.kept) == (3, 3, 6)
    assert len(counting.calls) == 3
    final = _records(out)
    assert [r["id"] for r in final] == [item_id("chart", 2, i) for i in range(6)]
    assert {r["id"]: (out / r["images"][0]).stat().st_mtime_ns for r in final if r["id"] in stamps} == stamps
    counting.calls.clear()
    assert synthesize("chart", n=6, seed=2, out=out, sandbox=cast(Sandbox, counting)).made == 0 and counting.calls == []


def test_failing_programs_are_reported_with_a_reason_and_not_kept(box: Sandbox, tmp_path: Path) -> None:
    charts = synthesizer_for("chart")
    broken = {
        1: "import matplotlib.pyplot as plt\nraise ValueError('bad data')\n",
        2: "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(5, 4), dpi=100)\nplt.show()\n",
        3: "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(\n",
    }

    def generate(seed: int, index: int) -> Program:
        if index == 5:
            raise KeyError("a bug in a generator")
        program = charts.generate(seed, index)
        return replace(program, code=broken[index]) if index in broken else program

    synth = Synthesizer(kind="chart", roles=("chart",), generate=generate, render=charts.render)
    counting = Counting(box)
    out = tmp_path / "failing"
    report = synthesize("chart", n=6, seed=0, out=out, workers=2, sandbox=cast(Sandbox, counting), synthesizer=synth)
    assert (report.kept, report.failed) == (2, 4)
    assert report.reasons == {"run failed": 2, "blank picture": 1, "generator error": 1}
    failures = {row["id"]: row for row in map(json.loads, (out / FAILURES).read_text().splitlines())}
    assert "ValueError: bad data" in failures[item_id("chart", 0, 1)]["detail"]
    assert "SyntaxError" in failures[item_id("chart", 0, 3)]["detail"]
    assert [r["id"] for r in _records(out)] == [item_id("chart", 0, 0), item_id("chart", 0, 4)]
    assert not (out / "images" / f"{item_id('chart', 0, 1)}.png").exists()
    saved = json.loads((out / REPORT).read_text())
    assert saved["reasons"] == report.reasons and len(saved["failures"]) == 4
    counting.calls.clear()
    assert synthesize("chart", n=6, seed=0, out=out, sandbox=cast(Sandbox, counting), synthesizer=synth).made == 0
    assert counting.calls == []


# --- the command -------------------------------------------------------------------------------------


def _train(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRAIN), *args], capture_output=True, text=True, timeout=300, **kwargs)


def test_cli_rejects_bad_input_in_one_line(tmp_path: Path) -> None:
    cases = [
        (["--kind", "video", "--n", "2", "--out", str(tmp_path / "a")], "unknown --kind 'video'"),
        (["--kind", "chart", "--n", "2", "--out", str(tmp_path / "f.txt")], "is not a folder"),
    ]
    (tmp_path / "f.txt").write_text("x")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / REPORT).write_text(json.dumps({"kind": "chart", "seed": 1}))
    cases.append((["--kind", "chart", "--n", "2", "--out", str(tmp_path / "used")], "holds --kind chart --seed 1"))
    cases.append((["--kind", "ui", "--level", "basic", "--n", "2", "--out", str(tmp_path / "u")], "--level basic"))
    cases.append((["--kind", "chart", "--level", "tiny", "--n", "2", "--out", str(tmp_path / "t")], "'tiny'"))
    level = ["--kind", "chart", "--seed", "1", "--level", "basic", "--n", "2", "--out", str(tmp_path / "used")]
    cases.append((level, "--level full; use another --out"))
    for args, message in cases:
        result = _train("data", "synth", *args)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_cli_ctrl_c_keeps_finished_items_and_the_rerun_makes_the_rest(docker_client: Any, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["data", "synth", "--kind", "chart", "--n", "3", "--seed", "4", "--out", str(out), "--workers", "1"]
    process = subprocess.Popen([str(TRAIN), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (out / RECORDS).is_file() and len((out / RECORDS).read_text().splitlines()) >= 1:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    finished = [r["id"] for r in _records(out)]
    assert 1 <= len(finished) < 3
    result = _train(*args)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished)} already done" in result.stdout and f"{3 - len(finished)} made" in result.stdout
    assert [r["id"] for r in _records(out)] == [item_id("chart", 4, i) for i in range(3)]
    assert json.loads((out / REPORT).read_text())["status"] == "complete"
    assert os.listdir(out / "ori_500") and not list(out.rglob(".*.tmp"))


# --- ui and algorithms -------------------------------------------------------------------------------


def test_ui_pages_render_in_both_stacks(box: Sandbox, tmp_path: Path) -> None:
    from viscodex.training.data.synth.ui import PAGE_STACKS, VIEWPORT

    report = synthesize("ui", n=2, seed=0, out=tmp_path, workers=2, sandbox=box)
    assert (report.kept, report.failed) == (2, 0), report.failures
    records = _records(tmp_path)
    assert sorted(r["meta"]["stack"] for r in records) == sorted(PAGE_STACKS)  # items 0, 1 of seed 0
    for record in records:
        code = (tmp_path / "code" / f"{record['id']}.html").read_text()
        assert record["messages"][1]["content"] == f"```html\n{code.rstrip()}\n```"
        assert code.startswith("<!DOCTYPE html>") and ("<style>" in code) == (record["meta"]["stack"] == "html")
        with Image.open(tmp_path / record["images"][0]) as image:
            assert image.width == VIEWPORT.width and image.height >= VIEWPORT.height
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 20


def test_algorithm_references_pass_their_samples_and_a_wrong_one_would_not(box: Sandbox, tmp_path: Path) -> None:
    from viscodex.training.data.synth.algorithms import FAMILIES, check_solution, problem_for

    report = synthesize("algorithm", n=2, seed=0, out=tmp_path, workers=2, sandbox=box)
    assert (report.kept, report.failed) == (2, 0), report.failures
    for record in _records(tmp_path):
        assert record["meta"]["family"] in FAMILIES and record["meta"]["samples"] == 2
        problem, samples, hidden = problem_for(0, record["meta"]["index"])
        code = (tmp_path / "code" / f"{record['id']}.py").read_text()
        assert code == problem.solution
        statement = (tmp_path / record["images"][0]).read_bytes()
        assert statement.startswith(b"\x89PNG")
        # the shown samples' outputs are the oracle's, and the sandbox run of the reference printed them
        assert all(t.output == problem.oracle(t.input) for t in samples + hidden)
    # a solution that is off by one on the same tests is refused, with the failing test named
    problem, samples, hidden = problem_for(0, 0)
    wrong = "import sys\nprint(int(sys.stdin.read().split()[0]) + 10**6)\n"
    with pytest.raises(SynthFailure, match="reference wrong: test 1"):
        check_solution(wrong, samples + hidden, box)
    with pytest.raises(SynthFailure, match="reference failed: test 1"):
        check_solution("raise SystemExit(3)\n", samples, box)
