"""Sandbox speed: warm-pool runs and renders against their cold and `docker exec` floors, in one run.

    .venv/bin/python bench/sandbox.py [--runs 20] [--json out.json]

Prints medians and the four ratios the foundation issue sets as targets. Ratios, not absolute times:
the machines are noisy, but both sides of a ratio are measured here, now, interleaved.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from timing import median_time

from viscodex.sandbox import Sandbox, Viewport
from viscodex.sandbox.container import container_spec
from viscodex.sandbox.limits import Limits

PRINT_1 = "print(1)"
PAGE = "<!doctype html><h1>Pricing</h1><p>A small page.</p><button>Buy</button>"
CHART = (
    "import matplotlib.pyplot as plt\nplt.bar(['a', 'b', 'c', 'd'], [3, 5, 2, 4], color='#2b6cb0')\nplt.title('Bars')\n"
)
TARGETS = {
    "warm_run / docker_exec": 1.5,
    "warm_run / cold_docker_run": 0.3,
    "warm_render_html / cold_render_html": 0.3,
    "warm_render_chart / cold_docker_run_chart": 0.5,
}


def cold_docker_run(sandbox: Sandbox, argv: list[str], limits: Limits) -> bytes:
    """`docker run --rm` with the same hardening as a sandbox container."""
    spec: dict[str, Any] = container_spec(sandbox.image, "exec", limits)
    spec.update(command=argv, stdin_open=False, detach=False, remove=True)
    output: bytes = sandbox.client.containers.run(**spec)
    return output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", dest="json_out", help="also write the numbers here")
    args = parser.parse_args()
    runs: int = args.runs
    medians: dict[str, float] = {}

    with Sandbox(pool={"exec": 1, "chart": 1, "html": 1}) as sandbox:
        policy = sandbox.policy

        def warm(role: str) -> Callable[[], object]:
            return lambda: sandbox.warm_up([role], wait=True)  # type: ignore[list-item]

        # A long-lived container to `docker exec` into: the floor for any warm run.
        spec = container_spec(sandbox.image, "exec", policy.run)
        spec.update(command=["sleep", "infinity"], stdin_open=False)
        idle = sandbox.client.containers.create(**spec)
        idle.start()
        try:
            assert sandbox.run(PRINT_1).stdout == "1\n"
            medians["warm_run"] = median_time(lambda: sandbox.run(PRINT_1), runs, warm("exec"))
            medians["docker_exec"] = median_time(lambda: idle.exec_run(["python3", "-c", PRINT_1]), runs)
        finally:
            idle.remove(force=True)
        medians["cold_docker_run"] = median_time(
            lambda: cold_docker_run(sandbox, ["python3", "-c", PRINT_1], policy.run), runs
        )

        small = Viewport(width=800, height=600)
        medians["warm_render_html"] = median_time(lambda: sandbox.render_html(PAGE, small), runs, warm("html"))
        medians["warm_render_chart"] = median_time(lambda: sandbox.render_chart(CHART), runs, warm("chart"))
        chart_script = CHART + "plt.savefig('/tmp/out.png')\n"
        medians["cold_docker_run_chart"] = median_time(
            lambda: cold_docker_run(sandbox, ["python3", "-c", chart_script], policy.chart), runs
        )

    with Sandbox(pool={}) as cold:  # no pool: a fresh container that launches chromium per render
        medians["cold_render_html"] = median_time(lambda: cold.render_html(PAGE, small), runs)

    print(f"median of {runs} runs each (seconds)")
    for name, value in medians.items():
        print(f"  {name:24s} {value:8.4f}")
    ok = True
    ratios = {}
    print("ratios (target)")
    for name, target in TARGETS.items():
        top, bottom = name.split(" / ")
        ratio = medians[top] / medians[bottom]
        ratios[name] = ratio
        verdict = "ok" if ratio <= target else "MISSED"
        ok &= ratio <= target
        print(f"  {name:44s} {ratio:6.3f}  (<= {target})  {verdict}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump({"runs": runs, "medians_s": medians, "ratios": ratios}, fh, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
