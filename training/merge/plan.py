"""The merge plan: check the three checkpoints against each other from their headers alone and decide
every output tensor, so that every problem is found (and reported together) before anything is written.

Policies:
- tied embeddings: where the VLM has ``lm_head.weight`` but code or base tie it to the embeddings (no
  ``lm_head.weight`` in their checkpoint), their ``model.embed_tokens.weight`` stands in for it;
- vocabulary sizes: ``embed_tokens``/``lm_head`` may differ in rows (vocabulary) between the three; the
  rows they share are merged, the VLM's extra rows (its tokenizer's extra tokens) are copied from the
  VLM. Any other shape difference is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .checkpoint import Checkpoint
from .names import NameMappingError, plan_roles
from .recipe import MergeRecipe
from .writer import OutTensor

VLM_TYPES = {"qwen2_5_vl", "qwen2_vl"}
LLM_TYPES = {"qwen2"}
VOCAB_TENSORS = {"model.embed_tokens.weight", "lm_head.weight"}


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
