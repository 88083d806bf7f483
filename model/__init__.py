"""The model layer: one chat interface over a local vLLM server, any OpenAI-compatible endpoint, or the
model loaded in-process; image input normalised the way Qwen2.5-VL expects. Knows no loop, no sandbox."""

from .chat import ChatBackend, ChatMessage, ChatRequest, Chunk, Completion, complete
from .errors import (
    ImagesNotSupported,
    ModelError,
    ModelHTTPError,
    ModelNotFound,
    ModelProtocolError,
    ModelStreamError,
    ModelTimeout,
    ModelUnavailable,
)
from .settings import ModelSettings


def __getattr__(name: str) -> object:
    """``open_backend`` and ``probe`` pull in LangChain and openai (slow to import): import them on use."""
    if name in ("open_backend", "probe"):
        from . import select

        return getattr(select, name)
    raise AttributeError(name)


__all__ = [
    "ChatBackend",
    "ChatMessage",
    "ChatRequest",
    "Chunk",
    "Completion",
    "ImagesNotSupported",
    "ModelError",
    "ModelHTTPError",
    "ModelNotFound",
    "ModelProtocolError",
    "ModelSettings",
    "ModelStreamError",
    "ModelTimeout",
    "ModelUnavailable",
    "complete",
    "open_backend",
    "probe",
]
