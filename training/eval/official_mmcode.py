"""Run the OFFICIAL MMCode judge (``testing_utils.run_test`` of likaixin2000/MMCode @ 534ffa8) on our
fixtures in the sandbox and print its verdicts as JSON; ``tests/test_eval_mmcode.py`` keeps them, made with

    .venv/bin/python -m viscodex.training.eval.official_mmcode --mirror /work/.mirror/likaixin2000+MMCode/repo

The harness file is read from the mirror at run time and never stored here (the repository has no
licence). Each fixture runs in a process of its own, as the harness's ``check_correctness`` does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .fixtures import MMCODE_CASES

COMMIT = "534ffa8"
ONE = """
import json, sys
from testing_utils import run_test
code, io = json.load(open("cases.json"))[sys.argv[1]]
verdicts = run_test({"input_output": io}, test=code, debug=False)
plain = [bool(v) if not isinstance(v, int) or isinstance(v, bool) else v for v in verdicts]
sys.__stdout__.write("@@official@@" + json.dumps([sys.argv[1], plain]) + "\\n")
"""


def official_verdicts(mirror: Path) -> dict[str, list[object]]:
    from viscodex.sandbox import Sandbox

    harness = subprocess.run(
        ["git", "--git-dir", str(mirror), "show", f"{COMMIT}:testing_utils.py"], check=True, capture_output=True
    ).stdout
    files: dict[str, str | bytes] = {
        "testing_utils.py": harness,
        "one.py": ONE,
        "cases.json": json.dumps(MMCODE_CASES),
    }
    command = "; ".join(f"timeout 30 python3 one.py {name}" for name in MMCODE_CASES)
    with Sandbox(pool={"exec": 0}) as sandbox:
        result = sandbox.run(command=command, files=files, timeout_s=300)
    out: dict[str, list[object]] = {}
    for line in result.stdout.splitlines():
        at = line.find("@@official@@")
        if at >= 0:
            name, verdicts = json.loads(line[at + len("@@official@@") :])
            out[name] = verdicts
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, required=True, help="git dir of likaixin2000/MMCode")
    args = parser.parse_args()
    json.dump(official_verdicts(args.mirror), sys.stdout, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
