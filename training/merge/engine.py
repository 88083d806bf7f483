"""The streaming merge: plan and validate everything from the headers, then compute one row block at a
time and write it straight into its output shard.

Order of work, so a failure never leaves something that looks like a model:
1. open the three checkpoints (headers only) and check architectures, names and shapes; every problem
   is collected and reported together, before anything is written;
2. write shards, index, config, tokenizer, processor and model card into ``OUT.partial-<pid>``;
3. rename it to ``OUT`` (an existing ``OUT`` is replaced only with ``force``).

Policies:
- tied embeddings: where the VLM has ``lm_head.weight`` but code or base tie it to the embeddings (no
  ``lm_head.weight`` in their checkpoint), their ``model.embed_tokens.weight`` stands in for it;
- vocabulary sizes: ``embed_tokens``/``lm_head`` may differ in rows (vocabulary) between the three; the
  rows they share are merged, the VLM's extra rows (its tokenizer's extra tokens) are copied from the
  VLM. Any other shape difference is an error.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

import viscodex

from .checkpoint import INDEX, Checkpoint, CheckpointError
from .hashes import DigestCache, FileDigest, folders_sha256
from .kernels import STORAGE, LinearKernel
from .methods import METHODS, BlockContext, MergeMethod
from .names import NameMappingError, plan_roles
from .recipe import MergeRecipe
from .writer import OutTensor, ShardWriter, plan_shards, shard_names

VLM_TYPES = {"qwen2_5_vl", "qwen2_vl"}
LLM_TYPES = {"qwen2"}
VOCAB_TENSORS = {"model.embed_tokens.weight", "lm_head.weight"}
BLOCK_BYTES = 1 << 20
"""float32 bytes of one row block of one input: small blocks stay in the CPU caches and bound peak
memory at a few times this (measured: 64 MiB blocks were 3x slower on 2 cores)."""
MAX_WORKERS = 4
"""Threads computing blocks at most; the writer thread and the input hasher come on top."""
Progress = Callable[[int, int], None]
_T = TypeVar("_T")


class MergeError(ValueError):
    """The inputs cannot be merged as asked; the message lists every problem found."""


@dataclass(frozen=True)
class Job:
    """How to make one output tensor."""

    out: OutTensor
    vlm_name: str
    code_name: str | None = None
    base_name: str | None = None
    shared_rows: int = 0
    """Rows merged; rows after them are the VLM's own (vocabulary policy)."""

    @property
    def merged(self) -> bool:
        return self.code_name is not None


@dataclass
class MergePlan:
    jobs: list[Job]
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(job.out.nbytes for job in self.jobs)


def _model_type(config: dict[str, object]) -> str:
    return str(config.get("model_type", "?"))


def _out_dtype(recipe: MergeRecipe, input_dtype: str) -> str:
    names = {"float32": "F32", "bfloat16": "BF16", "float16": "F16"}
    return input_dtype if recipe.dtype == "input" else names[recipe.dtype]


def build_plan(recipe: MergeRecipe, vlm: Checkpoint, code: Checkpoint, base: Checkpoint) -> MergePlan:
    """Check the inputs against each other and decide every output tensor, reading only headers."""
    problems: list[str] = []
    notes: list[str] = []
    for label, ckpt, allowed in (
        ("vlm", vlm, VLM_TYPES),
        ("code", code, LLM_TYPES),
        ("base", base, LLM_TYPES),
    ):
        kind = _model_type(ckpt.config())
        if kind not in allowed:
            problems.append(f"--{label} {ckpt.path} is a {kind!r} model; expected {' or '.join(sorted(allowed))}")
    if problems:
        raise MergeError("; ".join(problems))
    try:
        roles = plan_roles(vlm.tensors)
    except NameMappingError as exc:
        raise MergeError(str(exc)) from None

    jobs: list[Job] = []
    used: dict[str, set[str]] = {"code": set(), "base": set()}
    for role in roles:
        info = vlm.tensors[role.name]
        out = OutTensor(role.name, info.shape, _out_dtype(recipe, info.dtype))
        if role.kind == "vision":
            jobs.append(Job(out, role.name))
            continue
        assert role.llm_name is not None
        names: dict[str, str] = {}
        for label, ckpt in (("code", code), ("base", base)):
            name = role.llm_name
            if name not in ckpt.tensors and name == "lm_head.weight" and "model.embed_tokens.weight" in ckpt.tensors:
                name = "model.embed_tokens.weight"
                notes.append(f"{label} ties its embeddings: its embed_tokens stands in for lm_head")
            if name not in ckpt.tensors:
                problems.append(f"{label} ({ckpt.path}) has no tensor {role.llm_name} (for VLM {role.name})")
                continue
            names[label] = name
            used[label].add(name)
        if len(names) < 2:
            continue
        shapes = {
            "vlm": info.shape,
            **{k: (code if k == "code" else base).tensors[v].shape for k, v in names.items()},
        }
        rows = min(shape[0] for shape in shapes.values()) if info.shape else 0
        tails_equal = len({shape[1:] for shape in shapes.values()}) == 1
        if len(set(shapes.values())) > 1 and not (role.llm_name in VOCAB_TENSORS and tails_equal):
            problems.append(
                f"shape mismatch for {role.name}: " + ", ".join(f"{k} {list(v)}" for k, v in shapes.items())
            )
            continue
        if info.shape and rows < info.shape[0]:
            notes.append(
                f"{role.name}: rows {rows}..{info.shape[0] - 1} (vocabulary only the VLM has) copied from the VLM"
            )
        jobs.append(Job(out, role.name, names["code"], names["base"], rows))
    for label, ckpt in (("code", code), ("base", base)):
        unused = sorted(set(ckpt.tensors) - used[label] - {"lm_head.weight", "model.embed_tokens.weight"})
        if unused:
            problems.append(
                f"{label} ({ckpt.path}) has {len(unused)} tensors the VLM's language model lacks "
                f"(another architecture?): {', '.join(unused[:5])}"
            )
    if problems:
        raise MergeError(f"{len(problems)} problem(s): " + "; ".join(problems[:20]))
    return MergePlan(jobs, sorted(set(notes)))


