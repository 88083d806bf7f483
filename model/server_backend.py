"""The model behind an OpenAI-compatible HTTP server (a local vLLM, or a hosted vision model), through
LangChain's ``ChatOpenAI``.

``ChatOpenAI`` (over the ``openai`` client) already does streaming, per-request timeouts and retries with
exponential backoff for connection errors, 408/409/429 and 5xx before a stream starts; this module adds a
deadline for the whole call, turns every failure into a :mod:`viscodex.model.errors` error that says what
to do, and reads the token ids that vLLM reports (``return_tokens_as_token_ids``) for parity checks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from .chat import ChatMessage, ChatRequest, Chunk
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
from .images import PixelBudget, normalize_image
from .settings import ModelSettings

log = logging.getLogger(__name__)
TOKEN_ID_PREFIX = "token_id:"  # noqa: S105 - vLLM's marker, not a secret


def budget_for(settings: ModelSettings) -> PixelBudget:
    return PixelBudget(max_pixels=settings.max_image_tokens * 28 * 28)


def to_langchain(
    messages: list[ChatMessage] | tuple[ChatMessage, ...], budget: PixelBudget
) -> list[BaseMessage]:
    """OpenAI-style messages: each image normalised and sent as a PNG data URL, before the text."""
    out: list[BaseMessage] = []
    for message in messages:
        if message.role == "system":
            out.append(SystemMessage(message.text))
        elif message.role == "assistant":
            out.append(AIMessage(message.text))
        else:
            parts: list[str | dict[str, Any]] = [
                {"type": "image_url", "image_url": {"url": normalize_image(img, budget).to_data_url()}}
                for img in message.images
            ]
            parts.append({"type": "text", "text": message.text})
            out.append(HumanMessage(content=parts))
    return out


def _token_ids(metadata: dict[str, Any]) -> tuple[int, ...]:
    """Token ids from vLLM's logprobs when it was asked for ``return_tokens_as_token_ids``."""
    content = (metadata.get("logprobs") or {}).get("content") or []
    ids = []
    for item in content:
        token = str(item.get("token", ""))
        if token.startswith(TOKEN_ID_PREFIX):
            ids.append(int(token[len(TOKEN_ID_PREFIX) :]))
    return tuple(ids)


