"""The loop's own overhead per iteration: everything but the model call and the sandbox run.

    .venv/bin/python bench/agent_loop.py [--iters 10]

Runs the real loop in-process against the real (warm) sandbox and a scripted OpenAI-compatible server
(a test double that answers at once, so the model's time is only HTTP and parsing), on the algorithm
task (two sample tests, so two sandbox runs per iteration). The loop's timings split each iteration
into model, sandbox and the rest; the rest over the whole iteration is the ratio the agent issue bounds
(<= 5%). The UI task is measured too, for information: its verification also scores the render
(DOM blocks against OCR'd target blocks, SSIM), which the loop counts as its own work.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scripted_model import ScriptedModel, serve

from viscodex.agent import Loop, SolveRequest
from viscodex.model import ModelSettings
from viscodex.model.server_backend import ServerBackend
from viscodex.sandbox import Sandbox, Viewport

TESTS = '```json\n{"tests": [{"input": "2 3\\n", "output": "5\\n"}, {"input": "1 1\\n", "output": "2\\n"}]}\n```'
WRONG = "```python\na, b = map(int, input().split())\nprint(a * b)\n```"
PAGE = "<!doctype html><body style='margin:20px;font-family:Arial'><h1>Plans</h1><p>Pick one</p></body>"


def overheads(timings: list, skip_first: bool = True) -> tuple[float, float]:
    rows = timings[1:] if skip_first and len(timings) > 1 else timings
    ratios = [t.overhead_s / t.total_s for t in rows]
    return statistics.median(ratios), statistics.median(t.overhead_s for t in rows)


async def run_loop(request: SolveRequest, answers: list[str], sandbox: Sandbox, run_dir: Path) -> list:
    with serve(ScriptedModel(answers)) as model:
        backend = ServerBackend(ModelSettings(model_url=model.url))
        await backend.check()
        result = await Loop(request, backend, sandbox, run_dir, lambda _e: None).run()
    return result.timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Sandbox(pool={"exec": 2, "html": 1}) as sandbox:
        root = Path(tmp)
        problem = root / "problem.png"
        image = Image.new("RGB", (300, 120), "white")
        ImageDraw.Draw(image).text((10, 10), "Print a + b", fill="black")
        image.save(problem)
        sandbox.warm_up(["exec", "html"], wait=True)
        request = SolveRequest(images=(problem,), kind="algorithm", max_iters=args.iters, patience=args.iters)
        timings = asyncio.run(run_loop(request, [TESTS] + [WRONG] * args.iters, sandbox, root / "alg"))
        ratio, absolute = overheads(timings)
        sandbox_s = statistics.median(t.sandbox_s for t in timings[1:])
        print(
            f"algorithm: {len(timings)} iterations, median sandbox {sandbox_s * 1000:.1f} ms, loop overhead "
            f"{absolute * 1000:.1f} ms = {ratio:.1%} of the iteration (target <= 5%): "
            f"{'ok' if ratio <= 0.05 else 'MISSED'}"
        )

        target = root / "ui.png"
        target.write_bytes(sandbox.render_html(PAGE, Viewport(width=480, height=240), full_page=False))
        ui = SolveRequest(images=(target,), kind="ui", max_iters=4, patience=4, threshold=1.01)
        fenced = f"```html\n{PAGE}\n```"
        ui_timings = asyncio.run(run_loop(ui, [fenced] * 4, sandbox, root / "ui"))
        ratio, absolute = overheads(ui_timings)
        print(f"ui (information): loop overhead incl. scoring {absolute * 1000:.1f} ms = {ratio:.1%} of the iteration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
