"""MMCode: pass@1 and pass@k of programs written from visually rich problems, judged as its harness does.

Re-implemented from likaixin2000/MMCode @ 534ffa8 (``eval.py``, ``testing_utils.py``, ``generate.py``;
the repository carries no licence, so nothing is copied). Reproduced:

- the prompt (``generate_prompt`` with GPT-4V's preamble) and the code extraction (the first
  ```` ```python ```` block, else the whole answer);
- the judge, run inside the sandbox by ``HARNESS``: the program is executed in-process with the same
  imports prepended; a Standard-IO answer is wrapped in ``def code():`` (import lines stay outside),
  stdin, ``open`` and ``sys.stdin.readline``/``readlines``/``read`` are patched to serve the input, stdout
  is captured as lines; a call-based answer's ``fn_name`` is called (on ``Solution()`` if the code defines
  ``class Solution``). The output comparison is the harness's chain, in its order: stripped text, lists of
  lines, lines without blanks, then ``np.allclose`` when every line parses as a float, then sets of
  whitespace-separated tokens, then those tokens rounded to 3 decimals. Each test has a 20 s alarm, the
  whole problem 21 s (past it every test counts as failed: -1); a compile error is -2. Destructive
  ``os``/``shutil``/``subprocess`` functions are disabled before the program runs (``reliability_guard``).
- a sample passes when all its verdicts are > 0 (so a problem without tests passes, as there);
  pass@k is the unbiased estimator ``1 - C(n-c, k)/C(n, k)``, averaged over problems, for each k <= n.

Differences: the harness's global 21 s here also covers starting the interpreter in the sandbox (well
under a second), and the sandbox adds its own memory and process limits.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .quirks import defaults as _default_quirks

PREAMBLE = (
    "You are required to solve a programming problem. Please enclose your code inside a ```python``` block. "
    "Do not write a main() function. If Call-Based format is used, return the result in an appropriate place "
    "instead of printing it.\n\n"
)
TEST_TIMEOUT_S = 20
"""``testing_utils.timeout``: the alarm around each test."""
PROBLEM_TIMEOUT_S = 21
"""``eval.TIMEOUT + 1``: the join timeout of the process that runs all of a problem's tests."""
MARKER = "@@viscodex-mmcode@@"
QUIRKS = _default_quirks("mmcode")
"""The official quirks reproduced unless switched off (``quirks.QUIRKS`` says what each does)."""


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    input_output: str
    starter_code: str = ""
    images: tuple[bytes, ...] = ()
    image_tags: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def test_count(self) -> int:
        try:
            return len(json.loads(self.input_output).get("inputs", []))
        except (ValueError, AttributeError):
            return 0


def load(data: Path, split: str = "test") -> list[Problem]:
    """Problems from MMCode's published layouts: a ``.jsonl`` / ``.jsonl.gz`` file (images as base64), a
    folder holding one, or the folder layout (``<id>/data.json`` + ``<id>/images/<n>.png``). Only the
    ``split`` problems are kept when the data says which split each belongs to (the harness default)."""
    problems = list(_read(data))
    if not problems:
        raise DataError(f"{data} holds no MMCode problems (a .jsonl[.gz] file or <id>/data.json folders)")
    return [p for p in problems if p.extra.get("data_split", split) == split]


