"""The named models VisCodex knows: where each lives, how to build it, and whether it is the demo.

One registry, so the settings, the model selection, `doctor` and the training commands name the same
models the same way. The merge recipes (`viscodex.training.merge.recipe.PRESETS`) say how a preset's
weights are made; this table says where the product finds them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PRESET = "viscodex-8b"
DEMO_PRESET = "viscodex-demo-chart"

SHIPPED_MODELS = Path(__file__).resolve().parent / "shipped"
"""Models that ship inside the package (the demo: a few MB of bf16 safetensors)."""


class ModelPreset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    summary: str = Field(description="What it is, in a few words, for messages.")
    build: str = Field(description="The command that writes it to the cache.")
    demo: bool = Field(False, description="A small stand-in, used only when nothing else is there.")
    shipped: bool = Field(False, description="A copy ships in the package (SHIPPED_MODELS/NAME).")
    kinds: tuple[str, ...] = Field((), description="The tasks it was trained for (empty: every task).")

    def cache_dir(self) -> Path:
        from .settings import cache_dir

        return cache_dir() / "models" / self.name

    def shipped_dir(self) -> Path | None:
        return SHIPPED_MODELS / self.name if self.shipped else None

    def local_dir(self) -> Path | None:
        """The first folder holding a checkpoint of it (the cache first, then the shipped copy), or None."""
        for folder in (self.cache_dir(), self.shipped_dir()):
            if folder is not None and (folder / "config.json").is_file():
                return folder
        return None


PRESETS: dict[str, ModelPreset] = {
    DEFAULT_PRESET: ModelPreset(
        name=DEFAULT_PRESET,
        summary="Qwen2.5-VL-7B merged with OpenCodeReasoning-Nemotron-1.1-7B (the paper's VisCodex-8B)",
        build=f"viscodex-train merge --preset {DEFAULT_PRESET}",
    ),
    DEMO_PRESET: ModelPreset(
        name=DEMO_PRESET,
        summary="a few-million-parameter chart-to-matplotlib demo, trained on synthetic charts on a CPU",
        build="viscodex-train demo",
        demo=True,
        # Shipped (5 MB, model/shipped/): trained in about 45 minutes of a 2-core CPU, more than
        # bootstrap.sh may take (README, "The demo model").
        shipped=True,
        kinds=("chart",),
    ),
}
