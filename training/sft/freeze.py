"""Which parts of a VLM a recipe freezes, per architecture: one table, module paths by part.

The paper trains only the language model; the vision encoder and the projector keep the weights the merge
left them (the merge does not touch them either), which is what keeps the VLM's visual grounding. The table
is in the spirit of LLaMA-Factory's ``_register_composite_model``: a new architecture is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parts:
    vision: str
    """The vision encoder, projector included (its submodule is excluded when only the encoder is frozen)."""
    projector: str
    language: str


ARCHITECTURES: dict[str, Parts] = {
    "qwen2_5_vl": Parts(vision="model.visual", projector="model.visual.merger", language="model.language_model"),
    "qwen2_vl": Parts(vision="model.visual", projector="model.visual.merger", language="model.language_model"),
}


def parts_of(model: Any) -> Parts:
    model_type = model.config.model_type
    if model_type not in ARCHITECTURES:
        raise ValueError(f"no freezing rules for model type {model_type!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[model_type]


def frozen_names(model: Any, vision: bool, projector: bool) -> list[str]:
    """The parameter names the recipe freezes."""
    parts = parts_of(model)
    names = []
    for name, _ in model.named_parameters():
        in_projector = name.startswith(parts.projector + ".")
        in_vision = name.startswith(parts.vision + ".") and not in_projector
        if (vision and in_vision) or (projector and in_projector):
            names.append(name)
    return names


def freeze(model: Any, vision: bool, projector: bool) -> int:
    """Set ``requires_grad=False`` on the frozen parts; the number of parameters frozen."""
    names = set(frozen_names(model, vision, projector))
    count = 0
    for name, param in model.named_parameters():
        if name in names:
            param.requires_grad_(False)
            count += param.numel()
    return count
