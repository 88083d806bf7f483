"""The public face of the sandbox: run code, render HTML, render charts, in hardened containers.

Every call gets a container of its own (from the warm pool when one is ready) that nothing of an earlier
call can reach: a fresh one, or one recycled after a reset its shim proved and the host checked (see
``pool.py``). After a timeout, a limit hit, a cancellation or an exception the container is destroyed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, get_args

import docker
import docker.errors

from .container import Deadline, Role, WarmContainer
from .errors import RenderError, SandboxError, SandboxUnavailable
from .image import docker_client, image_exists, image_versions
from .languages import Language, program_for
from .limits import Limits, SandboxPolicy
from .owners import LABEL_INSTANCE, reap_orphans
from .pool import MemoryBudget, WarmPool
from .results import DomBlock, HtmlRender, PageFonts, RunResult, Viewport
from .versions import ImageVersions, version_hint

log = logging.getLogger(__name__)

DEFAULT_POOL = {"exec": 2, "chart": 1, "html": 1}
RECYCLED_ROLES = ("exec", "chart")
"""Roles whose containers are reset and reused; an HTML render's browser cannot be proven clean."""
GRACE_S = {"exec": 5.0, "chart": 5.0, "html": 10.0}
UiStack = Literal["html", "tailwind", "react"]
UI_STACKS: tuple[UiStack, ...] = get_args(UiStack)
_CONTAINER_FIELDS = ("network", "memory_mb", "cpus", "pids", "work_mb", "tmp_mb", "nofile", "user")


