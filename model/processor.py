"""Load Qwen2.5-VL's processor (image processor, tokenizer, chat template) with or without torchvision.

In transformers 5, `Qwen2_5_VLProcessor` requires a video processor, and every video processor is built on
torchvision, whose builds cannot load on this kind of machine (only vLLM's environment carries a patched
one). VisCodex never sends video, so where torchvision is missing `load_processor` returns the same
processor without its video part: the same image processor settings, tokenizer, chat template and image
token expansion, so prompts and ids are the ones the full processor makes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import AutoProcessor, Qwen2_5_VLProcessor
from transformers.utils.import_utils import is_torchvision_available


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
    """`Qwen2_5_VLProcessor` for images and text only: no video processor, so no torchvision.

    The attributes that `ProcessorMixin` builds, loads and checks come from `__init__`'s parameters; leaving
    out `video_processor` here is what drops it.
    """

    def __init__(
        self,
        image_processor: Any = None,
        tokenizer: Any = None,
        chat_template: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=chat_template,
            **kwargs,
        )


def load_processor(path: str | Path) -> Any:
    """The processor of a Qwen2.5-VL checkpoint: the full `Qwen2_5_VLProcessor` where torchvision is
    installed, else `ImageOnlyQwen2_5_VLProcessor` (typed `Any`, as transformers' processors are dynamic)."""
    if is_torchvision_available():
        return AutoProcessor.from_pretrained(str(path))  # type: ignore[no-untyped-call]
    return ImageOnlyQwen2_5_VLProcessor.from_pretrained(str(path))
