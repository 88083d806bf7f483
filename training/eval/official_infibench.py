"""Run the OFFICIAL InfiBench grader (``grader_main.grade_response`` of infi-coder/infibench-evaluator) on
``infibench_fixtures.CASES`` and print each answer's score (x 100) as JSON; ``tests/test_eval_infibench.py``
keeps them, made with

    PYTHONPATH=/tmp/rouge_off .venv/bin/python -m viscodex.training.eval.official_infibench \\
        --mirror /work/.mirror/infi-coder+infibench-evaluator/repo

where ``/tmp/rouge_off`` holds ``pip install --target /tmp/rouge_off rouge_score`` (the package that
``evaluate.load('rouge')`` wraps). The evaluator's files are read from the mirror at run time. Keyword,
blank-filling and similarity cases are graded here (they run no answer code); the unit-test case is graded
in the sandbox, where the official runner ``exec``s the answers. Stubs stand in for what the grader imports
but these cases do not use: ``numba.njit`` (identity), ``rpy2``, ``evaluate.load('rouge')`` (rouge/rouge.py's
``_compute``, aggregator included, over rouge_score), and the import helpers the sandbox lacks (empty
modules: the official ``setup.sh`` installs them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .infibench_fixtures import CASES

DRIVER = r"""
import json, sys, types, importlib
numba = types.ModuleType("numba"); numba.njit = lambda f: f; sys.modules["numba"] = numba
rpy2 = types.ModuleType("rpy2"); rpy2.robjects = types.ModuleType("rpy2.robjects")
sys.modules["rpy2"] = rpy2; sys.modules["rpy2.robjects"] = rpy2.robjects

class Rouge:
    def compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=False):
        from rouge_score import rouge_scorer, scoring
        rouge_types = rouge_types or ["rouge1", "rouge2", "rougeL", "rougeLsum"]
        multi_ref = isinstance(references[0], list)
        scorer = rouge_scorer.RougeScorer(rouge_types=rouge_types, use_stemmer=use_stemmer)
        aggregator = scoring.BootstrapAggregator()
        for ref, pred in zip(references, predictions):
            aggregator.add_scores(scorer.score_multi(ref, pred) if multi_ref else scorer.score(ref, pred))
        result = aggregator.aggregate()
        return {key: result[key].mid.fmeasure for key in result}

evaluate = types.ModuleType("evaluate"); evaluate.load = lambda name: Rouge(); sys.modules["evaluate"] = evaluate
for name in ("yaml", "tqdm", "pandas", "requests", "openpyxl", "xlsxwriter", "yolk"):
    try:
        importlib.import_module(name)
    except ImportError:
        sys.modules[name] = types.ModuleType(name)
sys.modules["tqdm"].tqdm = getattr(sys.modules["tqdm"], "tqdm", lambda x, **k: x)
sys.argv = ["grader_main.py"]
import grader_main
job = json.load(open("job.json"))
out = {}
for name, (config, answers) in job.items():
    out[name] = [grader_main.grade_response(config, ".", answer, 100.0, 0.0)[0] for answer in answers]
sys.__stdout__.write("@@official@@" + json.dumps(out) + "\n")
"""

SOURCES = ("grader_main.py", "grader_utils.py", "execution_utils.py")


def _job(names: list[str]) -> dict[str, Any]:
    return {name: [yaml.safe_load(CASES[name][0]), list(CASES[name][1])] for name in names}


def _parse(stdout: str) -> dict[str, list[float]]:
    for line in stdout.splitlines():
        if line.startswith("@@official@@"):
            return dict(json.loads(line[len("@@official@@") :]))
    raise RuntimeError("the official grader printed no result:\n" + stdout[-2000:])


def official_scores(mirror: Path) -> dict[str, list[float]]:
    from viscodex.sandbox import Sandbox

    files: dict[str, str | bytes] = {
        name: subprocess.run(
            ["git", "--git-dir", str(mirror), "show", f"HEAD:{name}"], check=True, capture_output=True
        ).stdout
        for name in SOURCES
    }
    files["driver.py"] = DRIVER
    here = [name for name in CASES if name != "unit"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            Path(tmp, name).write_bytes(text if isinstance(text, bytes) else text.encode())
        Path(tmp, "job.json").write_text(json.dumps(_job(here)))
        done = subprocess.run([sys.executable, "driver.py"], cwd=tmp, capture_output=True, text=True, timeout=300)
    out = _parse(done.stdout + done.stderr)
    with Sandbox(pool={"exec": 0}) as sandbox:
        result = sandbox.run(
            command="python3 driver.py", files={**files, "job.json": json.dumps(_job(["unit"]))}, timeout_s=120
        )
    out.update(_parse(result.stdout + result.stderr))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, required=True, help="git dir of infi-coder/infibench-evaluator")
    args = parser.parse_args()
    json.dump(official_scores(args.mirror), sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
