"""Where the items' sandbox work runs: a local pool of warm containers, or a Ray cluster.

Both scorers take the same calls, ``await scorer.call(fn, *args, **kwargs)``, which runs
``fn(sandbox, *args, **kwargs)`` next to a sandbox: ``fn`` is a module-level function
(``chartmimic.score_script``, ``chartmimic.render_for_judge``, ``mmcode.judge``) and its arguments are plain
data (scripts as text, not paths), so they travel to another machine unchanged. The model calls stay in the
driver; only the scoring, the part bound by containers, is spread out.

With Ray (``--ray ADDRESS``, or ``--ray local`` to start a one-machine instance), ``workers`` actors are
placed with the SPREAD strategy; each builds its own ``Sandbox`` on its node, so each node uses its own
Docker daemon and needs the same sandbox image (``viscodex-agent sandbox build [--package-set ...]``) and the
same ``viscodex`` install as the driver. Each actor takes one item at a time; the driver hands an item to
whichever actor is free.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any, Protocol


class Scorer(Protocol):
    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...

    async def close(self) -> None: ...


class LocalScorer:
    """One ``Sandbox`` with ``workers`` warm containers, called from threads."""

    def __init__(self, sandbox: Any) -> None:
        self.sandbox = sandbox

    @classmethod
    async def open(cls, package_set: str, workers: int) -> LocalScorer:
        from viscodex.sandbox import Sandbox, SandboxPolicy

        policy = SandboxPolicy(package_set=package_set)
        return cls(await asyncio.to_thread(Sandbox, policy=policy, pool={"exec": workers}))

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, self.sandbox, *args, **kwargs)

    async def close(self) -> None:
        await asyncio.to_thread(self.sandbox.close)


class _Node:
    """A Ray actor holding one sandbox on its node (made a Ray actor class in ``RayScorer.open``)."""

    def __init__(self, package_set: str) -> None:
        from viscodex.sandbox import Sandbox, SandboxPolicy

        self.sandbox = Sandbox(policy=SandboxPolicy(package_set=package_set), pool={"exec": 1})

    def where(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return fn(self.sandbox, *args, **kwargs)

    def close(self) -> None:
        self.sandbox.close()


class RayUnavailable(RuntimeError):
    """Ray is not installed or the cluster does not answer; the message says what to do."""


class RayScorer:
    def __init__(self, actors: list[Any], started_here: bool) -> None:
        self.actors = actors
        self.started_here = started_here
        self.free: asyncio.Queue[Any] = asyncio.Queue()
        for actor in actors:
            self.free.put_nowait(actor)
        self.places: list[str] = []

    @classmethod
    async def open(cls, address: str, package_set: str, workers: int) -> RayScorer:
        try:
            import ray
        except ImportError:
            raise RayUnavailable("--ray needs Ray: pip install 'viscodex[ray]'") from None
        local = address == "local"
        if not ray.is_initialized():
            try:
                if local:
                    await asyncio.to_thread(
                        ray.init, num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=40
                    )
                else:
                    await asyncio.to_thread(ray.init, address=address, log_to_driver=False, logging_level=40)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayUnavailable(
                    f"cannot reach the Ray cluster at {address}: {' '.join(str(exc).split())}"
                ) from None
        node: Any = ray.remote(num_cpus=1, scheduling_strategy="SPREAD")(_Node)
        actors = [node.remote(package_set) for _ in range(workers)]
        scorer = cls(actors, started_here=local)
        scorer.places = list(await asyncio.gather(*(actor.where.remote() for actor in actors)))
        return scorer

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        actor = await self.free.get()
        try:
            return await actor.call.remote(fn, args, kwargs)
        finally:
            self.free.put_nowait(actor)

    async def close(self) -> None:
        import ray

        try:
            await asyncio.gather(*(actor.close.remote() for actor in self.actors), return_exceptions=True)
        finally:
            for actor in self.actors:
                ray.kill(actor)
            if self.started_here:
                await asyncio.to_thread(ray.shutdown)
