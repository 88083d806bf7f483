"""Synthetic charts per minute: the sandbox pool (2 workers, warm containers) against one at a time.

    .venv/bin/python bench/data.py [--n 12] [--repeats 3] [--load K] [--json out.json]

Each repeat makes the same N charts (``seed = 100 + repeat``) twice with ``synthesize("chart", ...)``,
the Python API behind ``viscodex-train data synth --kind chart``: once with ``workers=1`` on a sandbox
whose chart pool holds one warm container, once with ``workers=2`` on one holding two (both pools full
before each timed run, as a long ``data synth`` keeps them). The sides alternate, which goes first
alternating too; the ratio is the median of the per-repeat ratios. Ratios, not absolute times: the
machine is shared and loaded.

Every timed run also says where an item's time goes: generating the program on the host,
waiting for a container, the sandbox call (and within it the script's own run as the container reports
it), checking the picture, writing the item (PNG, code, ChartMimic view, the fsynced record line), and
the host process's CPU time against the wall time (what the GIL could serialise), the CPU seconds the containers used
(their cgroups), the cores the run got ((host + containers) CPU / wall) and the pool's counts of cold
starts and reused containers. The stage timers are a few microseconds per item.

Two controls close the run: the same two-at-a-time over one-at-a-time gain for a fixed busy loop, run
as host processes and as sandbox runs. They tell the machine's limit from ours: on a cgroup v1 host
every container sits under ``/docker``, one group whose ``cpu.shares`` (1024) weigh as much as a single
host process, so when host processes compete, all containers together get about one core's share,
however many run at once (bench/RESULTS.md has the run that shows it). ``--load K`` runs K host processes
that spin through the whole measurement, a load we set rather than the neighbours' (the load average then
counts them too).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from viscodex.sandbox import Sandbox
from viscodex.sandbox.owners import LABEL_INSTANCE
from viscodex.sandbox.pool import WarmPool
from viscodex.training.data.synth import runner
from viscodex.training.data.synth.base import Program, Rendered, Synthesizer, check_picture
from viscodex.training.data.synth.charts import SYNTHESIZER as CHARTS

TARGET = 1.8
"""Issue 14: charts per minute with the pool >= 1.8x one at a time on 2 cores."""


def warm(box: Sandbox) -> None:
    box.warm_up(("chart",), wait=True)


def timed_run(box: Sandbox, workers: int, n: int, seed: int, synth: Synthesizer | None = None) -> float:
    """Seconds ``synthesize`` took to make N charts into a fresh folder."""
    warm(box)
    with tempfile.TemporaryDirectory(prefix="viscodex-bench-data-") as tmp:
        start = time.perf_counter()
        report = runner.synthesize(
            "chart", n=n, seed=seed, out=Path(tmp), workers=workers, sandbox=box, synthesizer=synth
        )
        seconds = time.perf_counter() - start
    if report.made != n or report.sandbox_errors:
        raise SystemExit(f"workers={workers}: made {report.made} of {n}, sandbox errors {report.sandbox_errors}")
    return seconds


class Profile:
    """Per-stage seconds summed over a run's items (thread-safe), and counts."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.items = 0
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] += seconds

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)


def profiled_synthesizer(profile: Profile) -> Synthesizer:
    """The chart synthesizer with each stage timed (the same calls ``charts.render`` makes)."""

    def generate(seed: int, index: int) -> Program:
        with profile.stage("generate (host, main thread)"):
            return CHARTS.generate(seed, index)

    def render(program: Program, box: Sandbox, cancel: threading.Event | None) -> Rendered:
        with profile.stage("sandbox call (run_chart)"):
            result = box.run_chart(program.code, cancel=cancel)
        profile.add("  script run, as the container reports it", result.duration_s)
        assert result.ok and result.png is not None, result.summary()
        with profile.stage("check picture (host, PIL)"):
            width, height = check_picture(result.png)
        with profile._lock:
            profile.items += 1
        return Rendered(result.png, {"width": width, "height": height})

    return Synthesizer(kind="chart", roles=CHARTS.roles, generate=generate, render=render)


