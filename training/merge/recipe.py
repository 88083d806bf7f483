"""Merge recipes as data (YAML): the inputs, the method, its parameters and the output dtype, so a merge
can be repeated exactly and its model card can say how it was made."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .methods import MethodName


class MergeParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lam: float = Field(0.7, ge=0.0, le=1.0, description="Weight of the VLM's task vector (paper: 0.7).")
    weights: tuple[float, float] | None = Field(None, description="(vlm, code) weights; default (lam, 1 - lam).")
    density: float = Field(0.5, gt=0.0, le=1.0, description="TIES/DARE: fraction of entries kept.")
    scale: float = Field(1.0, description="TIES/DARE: scale of the merged task vector.")
    sign_consensus: bool = Field(False, description="DARE: TIES' sign election (dare_ties).")
    seed: int = Field(0, description="DARE's random drops.")

    def model_weights(self) -> tuple[float, float]:
        return self.weights if self.weights is not None else (self.lam, 1.0 - self.lam)


class MergeRecipe(BaseModel):
    """One merge. Inputs are local folders or hub ids (downloaded only on request)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vlm: str = Field(description="The vision-language model (Qwen2.5-VL).")
    code: str = Field(description="The coding LLM: a fine-tune of `base`.")
    base: str = Field(description="The LLM both language models were fine-tuned from.")
    method: MethodName = Field("task_arithmetic", description="A method of the registry (methods.METHODS).")
    parameters: MergeParameters = MergeParameters()
    dtype: Literal["input", "float32", "bfloat16", "float16"] = Field(
        "input", description="input: each tensor keeps the VLM's dtype."
    )
    shard_size_mb: int = Field(4096, ge=1, description="Largest output shard.")
    hash_inputs: bool = Field(True, description="Record sha256 of every input file in the model card.")

    @model_validator(mode="after")
    def _distinct(self) -> MergeRecipe:
        if len({self.vlm, self.code, self.base}) < 3:
            raise ValueError("vlm, code and base must be three different checkpoints")
        return self

    @classmethod
    def load(cls, path: Path) -> MergeRecipe:
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


PRESETS: dict[str, MergeRecipe] = {
    # The paper's 8B model: Qwen2.5-VL-7B's language model merged with OpenCodeReasoning-Nemotron-1.1-7B,
    # both fine-tunes of Qwen2.5-7B, at lam = 0.7.
    "viscodex-8b": MergeRecipe(
        vlm="Qwen/Qwen2.5-VL-7B-Instruct",
        code="nvidia/OpenCodeReasoning-Nemotron-1.1-7B",
        base="Qwen/Qwen2.5-7B",
        parameters=MergeParameters(lam=0.7),
        dtype="bfloat16",
    ),
}