def _row_blocks(job: Job, shape: tuple[int, ...], whole: bool) -> list[tuple[int, int]]:
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


def _shown(digest: FileDigest) -> str:
    """A digest for the model card, saying where it came from unless the file was hashed now."""
    return digest.sha256 if digest.source == "hashed" else f"{digest.sha256} ({HASH_SOURCES[digest.source]})"


HASH_SOURCES = {"hub": "the hub cache's blob name", "cache": "cached for this file's size and times"}


def _header_digest(folder: Path) -> dict[str, str]:
    """A cheap fingerprint (names, sizes, headers) when full hashes are turned off."""
    from .checkpoint import read_header

    out = {}
    for path in sorted(folder.glob("*.safetensors")):
        header = json.dumps(read_header(path), sort_keys=True).encode()
        out[path.name] = "header-sha256:" + hashlib.sha256(header).hexdigest()
    return out


def _input_hashes(full: bool, inputs: dict[str, Path]) -> dict[str, dict[str, str]]:
    if not full:
        return {label: _header_digest(Path(path)) for label, path in inputs.items()}
    cache = DigestCache()
    try:
        digests = folders_sha256({label: Path(path) for label, path in inputs.items()}, cache)
    finally:
        cache.save()
    return {label: {name: _shown(d) for name, d in files.items()} for label, files in digests.items()}


@dataclass
class MergeReport:
    out: Path
    tensors_merged: int
    tensors_copied: int
    bytes_written: int
    seconds: float
    notes: list[str]
    input_hashes: dict[str, dict[str, str]]


def run_merge(
    recipe: MergeRecipe,
    vlm_dir: Path,
    code_dir: Path,
    base_dir: Path,
    out: Path,
    *,
    force: bool = False,
    progress: Progress = lambda _done, _total: None,
) -> MergeReport:
    """Merge and write ``out`` atomically; raise MergeError/CheckpointError before writing on bad input."""
    started = time.monotonic()
    out = Path(out)
    if out.exists() and not force:
        raise MergeError(f"{out} exists; pass --force to replace it")
    try:
        with Checkpoint(vlm_dir) as vlm, Checkpoint(code_dir) as code, Checkpoint(base_dir) as base:
            plan = build_plan(recipe, vlm, code, base)
            staging = out.parent / f"{out.name}.partial-{os.getpid()}"
            if staging.exists():
                shutil.rmtree(staging)
            staging.mkdir(parents=True)
            try:
                with ThreadPoolExecutor(max_workers=1) as hasher:
                    hashes: Future[dict[str, dict[str, str]]] = hasher.submit(
                        _input_hashes, recipe.hash_inputs, {"vlm": vlm_dir, "code": code_dir, "base": base_dir}
                    )
                    written = _write_shards(recipe, plan, vlm, code, base, staging, progress)
                    input_hashes = hashes.result()
                _copy_side_files(vlm.path, staging)
                report = MergeReport(
                    out,
                    sum(job.merged for job in plan.jobs),
                    sum(not job.merged for job in plan.jobs),
                    written,
                    time.monotonic() - started,
                    plan.notes,
                    input_hashes,
                )
                _write_card(staging, recipe, report, {"vlm": vlm_dir, "code": code_dir, "base": base_dir})
                _replace(staging, out, force)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    except CheckpointError as exc:
        raise MergeError(str(exc)) from None
    return report


