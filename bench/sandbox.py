"""Sandbox speed: warm-pool runs and renders against their cold and `docker exec` floors, in one run.

    .venv/bin/python bench/sandbox.py [--runs 20] [--json out.json]
    .venv/bin/python bench/sandbox.py --sustained [--runs 20] [--json out.json]

Prints medians and the four ratios the foundation issue sets as targets. Ratios, not absolute times:
the machines are noisy, but both sides of a ratio are measured here, now, interleaved.

``--sustained`` (issue 17) measures runs under load instead: 40 runs of ``print(1)`` from 4 threads and
40 back to back, for our sandbox (recycling containers), our sandbox with a fresh container per run
(``recycle_runs=1``, the design before issue 17) and llm-sandbox's reused pool (4 containers, our image
plus a venv where it expects one), all in this one run; and the warm single-run latency of ours, both
ways. It needs llm-sandbox in the venv (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker.errors
from timing import median_time

from viscodex.sandbox import Sandbox, SandboxPolicy, Viewport
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


SUSTAINED_RUNS = 40
THREADS = 4
SUSTAINED_TARGETS = {
    "runs/s from 4 threads: ours / llm-sandbox reused pool": (2.0, ">="),
    "back to back p90 / median (ours)": (2.0, "<="),
    "warm run: recycling / fresh container per run": (1.1, "<="),
}
LLM_SANDBOX_DOCKERFILE = """FROM {image}
USER root
RUN mkdir -m 1777 /sandbox && python3 -m venv --system-site-packages --without-pip /sandbox/.sandbox-venv \\
    && chmod -R a+rwX /sandbox
"""
"""llm-sandbox's pooled sessions run code with ``WORKDIR/.sandbox-venv/bin/python`` and create WORKDIR
with a shell command; its environment set-up would upgrade pip from PyPI (no network here)."""


def llm_sandbox_image(sandbox: Sandbox) -> str:
    """Our image plus the venv llm-sandbox expects, built once per image."""
    tag = f"viscodex-bench-llm-sandbox:{sandbox.client.images.get(sandbox.image).id.split(':')[1][:12]}"
    try:
        sandbox.client.images.get(tag)
    except docker.errors.ImageNotFound:
        dockerfile = LLM_SANDBOX_DOCKERFILE.format(image=sandbox.image).encode()
        sandbox.client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    return tag


def llm_sandbox_pool(sandbox: Sandbox, size: int) -> tuple[Any, Callable[[], None]]:
    """llm-sandbox's Docker pool of ``size`` reused containers, hardened as far as it allows: no network,
    all capabilities dropped, no-new-privileges, the same memory, CPU and pids limits. It copies code in
    with the archive API, which needs a writable root filesystem and a root user to read what it wrote."""
    from llm_sandbox.const import SandboxBackend
    from llm_sandbox.pool import PoolConfig, PooledSandboxSession, create_pool_manager

    logging.getLogger("llm_sandbox").setLevel(logging.WARNING)
    limits = sandbox.policy.run
    runtime = {
        "command": ["sleep", "infinity"],
        "network_mode": "none",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m",
        "pids_limit": limits.pids,
        "nano_cpus": int(limits.cpus * 1e9),
        "tmpfs": {"/tmp": f"size={limits.tmp_mb}m"},
    }
    pool = create_pool_manager(
        client=sandbox.client,
        backend=SandboxBackend.DOCKER,
        config=PoolConfig(max_pool_size=size, min_pool_size=size),
        lang="python",
        image=llm_sandbox_image(sandbox),
        runtime_configs=runtime,
        skip_environment_setup=True,
        workdir="/sandbox",
    )

    def run_one() -> None:
        with PooledSandboxSession(pool_manager=pool, lang="python", workdir="/sandbox") as session:
            result = session.run(PRINT_1)
        if result.stdout.strip() != "1":
            raise RuntimeError(f"llm-sandbox run failed: {result}")

    return pool, run_one


def concurrent_rate(run_one: Callable[[], object], n: int, threads: int) -> float:
    """Runs per second of ``n`` runs from ``threads`` threads at once."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: run_one(), range(n)))
    return n / (time.perf_counter() - start)


