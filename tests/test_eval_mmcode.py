"""MMCode's judge and pass@k, with project-made problems; the judge runs in the real sandbox."""

from __future__ import annotations

import base64
import gzip
import json
from math import comb
from pathlib import Path

import pytest

from viscodex.sandbox import Sandbox
from viscodex.training.eval import mmcode
from viscodex.training.eval.fixtures import MMCODE_CASES

STDIO = json.dumps({"inputs": ["3\n1 2 3\n", "2\n5 5\n"], "outputs": ["6\n", "10\n"]})


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    for n, c, k in [(10, 3, 1), (10, 3, 5), (5, 0, 2), (5, 5, 5), (20, 7, 10), (4, 1, 4)]:
        expected = 1.0 - comb(n - c, k) / comb(n, k)
        assert mmcode.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_a_sample_passes_when_every_verdict_is_positive() -> None:
    assert mmcode.sample_passed([True, True])
    assert mmcode.sample_passed([])  # no tests: np.all of nothing is True in the harness too
    assert not mmcode.sample_passed([], empty_passes=False)  # quirk no-verdict-passes off
    assert not mmcode.sample_passed([True, False])
    assert not mmcode.sample_passed([True, -1])
    assert not mmcode.sample_passed([-2])


def test_rows_carry_n_passed_and_pass_at_each_k_up_to_n() -> None:
    problem = mmcode.Problem("p1", "q", STDIO)
    row = mmcode.row_for(problem, [[True, True], [True, False], [-1, -1]], ks=[1, 2, 5])
    assert row["n"] == 3 and row["passed"] == 1
    assert row["pass@1"] == pytest.approx(100 / 3)
    assert row["pass@2"] == pytest.approx(100 * (1 - comb(2, 2) / comb(3, 2)))
    assert "pass@5" not in row


def test_prompts_follow_generate_py() -> None:
    stdio = mmcode.prompt_for(mmcode.Problem("a", "Sum the numbers.", STDIO))
    assert stdio.startswith(mmcode.PREAMBLE)
    assert stdio.endswith(
        "\nQUESTION:\nSum the numbers.\nPlease write your code using Standard IO, i.e. input() and print().\nANSWER:\n"
    )
    call = mmcode.prompt_for(mmcode.Problem("b", "Q", json.dumps({"fn_name": "f", "inputs": [], "outputs": []})))
    assert "\\Please write your code using Call-Based format." in call


def test_code_is_the_first_python_block_else_the_answer() -> None:
    assert mmcode.extract_code("x\n```python\nprint(1)\n```\n```python\nprint(2)\n```") == "\nprint(1)\n"
    assert mmcode.extract_code("print(3)") == "print(3)"


def test_loader_reads_jsonl_gz_and_folders(tmp_path: Path) -> None:
    png = b"\x89PNG fake"
    records = [
        {
            "problem_id": "x1",
            "question": "Q1",
            "input_output": STDIO,
            "images": [base64.b64encode(png).decode()],
            "image_tags": ["table"],
            "data_split": "test",
        },
        {"problem_id": "x2", "question": "Q2", "input_output": STDIO, "images": [], "data_split": "train"},
    ]
    with gzip.open(tmp_path / "mmcode_test.jsonl.gz", "wt") as f:
        f.write("\n".join(json.dumps(r) for r in records) + "\n")
    problems = mmcode.load(tmp_path)
    assert [p.id for p in problems] == ["x1"] and problems[0].images == (png,)
    folder = tmp_path / "folder" / "cf_1"
    (folder / "images").mkdir(parents=True)
    (folder / "data.json").write_text(json.dumps({"question": "Q", "input_output": STDIO, "data_split": "test"}))
    for name in ("10", "2"):
        (folder / "images" / f"{name}.png").write_bytes(name.encode())
    loaded = mmcode.load(tmp_path / "folder")
    assert loaded[0].id == "cf_1" and loaded[0].images == (b"2", b"10")
    with pytest.raises(mmcode.DataError):
        mmcode.load(tmp_path / "nothing")


# --- the judge in the sandbox ----------------------------------------------------------------------

OFFICIAL = {
    "float_close": [True],
    "float_far": [False],
    "function": [True, False],
    "guarded_os": [-1, -1],
    "lines_vs_blank": [True],
    "right": [True, True],
    "rounded_sets": [True],
    "rounded_words": [False],
    "runtime_error": [-1, -1],
    "solution_class": [True, False],
    "syntax_error": [-2],
    "sys_stdin": [True, True],
    "token_sets": [True],
    "wrong": [False, False],
}
"""The official harness's verdicts on MMCODE_CASES (its testing_utils.run_test, in the sandbox), made with
``.venv/bin/python -m viscodex.training.eval.official_mmcode --mirror /work/.mirror/likaixin2000+MMCode/repo``."""


