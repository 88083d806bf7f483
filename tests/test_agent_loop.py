"""The loop's logic, through `viscodex-agent solve` as a user runs it, against the real sandbox and a
scripted OpenAI-compatible server (a TEST DOUBLE for the model, see scripted_model.py): syntax errors and
failing tests reach the next prompt, the best candidate is kept, budgets stop the loop, cancellation
leaves no container."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import docker
import pytest
from helpers import AGENT, FAULTHANDLER, interrupt
from helpers import solve_cli as solve
from PIL import Image, ImageDraw
from scripted_model import ScriptedModel, serve

from viscodex.sandbox.owners import LABEL, LABEL_PID

pytestmark = pytest.mark.docker

TESTS_JSON = '```json\n{"tests": [{"input": "2 3\\n", "output": "5\\n"}, {"input": "10 -4\\n", "output": "6\\n"}]}\n```'
SYNTAX_ERROR = "```python\ndef main(:\n    print(1)\n```"
WRONG = "```python\na, b = map(int, input().split())\nprint(a * b)\n```"
HALF = "```python\na, b = map(int, input().split())\nprint(5)\n```"
RIGHT = "Here you go:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```"


@pytest.fixture
def problem(tmp_path: Path, sandbox_image: str) -> Path:
    """The problem picture; every loop test that takes it runs in the real sandbox image."""
    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).text((10, 10), "Read a and b. Print a + b.\nInput: 2 3\nOutput: 5", fill="black")
    path = tmp_path / "problem.png"
    image.save(path)
    return path


def types(events: list) -> list[str]:
    return [e.type for e in events]


def test_syntax_error_and_failing_test_reach_the_next_prompt(problem: Path, tmp_path: Path) -> None:
    with serve(ScriptedModel([TESTS_JSON, SYNTAX_ERROR, WRONG, RIGHT])) as model:
        code, events, run_dir = solve(model, problem, tmp_path, "--kind", "algorithm", "--max-iters", "5")
    assert code == 0, events
    assert types(events)[0] == "started" and types(events)[-1] == "done"
    assert events[-1].verified and events[-1].iterations == 3 and events[-1].reason == "verified"
    parse_errors = [e for e in events if e.type == "parse_error"]
    assert [e.iteration for e in parse_errors] == [1]
    assert not [e for e in events if e.type == "sandbox_result" and e.iteration == 1]
    # request 0: extract tests; 1: first attempt; 2: after the syntax error; 3: after the failing test
    second = "\n".join(model.user_texts(2))
    assert "does not parse" in second and "line 1" in second
    third = "\n".join(model.user_texts(3))
    assert "Sample 1 failed" in third and "Expected output:\n5" in third and "Your output:\n6" in third
    assert model.image_count(1) == 1
    report = json.loads((run_dir / "report.json").read_text())
    assert report["verified"] and report["best"].endswith("iter-3/cand-1/code.py")
    assert (run_dir / "iter-1" / "cand-1" / "answer.md").read_text() == SYNTAX_ERROR
    assert (run_dir / "target-1.png").is_file()


def test_best_candidate_is_kept_and_patience_stops(problem: Path, tmp_path: Path) -> None:
    with serve(ScriptedModel([TESTS_JSON, HALF, WRONG, WRONG, WRONG, RIGHT])) as model:
        code, events, _ = solve(model, problem, tmp_path, "--kind", "algorithm", "--max-iters", "5")
    assert code == 1
    done = events[-1]
    assert not done.verified and done.iterations == 3 and "no improvement" in done.reason
    assert done.score == 0.5 and done.output.endswith("iter-1/cand-1/code.py")
    assert len(model.requests) == 5  # round 3 asked twice (a retry); the RIGHT answer was never asked for


def _assistant_texts(model: ScriptedModel, request_index: int) -> list[str]:
    return [m["content"] for m in model.requests[request_index]["messages"] if m["role"] == "assistant"]


def test_a_worse_repair_is_not_built_on(problem: Path, tmp_path: Path) -> None:
    """HALF passes one test, then a repair breaks the syntax: the third round repairs HALF again (its code
    and its failing test in the prompt, not the syntax error) and, beside it, answers the problem afresh
    (the first request alone), both sampled, since greedy decoding of the same conversation would repeat
    itself; a round no worse than the best is built on as before."""
    with serve(ScriptedModel([TESTS_JSON, HALF, SYNTAX_ERROR, RIGHT, RIGHT])) as model:
        code, events, run_dir = solve(model, problem, tmp_path, "--kind", "algorithm", "--max-iters", "4")
    assert code == 0 and events[-1].verified and events[-1].iterations == 3, events
    assert len(model.requests) == 5 and sorted(p.name for p in (run_dir / "iter-3").iterdir()) == ["cand-1", "cand-2"]
    # request 1: first attempt; 2: repair of HALF; 3 and 4, in either order: HALF's repair asked again,
    # and the first request alone
    again, fresh = sorted((3, 4), key=lambda i: -len(_assistant_texts(model, i)))
    assert _assistant_texts(model, 2) == _assistant_texts(model, again)
    assert "print(5)" in _assistant_texts(model, again)[-1] and "def main(:" not in _assistant_texts(model, again)[-1]
    retried = "\n".join(model.user_texts(again))
    assert "Sample 2 failed" in retried and "does not parse" not in retried
    assert _assistant_texts(model, fresh) == [] and model.requests[fresh]["messages"] == model.requests[1]["messages"]
    assert model.requests[2].get("temperature", 0) == 0
    for i in (again, fresh):
        assert model.requests[i]["temperature"] > 0
        assert model.requests[i].get("seed") not in (None, model.requests[2].get("seed"))


def test_iteration_budget_stops_the_loop(problem: Path, tmp_path: Path) -> None:
    with serve(ScriptedModel([TESTS_JSON, WRONG, RIGHT])) as model:
        code, events, _ = solve(model, problem, tmp_path, "--kind", "algorithm", "--max-iters", "1")
    assert code == 1 and events[-1].reason == "iteration budget" and events[-1].iterations == 1


def test_out_gets_the_best_code(problem: Path, tmp_path: Path) -> None:
    out = tmp_path / "solution.py"
    with serve(ScriptedModel([TESTS_JSON, RIGHT])) as model:
        code, _, _ = solve(model, problem, tmp_path, "--kind", "algorithm", "--out", str(out))
    assert code == 0 and "print(a + b)" in out.read_text()


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (repo / "tests" / "test_calc.py").write_text(
        "import sys, os\nsys.path.insert(0, os.getcwd())\nfrom calc import add\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n"
    )
    return repo


BAD_DIFF = "```diff\n--- a/nothere.py\n+++ b/nothere.py\n@@ -1,1 +1,1 @@\n-x\n+y\n```"
GOOD_DIFF = (
    "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n```"
)


def test_fix_applies_the_diff_and_runs_the_tests(problem: Path, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with serve(ScriptedModel([BAD_DIFF, GOOD_DIFF])) as model:
        code, events, run_dir = solve(model, problem, tmp_path, "--repo", str(repo))
    assert code == 0, events
    assert events[0].kind == "fix" and events[-1].iterations == 2
    assert "did not apply" in "\n".join(model.user_texts(1))
    assert "calc.py" in "\n".join(model.user_texts(0)) and "python3 -m pytest" in "\n".join(model.user_texts(0))
    assert (repo / "calc.py").read_text().endswith("a - b\n"), "the user's repository is never changed"
    assert (run_dir / "iter-2" / "cand-1" / "code.diff").read_text().startswith("--- a/calc.py")


def test_ctrl_c_leaves_no_container(problem: Path, tmp_path: Path) -> None:
    slow = "```python\nimport time\ntime.sleep(120)\n```"
    client = docker.from_env()
    with serve(ScriptedModel([TESTS_JSON, slow])) as model:
        proc = subprocess.Popen(
            [
                AGENT,
                "solve",
                str(problem),
                "--model-url",
                model.url,
                "--kind",
                "algorithm",
                "--timeout",
                "120",
                "--run-dir",
                str(tmp_path / "run"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **FAULTHANDLER, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        )
        filters = {"label": [LABEL, f"{LABEL_PID}={proc.pid}"]}
        deadline = time.monotonic() + 60
        while len(model.requests) < 2 or not client.containers.list(sparse=True, filters=filters):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.0)
        _, stderr = interrupt(proc, timeout=60)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert client.containers.list(all=True, sparse=True, filters=filters) == []


def test_model_unavailable_exits_3(problem: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [AGENT, "solve", str(problem), "--model-url", "http://127.0.0.1:9/v1", "--kind", "algorithm"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert proc.returncode == 3
    assert "viscodex-train merge --preset viscodex-8b" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("content", [b"", b"not an image", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_bad_image_exits_2(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    proc = subprocess.run([AGENT, "solve", str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "bad.png" in proc.stderr and "Traceback" not in proc.stderr


def test_tall_screenshot_goes_as_strips(tmp_path: Path) -> None:
    tall = Image.new("RGB", (900, 12000), "white")
    draw = ImageDraw.Draw(tall)
    for y in range(0, 12000, 400):
        draw.text((20, y + 10), f"Section at {y}", fill="black")
    path = tmp_path / "tall.png"
    tall.save(path)
    with serve(ScriptedModel([TESTS_JSON, RIGHT])) as model:
        code, _, _ = solve(model, path, tmp_path, "--kind", "algorithm", "--max-iters", "1")
    assert code == 0
    assert model.image_count(1) > 1
    assert "overlapping strips" in "\n".join(model.user_texts(1))


def test_unavailable_stack_is_a_usage_error(problem: Path) -> None:
    proc = subprocess.run([AGENT, "solve", str(problem), "--stack", "vue"], capture_output=True, text=True)
    assert proc.returncode == 2 and "tailwind" in proc.stderr and "react" in proc.stderr


EXISTING = (
    "def add(a, b):\n    return a + b\n\n\n"
    "class Reader:\n    def pair(self, line):\n        return map(int, line.split())\n"
)
KEEPS = "```python\n" + EXISTING + "\n\na, b = Reader().pair(input())\nprint(add(a, b))\n```"


def test_an_edit_that_drops_existing_code_is_not_verified(problem: Path, tmp_path: Path) -> None:
    """With --context, the candidate must keep the file's definitions: RIGHT passes the tests but drops
    them all, so it scores 0 and the model is told which ones; the answer that keeps them verifies."""
    context = tmp_path / "solution.py"
    context.write_text(EXISTING)
    with serve(ScriptedModel([TESTS_JSON, RIGHT, KEEPS])) as model:
        code, events, _ = solve(model, problem, tmp_path, "--kind", "algorithm", "--context", str(context))
    scores = [e for e in events if e.type == "score"]
    assert code == 0 and [s.passed for s in scores] == [False, True], scores
    assert scores[0].score == 0.0 and scores[0].components["kept"] == 0.0 and scores[1].components["kept"] == 1.0
    feedback = "\n".join(model.user_texts(2))
    assert "drops 3 of the 3 definitions already in solution.py: Reader, Reader.pair, add" in feedback, feedback


def _long(body: str, helpers: int = 120) -> str:
    """An answer of several KB: the loop parses its code while it streams (every PARSE_EVERY_CHARS)."""
    defs = "".join(f"def helper_{i}(x):\n    return [x * {i} for _ in range(2)]\n\n\n" for i in range(helpers))
    return f"```python\n{defs}{body}\n```"


def test_long_answers_are_checked_while_they_stream(problem: Path, tmp_path: Path) -> None:
    """Answers longer than a few parse intervals take the primed path: a syntax error near the end is
    still found on the right line, and the fixed answer runs and verifies."""
    broken = _long("a, b = map(int, input().split())\nprint(a + (b)")
    right = _long("a, b = map(int, input().split())\nprint(a + b)")
    assert len(broken) > 5000
    with serve(ScriptedModel([TESTS_JSON, broken, right])) as model:
        code, events, _ = solve(model, problem, tmp_path, "--kind", "algorithm")
    errors = [e for e in events if e.type == "parse_error"]
    assert code == 0 and len(errors) == 1, events
    last_line = broken.count("\n") - 1  # the fence lines are not code
    assert errors[0].errors[0].startswith(f"line {last_line},"), errors[0].errors
