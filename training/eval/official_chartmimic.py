"""Run the OFFICIAL ChartMimic text, layout, chart-type and colour evaluators on our fixtures, in the
sandbox's ``chartmimic`` image, and print their numbers (F1 x 100) as JSON: the expectations of
``tests/test_eval_chartmimic.py`` were made with

    viscodex-agent sandbox build --package-set chartmimic   # once
    .venv/bin/python -m viscodex.training.eval.official_chartmimic --mirror /work/.mirror/ChartMimic+ChartMimic/repo

``--ori500 pie,3d,... --compare`` runs them on real ``ori_500`` pairs instead (``<type>_1`` answered by
``<type>_2``) and prints the largest difference from ours.

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


FIELDS_CHECKED = ("text", "layout", "type", "color")
DATA_COMMIT = "7ee16fb"
"""The ChartMimic commit that still holds ``dataset/ori_500``."""


def ori500_pairs(mirror: Path, types: list[str]) -> dict[str, tuple[str, str, str]]:
    """For each chart type, ``<type>_1`` as the ground truth answered by ``<type>_2`` (post-processed as an
    answer is): real scripts, so the tracers meet the plotting calls the benchmark uses."""
    from .chartmimic import prepare_generated

    def show(name: str) -> str:
        spec = f"{DATA_COMMIT}:dataset/ori_500/{name}.py"
        command = ["git", "--git-dir", str(mirror), "show", spec]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    return {t: (f"{t}_1", show(f"{t}_1"), prepare_generated(show(f"{t}_2"), f"{t}_1")) for t in types}


def ours_on_pairs(pairs: dict[str, tuple[str, str, str]]) -> dict[str, dict[str, float]]:
    """Our numbers on the same pairs (``chartmimic.trace`` and ``scores``), for the comparison."""
    from viscodex.sandbox import Sandbox, SandboxPolicy

    from . import chartmimic

    out = {}
    with Sandbox(policy=SandboxPolicy(package_set="chartmimic"), pool={"exec": 1}) as sandbox:
        for name, (item_id, gold, answer) in pairs.items():
            theirs = chartmimic.trace(sandbox, gold, item_id)
            mine = chartmimic.trace(sandbox, answer, item_id)
            out[name] = chartmimic.scores(mine, theirs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, required=True, help="git dir of ChartMimic/ChartMimic")
    parser.add_argument(
        "--ori500", help="comma-separated chart types (pie,3d,...): real <type>_1 / <type>_2 pairs, not the fixtures"
    )
    parser.add_argument("--compare", action="store_true", help="also score with ours and print the largest difference")
    args = parser.parse_args()
    if args.ori500:
        pairs = ori500_pairs(args.mirror, [t for t in args.ori500.split(",") if t])
        official = official_on_pairs(args.mirror, pairs)
    else:
        pairs = {name: (GOLD_ID, GOLD, answer) for name, answer in ANSWERS.items()}
        official = official_numbers(args.mirror)
    json.dump(official, sys.stdout, indent=1, sort_keys=True)
    print()
    if args.compare:
        ours = ours_on_pairs(pairs)
        worst = max(abs(ours[n][k] - float(v)) for n, row in official.items() for k, v in row.items())
        print(f"largest difference, ours vs official, over {len(official)} pairs x {len(FIELDS_CHECKED)}: {worst:.3g}")


if __name__ == "__main__":
    main()
