"""InfiBench(-V): free-form answers to coding questions, graded per question by its YAML case as the official
evaluator grades them. Re-implemented from infi-coder/infibench-evaluator @ HEAD of its mirror
(``grader_main.grade_response``, ``grader_utils``, ``execution_utils``; MIT, nothing copied verbatim).

Layout read by ``load``: a folder (searched recursively) of case files ``*.yaml`` / ``*.yml`` that have a
``grading`` key (the official ``cases_dev/eval_<id>.yaml``), each with ``id``, ``lang``, ``type``, the question
in ``prompt_path`` (relative to the case, as there) or inline as ``prompt``, the files its grading names
beside it (``path``, ``prefix_path`` of unit tests, similarity ``references``), and, for InfiBench-V, its
images: an ``images:`` list of paths relative to the case, else ``<id>.png`` and ``<id>_<n>.png`` beside it
(n from 1). A case without images is kept (a text-only InfiBench question).

Reproduced, per question (``grade_response``):
- ``keywords``: each rule a string or ``{content, weight (1), to_lower (false), neg (false)}``; ``content``
  may be a nested ``{content|or|and, regex, cond}`` (``regex`` counts only inside ``content``, as there: a
  rule-level ``regex`` is ignored by ``grade_response``, which passes ``regex=False``). ``to_lower`` lowers the
  pattern too; a regex matches with ``re.search``, a plain keyword as a substring; ``cond`` is evaluated with
  ``context`` (the previous rules' ``match``/``unmatch``) and ``ans``. A negative rule subtracts its weight
  when it matches and adds nothing to the total.
- ``blank_filling``: the template is aligned to ``prefix + answer`` by the official LCS (ties prefer the later
  match, one-character lookahead), nothing is credited below a 0.8 template match rate, each blank's text is
  stripped of ``escape`` (default `` '"` `` and space) and compared exactly, by ``re.fullmatch``, or as a
  substring (``substr_match``), after lowering (``to_lower``); ``cond`` sees ``grading_details``.
- ``unit_test`` (Python): per test, the answer behind its ``prefix``, then the code blocks joined by blank
  lines when it has at least two fences (the longest one with ``only_longest``), else ``remove_last_block``;
  then ``prefix_path``'s file, the harness's import helpers in front, ``from __future__`` lines first, the test
  appended, and the program ``exec``'d with a ``timeout`` (default 10 s) alarm. It passes when nothing raised
  (``SystemExit`` included). It runs in the project's sandbox (``Sandbox.run``), never on the host.
- ``similarity``: ROUGE as ``evaluate.load('rouge')`` computes it (rouge_score's tokenizer, no stemmer,
  ``score_multi``: the best reference per type, F-measure), normalised as
  ``clip((raw - min_score) / (max_score - min_score), 0, 1)`` with defaults 0.3 and 0.53 (rouge1) / 0.51.
- The question's score ``ans / tot`` after ``grading.max_score`` (replaces ``tot`` and caps ``ans``) and
  ``grading.min_score`` (floors ``ans``); the evaluator multiplies it by ``full_score`` (default 1), a row
  carries it as ``score`` x 100 and ``points`` (x ``full_score``). The official total divides the summed points
  by the summed full scores, so the summary's mean ``score`` equals it when every question has the same
  ``full_score`` (as in the dev set but five questions).
- Each component's row field (``keywords``, ``blank_filling``, ``unit_test``, ``similarity``) is its own
  ``*_score / *_totscore`` x 100, the ``_score`` and ``_totscore`` raw beside it, absent when the case lacks it.

Not reproduced (the row's ``unscored`` lists it, and that part adds nothing): unit tests in languages other
than Python (the official runner compiles Java, C++, C#, Go, TypeScript, R and runs node), ``customized``
graders and keyword / blank-filling ``post_handler``s (they import the case's Python modules), ``cleanup_path``
(the sandbox is thrown away). Differences: an import helper the sandbox lacks (``yolk``, ``openpyxl``, ...)
is skipped instead of failing every test (the official ``setup.sh`` installs them all); a question whose
total is 0 scores 0 of 0 (the evaluator's ``ZeroDivisionError`` makes it 0 of 0 there too). Answers are
the model's only sample unless ``--samples`` asks for more; several are averaged (the evaluator's ``avg``;
the dev suite's ``avg_max_10`` needs 30).
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import DataError

COMPONENTS = ("keywords", "blank_filling", "unit_test", "similarity")
FIELDS = ("score", *COMPONENTS)
NON_QA_SYSTEM_PROMPT = (
    "You are a professional assistant for programmers. By default, questions and answers are in Markdown format."
)
QA_SYSTEM_PROMPT = NON_QA_SYSTEM_PROMPT + (
    " You are chatting with programmers, so please answer as briefly as possible."
)
PYTHON_TIMEOUT_S = 10
"""``LANGUAGE_TO_TIMEOUT['python']``."""
PYTHON_IMPORTS = (
    "import math",
    "import re",
    "import sys",
    "import copy",
    "import datetime",
    "import itertools",
    "import collections",
    "import heapq",
    "import statistics",
    "import functools",
    "import hashlib",
    "import numpy",
    "import numpy as np",
    "import pandas as pd",
    "import string",
    "import requests",
    "import openpyxl",
    "import xlsxwriter",
    "import yolk",
    "from typing import *",
    "from collections import *",
)
"""``IMPORT_HELPER['python']``, in its order."""
PYTHON_STOP_WORDS = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\nassert")
MARKER = "@@viscodex-infibench@@"
LANGS = {
    "python": "python",
    **dict.fromkeys(["c", "c++", "cpp", "c/c++", "c++/c", "cpp/c", "c/cpp"], "cpp"),
    **dict.fromkeys(["js", "javascript"], "javascript"),
    "java": "java",
    **dict.fromkeys(["c#", "c-sharp", "csharp", "cs"], "c#"),
    **dict.fromkeys(["ts", "typescript"], "typescript"),
    "r": "r",
    "go": "go",
}
"""``grade_response``'s language names for unit tests."""