@contextmanager
def patched(profile: Profile) -> Iterator[None]:
    """Time the pool's acquire and the runner's writes for the duration."""
    acquire, commit, append = WarmPool.acquire, runner._commit_item, runner._append_line

    def timed_acquire(self: WarmPool, cancel: threading.Event | None = None) -> Any:
        with profile.stage("  waiting for a container (acquire)"):
            return acquire(self, cancel)

    def timed_commit(*args: Any) -> Any:
        with profile.stage("write item files (host, main thread)"):
            return commit(*args)

    def timed_append(*args: Any) -> None:
        with profile.stage("append + fsync record line (host, main thread)"):
            append(*args)

    WarmPool.acquire = timed_acquire  # type: ignore[method-assign]
    runner._commit_item = timed_commit  # type: ignore[assignment]
    runner._append_line = timed_append  # type: ignore[assignment]
    try:
        yield
    finally:
        WarmPool.acquire = acquire  # type: ignore[method-assign]
        runner._commit_item = commit
        runner._append_line = append


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def container_cpu(box: Sandbox) -> dict[str, float]:
    """CPU seconds used so far by each live container of ``box``, from its cgroup (cgroup v1 cpuacct or
    v2 cpu.stat); empty where the daemon's cgroups are out of sight."""
    usage: dict[str, float] = {}
    for container in box.client.containers.list(filters={"label": f"{LABEL_INSTANCE}={box.instance}"}):
        try:
            pid = int(container.attrs["State"]["Pid"])
            with open(f"/proc/{pid}/cgroup", encoding="ascii") as fh:
                lines = [line.strip().split(":", 2) for line in fh if line.count(":") >= 2]
            for _, controllers, path in lines:
                if "cpuacct" in controllers.split(","):
                    name = controllers if os.path.isdir(f"/sys/fs/cgroup/{controllers}") else "cpuacct"
                    usage[container.id] = int(Path(f"/sys/fs/cgroup/{name}{path}/cpuacct.usage").read_text()) / 1e9
                elif controllers == "" and Path(f"/sys/fs/cgroup{path}/cpu.stat").is_file():
                    stat = Path(f"/sys/fs/cgroup{path}/cpu.stat").read_text().split()
                    usage.setdefault(container.id, int(stat[stat.index("usage_usec") + 1]) / 1e6)
        except (OSError, KeyError, ValueError):
            continue
    return usage


def profiled_run(box: Sandbox, workers: int, n: int, seed: int) -> dict[str, Any]:
    """One timed run with every stage timed, the host's and the containers' CPU seconds, pool counts."""
    profile = Profile()
    warm(box)
    stats_before = _pool_counts(box)
    containers_before = container_cpu(box)
    cpu = cpu_seconds()
    with patched(profile):
        wall = timed_run(box, workers, n, seed, profiled_synthesizer(profile))
    host_cpu = cpu_seconds() - cpu
    containers_after = container_cpu(box)
    stats_after = _pool_counts(box)
    box_cpu = sum(v - containers_before.get(k, 0.0) for k, v in containers_after.items())
    return {
        "wall_s": wall,
        "per_item_s": {stage: s / n for stage, s in profile.seconds.items()},
        "host_cpu_per_item_s": host_cpu / n,
        "container_cpu_per_item_s": box_cpu / n,
        "cores_used": (host_cpu + box_cpu) / wall,
        "pool": {k: stats_after[k] - stats_before[k] for k in COUNTS},
    }


BUSY = "n = 0\nfor i in range(4_000_000):\n    n += i * i\nprint(n % 7)\n"
"""A fixed piece of pure CPU work (about 0.3 s on an idle core), for the controls."""
DOCKER_SHARES = Path("/sys/fs/cgroup/cpu/docker/cpu.shares")


