"""Evaluation harness speed (issue 13): items per minute with the sandbox pool against one item at a time,
and the harness's own overhead per item, in one run.

    .venv/bin/python bench/eval.py [--bench mmcode|chartmimic] [--items 16] [--workers 4] [--model-delay 0.5]

The model is tests/scripted_model.py's OpenAI-compatible test double (fixed right answers, each after
``--model-delay`` seconds, standing in for a served model's generation time), so what is measured is the
harness: answers fetched, scored in the real sandbox, rows written. The same items run twice through
``viscodex.training.eval.run.evaluate``: ``--workers 1`` (one at a time) and ``--workers W`` (the pool),
each into a fresh run folder.

Printed, both from this one run:
- items/min pool / one at a time (target >= 1.8 on 2 cores);
- overhead per item: the item's time outside the model call and the sandbox calls (``seconds -
  model_seconds - sandbox_seconds`` of each row), as a share of the item's time, median over the
  one-at-a-time items (target <= 5%); and, stricter, the whole one-at-a-time run's time outside the model
  and sandbox calls (loading, opening the backend, starting the pool, rows, summary) over its wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from scripted_model import ScriptedModel, serve  # type: ignore[import-not-found]  # test double

from viscodex.model.settings import ModelSettings
from viscodex.training.eval.fixtures import ANSWERS, GOLD
from viscodex.training.eval.run import EvalConfig, evaluate

TARGETS = {"items/min pool / one at a time": (1.8, ">="), "overhead share of item time (median)": (0.05, "<=")}
ADD = "a, b = map(int, input().split())\nprint(a + b)\n"


def _mmcode(folder: Path, count: int) -> tuple[Path, list[str]]:
    tests = {"inputs": [f"{i} {i + 1}\n" for i in range(3)], "outputs": [f"{2 * i + 1}\n" for i in range(3)]}
    data = folder / "mmcode.jsonl"
    data.write_text(
        "".join(
            json.dumps({"problem_id": f"p{i:02d}", "question": "Add.", "input_output": json.dumps(tests)}) + "\n"
            for i in range(count)
        )
    )
    return data, [f"```python\n{ADD}```"] * count


def _chartmimic(folder: Path, count: int) -> tuple[Path, list[str]]:
    from PIL import Image

    data = folder / "ori_500"
    data.mkdir()
    answers = []
    variants = sorted(ANSWERS)
    for i in range(count):
        item = f"bar_{i + 1}"
        (data / f"{item}.py").write_text(GOLD.replace("bar_7.pdf", f"{item}.pdf"))
        Image.new("RGB", (90, 40), "white").save(data / f"{item}.png")
        answers.append(f"```python\n{ANSWERS[variants[i % len(variants)]]}\n```")
    return data, answers


def _run(bench: str, data: Path, answers: list[str], workers: int, delay: float, out: Path) -> dict[str, Any]:
    # one answer per item, whichever order the items ask in: all answers of a bench are interchangeable
    # for mmcode; for chartmimic the variants differ, so each run gets the same multiset of answers
    with serve(ScriptedModel(list(answers), delay_s=delay)) as model:
        config = EvalConfig(
            bench=bench,  # type: ignore[arg-type]
            data=data,
            out=out,
            settings=ModelSettings(model_url=model.url, backend="server"),
            workers=workers,
        )
        started = time.perf_counter()
        asyncio.run(evaluate(config))
        wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    shares = [(r["seconds"] - r["model_seconds"] - r["sandbox_seconds"]) / r["seconds"] for r in rows]
    return {
        "workers": workers,
        "items": len(rows),
        "wall_s": wall,
        "items_per_min": 60 * len(rows) / wall,
        "item_s_median": statistics.median(r["seconds"] for r in rows),
        "model_s_median": statistics.median(r["model_seconds"] for r in rows),
        "sandbox_s_median": statistics.median(r["sandbox_seconds"] for r in rows),
        "overhead_share_median": statistics.median(shares),
        "overhead_share_max": max(shares),
        # stricter: everything of the run outside the model and sandbox calls (loading, opening the backend,
        # starting the pool, rows, summary), over the whole run's wall time
        "run_overhead_share": (wall - sum(r["model_seconds"] + r["sandbox_seconds"] for r in rows)) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", choices=("mmcode", "chartmimic"), default="mmcode")
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--model-delay", type=float, default=0.5, help="seconds the scripted model takes per answer")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make = _mmcode if args.bench == "mmcode" else _chartmimic
        data, answers = make(folder, args.items)
        # a short warm-up run builds the sandbox image's containers and imports, outside the timings
        _run(args.bench, data, answers[:1], 1, 0.0, folder / "warmup")
        one = _run(args.bench, data, answers, 1, args.model_delay, folder / "one")
        pool = _run(args.bench, data, answers, args.workers, args.model_delay, folder / "pool")
    ratios = {
        "items/min pool / one at a time": pool["items_per_min"] / one["items_per_min"],
        "overhead share of item time (median)": one["overhead_share_median"],
    }
    for name, figures in (("one at a time", one), (f"pool of {args.workers}", pool)):
        print(
            f"{name:>14}: {figures['items']} items in {figures['wall_s']:.1f} s = {figures['items_per_min']:.1f}"
            f" items/min; per item median {figures['item_s_median']:.2f} s (model {figures['model_s_median']:.2f},"
            f" sandbox {figures['sandbox_s_median']:.2f}); overhead median"
            f" {100 * figures['overhead_share_median']:.2f}% (max {100 * figures['overhead_share_max']:.2f}%)"
        )
    print(
        f"whole one-at-a-time run outside model and sandbox calls (start-up included): "
        f"{100 * one['run_overhead_share']:.1f}% of {one['wall_s']:.1f} s"
    )
    for name, value in ratios.items():
        target, sense = TARGETS[name]
        met = value >= target if sense == ">=" else value <= target
        print(f"{name}: {value:.3f} (target {sense} {target}: {'met' if met else 'MISSED'})")
    if args.json:
        args.json.write_text(json.dumps({"one": one, "pool": pool, "ratios": ratios, "args": vars(args)}, default=str))


if __name__ == "__main__":
    main()
