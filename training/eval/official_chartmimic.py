"""Run the OFFICIAL ChartMimic text, layout, chart-type and colour evaluators on our fixtures, in the
sandbox's ``chartmimic`` image, and print their numbers (F1 x 100) as JSON: the expectations of
``tests/test_eval_chartmimic.py`` were made with

    viscodex-agent sandbox build --package-set chartmimic   # once
    .venv/bin/python -m viscodex.training.eval.official_chartmimic --mirror /work/.mirror/ChartMimic+ChartMimic/repo

``--mirror`` is a clone (bare is fine) of github.com/ChartMimic/ChartMimic; its evaluator files are read
from commit c9e149c6 at run time and never stored in this repository (it has no licence). Each fixture
gets fresh evaluator objects, so the official type evaluator's carried-over numbers cannot leak between
fixtures. Only ``dotenv`` (not in the image, and only used to read a .env file) and ``skimage.color``
(imported by the colour evaluator for two functions it no longer calls) are stubbed. The colour evaluator
needs ``colormath`` 3.0.0 (ChartMimic's environment.yaml pins it): it is pure Python, so the host's copy
(the train extra installs it) is put beside the evaluator rather than into the image.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from .fixtures import ANSWERS, GOLD, GOLD_ID

COMMIT = "c9e149c6"
FILES = [
    "chart2code/utils/evaluator/text_evaluator.py",
    "chart2code/utils/evaluator/layout_evaluator.py",
    "chart2code/utils/evaluator/chart_type_evaluator.py",
    "chart2code/utils/evaluator/chart_type_evaluator_prefix.py",
    "chart2code/utils/evaluator/color_evaluator.py",
    "chart2code/utils/evaluator/color_evaluator_prefix.py",
    "chart2code/utils/evaluator/color_utils.py",
    "eval_configs/global_config.py",
]
DRIVER = """
import json, os, sys
os.environ["PROJECT_PATH"] = os.getcwd()
sys.path.insert(0, os.getcwd())
from chart2code.utils.evaluator.text_evaluator import TextEvaluator
from chart2code.utils.evaluator.layout_evaluator import LayoutEvaluator
from chart2code.utils.evaluator.chart_type_evaluator import ChartTypeEvaluator
from chart2code.utils.evaluator.color_evaluator import ColorEvaluator
out = {}
for name, item_id in json.load(open("pairs.json")):
    gold = os.path.join(os.getcwd(), "dataset", "ori_500", item_id + ".py")
    gen = os.path.join(os.getcwd(), "gen", name, item_id + ".py")
    row = {}
    for key, evaluator in (("text", TextEvaluator(use_position=False, use_axs=False)),
                           ("layout", LayoutEvaluator()), ("type", ChartTypeEvaluator()),
                           ("color", ColorEvaluator())):
        evaluator(generation_code_file=gen, golden_code_file=gold)
        row[key] = 100 * evaluator.metrics["f1"]
    out[name] = row
print("@@official@@" + json.dumps(out))
"""


def official_on_pairs(mirror: Path, pairs: dict[str, tuple[str, str, str]]) -> dict[str, dict[str, float]]:
    """The official numbers of each ``name: (item id, ground-truth script, answer script)``; an answer
    saves its figure to ``gen/<id>.pdf`` (``chartmimic.prepare_generated`` writes that)."""
    from viscodex.sandbox import Sandbox, SandboxPolicy

    files: dict[str, str | bytes] = {"dotenv.py": "def load_dotenv(*args, **kwargs):\n    return False\n"}
    for path in FILES:
        files[path] = subprocess.run(
            ["git", "--git-dir", str(mirror), "show", f"{COMMIT}:{path}"], check=True, capture_output=True
        ).stdout
    files["skimage/__init__.py"] = ""
    files["skimage/color.py"] = "deltaE_cie76 = rgb2lab = None\n"
    files.update(_colormath_files())
    for package in ("chart2code", "chart2code/utils", "chart2code/utils/evaluator", "eval_configs"):
        files[f"{package}/__init__.py"] = ""
    for name, (item_id, gold, answer) in pairs.items():
        files[f"dataset/ori_500/{item_id}.py"] = gold
        # The official layout keeps each answer in a folder of its own.
        files[f"gen/{name}/{item_id}.py"] = answer.replace('"gen/', f'"gen/{name}/')
    files["pairs.json"] = json.dumps([[name, item_id] for name, (item_id, _, _) in pairs.items()])
    files["driver.py"] = DRIVER
    command = "mkdir -p bin && ln -s /usr/bin/python3 bin/python && PATH=$PWD/bin:$PATH python3 driver.py"
    with Sandbox(policy=SandboxPolicy(package_set="chartmimic"), pool={"exec": 0}) as sandbox:
        result = sandbox.run(command=command, files=files, timeout_s=600)
    at = result.stdout.rfind("@@official@@")
    if at < 0:
        raise RuntimeError(f"the official evaluators failed: {result.summary()}\n{result.stderr[-2000:]}")
    numbers: dict[str, dict[str, float]] = json.loads(result.stdout[at + len("@@official@@") :].splitlines()[0])
    return numbers


def _colormath_files() -> dict[str, str | bytes]:
    import colormath  # type: ignore[import-untyped]

    root = Path(colormath.__file__).parent
    return {f"colormath/{path.relative_to(root)}": path.read_bytes() for path in root.rglob("*.py")}


def official_numbers(mirror: Path) -> dict[str, dict[str, float]]:
    """The official numbers on the project's fixtures (``fixtures.ANSWERS`` against ``fixtures.GOLD``)."""
    return official_on_pairs(mirror, {name: (GOLD_ID, GOLD, answer) for name, answer in ANSWERS.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, required=True, help="git dir of ChartMimic/ChartMimic")
    args = parser.parse_args()
    json.dump(official_numbers(args.mirror), sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