def back_to_back(run_one: Callable[[], object], n: int) -> list[float]:
    """Each run's latency, ``n`` runs one right after another."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run_one()
        times.append(time.perf_counter() - start)
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def sustained(runs: int, json_out: str | None) -> int:
    """Issue 17's measurements, all in this one run (see the module docstring)."""
    numbers: dict[str, Any] = {}

    def ours_run(box: Sandbox) -> Callable[[], None]:
        def run_one() -> None:
            out = box.run(PRINT_1).stdout
            if out != "1\n":
                raise RuntimeError(f"run failed: {out!r}")

        return run_one

    with (
        Sandbox() as ours,
        Sandbox(policy=SandboxPolicy(recycle_runs=1)) as fresh,
    ):
        llm_pool, llm_run = llm_sandbox_pool(ours, THREADS)
        try:

            def settle() -> None:
                """Before each measurement, no system still starts or destroys containers from the last."""
                ours.warm_up(["exec"], wait=True)
                fresh.warm_up(["exec"], wait=True)

            systems: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
                "ours": (ours_run(ours), settle),
                "ours_fresh_per_run": (ours_run(fresh), settle),
                "llm_sandbox_pool": (llm_run, settle),
            }
            for name, (run_one, settle) in systems.items():
                settle()
                run_one()  # the first run of a system pays its imports and connections
                settle()
                numbers[f"{name}_runs_per_s_{THREADS}_threads"] = concurrent_rate(run_one, SUSTAINED_RUNS, THREADS)
            for name, (run_one, settle) in systems.items():
                settle()
                times = back_to_back(run_one, SUSTAINED_RUNS)
                numbers[f"{name}_back_to_back_median_s"] = statistics.median(times)
                numbers[f"{name}_back_to_back_p90_s"] = p90(times)
                numbers[f"{name}_back_to_back_runs_per_s"] = len(times) / sum(times)
            for name in ("ours", "ours_fresh_per_run"):
                run_one, settle = systems[name]
                numbers[f"{name}_warm_run_median_s"] = median_time(run_one, runs, settle)
            numbers["pools"] = {"ours": ours.pool_stats(), "ours_fresh_per_run": fresh.pool_stats()}
        finally:
            llm_pool.close()

    ratios = {
        "runs/s from 4 threads: ours / llm-sandbox reused pool": numbers["ours_runs_per_s_4_threads"]
        / numbers["llm_sandbox_pool_runs_per_s_4_threads"],
        "back to back p90 / median (ours)": numbers["ours_back_to_back_p90_s"] / numbers["ours_back_to_back_median_s"],
        "warm run: recycling / fresh container per run": numbers["ours_warm_run_median_s"]
        / numbers["ours_fresh_per_run_warm_run_median_s"],
    }
    print(f"{SUSTAINED_RUNS} runs of print(1) each way; warm run: median of {runs}")
    for name, value in numbers.items():
        if name != "pools":
            print(f"  {name:48s} {value:8.4f}")
    for label, stats in numbers["pools"].items():
        for pool_stats in stats["pools"]:
            counts = {k: v for k, v in pool_stats.items() if k not in ("role", "memory_mb", "recycle", "max_runs")}
            print(f"  pool {label}/{pool_stats['role']}: {counts}")
    ok = True
    print("ratios (target)")
    for name, (target, way) in SUSTAINED_TARGETS.items():
        met = ratios[name] >= target if way == ">=" else ratios[name] <= target
        ok &= met
        print(f"  {name:56s} {ratios[name]:6.3f}  ({way} {target})  {'ok' if met else 'MISSED'}")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as fh:
            json.dump({"runs": runs, "numbers": numbers, "ratios": ratios}, fh, indent=2)
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", dest="json_out", help="also write the numbers here")
    parser.add_argument("--sustained", action="store_true", help="runs under load (issue 17) instead")
    args = parser.parse_args()
    runs: int = args.runs
    if args.sustained:
        return sustained(runs, args.json_out)
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
