"""The training recipe: every knob of a fine-tuning run as data (a pydantic model loaded from YAML), so a user
changes the run without editing code and the model card can say exactly what made a checkpoint.

One registry, :data:`RECIPES`: the YAML files in ``recipes/`` by name (``viscodex``, the paper's setting for the
merged 8B model; ``tiny``, the tests' and the demo's setting for the tiny random models). ``--config`` takes a
name from it or a path to a YAML file; the CLI's flags override single fields on top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

RECIPE_DIR = Path(__file__).parent / "recipes"
DEEPSPEED_DIR = Path(__file__).parent / "deepspeed"

Precision = Literal["auto", "bf16", "fp32"]


class LoraSettings(BaseModel):
    """LoRA on the language model's linear layers (peft); merged back into a plain checkpoint at the end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    r: int = Field(64, ge=1)
    alpha: int = Field(128, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    """Leaf names of the language model's linear layers. Only modules under the language model get adapters:
    the vision tower has layers of the same names (its MLP's gate/up/down_proj) and stays frozen."""


class SFTRecipe(BaseModel):
    """A supervised fine-tuning recipe. Defaults follow the paper where it says (vision encoder and projector
    frozen, the language model trained in full, bf16, DeepSpeed ZeRO); the numbers it does not state (learning
    rate, batch, schedule) are the usual ones for Qwen2.5-VL SFT and are marked so in ``recipes/viscodex.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    learning_rate: float = Field(1e-5, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, ge=1)
    """Stop after this many optimizer steps (overrides ``epochs``)."""
    batch_size: int = Field(1, ge=1)
    """Examples per device per forward pass."""
    grad_accum: int = Field(16, ge=1)
    """Forward passes per optimizer step: the global batch is batch_size * grad_accum * devices."""
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = Field(0.03, ge=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_length: int = Field(8192, ge=16)
    """Longest example in tokens (image tokens included). Longer ones are skipped and counted, not truncated:
    cutting a sequence inside an image's tokens breaks the image, and cutting the answer teaches a half answer."""
    freeze_vision: bool = True
    """The vision encoder (ViT) is not trained, as in the paper."""
    freeze_projector: bool = True
    """The projector (Qwen2.5-VL's patch merger) is not trained, as in the paper."""
    lora: LoraSettings | None = None
    """Train LoRA adapters instead of the full language model."""
    gradient_checkpointing: bool = True
    precision: Precision = "auto"
    """``auto``: bf16 where the accelerator supports it, fp32 otherwise (CPU)."""
    group_by_length: bool = True
    """Batch examples of similar length together (less padding). Packing is not offered: TRL does not pack
    vision data, and packed images would need per-example M-RoPE positions."""
    eval_split: float = Field(0.02, ge=0.0, lt=1.0)
    """Share of the records held out for evaluation during training (0: none)."""
    eval_max: int = Field(2000, ge=1)
    """At most this many held-out records (2% of MCD would be 12k: an evaluation every ``eval_steps`` costs
    that many forward passes)."""
    eval_steps: int = Field(500, ge=1)
    save_steps: int = Field(500, ge=1)
    save_total_limit: int = Field(2, ge=1)
    logging_steps: int = Field(10, ge=1)
    seed: int = 42
    image_max_pixels: int | None = Field(None, ge=28 * 28)
    """Cap on an image's pixels before patching (None: the processor's own setting)."""
    deepspeed: Literal["zero2", "zero3"] | None = None
    """A DeepSpeed config kept in the repo (``deepspeed/zero2.json``, ``zero3.json``); needs ``deepspeed``
    installed and a launch through ``accelerate launch``."""
    dataloader_workers: int = Field(0, ge=0)
    token_metrics: bool = False
    """Log TRL's per-token metrics (``entropy``, ``mean_token_accuracy``) with the loss. They cost a pass over the
    vocabulary for every token of every batch (TRL's fused, chunked LM head); off, the loss is the model's own
    cross-entropy, as a plain transformers ``Trainer`` computes it, and the logs have loss, learning rate, grad
    norm and ``num_tokens``."""

    @classmethod
    def load(cls, path: Path) -> SFTRecipe:
        """Read a recipe from YAML (unknown keys are errors, so a typo does not silently train with a default)."""
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a mapping of recipe fields")
        data.setdefault("name", path.stem)
        return cls.model_validate(data)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def deepspeed_config(self) -> Path | None:
        return None if self.deepspeed is None else DEEPSPEED_DIR / f"{self.deepspeed}.json"


RECIPES: dict[str, Path] = {path.stem: path for path in sorted(RECIPE_DIR.glob("*.yaml"))}
"""The recipes kept in the repo, by name."""


def resolve_recipe(config: str | Path | None) -> SFTRecipe:
    """``None``: the ``viscodex`` recipe; a registry name; or a YAML path."""
    if config is None:
        return SFTRecipe.load(RECIPES["viscodex"])
    if str(config) in RECIPES:
        return SFTRecipe.load(RECIPES[str(config)])
    path = Path(config)
    if not path.is_file():
        raise ValueError(f"no recipe {str(config)!r}: not a file and not one of {', '.join(RECIPES)}")
    return SFTRecipe.load(path)