def _write_shards(
    recipe: MergeRecipe,
    plan: MergePlan,
    vlm: Checkpoint,
    code: Checkpoint,
    base: Checkpoint,
    staging: Path,
    progress: Progress,
) -> int:
    method = METHODS[recipe.method](recipe.parameters)
    computer = BlockComputer(method, recipe.parameters.model_weights(), recipe.parameters.seed)
    if computer.terms is None:
        from .torch_bridge import one_thread

        with one_thread():
            return _write_all(recipe, plan, computer, vlm, code, base, staging, progress)
    return _write_all(recipe, plan, computer, vlm, code, base, staging, progress)


def _write_all(
    recipe: MergeRecipe,
    plan: MergePlan,
    computer: BlockComputer,
    vlm: Checkpoint,
    code: Checkpoint,
    base: Checkpoint,
    staging: Path,
    progress: Progress,
) -> int:
    shards = plan_shards([job.out for job in plan.jobs], recipe.shard_size_mb << 20)
    names = shard_names(len(shards))
    by_name = {job.out.name: job for job in plan.jobs}
    total, done = plan.total_bytes, 0
    weight_map: dict[str, str] = {}
    progress(0, total)
    # Blocks are computed by a few threads (numpy and torch release the GIL) and written in order by
    # this one; at most ``depth`` blocks are in flight, so memory stays at a few blocks. Methods that
    # take whole tensors (TIES) get one worker: a whole tensor each is enough memory.
    workers = 1 if computer.method.whole_tensors else max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    depth = 2 * workers
    whole = computer.method.whole_tensors
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="viscodex-merge") as pool:
        for shard, file_name in zip(shards, names, strict=True):
            with ShardWriter(staging / file_name, shard) as writer:
                tasks = (
                    (out_tensor.name, functools.partial(computer.compute, job, start, stop, vlm, code, base))
                    for out_tensor in shard
                    for job in [by_name[out_tensor.name]]
                    for start, stop in _row_blocks(job, vlm.tensors[job.vlm_name].shape, whole)
                )
                for name, block in _in_order(pool, tasks, depth):
                    writer.write(name, block)
                    done += block.nbytes
                    progress(done, total)
            weight_map.update((out_tensor.name, file_name) for out_tensor in shard)
    if len(names) > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (staging / INDEX).write_text(json.dumps(index, indent=2) + "\n")
    return total


def _in_order(
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


def _copy_side_files(vlm_dir: Path, staging: Path) -> None:
    """Config, generation config, tokenizer, processor and chat template: the VLM's, unchanged."""
    for path in vlm_dir.iterdir():
        if path.is_file() and not path.name.endswith(".safetensors") and path.name not in {INDEX, "README.md"}:
            shutil.copy2(path, staging / path.name)


def _write_card(staging: Path, recipe: MergeRecipe, report: MergeReport, inputs: dict[str, Path]) -> None:
    (staging / "viscodex_merge.yaml").write_text(recipe.to_yaml())
    lam_vlm, lam_code = recipe.parameters.model_weights()
    hashes = "\n".join(
        f"- {label} `{inputs[label]}`:\n" + "\n".join(f"  - `{name}` {digest}" for name, digest in files.items())
        for label, files in report.input_hashes.items()
    )
    notes = "\n".join(f"- {note}" for note in report.notes) or "- none"
    card = f"""---
library_name: transformers
tags: [viscodex, merge, {recipe.method}]
base_model: [{recipe.vlm}, {recipe.code}, {recipe.base}]
---
# VisCodex merge

Made by viscodex {viscodex.__version__} (`viscodex-train merge`). The language backbone of `{recipe.vlm}`
merged with `{recipe.code}` by `{recipe.method}` against their common base `{recipe.base}`; the vision
encoder and the vision-language projector are copied from the VLM unchanged, as are its config,
tokenizer, processor and chat template.

For `task_arithmetic` with weights ({lam_vlm:g}, {lam_code:g}) every language tensor is
`theta_base + {lam_vlm:g} * (theta_vlm - theta_base) + {lam_code:g} * (theta_code - theta_base)`,
computed in float32 and stored as `{recipe.dtype}`.

{report.tensors_merged} tensors merged, {report.tensors_copied} copied, {report.bytes_written:,} bytes,
{report.seconds:.1f} s.

## Recipe (`viscodex_merge.yaml`)

```yaml
{recipe.to_yaml()}```

## Notes

{notes}

## Inputs (sha256)

{hashes}
"""
    (staging / "README.md").write_text(card)


def _replace(staging: Path, out: Path, force: bool) -> None:
    if out.exists():
        if not force:
            raise MergeError(f"{out} appeared while merging; not replacing it")
        old = out.parent / f"{out.name}.old-{os.getpid()}"
        out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)
