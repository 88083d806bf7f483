"""`viscodex-agent doctor`: check each service VisCodex needs and say how to fix what fails."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import docker
import typer
from rich.console import Console
from rich.table import Table

from viscodex.model.errors import ModelError
from viscodex.model.presets import DEFAULT_PRESET, PRESETS
from viscodex.model.settings import ModelSettings
from viscodex.sandbox import DEFAULT_SET, ImageRecipe, Sandbox, SandboxError, Viewport, available_sets, image_versions
from viscodex.sandbox.image import docker_client, image_exists

from .cli_errors import UsageError, expected_failures
from .exit_codes import ExitCode

CHART = "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\n"
PAGE = "<!doctype html><h1 style='color:#0a6'>VisCodex doctor</h1>"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False
    """Not working, but not required for what was asked: shown, does not fail the doctor."""


def _timed(fn: Callable[[], str]) -> tuple[bool, str]:
    start = time.monotonic()
    try:
        detail = fn()
    except (SandboxError, OSError) as exc:
        return False, str(exc)
    return True, f"{detail} ({time.monotonic() - start:.2f} s)"


def model_check(settings: ModelSettings) -> Check:
    """The model is optional for the sandbox checks; it fails the doctor only when one was configured."""
    from viscodex.model.select import probe  # LangChain is slow to import: only when checked

    configured = settings.configured()
    try:
        backend, detail = asyncio.run(probe(settings))
    except ModelError as exc:
        return Check("model", not configured, str(exc), "", warn=not configured)
    local = settings.local_model()
    if backend == "embedded" and local.demo:
        # Says which model answers and that it is only the demo, with the command that builds the real one.
        real = PRESETS[DEFAULT_PRESET]
        return Check("model", True, f"{backend}: {detail}", f"for the real model: `{real.build}`")
    return Check("model", True, f"{backend}: {detail}")


def packages_check(client: docker.DockerClient, tag: str) -> Check:
    """The versions the image runs code with, and which other package sets are built."""
    versions = image_versions(client, tag)
    if not versions.packages:
        return Check("python packages", False, f"{tag} records no versions", "rebuild: `sandbox build --force`")
    built = [name for name in available_sets() if image_exists(client, ImageRecipe(package_set=name).tag)]
    detail = (
        f"set {versions.package_set or '?'}: Python {versions.python}, Node {versions.node}, {versions.describe()}"
        f" ({len(versions.packages)} distributions); sets built: {', '.join(built) or 'none'}"
    )
    return Check("python packages", True, detail)


POOL_RUNS = 3


def pool_check(sandbox: Sandbox) -> Check:
    """Pool sizes and recycling counts, after a few more runs: are containers reused after their reset?"""
    try:
        for _ in range(POOL_RUNS):
            sandbox.run("print(1)")
    except SandboxError as exc:
        return Check("sandbox pools", False, str(exc), "see the error; `VISCODEX_LOG_LEVEL=INFO` shows the pool's log")
    stats = sandbox.pool_stats()
    parts = []
    for pool in stats["pools"]:
        destroyed = sum(v for k, v in pool.items() if k.startswith("destroyed_"))
        parts.append(
            f"{pool['role']}: {pool['ready']} ready of {pool['target']}, {pool['in_use']} in use,"
            f" {pool['resetting']} resetting, {pool['starting']} starting,"
            f" {pool['runs']} runs, {pool['started']} started, {pool['recycled']} recycled,"
            f" {destroyed} destroyed, {pool['cold_starts']} cold"
        )
    policy = sandbox.policy
    detail = (
        f"{'; '.join(parts)}; idle memory {stats['memory_idle_mb']} of {stats['memory_budget_mb']} MiB;"
        f" recycle_runs {policy.recycle_runs}"
    )
    runs = next((p for p in stats["pools"] if p["role"] == "exec"), None)
    recycling = runs is None or not runs["recycle"] or runs["recycled"] > 0
    fix = "" if recycling else "containers are not recycled (runs pay a cold start): `VISCODEX_LOG_LEVEL=INFO` says why"
    return Check("sandbox pools", True, detail, fix, warn=not recycling)


def run_checks(settings: ModelSettings | None = None, package_set: str = DEFAULT_SET) -> list[Check]:
    """Each check runs only if the ones it depends on passed: without a Docker daemon or the sandbox
    image the report ends there, with the fix for the first one that failed."""
    checks: list[Check] = [model_check(settings or ModelSettings())]
    try:
        client = docker_client()
        version = client.version().get("Version", "?")
        checks.append(Check("docker daemon", True, f"Docker {version}"))
    except SandboxError as exc:
        checks.append(Check("docker daemon", False, str(exc), "start dockerd, or set DOCKER_HOST"))
        return checks
    tag = os.environ.get("VISCODEX_SANDBOX_IMAGE") or ImageRecipe(package_set=package_set).tag
    if not image_exists(client, tag):
        flag = "" if package_set == DEFAULT_SET else f" --package-set {package_set}"
        checks.append(Check("sandbox image", False, f"{tag} missing", f"run `viscodex-agent sandbox build{flag}`"))
        return checks
    checks.append(Check("sandbox image", True, tag))
    checks.append(packages_check(client, tag))
    with Sandbox(client=client, image=tag, pool={}) as sandbox:

        def run_python() -> str:
            result = sandbox.run("print(6 * 7)")
            if result.stdout.strip() != "42":
                raise SandboxError(f"unexpected result: {result.summary()}")
            return "print(6 * 7) -> 42"

        def render_page() -> str:
            png = sandbox.render_html(PAGE, Viewport(width=400, height=200))
            return f"{len(png)} byte PNG"

        def render_chart() -> str:
            return f"{len(sandbox.render_chart(CHART))} byte PNG"

        for name, fn, fix in (
            ("sandbox run", run_python, "see the error; rebuild with `sandbox build --force`"),
            ("render html", render_page, "chromium or Playwright in the image is broken: rebuild"),
            ("render chart", render_chart, "matplotlib in the image is broken: rebuild"),
        ):
            ok, detail = _timed(fn)
            checks.append(Check(name, ok, detail, "" if ok else fix))
        checks.append(pool_check(sandbox))
    return checks


def doctor(
    model_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    model_name: Annotated[str | None, typer.Option(help="Model name on that server.")] = None,
    model_path: Annotated[Path | None, typer.Option(help="Local checkpoint (embedded backend).")] = None,
    package_set: Annotated[
        str, typer.Option("--package-set", help=f"Check this package set's image ({', '.join(available_sets())}).")
    ] = DEFAULT_SET,
) -> None:
    """Check the model, Docker, the sandbox image and rendering; exit 3 if something required fails."""
    with expected_failures():
        settings = ModelSettings.from_flags(model_url=model_url, model_name=model_name, model_path=model_path)
        if package_set not in available_sets():
            raise UsageError(f"no package set {package_set!r}; the sets are: {', '.join(available_sets())}")
    checks = run_checks(settings, package_set)
    table = Table("check", "status", "detail", "how to fix", title="viscodex doctor")
    for check in checks:
        status = "[yellow]missing[/yellow]" if check.warn else "[green]ok[/green]" if check.ok else "[red]FAIL[/red]"
        table.add_row(check.name, status, check.detail, check.fix)
    Console().print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(int(ExitCode.UNAVAILABLE))