@dataclass(frozen=True)
class UnitTest:
    reference: str
    prefix: str = ""
    prefix_from_file: str = ""
    weight: float = 1.0
    timeout: float | None = None
    only_longest: bool = False


@dataclass(frozen=True)
class Case:
    id: str
    prompt: str
    grading: dict[str, Any]
    lang: str = ""
    type: str = ""
    full_score: float = 1.0
    images: tuple[Path, ...] = ()
    tests: tuple[UnitTest, ...] = ()
    """``grading.unit_test.tests`` with their files read."""
    references: tuple[tuple[str, ...], ...] = ()
    """Each ``grading.similarity`` metric's reference texts, files read."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


# --- loading ---------------------------------------------------------------------------------------


def load(data: Path) -> list[Case]:
    """The cases under ``data`` (see the module's docstring for the layout), sorted by id."""
    if not data.is_dir():
        raise DataError(f"{data} is not a folder of InfiBench case files (*.yaml with a grading key)")
    cases = []
    for path in sorted([*data.rglob("*.yaml"), *data.rglob("*.yml")]):
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DataError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if isinstance(config, dict) and isinstance(config.get("grading"), dict):
            cases.append(_case(path, config))
    if not cases:
        raise DataError(f"{data} holds no InfiBench case files (*.yaml with a grading key)")
    return sorted(cases, key=lambda c: c.id)


def _read(case_path: Path, relative: str, what: str) -> str:
    path = case_path.parent / relative
    if not path.is_file():
        raise DataError(f"{case_path}: its {what} {relative} is missing")
    return path.read_text(encoding="utf-8")


def _case(path: Path, config: Mapping[str, Any]) -> Case:
    case_id = str(config.get("id") or path.stem.removeprefix("eval_"))
    if "prompt" in config:
        prompt = str(config["prompt"])
    elif "prompt_path" in config:
        prompt = _read(path, str(config["prompt_path"]), "prompt_path")
    else:
        raise DataError(f"{path}: no prompt_path or prompt")
    grading = dict(config["grading"])
    tests: list[UnitTest] = []
    unit = grading.get("unit_test")
    for test in (unit or {}).get("tests", []) if isinstance(unit, dict) else []:
        if isinstance(test, str):
            tests.append(UnitTest(test))
            continue
        reference = _read(path, test["path"], "unit test") if "path" in test else str(test["content"])
        prefix_file = _read(path, test["prefix_path"], "prefix_path") if test.get("prefix_path") else ""
        timeout = test.get("timeout")
        tests.append(
            UnitTest(
                reference,
                prefix=str(test.get("prefix", "")),
                prefix_from_file=prefix_file,
                weight=float(test.get("weight", 1.0)),
                timeout=float(timeout) if timeout is not None else None,
                only_longest=bool(test.get("only_longest", False)),
            )
        )
    blanks = grading.get("blank_filling")
    if isinstance(blanks, dict):
        count = str(blanks.get("template", "")).count(str(blanks.get("blank_str", "[blank]")))
        if count != len(blanks.get("targets") or []):
            raise DataError(f"{path}: blank_filling has {count} blanks but {len(blanks.get('targets') or [])} targets")
    references = []
    for metric in grading.get("similarity") or []:
        texts = [r if isinstance(r, str) else _read(path, r["path"], "reference") for r in metric["references"]]
        references.append(tuple(texts))
    if "images" in config:
        images = tuple(path.parent / str(name) for name in config["images"] or [])
        for image in images:
            if not image.is_file():
                raise DataError(f"{path}: its image {image.name} is missing")
    else:
        first = path.parent / f"{case_id}.png"
        more = sorted(
            (p for p in path.parent.glob(f"{case_id}_*.png") if p.stem[len(case_id) + 1 :].isdigit()),
            key=lambda p: int(p.stem[len(case_id) + 1 :]),
        )
        images = tuple([first] if first.is_file() else []) + tuple(more)
    return Case(
        id=case_id,
        prompt=prompt,
        grading=grading,
        lang=str(config.get("lang", "")),
        type=str(config.get("type", "")),
        full_score=float(config.get("full_score", 1.0)),
        images=images,
        tests=tuple(tests),
        references=tuple(references),
        extra={k: config[k] for k in ("type", "lang") if k in config},
    )


def prompt_for(case: Case) -> str:
    """The official system prompt (``dump_prompts_to_csv``: the Q&A one when similarity is the only grading)
    and the question, joined by a newline as that script counts them."""
    qa = "similarity" in case.grading and len(case.grading) == 1
    return (QA_SYSTEM_PROMPT if qa else NON_QA_SYSTEM_PROMPT) + "\n" + case.prompt


# --- keywords --------------------------------------------------------------------------------------


def keyword_match(
    rule: str | Mapping[str, Any], to_lower: bool, regex: bool, response: str, context: list[str]
) -> bool:
    """``grader_utils.keyword_match``."""
    if isinstance(rule, str):
        if to_lower:
            rule, response = rule.lower(), response.lower()
        return re.search(rule, response) is not None if regex else rule in response
    regex = bool(rule.get("regex", regex))
    if "or" in rule:
        ans = any([keyword_match(c, to_lower, regex, response, context) for c in rule["or"]])
    elif "and" in rule:
        ans = all([keyword_match(c, to_lower, regex, response, context) for c in rule["and"]])
    else:
        ans = keyword_match(rule["content"], to_lower, regex, response, context)
    if "cond" in rule:
        ans = ans and bool(eval(str(rule["cond"]), {"__builtins__": {}}, {"context": context, "ans": ans}))  # noqa: S307 (the official cond)
    return ans


def score_keywords(rules: Sequence[Any], response: str) -> tuple[float, float, list[str], bool]:
    """``grade_response``'s keyword part: (score, total, match/unmatch per rule, had a post_handler)."""
    now, tot, handler = 0.0, 0.0, False
    context: list[str] = []
    for rule in rules:
        if isinstance(rule, str):
            content: Any = rule
            weight, to_lower, neg = 1.0, False, False
        else:
            if "post_handler" in rule:
                handler = True
                continue
            content = rule["content"]
            weight = float(rule.get("weight", 1.0))
            to_lower = bool(rule.get("to_lower", False))
            neg = bool(rule.get("neg", False))
        if keyword_match(content, to_lower, False, response, context):
            context.append("match")
            now += -weight if neg else weight
        else:
            context.append("unmatch")
        tot += 0.0 if neg else weight
    return now, tot, context, handler


# --- blank filling ---------------------------------------------------------------------------------


def lcs_align(template: str, target: str) -> tuple[int, list[int]]:
    """``grader_utils.LCS``: the LCS length and, per template character, its matched index in ``target``."""
    n, m = len(template), len(target)
    f = [[0] * m for _ in range(n)]
    s_all = [[0] * m for _ in range(n)]
    for i in range(n):
        fi, si, a = f[i], s_all[i], template[i]
        fp, sp = (f[i - 1], s_all[i - 1]) if i else (None, None)
        for j in range(m):
            if i * j > 0:
                assert fp is not None and sp is not None
                if a == target[j]:
                    fi[j] = fp[j - 1] + 1
                    si[j] = j
                else:
                    left, up = fi[j - 1], fp[j]
                    fi[j] = max(left, up)
                    if left == up:
                        si[j] = max(si[j - 1], sp[j])
                    else:
                        si[j] = si[j - 1] if left >= up else sp[j]
            elif a == target[j]:
                fi[j] = 1
                si[j] = j
    s = [0] * n
    p = s_all[n - 1][m - 1]
    for i in range(n - 1, -1, -1):
        s[i] = p if template[i] == target[p] else p + 1
        if i > 0 and template[i] == target[p]:
            p = s_all[i - 1][p - 1]
    return f[n - 1][m - 1], s


def score_blank_filling(config: Mapping[str, Any], response: str) -> tuple[float, float, list[str]]:
    """``blank_filling_match`` on ``prefix + response`` with the config's template and targets."""
    template = str(config["template"])
    blank = str(config.get("blank_str", "[blank]"))
    escape = str(config.get("escape", " '\"`"))
    targets = list(config["targets"])
    response = str(config.get("prefix", "")) + response
    if response == "":
        response = " "
    length, s = lcs_align(template, response)
    places = [i for i in range(len(template)) if template.startswith(blank, i)]
    if len(places) != len(targets):
        raise DataError(f"blank_filling: {len(places)} blanks but {len(targets)} targets")
    rate = length / (len(template) - len(places) * len(blank))
    now, tot, details = 0.0, 0.0, []
    for no, target in enumerate(targets):
        plain = isinstance(target, str)
        weight = 1.0 if plain else float(target.get("weight", 1.0))
        to_lower = False if plain else bool(target.get("to_lower", False))
        substr = False if plain else bool(target.get("substr_match", False))
        tot += weight
        if rate < 0.8:
            details.append(f"unmatched: match rate too low - {rate}")
            continue
        at = places[no]
        start = s[at] if at == 0 else s[at - 1] + 1
        response_str = response[start : s[at + len(blank)]].strip(escape)
        anses = [target] if plain else target["content"]
        if isinstance(anses, str):
            anses = [anses]
        status, matched = "unmatched", False
        for ans in anses:
            ans_str = ans if isinstance(ans, str) else str(ans["content"])
            ans_cond = None if isinstance(ans, str) else ans.get("cond")
            ans_re = False if isinstance(ans, str) else bool(ans.get("regex", False))
            status = f"response string: {response_str}, ans: {ans_str}"
            if to_lower:
                response_str, ans_str = response_str.lower(), ans_str.lower()
            if substr:
                hit = ans_str in response_str if not ans_re else re.search(ans_str, response_str) is not None
            else:
                hit = response_str == ans_str if not ans_re else re.fullmatch(ans_str, response_str) is not None
            scope = {"grading_details": details, "ans_str": ans_str, "ans_re": ans_re, "response_str": response_str}
            if hit and (ans_cond is None or eval(str(ans_cond), {"__builtins__": {}}, scope)):  # noqa: S307 (official)
                now += weight
                matched = True
                status = "matched: " + status
                break
        details.append(status if matched else "unmatched: " + status)
    return now, tot, details


# --- unit tests ------------------------------------------------------------------------------------


def remove_last_block(code: str) -> str:
    """``execution_utils.remove_last_block`` for Python."""
    for word in PYTHON_STOP_WORDS:
        if word in code:
            code = code[: code.find(word)]
    lines = code.split("\n")
    for i, line in enumerate(lines):
        if len(line.strip()) > 0 and line[0] != " " and line[0] != "\t":
            return "\n".join(lines[:i])
    return code


def extract_code(answer: str, only_longest: bool = False) -> str:
    """``execution_utils.preprocess`` for one Python answer."""
    if answer.count("```") + answer.count("\\begin{code}") + answer.count("\\end{code}") < 2:
        return remove_last_block(answer)
    lines = answer.split("\n")
    marks = [no for no, text in enumerate(lines) if "```" in text or "\\begin{code}" in text or "\\end{code}" in text]
    pairs = [(marks[i], marks[i + 1]) for i in range(0, len(marks) - 1, 2)]
    if only_longest:
        best, best_len = 0, 0
        for index, (a, b) in enumerate(pairs):
            if b - a > best_len:
                best, best_len = index, b - a
        a, b = pairs[best]
        return "\n".join(lines[a + 1 : b])
    return "\n\n".join("\n".join(lines[a + 1 : b]) for a, b in pairs)


def python_program(test: UnitTest, answer: str) -> str:
    """The program ``get_exec_results`` runs for one test (import helpers guarded: see the docstring)."""
    code = extract_code(test.prefix + "\n" + answer, test.only_longest)
    imports = "\n".join(f"try:\n    {line}\nexcept ImportError:\n    pass" for line in PYTHON_IMPORTS)
    generation = (imports + "\n" + test.prefix_from_file + "\n" + code).strip()
    lines = generation.split("\n")
    future = [line for line in lines if line.startswith("from __future__")]
    rest = [line for line in lines if not line.startswith("from __future__")]
    return "\n".join(future + rest) + "\n" + test.reference


RUNNER = r"""
import json, signal, sys
job = json.load(open("job.json"))
class TimeoutException(Exception):
    pass
def ring(signum, frame):
    raise TimeoutException("Timed out!")
signal.signal(signal.SIGALRM, ring)
signal.setitimer(signal.ITIMER_REAL, job["timeout"])
try:
    exec(job["program"], {})
    result = "passed"
except TimeoutException:
    result = "timed out"
except BaseException as e:
    result = f"failed: {type(e)} {e}"
finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
sys.__stdout__.write("\n" + job["marker"] + json.dumps(result) + "\n")
sys.__stdout__.flush()
"""
"""``python_exec_func`` in the sandbox: ``exec`` under the alarm; "passed" unless something raised."""


def run_test(sandbox: Any, program: str, timeout_s: float | None = None) -> str:
    """One test's result as the official runner words it: "passed", "timed out", "failed: ..." or "time out"
    (the whole run went past the limit)."""
    timeout = float(PYTHON_TIMEOUT_S if timeout_s is None else timeout_s)
    job = {"program": program, "timeout": timeout, "marker": MARKER}
    result = sandbox.run(
        command=["python3", "runner.py"],
        files={"runner.py": RUNNER, "job.json": json.dumps(job)},
        timeout_s=timeout + 5,
    )
    at = result.stdout.rfind(MARKER)
    if result.timed_out or at < 0:
        return "time out"
    try:
        return str(json.loads(result.stdout[at + len(MARKER) :].splitlines()[0]))
    except (json.JSONDecodeError, IndexError):
        return "time out"


# --- similarity ------------------------------------------------------------------------------------


def rouge_tokens(text: str) -> list[str]:
    """rouge_score's default tokenizer without a stemmer."""
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    return [t for t in re.split(r"\s+", text) if re.match(r"^[a-z0-9]+$", t)]


def _f(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _lcs_table(ref: Sequence[str], can: Sequence[str]) -> list[list[int]]:
    table = [[0] * (len(can) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(can) + 1):
            if ref[i - 1] == can[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table


def _lcs_indices(ref: Sequence[str], can: Sequence[str]) -> list[int]:
    t = _lcs_table(ref, can)
    i, j = len(ref), len(can)
    out: list[int] = []
    while i > 0 and j > 0:
        if ref[i - 1] == can[j - 1]:
            out.insert(0, i - 1)
            i, j = i - 1, j - 1
        elif t[i][j - 1] > t[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out


def rouge_f(kind: str, target: str, prediction: str) -> float:
    """rouge_score's ``RougeScorer([kind]).score(target, prediction)[kind].fmeasure``."""
    if kind == "rougeLsum":
        refs = [rouge_tokens(s) for s in target.split("\n") if len(s)]
        cans = [rouge_tokens(s) for s in prediction.split("\n") if len(s)]
        m, n = sum(map(len, refs)), sum(map(len, cans))
        if not refs or not cans or not m or not n:
            return 0.0
        count_r = collections.Counter(t for s in refs for t in s)
        count_c = collections.Counter(t for s in cans for t in s)
        hits = 0
        for r in refs:
            union = sorted(set().union(*[_lcs_indices(r, c) for c in cans]))
            for token in (r[i] for i in union):
                if count_c[token] > 0 and count_r[token] > 0:
                    hits += 1
                    count_c[token] -= 1
                    count_r[token] -= 1
        return _f(hits / n, hits / m)
    tt, pt = rouge_tokens(target), rouge_tokens(prediction)
    if kind == "rougeL":
        if not tt or not pt:
            return 0.0
        lcs = _lcs_table(tt, pt)[-1][-1]
        return _f(lcs / len(pt), lcs / len(tt))
    found = re.match(r"rouge([0-9])$", kind)
    if found is None or int(found.group(1)) <= 0:
        raise DataError(f"similarity: unknown metric {kind!r} (rouge1, rouge2, rougeL, rougeLsum)")
    k = int(found.group(1))
    tg = collections.Counter(tuple(tt[i : i + k]) for i in range(len(tt) - k + 1))
    pg = collections.Counter(tuple(pt[i : i + k]) for i in range(len(pt) - k + 1))
    overlap = sum(min(c, pg[g]) for g, c in tg.items())
    return _f(overlap / max(sum(pg.values()), 1), overlap / max(sum(tg.values()), 1))


def score_similarity(
    metrics: Sequence[Mapping[str, Any]], references: Sequence[Sequence[str]], response: str
) -> tuple[float, float, list[dict[str, float]]]:
    """``similarity_assessment``: each metric's best-reference ROUGE F, normalised and weighted."""
    now, tot, details = 0.0, 0.0, []
    for metric, refs in zip(metrics, references, strict=True):
        kind = str(metric["metric"])
        raw = max(rouge_f(kind, ref, response) for ref in refs) if refs else 0.0
        low = float(metric.get("min_score", 0.3))
        high = float(metric.get("max_score", 0.53 if kind == "rouge1" else 0.51))
        normalised = max(min((raw - low) / (high - low), 1.0), 0.0)
        weight = float(metric.get("weight", 1.0))
        tot += weight
        now += normalised * weight
        details.append({kind: raw, "normalized_score": normalised})
    return now, tot, details


# --- one question ----------------------------------------------------------------------------------


def grade(sandbox: Any, case: Case, response: str) -> dict[str, Any]:
    """``grade_response`` for one answer: the components' ``*_score``/``*_totscore``, ``score`` (0-100 of the
    question's full score) and what could not be scored (``unscored``)."""
    grading = case.grading
    ans, tot = 0.0, 0.0
    out: dict[str, Any] = {"unscored": []}

    def add(name: str, now: float, total: float) -> None:
        nonlocal ans, tot
        out[f"{name}_score"], out[f"{name}_totscore"] = now, total
        ans, tot = ans + now, tot + total

    if "keywords" in grading:
        now, total, context, handler = score_keywords(grading["keywords"] or [], response)
        if handler:
            out["unscored"].append("keywords post_handler")
        out["keywords_detail"] = context
        add("keywords", now, total)
    if "blank_filling" in grading:
        now, total, details = score_blank_filling(grading["blank_filling"], response)
        if grading["blank_filling"].get("post_handler"):
            out["unscored"].append("blank_filling post_handler")
        out["blank_filling_detail"] = details
        add("blank_filling", now, total)
    if "unit_test" in grading:
        unit = grading["unit_test"] or {}
        name = str(unit.get("lang", case.lang)).lower()
        lang = LANGS.get(name, name)
        results = []
        total = sum(t.weight for t in case.tests)
        if lang == "python":
            for test in case.tests:
                results.append(run_test(sandbox, python_program(test, response), test.timeout))
        else:
            out["unscored"].append(f"unit_test ({lang})")
        now = sum(t.weight for t, r in zip(case.tests, results, strict=False) if r == "passed")
        out["unit_test_detail"] = results
        add("unit_test", now, total)
    if "similarity" in grading:
        now, total, sim = score_similarity(grading["similarity"] or [], case.references, response)
        out["similarity_detail"] = sim
        add("similarity", now, total)
    if "customized" in grading:
        out["unscored"].append("customized")
    if "max_score" in grading:
        tot = float(grading["max_score"])
        ans = min(ans, tot)
    if "min_score" in grading:
        ans = max(ans, float(grading["min_score"]))
    out["score"] = 100.0 * ans / tot if tot else 0.0
    out["points"] = ans / tot * case.full_score if tot else 0.0
    out["full_score"] = case.full_score if tot else 0.0
    return out


def row_for(case: Case, grades: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One question's row: ``score`` and each component x 100, averaged over the answers (``avg``)."""
    row: dict[str, Any] = {"id": case.id, "n": len(grades)}
    if not grades:
        return row
    for name in ("score", "points", "full_score"):
        row[name] = sum(float(g[name]) for g in grades) / len(grades)
    for name in COMPONENTS:
        if f"{name}_score" in grades[0]:
            now = sum(float(g[f"{name}_score"]) for g in grades) / len(grades)
            total = float(grades[0][f"{name}_totscore"])
            row[f"{name}_score"], row[f"{name}_totscore"] = now, total
            row[name] = 100.0 * now / total if total else 0.0
    row["unscored"] = sorted({u for g in grades for u in g["unscored"]})
    row["details"] = [{k: v for k, v in g.items() if k.endswith("_detail")} for g in grades]
    return row
