"""The demo's repair turns, measured: for a training chart and a wrong first attempt (another chart's
script), the feedback the agent's own verifier gives, word for word.

Why measured: the loop helps only if the model has learned to act on the critique it will really read.
That critique comes from the agent's scorer (``ChartTask.verify``: the script run in the sandbox at the
target's scale, its picture and trace compared with the target), whose lines a hand-written imitation
would not match ("candidate draws line in #e15759, where the target has filled shapes ... in that
colour", a title to change, a colour to fix). So each repair pair is verified once, here, and the mix
(``mix.conversations``) puts that exact feedback text between the wrong script and the right one.

Pairs are chosen by seed (``mix.repair_pairs``): mostly a script of another chart type (the loop's main
fix), some of the same type (so the feedback is about data, text and colour). Results are appended to a
JSONL file as they finish, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .mix import RepairPair, script_of


def measure_feedback(
    pairs: Sequence[RepairPair],
    out: Path,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, str]:
    """Each pair's feedback text (the agent's feedback turn without its images), by ``RepairPair.key``;
    pairs already in ``out`` are read back, the rest verified in the sandbox and appended."""
    from viscodex.agent import SolveRequest
    from viscodex.agent.tasks.chart import ChartTask
    from viscodex.agent.tasks.visual_common import load_target, visual_feedback
    from viscodex.sandbox import Sandbox

    done: dict[str, str] = {}
    if out.is_file():
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["key"]] = row["feedback"]
    todo = [p for p in pairs if p.key not in done]
    if not todo:
        return done
    lock = threading.Lock()
    out.parent.mkdir(parents=True, exist_ok=True)

    with Sandbox(pool={"chart": workers}) as sandbox, out.open("a", encoding="utf-8") as sink:

        def one(pair: RepairPair) -> None:
            request = SolveRequest(images=(pair.chart.image,), kind="chart")
            task = ChartTask(target=load_target(pair.chart.image, "chart"))
            verification = task.verify(script_of(pair.wrong.answer), sandbox)
            text = visual_feedback("chart", request, verification).text
            with lock:
                done[pair.key] = text
                sink.write(json.dumps({"key": pair.key, "score": verification.score, "feedback": text}) + "\n")
                sink.flush()
                if progress is not None:
                    progress(len(done), len(pairs))

        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            for future in [pool.submit(one, p) for p in todo]:
                future.result()
        finally:
            # On Ctrl-C or an error, drop the pairs not started: what finished is in `out` already.
            pool.shutdown(wait=True, cancel_futures=True)
    return done
