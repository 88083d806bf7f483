"""Computing output row blocks, in parallel, in order: the merge's inner loop.

Blocks are about BLOCK_BYTES of float32 per input, so they stay in the CPU caches; a few threads
compute them (numpy and torch release the GIL) while the caller writes finished ones in order.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from .checkpoint import Checkpoint
from .kernels import STORAGE, LinearKernel
from .methods import BlockContext, MergeMethod
from .plan import Job

BLOCK_BYTES = 1 << 20
"""float32 bytes of one row block of one input: small blocks stay in the CPU caches and bound peak
memory at a few times this (larger blocks were slower: bench/RESULTS.md, merge)."""
MAX_WORKERS = 4
"""Threads computing blocks at most; the writing thread and the input hashers (one per core) come on top."""
_T = TypeVar("_T")


def row_blocks(job: Job, shape: tuple[int, ...], whole: bool) -> list[tuple[int, int]]:
    """Row ranges to compute: blocks of about BLOCK_BYTES in float32 (or the whole tensor for methods
    that need it), split where the shared vocabulary ends."""
    if not shape:
        return [(0, 0)]
    rows = shape[0]
    bounds = {0, rows}
    if job.merged and 0 < job.shared_rows < rows:
        bounds.add(job.shared_rows)
    if not whole:
        row_bytes = 4 * math.prod(shape[1:])
        bounds.update(range(0, rows, max(1, BLOCK_BYTES // max(1, row_bytes))))
    return list(itertools.pairwise(sorted(bounds)))


class BlockComputer:
    """Computes output row blocks: weighted sums with the numpy kernels, other methods with torch.

    Safe to call from several threads at once: each thread gets work buffers of its own (and reads
    into its own buffer of each checkpoint); every result is a fresh array the caller owns.
    """

    def __init__(self, method: MergeMethod, weights: tuple[float, float], seed: int) -> None:
        self.method = method
        self.weights = weights
        self.seed = seed
        self.terms = method.linear_terms(weights)
        self._local = threading.local()

    @property
    def kernel(self) -> LinearKernel:
        kernel: LinearKernel | None = getattr(self._local, "kernel", None)
        if kernel is None:
            kernel = self._local.kernel = LinearKernel(BLOCK_BYTES // 4)
        return kernel

    def compute(
        self, job: Job, start: int, stop: int, vlm: Checkpoint, code: Checkpoint, base: Checkpoint
    ) -> npt.NDArray[np.generic]:
        """Rows ``start:stop`` of ``job``'s output, in the numpy dtype of its output dtype."""
        out_dtype = STORAGE[job.out.dtype]
        vlm_block = vlm.rows(job.vlm_name, start, stop)
        if not job.merged or (job.out.shape and start >= job.shared_rows):
            if vlm_block.dtype == out_dtype:
                return vlm_block.copy()  # out of this thread's read buffer
            out = np.empty(vlm_block.shape, out_dtype)
            self.kernel.convert(vlm_block, out.reshape(-1))
            return out
        assert job.code_name is not None and job.base_name is not None
        if self.terms is None:
            return self._compute_torch(job, start, stop, vlm, code, base)
        model_terms, base_term = self.terms
        out = np.empty(vlm_block.shape, out_dtype)
        # the kernel widens each input before the next read reuses that checkpoint's buffer
        inputs = [(vlm, job.vlm_name), (code, job.code_name)]
        coefficients = list(model_terms)
        if base_term != 0.0:
            inputs.append((base, job.base_name))
            coefficients.append(base_term)
        self.kernel.combine(_LazyBlocks(inputs, start, stop, vlm_block), coefficients, out.reshape(-1))
        return out

    def _compute_torch(
        self, job: Job, start: int, stop: int, vlm: Checkpoint, code: Checkpoint, base: Checkpoint
    ) -> npt.NDArray[np.generic]:
        """TIES, DARE and any other method that is not a weighted sum: float32 torch tensors in and out."""
        from .torch_bridge import from_torch_f32, to_torch_f32

        assert job.code_name is not None and job.base_name is not None
        vlm_f32 = to_torch_f32(vlm.rows(job.vlm_name, start, stop), vlm.tensors[job.vlm_name].dtype)
        code_f32 = to_torch_f32(code.rows(job.code_name, start, stop), code.tensors[job.code_name].dtype)
        if self.method.needs_base(self.weights):
            base_f32 = to_torch_f32(base.rows(job.base_name, start, stop), base.tensors[job.base_name].dtype)
        else:
            base_f32 = vlm_f32
        ctx = BlockContext(job.vlm_name, start, self.seed)
        merged = self.method.merge(base_f32, [vlm_f32, code_f32], self.weights, ctx)
        return from_torch_f32(merged, job.out.dtype)


class _LazyBlocks:
    """The kernel's inputs, each read only when the kernel reaches it: a checkpoint's read buffer is
    reused by its next read, and the VLM's block (already read) must be widened before anything else."""

    def __init__(
        self, inputs: list[tuple[Checkpoint, str]], start: int, stop: int, first: npt.NDArray[np.generic]
    ) -> None:
        self._inputs = inputs
        self._start, self._stop = start, stop
        self._first = first

    def __len__(self) -> int:
        return len(self._inputs)

    def __iter__(self) -> Iterator[npt.NDArray[np.generic]]:
        for index, (ckpt, name) in enumerate(self._inputs):
            yield self._first if index == 0 else ckpt.rows(name, self._start, self._stop)


def in_order(
    pool: ThreadPoolExecutor, tasks: Iterable[tuple[str, Callable[[], _T]]], depth: int
) -> Iterator[tuple[str, _T]]:
    """Each task's label and result, in the tasks' order, with at most ``depth`` submitted and unread."""
    pending: deque[tuple[str, Future[_T]]] = deque()
    try:
        for label, task in tasks:
            pending.append((label, pool.submit(task)))
            if len(pending) >= depth:
                label, future = pending.popleft()
                yield label, future.result()
        while pending:
            label, future = pending.popleft()
            yield label, future.result()
    finally:
        for _, future in pending:
            future.cancel()