class Sandbox:
    """Runs untrusted code. Use as a context manager (or call ``close``) so no container outlives it.

    ``pool`` sets how many warm containers each role keeps ready beyond recent demand (0 turns warming
    off, e.g. for a one-shot CLI call). Pools start on first use of a role, or on ``warm_up``.
    """

    def __init__(
        self,
        *,
        image: str | None = None,
        policy: SandboxPolicy | None = None,
        pool: Mapping[str, int] | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.client = client or docker_client()
        self.policy = policy or SandboxPolicy()
        self.image = image or os.environ.get("VISCODEX_SANDBOX_IMAGE") or self.policy.image_recipe().tag
        self._pool_sizes = dict(DEFAULT_POOL if pool is None else pool)
        if not image_exists(self.client, self.image):
            raise SandboxUnavailable(
                f"sandbox image {self.image} is missing; build it with {_build_command(self.policy)}"
            )
        removed = reap_orphans(self.client)
        if removed:
            log.info("removed %d orphaned sandbox containers", len(removed))
        self.instance = uuid.uuid4().hex[:12]
        """Labels every container of this sandbox (``LABEL_INSTANCE``), to tell sandboxes apart."""
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="viscodex-sandbox")
        self._pools: dict[tuple[Any, ...], WarmPool] = {}
        self._budget = MemoryBudget(self.policy.pool_memory_mb)
        self._lock = threading.Lock()
        self._closed = False
        # finalize also runs at interpreter exit, so a forgotten close() still leaves no container.
        self._finalizer = weakref.finalize(self, Sandbox._close_pools, self._pools, self._executor)
        self._versions: ImageVersions | None = None

    @property
    def versions(self) -> ImageVersions:
        """Python, Node and package versions of this sandbox's image, as measured when it was built."""
        if self._versions is None:
            self._versions = image_versions(self.client, self.image)
        return self._versions

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Destroy every container this sandbox started and wait for them to be gone."""
        self._closed = True
        self._finalizer()

    @staticmethod
    def _close_pools(pools: dict[tuple[Any, ...], WarmPool], executor: ThreadPoolExecutor) -> None:
        for pool in list(pools.values()):
            pool.close()
        executor.shutdown(wait=True)

    def _pool(self, role: Role, limits: Limits, fonts: PageFonts = "system") -> WarmPool:
        key = (role, fonts, *(getattr(limits, f) for f in _CONTAINER_FIELDS))
        with self._lock:
            if self._closed:
                raise SandboxError("this sandbox is closed")
            pool = self._pools.get(key)
            if pool is None:
                size = self._pool_sizes.get(role, 0)
                pool = WarmPool(
                    self.client,
                    self.image,
                    role,
                    limits,
                    size,
                    self._executor,
                    labels={LABEL_INSTANCE: self.instance},
                    recycle=role in RECYCLED_ROLES,
                    max_runs=self.policy.recycle_runs,
                    budget=self._budget,
                    fonts=fonts,
                )
                self._pools[key] = pool
        return pool

    def warm_up(self, roles: Sequence[Role] = ("exec",), wait: bool = False) -> bool:
        """Start the pools of these roles; with ``wait``, block until they are full."""
        pools = [self._pool(role, self._limits_for(role)) for role in roles]
        for pool in pools:
            pool.refill()
        return all(pool.wait_warm() for pool in pools) if wait else True

    def pool_stats(self) -> dict[str, Any]:
        """Each pool's sizes and counts (ready, in use, being reset, starting; runs, recycled, cold starts,
        destroyed by reason) and the memory budget of the idle containers."""
        with self._lock:
            pools = list(self._pools.values())
        return {
            "memory_budget_mb": self._budget.limit_mb,
            "memory_idle_mb": self._budget.used_mb,
            "pools": [pool.snapshot() for pool in pools],
        }

    def _limits_for(self, role: Role) -> Limits:
        return {"exec": self.policy.run, "chart": self.policy.chart, "html": self.policy.html}[role]

    # --- the three things a sandbox does ------------------------------------------------------

    def run(
        self,
        code: str | bytes | None = None,
        *,
        lang: Language = "python",
        command: Sequence[str] | str | None = None,
        files: Mapping[str, str | bytes] | None = None,
        stdin: str | bytes = b"",
        timeout_s: float | None = None,
        memory_mb: int | None = None,
        limits: Limits | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run ``code`` as a ``lang`` program (or ``command`` over ``files``) and report how it went.

        A program that fails, times out or runs out of memory is a normal result, not an exception;
        exceptions mean the sandbox itself could not run it.
        """
        limits = (limits or self.policy.run).merged(timeout_s=timeout_s, memory_mb=memory_mb)
        all_files = dict(files or {})
        if code is not None:
            name, argv = program_for(lang)
            all_files[name] = code
        else:
            argv = []
        if command is not None:
            argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        if not argv:
            raise ValueError("run() needs code or a command")
        job = {
            "argv": argv,
            "files": _encode_files(all_files),
            "stdin": base64.b64encode(_bytes(stdin)).decode("ascii"),
        }
        return self._execute("exec", limits, job, cancel)

    def run_chart(
        self,
        code: str,
        *,
        files: Mapping[str, str | bytes] | None = None,
        size: tuple[int, int] | None = None,
        timeout_s: float | None = None,
        trace: bool = False,
        cancel: threading.Event | None = None,
        scale_to: tuple[int, int] | None = None,
    ) -> RunResult:
        """Run a matplotlib script; ``result.png`` holds the figure it drew (savefig, show or neither),
        cropped as the script's own ``savefig(bbox_inches="tight")`` would crop it.

        ``size`` (width, height in pixels) resizes the figure before it is saved, to compare it with a
        target picture of that size. ``scale_to`` (width, height) keeps the figure's size in inches and
        layout and saves it at the dpi that makes the picture about that large: a picture saved at another
        dpi is then compared with glyphs rasterised at its own scale, not resampled ones. With ``trace``,
        ``result.trace`` describes what the figure is made of (chart types and series per axes, texts with
        their boxes in pixels of ``result.png``), read from the drawn artists in the same run.
        """
        limits = self.policy.chart.merged(timeout_s=timeout_s)
        job: dict[str, Any] = {"code": code, "files": _encode_files(dict(files or {}))}
        if size is not None:
            job["width"], job["height"] = size
        elif scale_to is not None:
            job["scale_to"] = [int(scale_to[0]), int(scale_to[1])]
        if trace:
            job["trace"] = True
        return self._execute("chart", limits, job, cancel)

    def render_chart(self, code: str, **kwargs: Any) -> bytes:
        """PNG bytes of the figure ``code`` draws; RenderError (with the run result) if it draws none."""
        result = self.run_chart(code, **kwargs)
        if result.png is None:
            raise RenderError(f"the chart script produced no figure: {result.summary()}", result)
        return result.png

    def render_html(
        self,
        html: str,
        viewport: Viewport | None = None,
        *,
        full_page: bool = True,
        timeout_s: float | None = None,
        cancel: threading.Event | None = None,
        stack: UiStack = "html",
        fonts: PageFonts = "system",
    ) -> bytes:
        """A PNG screenshot of ``html`` at ``viewport`` (full page by default), network off, taken once the
        page has settled: finite CSS animations and transitions at their end, infinite ones at their start.

        ``stack``: ``tailwind`` or ``react`` inline the runtime baked into the image (Tailwind's browser
        build; React 18, ReactDOM and Babel for ``<script type="text/babel">``) before the page's own code.
        ``fonts``: the fonts the page sees (``PageFonts``); each choice has its own warm containers.
        """
        result, _ = self._render_html(
            html, viewport, full_page, timeout_s, cancel, blocks=False, stack=stack, fonts=fonts
        )
        assert result.png is not None
        return result.png

    def render_html_blocks(
        self,
        html: str,
        viewport: Viewport | None = None,
        *,
        full_page: bool = True,
        timeout_s: float | None = None,
        cancel: threading.Event | None = None,
        stack: UiStack = "html",
        fonts: PageFonts = "system",
    ) -> HtmlRender:
        """``render_html`` plus the page's visible text as laid out: words grouped into one block per
        line of each block-level element, with boxes in pixels of the PNG and computed colours.

        Both come from the same page load, so the boxes describe exactly the pixels returned.
        """
        result, extra = self._render_html(
            html, viewport, full_page, timeout_s, cancel, blocks=True, stack=stack, fonts=fonts
        )
        assert result.png is not None
        collected = extra.get("text_blocks") or {}
        try:
            blocks = tuple(DomBlock.model_validate(b) for b in collected.get("blocks", []))
        except ValueError as exc:
            raise SandboxError(f"malformed text blocks from the sandbox: {exc}") from exc
        error = collected.get("error") if collected else "the sandbox returned no text blocks"
        missing = extra.get("missing_fonts") or []
        return HtmlRender(
            png=result.png,
            blocks=blocks,
            truncated=bool(collected.get("truncated")),
            error=str(error) if error else None,
            missing_fonts=tuple(str(f) for f in missing) if isinstance(missing, list) else (),
        )

    def _render_html(
        self,
        html: str,
        viewport: Viewport | None,
        full_page: bool,
        timeout_s: float | None,
        cancel: threading.Event | None,
        *,
        blocks: bool,
        stack: UiStack = "html",
        fonts: PageFonts = "system",
    ) -> tuple[RunResult, dict[str, Any]]:
        viewport = viewport or Viewport()
        limits = self.policy.html.merged(timeout_s=timeout_s)
        job: dict[str, Any] = {
            "html": html,
            "width": viewport.width,
            "height": viewport.height,
            "full_page": full_page,
            "stack": stack,
        }
        if blocks:
            job["blocks"] = True
        result, extra = self._execute_with_extras("html", limits, job, cancel, fonts=fonts)
        if result.png is None:
            raise RenderError(f"the page did not render: {result.summary()}", result)
        return result, extra

    async def arun(self, code: str | bytes | None = None, **kwargs: Any) -> RunResult:
        """``run`` for asyncio callers: cancelling the task stops the run and removes its container."""
        cancel = threading.Event()
        task = asyncio.ensure_future(asyncio.to_thread(self.run, code, cancel=cancel, **kwargs))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            cancel.set()
            await asyncio.gather(task, return_exceptions=True)
            raise

    # --- the one path every call takes --------------------------------------------------------

    def _execute(self, role: Role, limits: Limits, job: dict[str, Any], cancel: threading.Event | None) -> RunResult:
        return self._execute_with_extras(role, limits, job, cancel)[0]

    def _execute_with_extras(
        self,
        role: Role,
        limits: Limits,
        job: dict[str, Any],
        cancel: threading.Event | None,
        *,
        fonts: PageFonts = "system",
    ) -> tuple[RunResult, dict[str, Any]]:
        """Run one job; also return what the reply carried besides the run result (e.g. text blocks)."""
        pool = self._pool(role, limits, fonts)
        job = {**job, "timeout_s": limits.timeout_s, "output_bytes": limits.output_bytes}
        started = time.monotonic()
        container = pool.acquire(cancel)
        reusable = False
        try:
            reply = container.run(job, GRACE_S[role], cancel)
            reusable = _within_limits(reply)
        except Deadline:
            return RunResult(
                exit_code=None,
                stdout="",
                stderr="viscodex: the sandbox did not answer in time; the container was killed",
                timed_out=True,
                oom_killed=False,
                truncated=False,
                duration_s=time.monotonic() - started,
            ), {}
        except SandboxError:
            if _was_oom_killed(container):
                return RunResult(
                    exit_code=-9,
                    stdout="",
                    stderr="viscodex: the sandbox ran out of memory",
                    timed_out=False,
                    oom_killed=True,
                    truncated=False,
                    duration_s=time.monotonic() - started,
                ), {}
            raise
        finally:
            pool.release(container, reusable)
        png = reply.pop("png", None)
        trace = reply.pop("chart_trace", None)
        fields = {name: reply.pop(name) for name in list(reply) if name in RunResult.model_fields}
        if fields.get("exit_code") not in (0, None) and (
            hint := version_hint(str(fields.get("stderr", "")), self.versions)
        ):
            fields["stderr"] = f"{str(fields['stderr']).rstrip()}\n{hint}\n"
            fields["hint"] = hint
        result = RunResult(
            **fields,
            png=base64.b64decode(png) if png else None,
            trace=trace if isinstance(trace, dict) else None,
        )
        return result, reply


def _build_command(policy: SandboxPolicy) -> str:
    flags = "" if policy.package_set == "default" else f" --package-set {policy.package_set}"
    if policy.requirements is not None:
        flags += f" --packages {policy.requirements}"
    return f"`viscodex-agent sandbox build{flags}`"


def _within_limits(reply: Mapping[str, Any]) -> bool:
    """A run that ended by itself, within every limit: its container may be reset and reused."""
    return (
        reply.get("exit_code") is not None
        and not reply.get("timed_out")
        and not reply.get("oom_killed")
        and not reply.get("truncated")
    )


def _was_oom_killed(container: WarmContainer) -> bool:
    try:
        container.container.reload()
    except docker.errors.NotFound:
        return False
    return bool(container.container.attrs.get("State", {}).get("OOMKilled"))


def _bytes(data: str | bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def _encode_files(files: Mapping[str, str | bytes]) -> dict[str, str]:
    return {name: base64.b64encode(_bytes(data)).decode("ascii") for name, data in files.items()}
