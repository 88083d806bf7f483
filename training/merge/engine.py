"""The streaming merge: plan and validate everything from the headers, then compute one row block at a
time and write it straight into its output shard.

Order of work, so a failure never leaves something that looks like a model:
1. open the three checkpoints (headers only) and check architectures, names and shapes; every problem
   is collected and reported together, before anything is written;
2. write shards, index, config, tokenizer, processor and model card into ``OUT.partial-<pid>``;
3. rename it to ``OUT`` (an existing ``OUT`` is replaced only with ``force``).

The plan and its policies are in ``plan.py``, the block arithmetic in ``compute.py``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import viscodex

from .checkpoint import INDEX, Checkpoint, CheckpointError
from .compute import MAX_WORKERS, BlockComputer, in_order, row_blocks
from .hashes import DigestCache, FileDigest, folders_sha256
from .methods import METHODS
from .plan import MergeError, MergePlan, build_plan
from .recipe import MergeRecipe
from .writer import ShardWriter, plan_shards, shard_names

__all__ = ["MergeError", "MergeReport", "build_plan", "run_merge"]

Progress = Callable[[int, int], None]


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
    with _torch_threads(computer):
        return _write_all(plan, computer, vlm, code, base, staging, progress, recipe.shard_size_mb << 20)


def _torch_threads(computer: BlockComputer) -> AbstractContextManager[None]:
    """torch on one thread for the methods that use it; nothing (no torch import) for the others."""
    if computer.terms is not None:
        return nullcontext()
    from .torch_bridge import one_thread

    return one_thread()


def _write_all(
    plan: MergePlan,
    computer: BlockComputer,
    vlm: Checkpoint,
    code: Checkpoint,
    base: Checkpoint,
    staging: Path,
    progress: Progress,
    shard_bytes: int,
) -> int:
    shards = plan_shards([job.out for job in plan.jobs], shard_bytes)
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
                    for start, stop in row_blocks(job, vlm.tensors[job.vlm_name].shape, whole)
                )
                for name, block in in_order(pool, tasks, depth):
                    writer.write(name, block)
                    done += block.nbytes
                    progress(done, total)
            weight_map.update((out_tensor.name, file_name) for out_tensor in shard)
    if len(names) > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (staging / INDEX).write_text(json.dumps(index, indent=2) + "\n")
    return total


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
