"""Tensor names: which VLM tensors are language backbone (merged) and which are vision (copied), and the
name each language tensor has in a plain Qwen2 LLM checkpoint.

Two VLM layouts exist in the wild: the hub's original one (``visual.*``, ``model.*``, ``lm_head.*``) and
the one newer transformers versions write (``model.visual.*``, ``model.language_model.*``,
``lm_head.*``). The mapping is explicit, architectures are data (``LAYOUTS``), and a tensor that fits no
rule is an error naming it, never silently copied or dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Kind = Literal["language", "vision"]


@dataclass(frozen=True)
class Layout:
    """Prefix rules of one checkpoint layout of Qwen2.5-VL."""

    name: str
    vision_prefixes: tuple[str, ...]
    language_prefixes: tuple[tuple[str, str], ...]
    """(VLM prefix, LLM prefix): the VLM name with its prefix swapped is the Qwen2 LLM name."""


LAYOUTS = (
    Layout(
        "hub",
        vision_prefixes=("visual.",),
        language_prefixes=(("model.", "model."), ("lm_head.", "lm_head.")),
    ),
    Layout(
        "transformers-5",
        vision_prefixes=("model.visual.",),
        language_prefixes=(("model.language_model.", "model."), ("lm_head.", "lm_head.")),
    ),
)


class NameMappingError(ValueError):
    """A tensor no rule of the layout explains."""


@dataclass(frozen=True)
class TensorRole:
    name: str
    kind: Kind
    llm_name: str | None
    """For a language tensor: its name in the code and base checkpoints."""


def detect_layout(names: Iterable[str]) -> Layout:
    """The layout whose vision prefix the checkpoint uses; an error if it has no vision tower at all."""
    names = list(names)
    for layout in sorted(LAYOUTS, key=lambda lay: -len(lay.vision_prefixes[0])):
        if any(n.startswith(layout.vision_prefixes) for n in names):
            return layout
    sample = ", ".join(sorted(names)[:5])
    raise NameMappingError(
        f"no vision tower found (no tensor starts with visual. or model.visual.; first names: {sample}): "
        "the --vlm checkpoint must be a Qwen2.5-VL model"
    )


def classify(name: str, layout: Layout) -> TensorRole:
    if name.startswith(layout.vision_prefixes):
        return TensorRole(name, "vision", None)
    for vlm_prefix, llm_prefix in layout.language_prefixes:
        if name.startswith(vlm_prefix):
            return TensorRole(name, "language", llm_prefix + name[len(vlm_prefix) :])
    raise NameMappingError(f"tensor {name!r} is neither vision nor language in the {layout.name} layout")


def plan_roles(names: Iterable[str]) -> list[TensorRole]:
    """Every VLM tensor with its role, in a stable order; all unexplained names reported together."""
    names = sorted(names)
    layout = detect_layout(names)
    roles, bad = [], []
    for name in names:
        try:
            roles.append(classify(name, layout))
        except NameMappingError:
            bad.append(name)
    if bad:
        raise NameMappingError(f"{len(bad)} tensors fit no rule of the {layout.name} layout: {', '.join(bad[:10])}")
    return roles
