"""The model loaded in this process with transformers: no server to start, the same chat interface.

Generation runs in a worker thread (``generate`` blocks); tokens come back through a streamer that hands
them to the event loop. A stopping criterion checks a cancel flag and the deadline between tokens, so
cancelling the consumer's task or passing the deadline stops generation within one token.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from .chat import ChatMessage, ChatRequest, Chunk
from .errors import ModelTimeout, ModelUnavailable
from .images import PixelBudget, normalize_image
from .settings import ModelSettings

_DONE = object()


def hf_messages(messages: list[ChatMessage], budget: PixelBudget) -> tuple[list[dict[str, Any]], list[Any]]:
    """Messages for the chat template, and the normalised images in the order the template uses them.

    The images are normalised exactly as the server backend normalises them before encoding, so both
    backends hand the same pixels to the same image processor.
    """
    out: list[dict[str, Any]] = []
    images: list[Any] = []
    for message in messages:
        if message.role == "user":
            parts: list[dict[str, Any]] = []
            for image in message.images:
                images.append(normalize_image(image, budget).image)
                parts.append({"type": "image"})
            parts.append({"type": "text", "text": message.text})
            out.append({"role": "user", "content": parts})
        else:
            out.append({"role": message.role, "content": [{"type": "text", "text": message.text}]})
    return out, images


class EmbeddedBackend:
    """Qwen2.5-VL (or a VisCodex merge of it) in-process, via ``AutoModelForImageTextToText``."""

    name = "embedded"

    def __init__(self, settings: ModelSettings, path: Path | None = None, kinds: tuple[str, ...] = ()) -> None:
        self.settings = settings
        self.kinds = kinds
        """The tasks the checkpoint was trained for (its preset's; empty: every task). ``auto`` takes the
        one task of a model that knows only one, instead of asking it what it sees."""
        self.path = path or settings.resolved_model_path()
        if not (self.path / "config.json").is_file():
            raise ModelUnavailable(f"no model checkpoint at {self.path} (config.json missing)")
        self.model = self.path.name
        from .server_backend import budget_for

        self.budget = budget_for(settings)
        self._lock = threading.Lock()  # one generate at a time: the model is not re-entrant
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                import torch
                from transformers import AutoModelForImageTextToText

                from .processor import load_processor

                processor = load_processor(self.path)
                dtype = torch.float32 if self.settings.device == "cpu" else "auto"
                model: Any = AutoModelForImageTextToText.from_pretrained(str(self.path), dtype=dtype)
                model = model.to(self.settings.device).eval()
                self._loaded = (model, processor)
            return self._loaded

    async def check(self) -> str:
        try:
            await asyncio.to_thread(self._load)
        except (OSError, ValueError) as exc:
            raise ModelUnavailable(f"cannot load the model at {self.path}: {exc}") from None
        return f"{self.path} loaded in-process on {self.settings.device}"

    def prepare(self, request: ChatRequest) -> dict[str, Any]:
        """The model inputs for ``request``: the chat template rendered, images processed."""
        model, processor = self._load()
        messages, images = hf_messages(list(request.messages), self.budget)
        text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = processor(text=[text], images=images or None, return_tensors="pt")
        return dict(inputs.to(model.device))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        model, processor = await asyncio.to_thread(self._load)
        inputs = await asyncio.to_thread(self.prepare, request)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        deadline = time.monotonic() + self.settings.deadline_s
        prompt_len = int(inputs["input_ids"].shape[1])
        put = queue.put_nowait

        class _Streamer(BaseStreamer):
            """Hands each new token id to the event loop; the first call carries the prompt."""

            def __init__(self) -> None:
                self.seen_prompt = False

            def put(self, value: Any) -> None:
                if not self.seen_prompt:
                    self.seen_prompt = True
                    return
                loop.call_soon_threadsafe(put, [int(t) for t in value.reshape(-1).tolist()])

            def end(self) -> None:
                pass

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                import torch

                stop = cancel.is_set() or time.monotonic() > deadline
                return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

        max_new = request.max_tokens or self.settings.max_tokens
        sampling: dict[str, Any] = {"do_sample": False}
        if request.temperature > 0:
            sampling = {"do_sample": True, "temperature": request.temperature}

        def run() -> Any:
            try:
                with self._lock:
                    if sampling["do_sample"] and request.seed is not None:
                        # The seed makes a sampled answer reproducible, as vLLM's does; set under the lock,
                        # since torch's generator is global and answers to other requests interleave.
                        import torch

                        torch.manual_seed(request.seed)
                    return model.generate(
                        **inputs,
                        max_new_tokens=max_new,
                        streamer=_Streamer(),
                        stopping_criteria=StoppingCriteriaList([_Stop()]),
                        **sampling,
                    )
            finally:
                loop.call_soon_threadsafe(put, _DONE)

        worker = asyncio.ensure_future(asyncio.to_thread(run))
        tokenizer = processor.tokenizer
        eos = set(_eos_ids(model, tokenizer))
        ids: list[int] = []
        text_so_far = ""
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                ids.extend(item)
                text = tokenizer.decode(ids, skip_special_tokens=True)
                new, text_so_far = text[len(text_so_far) :], text
                yield Chunk(new, tuple(item))
            output = await worker
        finally:
            cancel.set()
            if not worker.done():
                await asyncio.gather(worker, return_exceptions=True)
        generated = int(output.shape[1]) - prompt_len
        if time.monotonic() > deadline and not (ids and ids[-1] in eos):
            raise ModelTimeout(f"the embedded model did not finish within {self.settings.deadline_s:.0f} s")
        finish = "stop" if ids and ids[-1] in eos else "length" if generated >= max_new else "stop"
        yield Chunk("", (), finish)

    async def aclose(self) -> None:
        self._loaded = None


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = tokenizer.eos_token_id
    return list(eos) if isinstance(eos, list | tuple) else [eos] if eos is not None else []
