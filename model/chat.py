"""The chat interface every backend implements, and the data that crosses it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from .images import ImageSource

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn. Images come before the text, as Qwen2.5-VL's own examples order them."""

    role: Role
    text: str
    images: Sequence[ImageSource] = ()


@dataclass(frozen=True)
class ChatRequest:
    messages: Sequence[ChatMessage]
    max_tokens: int | None = None
    """None: the configured default."""
    temperature: float = 0.0
    """0 is greedy decoding: reproducible, and what the parity tests compare."""
    stop: Sequence[str] = ()
    seed: int | None = None

    @classmethod
    def single(cls, text: str, images: Sequence[ImageSource] = (), **kwargs: object) -> ChatRequest:
        return cls([ChatMessage("user", text, tuple(images))], **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Chunk:
    """A piece of a streamed answer. ``token_ids`` are given where the backend can report them."""

    text: str
    token_ids: tuple[int, ...] = ()
    finish_reason: str | None = None


@dataclass
class Completion:
    text: str = ""
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str | None = None
    backend: str = ""
    model: str = ""

    def add(self, chunk: Chunk) -> None:
        self.text += chunk.text
        self.token_ids.extend(chunk.token_ids)
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason


class ChatBackend(Protocol):
    """What the agent needs from a model: a stream of chunks, with a deadline, cancellable."""

    name: str
    model: str

    def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]: ...

    async def check(self) -> str:
        """Raise ModelUnavailable unless the backend can answer now; return a one-line description."""
        ...

    async def aclose(self) -> None: ...


async def complete(backend: ChatBackend, request: ChatRequest) -> Completion:
    """Collect a whole answer from ``backend.stream``."""
    result = Completion(backend=backend.name, model=backend.model)
    async for chunk in backend.stream(request):
        result.add(chunk)
    return result