class ServerBackend:
    """Streams chat completions from ``settings.model_url``."""

    name = "server"

    def __init__(self, settings: ModelSettings, *, token_ids: bool | None = None) -> None:
        if not settings.model_url:
            raise ModelUnavailable("no model server URL configured (--model-url or VISCODEX_MODEL_URL)")
        self.settings = settings
        self.url = settings.model_url.rstrip("/")
        self.model = settings.model_name
        self.budget = budget_for(settings)
        self._token_ids = token_ids
        """None: ask the server in ``check`` whether it is vLLM, which can report token ids."""

    def _llm(self, request: ChatRequest) -> ChatOpenAI:
        s = self.settings
        extra: dict[str, Any] = {}
        if self._token_ids:
            extra = {"logprobs": True, "extra_body": {"return_tokens_as_token_ids": True}}
        return ChatOpenAI(
            model=s.model_name,
            base_url=self.url,
            api_key=s.api_key,
            temperature=request.temperature,
            max_tokens=request.max_tokens or s.max_tokens,
            stop=list(request.stop) or None,
            seed=request.seed,
            timeout=httpx.Timeout(s.idle_timeout_s, connect=s.connect_timeout_s),
            max_retries=s.max_retries,
            streaming=True,
            stream_usage=True,
            use_responses_api=False,  # vLLM and most local servers speak Chat Completions
            **extra,
        )

    async def check(self) -> str:
        """Ask the server which models it serves; fail unless ours is one of them."""
        models = await self.served_models()
        if self.model not in models:
            raise ModelNotFound(
                f"the server at {self.url} does not serve a model named {self.model!r}; it serves "
                f"{', '.join(models) or 'none'} (set --model-name or VISCODEX_MODEL_NAME)"
            )
        if self._token_ids is None:
            self._token_ids = await self._is_vllm()
        return f"{self.url} serves {self.model}"

    async def served_models(self) -> list[str]:
        s = self.settings
        headers = {"Authorization": f"Bearer {s.api_key.get_secret_value()}"}
        timeout = httpx.Timeout(s.connect_timeout_s * 2, connect=s.connect_timeout_s)
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(f"{self.url}/models", headers=headers)
        except httpx.HTTPError as exc:
            raise ModelUnavailable(self._down_message(exc)) from None
        if response.status_code >= 400:
            raise ModelHTTPError(
                f"{self.url}/models answered HTTP {response.status_code}: {response.text[:200]}",
                response.status_code,
            )
        try:
            return [str(m["id"]) for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise ModelProtocolError(
                f"{self.url}/models did not answer with an OpenAI model list: {response.text[:200]!r}"
            ) from None

    async def _is_vllm(self) -> bool:
        root = self.url.removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=self.settings.connect_timeout_s) as client:
                response = await client.get(f"{root}/version")
            return response.status_code == 200 and "version" in response.json()
        except (httpx.HTTPError, ValueError):
            return False

    def _down_message(self, exc: BaseException) -> str:
        return (
            f"no model server answers at {self.url} ({type(exc).__name__}); start one with "
            "`viscodex-agent serve --model PATH` or point --model-url at a running one"
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        messages = to_langchain(list(request.messages), self.budget)
        llm = self._llm(request)
        received = ""
        finished = False
        try:
            async with asyncio.timeout(self.settings.deadline_s):
                async for piece in llm.astream(messages):
                    text = piece.content if isinstance(piece.content, str) else ""
                    meta = dict(piece.response_metadata or {})
                    finish = meta.get("finish_reason")
                    finished = finished or finish is not None
                    received += text
                    chunk = Chunk(text, _token_ids(meta), finish)
                    if chunk.text or chunk.token_ids or chunk.finish_reason:
                        yield chunk
        except TimeoutError:
            raise ModelTimeout(
                f"the model at {self.url} did not finish within {self.settings.deadline_s:.0f} s"
            ) from None
        except ModelError:
            raise
        except (openai.OpenAIError, httpx.HTTPError, json.JSONDecodeError) as exc:
            raise self._translate(exc, received) from exc
        if not finished:
            raise ModelStreamError(
                f"the stream from {self.url} ended without a finish reason", partial=received
            )

    def _translate(self, exc: Exception, received: str) -> ModelError:
        where = f"the model server at {self.url}"
        if isinstance(exc, openai.APITimeoutError):
            return ModelTimeout(
                f"{where} sent nothing for {self.settings.idle_timeout_s:.0f} s (idle timeout)"
            )
        if isinstance(exc, openai.APIConnectionError):
            if received:
                return ModelStreamError(f"{where} broke the stream midway: {exc}", partial=received)
            return ModelUnavailable(self._down_message(exc))
        if isinstance(exc, openai.NotFoundError):
            return ModelNotFound(
                f"{where} does not know the model {self.model!r}: {_error_text(exc)} "
                "(check --model-name / VISCODEX_MODEL_NAME)"
            )
        if isinstance(exc, openai.BadRequestError) and _mentions_images(exc):
            return ImagesNotSupported(
                f"{where} refused an image for model {self.model!r}: {_error_text(exc)}. Pick a model "
                "that takes images (VisCodex or another vision-language model) with --model-name"
            )
        if isinstance(exc, openai.APIStatusError):
            return ModelHTTPError(
                f"{where} answered HTTP {exc.status_code}: {_error_text(exc)}", exc.status_code
            )
        if isinstance(exc, openai.APIResponseValidationError | json.JSONDecodeError):
            return ModelProtocolError(f"{where} sent a response that is not a chat completion: {exc}")
        if isinstance(exc, httpx.HTTPError):
            if received:
                return ModelStreamError(f"{where} broke the stream midway: {exc}", partial=received)
            return ModelUnavailable(self._down_message(exc))
        return ModelProtocolError(f"{where} failed: {type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        return None


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)[:300]
    return str(exc)[:300]


def _mentions_images(exc: openai.APIStatusError) -> bool:
    text = _error_text(exc).lower()
    return any(word in text for word in ("image", "multimodal", "vision", "image_url"))
