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

import hashlib
import itertools
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

import viscodex

from .checkpoint import INDEX, TORCH_DTYPES, Checkpoint, CheckpointError
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
Progress = Callable[[int, int], None]


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


def _compute(
    job: Job,
    start: int,
    stop: int,
    method: MergeMethod,
    weights: tuple[float, float],
    seed: int,
    vlm: Checkpoint,
    code: Checkpoint,
    base: Checkpoint,
) -> torch.Tensor:
    out_dtype = TORCH_DTYPES[job.out.dtype]
    scalar = not job.out.shape
    assert job.code_name is not None or not job.merged
    vlm_block = vlm.rows(job.vlm_name, start, stop)
    if not job.merged or (not scalar and start >= job.shared_rows):
        return vlm_block.to(out_dtype)
    assert job.code_name is not None and job.base_name is not None
    vlm_f32 = vlm_block.to(torch.float32)  # a copy: the buffer is reused by the next read
    code_f32 = code.rows(job.code_name, start, stop).to(torch.float32)
    base_f32 = base.rows(job.base_name, start, stop).to(torch.float32) if method.needs_base(weights) else vlm_f32
    merged = method.merge(base_f32, [vlm_f32, code_f32], weights, BlockContext(job.vlm_name, start, seed))
    return merged.to(out_dtype)


def _sha256_files(folder: Path) -> dict[str, str]:
    digests = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        with path.open("rb") as fh:
            digests[path.name] = hashlib.file_digest(fh, "sha256").hexdigest()
    return digests


def _header_digest(folder: Path) -> dict[str, str]:
    """A cheap fingerprint (names, sizes, headers) when full hashes are turned off."""
    from .checkpoint import read_header

    out = {}
    for path in sorted(folder.glob("*.safetensors")):
        header = json.dumps(read_header(path), sort_keys=True).encode()
        out[path.name] = "header-sha256:" + hashlib.sha256(header).hexdigest()
    return out


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
                        lambda: {
                            label: (_sha256_files if recipe.hash_inputs else _header_digest)(Path(path))
                            for label, path in (("vlm", vlm_dir), ("code", code_dir), ("base", base_dir))
                        }
                    )
                    # One torch thread: on small blocks more threads only add synchronisation, and the
                    # second core is better spent on hashing the inputs alongside.
                    threads = torch.get_num_threads()
                    torch.set_num_threads(1)
                    try:
                        written = _write_shards(recipe, plan, vlm, code, base, staging, progress)
                    finally:
                        torch.set_num_threads(threads)
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
    weights = recipe.parameters.model_weights()
    shards = plan_shards([job.out for job in plan.jobs], recipe.shard_size_mb << 20)
    names = shard_names(len(shards))
    by_name = {job.out.name: job for job in plan.jobs}
    total, done = plan.total_bytes, 0
    weight_map: dict[str, str] = {}
    progress(0, total)
    for shard, file_name in zip(shards, names, strict=True):
        with ShardWriter(staging / file_name, shard) as writer:
            for out_tensor in shard:
                job = by_name[out_tensor.name]
                shape = vlm.tensors[job.vlm_name].shape
                for start, stop in _row_blocks(job, shape, method.whole_tensors):
                    block = _compute(job, start, stop, method, weights, recipe.parameters.seed, vlm, code, base)
                    writer.write(out_tensor.name, block)
                    done += block.numel() * block.element_size()
                    progress(done, total)
                weight_map[out_tensor.name] = file_name
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