def test_every_fixture_has_an_official_verdict() -> None:
    assert set(OFFICIAL) == set(MMCODE_CASES)


@pytest.mark.parametrize("name", sorted(MMCODE_CASES))
def test_judge_agrees_with_the_official_harness(sandbox: Sandbox, name: str) -> None:
    code, io_spec = MMCODE_CASES[name]
    assert mmcode.judge(sandbox, code, io_spec) == OFFICIAL[name]


def test_each_test_has_its_alarm_and_the_problem_a_global_timeout(sandbox: Sandbox) -> None:
    io = json.dumps({"inputs": ["1", "2"], "outputs": ["1", "2"]})
    slow_first = "x = input()\nif x == '1':\n    while True:\n        pass\nprint(x)\n"
    assert mmcode.judge(sandbox, slow_first, io, test_timeout_s=1, problem_timeout_s=10) == [-1, True]
    always_slow = "import time\ntime.sleep(1.5)\nprint(input())\n"
    assert mmcode.judge(sandbox, always_slow, io, test_timeout_s=5, problem_timeout_s=2) == [-1, -1]


LOOSE = {"float_close", "token_sets", "rounded_sets"}
"""The fixtures that pass only through the harness's loose comparisons (quirk ``loose-output``)."""


@pytest.mark.parametrize("name", sorted(LOOSE | {"right", "lines_vs_blank"}))
def test_loose_output_quirk_off_judges_by_lines_only(sandbox: Sandbox, name: str) -> None:
    code, io_spec = MMCODE_CASES[name]
    strict = mmcode.judge(sandbox, code, io_spec, quirks=frozenset({"no-verdict-passes"}))
    assert strict == ([False] if name in LOOSE else OFFICIAL[name])


# --- whole runs: the agent loop and the embedded backend ------------------------------------------


def _one_problem(tmp_path: Path) -> Path:
    data = tmp_path / "mmcode.jsonl"
    record = {"problem_id": "add", "question": "Add the two numbers.", "input_output": STDIO}
    data.write_text(json.dumps(record) + "\n")
    return data


@pytest.mark.slow
def test_mmcode_in_the_agent_loop(tmp_path: Path, sandbox_image: str) -> None:
    """``--agent``: the loop (scripted model, a test double) writes the program; its best code is judged."""
    from helpers import console
    from scripted_model import ScriptedModel, serve

    right = "```python\nn = int(input())\nprint(sum(map(int, input().split())))\n```"
    out = tmp_path / "agent"
    with serve(ScriptedModel([right] * 6)) as model:
        proc = console(
            "viscodex-train",
            *("eval", "--bench", "mmcode", "--data", str(_one_problem(tmp_path)), "--out", str(out)),
            *("--model-url", model.url, "--agent", "--max-iters", "1", "--workers", "1"),
            timeout=600,
        )
    assert proc.returncode == 0, proc.stderr
    row = json.loads((out / "items.jsonl").read_text())
    assert row["id"] == "add" and row["verdicts"] == [[True, True]] and row["pass@1"] == 100.0
    assert (out / "agent" / "add" / "sample-0").is_dir() and len(model.requests) >= 1
    assert "agent loop, at most 1 iterations" in json.loads((out / "summary.json").read_text())["notes"][0]


@pytest.mark.slow
def test_mmcode_through_the_embedded_backend(tmp_path: Path, tiny_models: dict[str, Path], sandbox_image: str) -> None:
    """``--model-path``: a tiny random checkpoint answers in-process (nonsense, so it fails the tests)."""
    from helpers import console

    out = tmp_path / "embedded"
    proc = console(
        "viscodex-train",
        *("eval", "--bench", "mmcode", "--data", str(_one_problem(tmp_path)), "--out", str(out)),
        *("--model-path", str(tiny_models["vlm"]), "--max-tokens", "10", "--workers", "1"),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    row = json.loads((out / "items.jsonl").read_text())
    assert row["id"] == "add" and row["n"] == 1 and row["pass@1"] == 0.0 and len(row["verdicts"][0]) >= 1
    assert (out / "answers" / "add.md").is_file()
    assert str(tiny_models["vlm"]) in json.loads((out / "summary.json").read_text())["notes"][0]