def busy_ratio(box: Sandbox | None, jobs: int = 4) -> float:
    """Throughput of ``jobs`` copies of BUSY two at a time over one at a time: in host processes
    (``box`` None) or in the sandbox's containers. What a second worker can get from the machine now."""

    def one(_: int) -> None:
        if box is None:
            subprocess.run([sys.executable, "-c", BUSY], check=True, capture_output=True)
        else:
            assert box.run(BUSY).ok

    def wall(workers: int) -> float:
        if box is not None:
            box.warm_up(("exec",), wait=True)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(jobs)))
        return time.perf_counter() - start

    ratios = []
    for r in range(3):
        order = (1, 2) if r % 2 == 0 else (2, 1)
        walls = {w: wall(w) for w in order}
        ratios.append(walls[1] / walls[2])
    return statistics.median(ratios)


COUNTS = ("runs", "recycled", "cold_starts", "destroyed")


def _pool_counts(box: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for pool in box.pool_stats()["pools"]:
        for key, value in pool.items():
            if key in COUNTS[:3]:
                counts[key] += int(value)
            elif key.startswith("destroyed_"):
                counts["destroyed"] += int(value)
    return counts


def _median_side(runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    def med(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    stages = sorted({stage for run in runs for stage in run["per_item_s"]})
    return {
        "charts_per_min": round(60 * n / statistics.median(run["wall_s"] for run in runs), 2),
        "wall_per_item_s": med([run["wall_s"] / n for run in runs]),
        "per_item_s": {stage: med([run["per_item_s"].get(stage, 0.0) for run in runs]) for stage in stages},
        "host_cpu_per_item_s": med([run["host_cpu_per_item_s"] for run in runs]),
        "container_cpu_per_item_s": med([run["container_cpu_per_item_s"] for run in runs]),
        "cores_used": med([run["cores_used"] for run in runs]),
        "pool_totals": {k: sum(run["pool"][k] for run in runs) for k in COUNTS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=12, help="charts per timed run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--load", type=int, default=0, help="host processes that spin through the run (a load we set)")
    args = parser.parse_args()

    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        measure(args)
    finally:
        for proc in spin:
            proc.kill()
            proc.wait()


def measure(args: argparse.Namespace) -> None:
    load_before = os.getloadavg()
    boxes = {1: Sandbox(pool={"chart": 1}), 2: Sandbox(pool={"chart": 2})}
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    ratios = []
    try:
        for box in boxes.values():
            warm(box)
        timed_run(boxes[1], 1, 2, 99)  # first imports and the first render, untimed
        for r in range(args.repeats):
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                run = profiled_run(boxes[workers], workers, args.n, 100 + r)
                runs[workers].append(run)
                print(
                    f"repeat {r} workers={workers}: {60 * args.n / run['wall_s']:.1f} charts/min, "
                    f"{run['cores_used']:.2f} cores, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            ratios.append(runs[1][-1]["wall_s"] / runs[2][-1]["wall_s"])
        # Controls: the same two-at-a-time gain for pure CPU work in host processes and in containers.
        controls = {"host processes": busy_ratio(None)}
        with Sandbox(pool={"exec": 2}) as box:
            controls["sandbox containers"] = busy_ratio(box)
    finally:
        for box in boxes.values():
            box.close()
    load_after = os.getloadavg()

    sides = {f"workers={w}": _median_side(runs[w], args.n) for w in (1, 2)}
    ratio = statistics.median(ratios)
    out = {
        "n": args.n,
        "repeats": args.repeats,
        "spinning host processes": args.load,
        "sides": sides,
        "ratios": [round(x, 3) for x in ratios],
        "pool / one at a time": round(ratio, 3),
        "cores used, pool / one at a time": round(
            sides["workers=2"]["cores_used"] / sides["workers=1"]["cores_used"], 3
        ),
        "target": TARGET,
        "met": ratio >= TARGET,
        "control: busy loop 2 at a time / 1 at a time": {k: round(v, 3) for k, v in controls.items()},
        "docker cgroup cpu.shares": DOCKER_SHARES.read_text().strip() if DOCKER_SHARES.is_file() else None,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
