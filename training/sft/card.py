"""The output's model card (``README.md``): what made the checkpoint, so it can be made again: the base model,
the recipe in full, the digest of the records trained on and what was skipped, the losses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import viscodex

from .recipe import SFTRecipe

if TYPE_CHECKING:
    from .train import SFTResult


def model_card(result: SFTResult, recipe: SFTRecipe, base: Path, command: str) -> str:
    data = result.data
    method = "LoRA merged back into the weights" if recipe.lora else "full fine-tuning of the language model"
    skipped = "\n".join(f"  - {reason}: {n}" for reason, n in data.skipped.most_common()) or "  - none"
    losses = [
        f"- final training loss (mean over the run): {_fmt(result.train_loss)}",
        f"- evaluation loss on the held-out split: {_fmt(result.eval_loss)}",
    ]
    return f"""---
library_name: transformers
pipeline_tag: image-text-to-text
tags:
- viscodex
- image-to-code
---

# {result.out.name}

Fine-tuned by `viscodex-train sft` (VisCodex {viscodex.__version__}) from `{base}`: {method}; vision encoder
{"frozen" if recipe.freeze_vision else "trained"}, projector {"frozen" if recipe.freeze_projector else "trained"};
loss on the assistant's answers only.

## Data

- records trained on: {data.kept} ({data.tokens} tokens, longest {data.longest})
- data digest (sha256 over the records kept, in order, images by content): `{data.digest}`
- skipped:
{skipped}

## Results

- optimizer steps: {result.steps}
{chr(10).join(losses)}
- trainable parameters: {result.trainable:,}; frozen: {result.frozen:,}
- wall time: {result.seconds:.1f} s

## Recipe

```yaml
{recipe.to_yaml().rstrip()}
```

## Command

```
{command or "(called from Python)"}
```
"""


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
