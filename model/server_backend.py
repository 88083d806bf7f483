"""The model behind an OpenAI-compatible HTTP server (a local vLLM, or a hosted vision model), through
LangChain's ``ChatOpenAI``.

``ChatOpenAI`` (over the ``openai`` client) already does streaming, per-request timeouts and retries with
exponential backoff for connection errors, 408/409/429 and 5xx before a stream starts; this module adds a
deadline for the whole call, turns every failure into a :mod:`viscodex.model.errors` error that says what
to do, and reads the token ids that vLLM reports (``return_tokens_as_token_ids``) for parity checks.
"""

from __future__ import annotations

import asyncio
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


def to_langchain(messages: list[ChatMessage] | tuple[ChatMessage, ...], budget: PixelBudget) -> list[BaseMessage]:
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
            # openai's own Timeout: it talks through httpx2, which refuses httpx's (openai 3.63).
            timeout=openai.Timeout(s.idle_timeout_s, connect=s.connect_timeout_s),
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
        except (httpx.HTTPError, ValueError, TypeError):
            return False

    def _down_message(self, exc: BaseException) -> str:
        return (
            f"no model server answers at {self.url} ({_describe(exc)}); start one with "
            "`viscodex-agent serve --model PATH` or point --model-url at a running one"
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        messages = to_langchain(list(request.messages), self.budget)
        received = ""
        finished = False
        anything = False
        # The deadline bounds the whole call but is applied only while waiting on the server: an
        # ``asyncio.timeout`` around the ``yield`` would fire while the consumer holds this generator
        # suspended and cancel the consumer's own work with a bare CancelledError.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.deadline_s
        if self._token_ids is None:
            try:  # the probe counts against the deadline too
                async with asyncio.timeout_at(deadline):
                    self._token_ids = await self._is_vllm()
            except TimeoutError:
                self._token_ids = False
        llm = self._llm(request)
        pieces = llm.astream(messages)
        try:
            while True:
                if loop.time() >= deadline:  # a buffered piece would come back without suspending
                    raise TimeoutError
                try:
                    async with asyncio.timeout_at(deadline):
                        piece = await anext(pieces)
                except StopAsyncIteration:
                    break
                text = piece.content if isinstance(piece.content, str) else ""
                meta = dict(piece.response_metadata or {})
                finish = meta.get("finish_reason")
                finished = finished or finish is not None
                received += text
                chunk = Chunk(text, _token_ids(meta), finish)
                if chunk.text or chunk.token_ids or chunk.finish_reason:
                    anything = True
                    yield chunk
        except TimeoutError:
            raise ModelTimeout(
                f"the model at {self.url} did not finish within {self.settings.deadline_s:g} s "
                "(deadline_s); raise it with VISCODEX_DEADLINE_S or in config.toml, or ask for fewer tokens"
            ) from None
        except ModelError:
            raise
        except (openai.OpenAIError, httpx.HTTPError, ValueError) as exc:
            # ValueError: JSON that does not parse, a chunk that does not validate, or LangChain's
            # "No generation chunks were returned" for a body with no events at all.
            raise self._translate(exc, received, anything) from exc
        finally:
            close = getattr(pieces, "aclose", None)  # typed as an AsyncIterator; it is a generator
            if close is not None:
                await close()
            # Close the HTTP client this call made, inside this event loop; left to the garbage
            # collector it would try to close itself on a loop that may be gone by then.
            await llm.root_async_client.close()
        if not anything:
            raise ModelProtocolError(
                f"the model server at {self.url} answered without any content (no choices, no finish "
                "reason); check that --model-url is an OpenAI-compatible /v1 endpoint and the server's log"
            )
        if not finished:
            raise ModelStreamError(f"the stream from {self.url} ended without a finish reason", partial=received)

    def _translate(self, exc: Exception, received: str, anything: bool = False) -> ModelError:
        where = f"the model server at {self.url}"
        cause = _root_cause(exc)
        if isinstance(exc, openai.APITimeoutError):
            if not anything and _is_connect_failure(cause):
                return ModelUnavailable(self._down_message(cause))
            return ModelTimeout(
                f"{where} sent nothing for {self.settings.idle_timeout_s:g} s (idle_timeout_s); check "
                "that it is not overloaded, or raise idle_timeout_s (VISCODEX_IDLE_TIMEOUT_S)"
            )
        if isinstance(exc, openai.APIConnectionError):
            if received or anything or not _is_connect_failure(cause):
                return ModelStreamError(
                    f"{where} broke the stream midway ({_describe(cause)}); check the server's log",
                    partial=received,
                )
            return ModelUnavailable(self._down_message(cause))
        if isinstance(exc, openai.NotFoundError):
            if "model" not in _error_text(exc).lower():
                return ModelHTTPError(
                    f"{where} has no {self.url}/chat/completions (HTTP 404: {_error_text(exc)}); "
                    "--model-url should be the server's OpenAI base URL, usually ending in /v1",
                    404,
                )
            return ModelNotFound(
                f"{where} does not know the model {self.model!r}: {_error_text(exc)} "
                "(check --model-name / VISCODEX_MODEL_NAME)"
            )
        if isinstance(exc, openai.BadRequestError) and _refuses_images(exc):
            return ImagesNotSupported(
                f"{where} refused an image for model {self.model!r}: {_error_text(exc)}. Pick a model "
                "that takes images (VisCodex or another vision-language model) with --model-name"
            )
        if isinstance(exc, openai.APIStatusError):
            return ModelHTTPError(f"{where} answered HTTP {exc.status_code}: {_error_text(exc)}", exc.status_code)
        if isinstance(exc, openai.APIResponseValidationError | ValueError):
            if not anything and "No generation chunks" in str(exc):
                return ModelProtocolError(
                    f"{where} answered without any chat completion chunk (an empty stream, or a body "
                    "that is not an event stream); check that --model-url is an OpenAI-compatible /v1 "
                    "endpoint"
                )
            return ModelProtocolError(f"{where} sent a response that is not a chat completion: {_describe(exc)}")
        if isinstance(exc, httpx.HTTPError):
            if received or anything:
                return ModelStreamError(f"{where} broke the stream midway: {exc}", partial=received)
            return ModelUnavailable(self._down_message(exc))
        return ModelProtocolError(f"{where} failed: {_describe(exc)}")

    async def aclose(self) -> None:
        return None


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)[:300]
    return str(exc)[:300]


def _refuses_images(exc: openai.APIStatusError) -> bool:
    """Whether a 400 says the model takes no images, not merely that an image is too big or too many."""
    text = _error_text(exc).lower()
    if "multimodal" in text:  # vLLM: "... is not a multimodal model"
        return True
    return any(word in text for word in ("image", "vision")) and any(
        no in text for no in ("not support", "unsupported", "only supported", "not accept", "not enabled")
    )


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost ``__cause__``: LangChain wraps the openai error, which wraps the transport's."""
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _is_connect_failure(exc: BaseException) -> bool:
    """Nothing could be sent: refused, unreachable, or connecting timed out (the server is down).

    By name: ``openai`` talks through ``httpx2``, whose exception classes are not ``httpx``'s."""
    return isinstance(exc, OSError) or type(exc).__name__ in {"ConnectError", "ConnectTimeout"}