def _read(data: Path) -> Iterator[Problem]:
    if data.is_file():
        opener = gzip.open if data.suffix == ".gz" else open
        with opener(data, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    record = json.loads(line)
                    images = [base64.b64decode(i) for i in record.get("images", [])]
                    yield _problem(record, images)
        return
    if not data.is_dir():
        return
    files = sorted([*data.glob("*.jsonl"), *data.glob("*.jsonl.gz")])
    if files:
        for file in files:
            yield from _read(file)
        return
    for sub in sorted(p for p in data.iterdir() if (p / "data.json").is_file()):
        record = json.loads((sub / "data.json").read_text(encoding="utf-8"))
        record.setdefault("problem_id", sub.name)
        pictures = sorted((sub / "images").glob("*.png"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
        yield _problem(record, [p.read_bytes() for p in pictures])


def _problem(record: Mapping[str, Any], images: Sequence[bytes]) -> Problem:
    io = record.get("input_output", "")
    return Problem(
        id=str(record["problem_id"]),
        question=str(record.get("question", "")),
        input_output=io if isinstance(io, str) else json.dumps(io),
        starter_code=str(record.get("starter_code") or ""),
        images=tuple(images),
        image_tags=tuple(record.get("image_tags") or ()),
        extra={k: v for k, v in record.items() if k in ("data_split", "name", "source", "difficulty", "url")},
    )


def prompt_for(problem: Problem) -> str:
    """``generate.generate_prompt`` (its ``"\\Please"`` typo included) behind GPT-4V's preamble."""
    prompt = "\nQUESTION:\n" + problem.question
    starter = problem.starter_code or None
    try:
        fn_name = json.loads(problem.input_output).get("fn_name") or None
    except (ValueError, AttributeError):
        fn_name = None
    if not fn_name and not starter:
        prompt += "\nPlease write your code using Standard IO, i.e. input() and print()."
    else:
        prompt += "\\Please write your code using Call-Based format."
    if starter:
        prompt += "The starter code is provided as below. Please finish the code.\n" + starter + "\n"
    prompt += "\nANSWER:\n"
    return PREAMBLE + prompt


def extract_code(answer: str) -> str:
    found = re.findall(r"```python(.*?)```", answer, re.DOTALL)
    return str(found[0]) if found else answer


HARNESS = r'''
import builtins, faulthandler, importlib.util, json, signal, sys
from io import StringIO
from unittest.mock import mock_open, patch
import numpy as np

MARKER = "@@viscodex-mmcode@@"
REAL_STDOUT = sys.stdout
IMPORTS = ("import sys\nimport time\nimport itertools\nfrom itertools import accumulate, product, permutations, "
           "combinations\nimport collections\nfrom collections import Counter, OrderedDict, deque, defaultdict, "
           "ChainMap\nfrom functools import lru_cache\nimport math\nfrom math import sqrt, sin, cos, tan, ceil, fabs, "
           "floor, gcd, exp, log, log2\nimport fractions\nfrom typing import List, Tuple\nimport numpy as np\n"
           "import random\nimport heapq\nfrom heapq import *\n")

class Alarm(Exception):
    pass

def _ring(signum, frame):
    print("alarm went off")
    raise Alarm

signal.signal(signal.SIGALRM, _ring)

class Lines(list):
    def __enter__(self):
        self._saved = sys.stdout
        sys.stdout = self._buffer = StringIO()
        self._buffer.close = lambda *a: 1
        return self
    def __exit__(self, *exc):
        self.extend(self._buffer.getvalue().splitlines())
        sys.stdout = self._saved

def guard():
    faulthandler.disable()
    import os, shutil, subprocess
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
                 "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
                 "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
        setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None

def module_of(source):
    spec = importlib.util.spec_from_loader("tmp_sol", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(source, module.__dict__)
    return module

def wrap_stdio(code):
    lines = []
    for x in code.split("\n"):
        lines.append(x + "\n" if x.startswith("from ") or x.startswith("import ") else "\t" + x + "\n")
    out, started = "", False
    for line in lines:
        if line.startswith("\t") and not started:
            out += "stdin = sys.stdin\nstdout = sys.stdout\ndef code():\n" + line
            started = True
        elif started and (line.startswith("from ") or line.startswith("import ")):
            out += "\t" + line
        else:
            out += line
    return out

def feed(method, text):
    lines = iter(text.split("\n"))
    @patch("builtins.open", mock_open(read_data=text))
    @patch("sys.stdin", StringIO(text))
    @patch("sys.stdin.readline", lambda *a: next(lines))
    @patch("sys.stdin.readlines", lambda *a: text.split("\n"))
    @patch("sys.stdin.read", lambda *a: text)
    def inner(m):
        try:
            return m()
        except SystemExit:
            pass
    return inner(method)

def stripped_equal(output, expected):
    if isinstance(output, list):
        if "\n".join(output).strip() == expected.strip():
            return True
        if "\n".join(o.strip() for o in output).strip() == expected.strip():
            return True
    return False

def judge_stdio(output, expected):
    """The harness's comparison chain for one Standard-IO test; ``expected`` is one string."""
    if stripped_equal(output, expected):
        return True
    result = False
    try:
        result = output == [expected]
    except Exception:
        pass
    if result == True:  # the harness compares with ==: numpy's True counts
        return True
    expected = [x.strip() for x in filter(len, expected.split("\n"))]
    try:
        result = (output == [expected]) or (output == expected)
    except Exception:
        pass
    if result == True:  # the harness compares with ==: numpy's True counts
        return True
    if isinstance(output, list):
        output = list(filter(len, output))
    try:
        result = (output == [expected]) or (output == expected)
    except Exception:
        pass
    if not LOOSE:  # quirk loose-output off: no float, token-set or rounding fallbacks
        return result == True
    try:
        mine = [float(e) for e in output]
        theirs = [float(e) for e in expected]
        result = result or (len(mine) == len(theirs) and np.allclose(mine, theirs))
    except Exception:
        pass
    try:
        if isinstance(output[0], list):
            mine = [float(e) for e in output[0]]
            theirs = [float(e) for e in expected[0]]
            result = result or (len(mine) == len(theirs) and np.allclose(mine, theirs))
    except Exception:
        pass
    if result == True:  # the harness compares with ==: numpy's True counts
        return True
    expected = [set(e.split()) for e in expected]
    try:
        result = output == expected
    except Exception:
        return None  # the harness appends nothing for this test
    if result == True:  # the harness compares with ==: numpy's True counts
        return True
    if isinstance(output, list):
        output = [set(o.split()) for o in output]
        output = [o for o in output if len(o)]
    try:
        result = set(frozenset(s) for s in output) == set(frozenset(s) for s in expected)
    except Exception:
        pass
    try:
        result = result or (set(frozenset(round(float(t), 3) for t in s) for s in output)
                            == set(frozenset(round(float(t), 3) for t in s) for s in expected))
    except Exception:
        pass
    return result

def run(code, io):
    guard()
    results = []
    fn_name = io.get("fn_name")
    if fn_name is None:
        source, name = IMPORTS + wrap_stdio(code), "code"
    else:
        source, name = IMPORTS + code, fn_name
    signal.alarm(TEST_TIMEOUT)
    try:
        module = module_of(source.replace("__main__", "tmp_sol"))
        target = module.Solution() if fn_name is not None and "class Solution" in code else module
        signal.alarm(0)
    except Exception:  # SystemExit is not caught there either: the run ends, every test counts as failed
        signal.alarm(0)
        return [-2]
    try:
        method = getattr(target, name)
    except BaseException:
        return [-2]
    outputs = io["outputs"]
    for index, inputs in enumerate(io["inputs"]):
        try:
            if isinstance(inputs[0], dict):
                inputs = [{int(k): v for k, v in inputs[0].items()}]
        except Exception:
            pass
        try:
            if isinstance(outputs[index], dict):
                outputs[index] = [{int(k): v for k, v in outputs[index].items()}]
        except Exception:
            pass
        try:
            if isinstance(outputs[index][0], dict):
                outputs[index] = [{int(k): v for k, v in outputs[index][0].items()}]
        except Exception:
            pass
        if fn_name is not None:
            signal.alarm(TEST_TIMEOUT)
            try:
                output = method(*inputs)
                if isinstance(output, tuple):
                    output = list(output)
                verdict = output == outputs[index]
                if isinstance(outputs[index], list) and outputs[index]:
                    verdict = verdict or (output == outputs[index][0])
                try:
                    if isinstance(output[0], tuple):
                        verdict = verdict or ([list(x) for x in output] == outputs[index][0])
                except Exception:
                    pass
                results.append(verdict)
                signal.alarm(0)
            except Exception:
                signal.alarm(0)
                results.append(-1)
            continue
        text = "\n".join(inputs) if isinstance(inputs, list) else inputs
        expected = "\n".join(outputs[index]) if isinstance(outputs[index], list) else outputs[index]
        signal.alarm(TEST_TIMEOUT)
        passed = False
        with Lines() as output:
            try:
                feed(method, text)
                signal.alarm(0)
                passed = True
            except Exception as exc:
                signal.alarm(0)
                print("runtime error or time limit exceeded", repr(exc))
                results.append(-1)
            signal.alarm(0)
        if not passed:
            continue
        verdict = judge_stdio(list(output), expected)
        if verdict is not None:
            results.append(verdict)
        elif not NO_VERDICT_PASSES:
            results.append(False)
    return results

def plain(v):
    if isinstance(v, np.ndarray):
        v = v.item(0)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    return int(v) if isinstance(v, (int, np.integer)) else bool(v)

job = json.load(open("job.json"))
TEST_TIMEOUT = job["test_timeout"]
LOOSE = "loose-output" in job["quirks"]
NO_VERDICT_PASSES = "no-verdict-passes" in job["quirks"]
verdicts = [plain(v) for v in run(job["code"], json.loads(job["input_output"]))]
REAL_STDOUT.write("\n" + MARKER + json.dumps(verdicts) + "\n")
REAL_STDOUT.flush()
'''
"""The judge that runs in the sandbox (``python3 harness.py`` with ``job.json`` beside it)."""


def judge(
    sandbox: Any,
    code: str,
    input_output: str,
    *,
    test_timeout_s: float = TEST_TIMEOUT_S,
    problem_timeout_s: float = PROBLEM_TIMEOUT_S,
    quirks: frozenset[str] = QUIRKS,
) -> list[bool | int]:
    """The harness's verdicts for one program: True/False per test, -1 a runtime error or timeout, -2 a
    compile error. Past ``problem_timeout_s`` every test is -1, as the harness's global timeout makes them."""
    try:
        tests = len(json.loads(input_output)["inputs"])
    except (ValueError, KeyError, TypeError):
        tests = 0
    job = {"code": code, "input_output": input_output, "test_timeout": int(test_timeout_s), "quirks": sorted(quirks)}
    result = sandbox.run(
        command=["python3", "harness.py"],
        files={"harness.py": HARNESS, "job.json": json.dumps(job)},
        timeout_s=problem_timeout_s,
    )
    at = result.stdout.rfind(MARKER)
    if result.timed_out or at < 0:
        return [-1] * tests
    try:
        verdicts = json.loads(result.stdout[at + len(MARKER) :].splitlines()[0])
    except (json.JSONDecodeError, IndexError):
        return [-1] * tests
    return [v if isinstance(v, bool) else int(v) for v in verdicts]


def sample_passed(verdicts: Sequence[bool | int], *, empty_passes: bool = True) -> bool:
    """``np.all(np.array(verdicts) > 0)``: every verdict True (an empty list passes, as there, unless the
    quirk ``no-verdict-passes`` is off: ``empty_passes`` False)."""
    if not verdicts and not empty_passes:
        return False
    return all(v is True or (not isinstance(v, bool) and v > 0) for v in verdicts)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator of the Codex paper, as the harness computes it."""
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def row_for(
    problem: Problem, verdicts: Sequence[Sequence[bool | int]], ks: Sequence[int], quirks: frozenset[str] = QUIRKS
) -> dict[str, Any]:
    """One item's row: samples ``n``, samples that passed ``passed``, and ``pass@k`` (0-100) for k <= n."""
    n = len(verdicts)
    c = sum(sample_passed(v, empty_passes="no-verdict-passes" in quirks) for v in verdicts)
    row: dict[str, Any] = {"id": problem.id, "n": n, "passed": c}
    for k in ks:
        if k <= n:
            row[f"pass@{k}"] = 100 * pass_at_k(n, c, k)
    row["verdicts"] = [list(v) for v in verdicts]
    return row


def fields(ks: Sequence[int]) -> tuple[str, ...]:
    return tuple(f"pass@{k}" for k in ks)
