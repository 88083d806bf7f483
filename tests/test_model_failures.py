"""Failure handling of the server backend against real local HTTP servers that misbehave: refuse, hang,
stall, trickle, return 4xx/5xx, return junk, send nothing, cut a stream. Each failure must become a
:mod:`viscodex.model.errors` error a user can act on, and no call may hang: every test has a hard time
limit and asserts how long the failure took to surface.

The servers are raw asyncio sockets in a thread of their own (so a stuck client cannot stall them, and
they can do what no well-behaved framework would: never answer, cut a chunked body, send junk). They
speak just enough HTTP/1.1 for the client: one request per connection (``Connection: close``), SSE
bodies in chunked transfer encoding so that a cut stream is visible to the client as one.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from conftest import LOAD_MARGIN_S

from viscodex.model.chat import ChatRequest, Completion, complete
from viscodex.model.errors import (
    ImagesNotSupported,
    ModelError,
    ModelHTTPError,
    ModelNotFound,
    ModelProtocolError,
    ModelStreamError,
    ModelTimeout,
    ModelUnavailable,
)
from viscodex.model.server_backend import ServerBackend
from viscodex.model.settings import ModelSettings

pytestmark = pytest.mark.timeout(30)

MODEL = "viscodex"
T = TypeVar("T")


# --- the misbehaving servers ---------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    closed: threading.Event = field(default_factory=threading.Event)
    """Set when the client closed (or reset) this request's connection."""

    def json(self) -> Any:
        return json.loads(self.body)


class Reply:
    """Writes one HTTP response on a connection, in whatever (broken) shape a test wants."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def respond(self, status: int, body: object, content_type: str = "application/json", **headers: str) -> None:
        data = body if isinstance(body, bytes) else str(body).encode()
        if not isinstance(body, bytes | str):
            data = json.dumps(body).encode()
        head = f"HTTP/1.1 {status} Status\r\nContent-Type: {content_type}\r\n"
        head += f"Content-Length: {len(data)}\r\nConnection: close\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        await self.send(head.encode() + b"\r\n" + data)

    async def start_stream(self) -> None:
        await self.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )

    async def event(self, payload: object) -> None:
        """One SSE event (``data: ...``) as one HTTP chunk; a str goes out verbatim (junk, [DONE])."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        data = f"data: {text}\n\n".encode()
        await self.send(b"%x\r\n%s\r\n" % (len(data), data))

    async def end_stream(self) -> None:
        await self.send(b"0\r\n\r\n")


Handler = Callable[[Request, Reply], Awaitable[None]]


async def not_found(request: Request, reply: Reply) -> None:
    await reply.respond(404, {"detail": "Not Found"})


async def hang(request: Request, reply: Reply) -> None:
    await asyncio.Event().wait()  # until the server stops


class FakeServer:
    """An HTTP server on 127.0.0.1 (port 0) that answers ``POST .../chat/completions`` with ``chat``,
    ``GET .../models`` with ``models`` and everything else (``/version``) with ``other``."""

    def __init__(self, chat: Handler, models: Handler = not_found, other: Handler = not_found) -> None:
        self.chat, self.models, self.other = chat, models, other
        self.requests: list[Request] = []
        self.port = 0
        self._started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def __enter__(self) -> FakeServer:
        self._thread.start()
        assert self._started.wait(5), "the fake server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        connections: set[asyncio.Task[None]] = set()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                await self._serve(reader, writer)
            finally:
                connections.discard(task)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        await self._stop.wait()
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        watch: asyncio.Task[None] | None = None
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            first, *lines = head.split("\r\n")
            method, path, _ = first.split(" ", 2)
            headers = {}
            for line in lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Request(method, path, headers, body)
            self.requests.append(request)
            watch = asyncio.create_task(self._watch(reader, request))
            if path.endswith("/chat/completions"):
                handler = self.chat
            elif path.endswith("/models"):
                handler = self.models
            else:
                handler = self.other
            await handler(request, Reply(writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away; _watch records it
        finally:
            writer.close()
            if watch is not None:
                await asyncio.sleep(0.05)  # let the watcher see a close that races the end
                watch.cancel()

    @staticmethod
    async def _watch(reader: asyncio.StreamReader, request: Request) -> None:
        """The client sends nothing after its request: a read that ends means it closed the socket."""
        try:
            await reader.read(1)
        except ConnectionError:
            pass
        request.closed.set()


def refused_url() -> tuple[socket.socket, str]:
    """A port that is bound but not listening: connecting is refused, and nothing else can take it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


# --- chat completion chunks, as OpenAI and vLLM send them ------------------------------------------------


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, **extra}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": MODEL,
        "choices": [choice],
    }


def role_chunk() -> dict[str, Any]:
    data = chunk("")
    data["choices"][0]["delta"]["role"] = "assistant"
    return data


def error_body(message: str, kind: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def status(code: int, body: object) -> Handler:
    async def handler(request: Request, reply: Reply) -> None:
        await reply.respond(code, body)

    return handler


# --- running a call ---------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def hermetic_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No VISCODEX_* variable or config file of the machine's user may change the settings here."""
    for name in list(os.environ):
        if name.startswith("VISCODEX_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def settings(url: str, **overrides: Any) -> ModelSettings:
    """Small limits, so that every failure surfaces within seconds."""
    values: dict[str, Any] = {
        "model_url": url,
        "model_name": MODEL,
        "connect_timeout_s": 1.0,
        "idle_timeout_s": 1.0,
        "deadline_s": 10.0,
        "max_retries": 0,
    }
    values.update(overrides)
    return ModelSettings(**values)


def request() -> ChatRequest:
    return ChatRequest.single("Write hello world in Python.", max_tokens=16)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def failure(make: Callable[[], Awaitable[object]]) -> tuple[ModelError, float]:
    """The ModelError a call raises (anything else fails the test) and the seconds it took."""

    async def go() -> tuple[ModelError, float]:
        start = time.monotonic()
        with pytest.raises(ModelError) as caught:
            await make()
        return caught.value, time.monotonic() - start

    return run(go())


def chat_failure(backend: ServerBackend) -> tuple[ModelError, float]:
    return failure(lambda: complete(backend, request()))


def wait_for(event: threading.Event, seconds: float) -> bool:
    return event.wait(seconds)


# --- refuse ---------------------------------------------------------------------------------------------


def test_refused_connection_says_how_to_start_a_server() -> None:
    sock, url = refused_url()
    with sock:
        backend = ServerBackend(settings(url, max_retries=2))
        for make in (backend.check, lambda: complete(backend, request())):
            error, elapsed = failure(make)
            assert type(error) is ModelUnavailable
            assert url in str(error)
            assert "viscodex-agent serve" in str(error)
            assert "ConnectError" in str(error)
            # the openai client retries a refused connection twice, 0.5 s then 1 s (less jitter)
            assert elapsed < 3 + LOAD_MARGIN_S


# --- hang, stall, trickle -------------------------------------------------------------------------------


def test_server_that_never_answers_times_out_on_the_idle_timeout() -> None:
    with FakeServer(chat=hang, models=hang, other=hang) as server:
        backend = ServerBackend(settings(server.url, idle_timeout_s=1.0, connect_timeout_s=1.0))
        error, elapsed = chat_failure(backend)
        assert isinstance(error, ModelTimeout)
        assert "idle_timeout_s" in str(error) and "1 s" in str(error)
        # connect_timeout_s for the /version probe (vLLM or not?), then idle_timeout_s for the answer
        assert 1.8 < elapsed < 3.5 + LOAD_MARGIN_S
        assert len(server.chat_requests) == 1
        assert wait_for(server.chat_requests[0].closed, 2), "the client kept the dead connection open"

        # check() bounds its /models call too; a server that takes connections but does not answer is
        # not a usable backend (so `auto` falls back to the embedded model)
        error, elapsed = failure(backend.check)
        assert isinstance(error, ModelUnavailable)
        assert server.url in str(error) and "ReadTimeout" in str(error)
        assert elapsed < 4 + LOAD_MARGIN_S


def test_deadline_covers_the_whole_call_with_long_timeouts() -> None:
    """Long connect/idle timeouts and retries: the deadline still ends the call, /version probe included."""
    with FakeServer(chat=hang, models=hang, other=hang) as server:
        backend = ServerBackend(
            settings(server.url, connect_timeout_s=5, idle_timeout_s=5, deadline_s=1.5, max_retries=2)
        )
        error, elapsed = chat_failure(backend)
        assert isinstance(error, ModelTimeout)
        assert "1.5 s" in str(error) and "deadline_s" in str(error)
        assert 1.4 < elapsed < 3 + LOAD_MARGIN_S


def test_stream_that_stalls_after_the_first_chunk_times_out() -> None:
    async def stall(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.event(role_chunk())
        await reply.event(chunk("print("))
        await asyncio.Event().wait()

    with FakeServer(chat=stall) as server:
        backend = ServerBackend(settings(server.url, idle_timeout_s=0.5, max_retries=2))
        error, elapsed = chat_failure(backend)
        assert isinstance(error, ModelTimeout)
        assert "0.5 s" in str(error) and "idle_timeout_s" in str(error)
        assert 0.4 < elapsed < 3 + LOAD_MARGIN_S
        assert len(server.chat_requests) == 1, "a stream that has started is never retried"


def test_deadline_bounds_a_stream_that_never_ends() -> None:
    async def trickle(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        while True:
            await reply.event(chunk("x"))
            await asyncio.sleep(0.2)

    with FakeServer(chat=trickle) as server:
        backend = ServerBackend(settings(server.url, idle_timeout_s=1.0, deadline_s=1.5))
        error, elapsed = chat_failure(backend)
        assert isinstance(error, ModelTimeout)
        assert "1.5 s" in str(error) and "deadline_s" in str(error)
        assert 1.4 < elapsed < 3 + LOAD_MARGIN_S
        assert wait_for(server.chat_requests[0].closed, 2), "the timed-out stream was left open"


def test_deadline_with_a_slow_consumer_is_a_model_timeout_not_a_cancellation() -> None:
    """The deadline must not fire while the consumer holds the stream suspended: that would cancel
    the consumer's own await with a bare CancelledError instead of raising ModelTimeout."""

    async def steady(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        for _ in range(30):
            await reply.event(chunk("x"))
            await asyncio.sleep(0.05)
        await reply.event(chunk("", finish="stop"))
        await reply.event("[DONE]")
        await reply.end_stream()

    async def slow_consumer(backend: ServerBackend) -> None:
        async for _ in backend.stream(request()):
            await asyncio.sleep(0.3)  # the agent's own work between chunks

    with FakeServer(chat=steady) as server:
        backend = ServerBackend(settings(server.url, deadline_s=1.0))
        error, elapsed = failure(lambda: slow_consumer(backend))
        assert isinstance(error, ModelTimeout)
        assert 0.9 < elapsed < 3 + LOAD_MARGIN_S


# --- HTTP errors and retries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "requests"),
    [(500, 3), (503, 3), (429, 3), (400, 1), (401, 1)],
    ids=["500-retried", "503-retried", "429-retried", "400-not-retried", "401-not-retried"],
)
def test_http_error_status_is_reported_and_transient_ones_retried(code: int, requests: int) -> None:
    with FakeServer(chat=status(code, error_body("the server says no", "Error", code))) as server:
        backend = ServerBackend(settings(server.url, max_retries=2))
        error, elapsed = chat_failure(backend)
        assert isinstance(error, ModelHTTPError)
        assert error.status == code
        assert f"HTTP {code}" in str(error) and "the server says no" in str(error)
        assert len(server.chat_requests) == requests
        if requests > 1:
            # exponential backoff: 0.5 s then 1 s, each less up to 25 % jitter: at least 1.125 s of waiting
            # (a lower bound holds under any load; the upper one has a wide margin for a busy machine)
            assert 1.0 < elapsed < 15
        # not retried: the request count above says so, whatever the machine's load does to the clock


def test_unknown_model_name() -> None:
    body = error_body(f"The model `{MODEL}` does not exist.", "NotFoundError", 404)
    with FakeServer(chat=status(404, body)) as server:
        error, _ = chat_failure(ServerBackend(settings(server.url, max_retries=2)))
        assert isinstance(error, ModelNotFound)
        assert repr(MODEL) in str(error) and "--model-name" in str(error)
        assert len(server.chat_requests) == 1


def test_wrong_base_url_is_not_reported_as_an_unknown_model() -> None:
    with FakeServer(chat=not_found) as server:
        error, _ = chat_failure(ServerBackend(settings(server.url)))
        assert type(error) is ModelHTTPError
        assert error.status == 404
        assert "/v1" in str(error) and "--model-url" in str(error)


def test_check_lists_the_served_models_when_ours_is_missing() -> None:
    served = {"object": "list", "data": [{"id": "qwen2-vl", "object": "model"}, {"id": "llava"}]}
    with FakeServer(chat=hang, models=status(200, served)) as server:
        error, _ = failure(ServerBackend(settings(server.url)).check)
        assert isinstance(error, ModelNotFound)
        assert repr(MODEL) in str(error)
        assert "qwen2-vl, llava" in str(error)
        assert "VISCODEX_MODEL_NAME" in str(error)


@pytest.mark.parametrize(
    "message",
    [
        "Qwen2ForCausalLM is not a multimodal model",
        "This model does not support image input.",
        "Invalid content type. image_url is only supported by certain models.",
    ],
)
def test_text_only_model_refusing_images(message: str) -> None:
    with FakeServer(chat=status(400, error_body(message, "BadRequestError", 400))) as server:
        error, _ = chat_failure(ServerBackend(settings(server.url, model_name="qwen2-coder")))
        assert isinstance(error, ImagesNotSupported)
        assert "'qwen2-coder'" in str(error)
        assert "Pick a model that takes images" in str(error)


def test_other_image_complaints_are_not_images_not_supported() -> None:
    message = "At most 1 image(s) may be provided in one request."
    with FakeServer(chat=status(400, error_body(message, "BadRequestError", 400))) as server:
        error, _ = chat_failure(ServerBackend(settings(server.url)))
        assert type(error) is ModelHTTPError
        assert error.status == 400 and message in str(error)


# --- junk and no content --------------------------------------------------------------------------------


def test_stream_event_that_is_not_json() -> None:
    async def junk(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.event("not json")
        await reply.event("[DONE]")
        await reply.end_stream()

    with FakeServer(chat=junk) as server:
        error, elapsed = chat_failure(ServerBackend(settings(server.url)))
        assert isinstance(error, ModelProtocolError)
        assert "not a chat completion" in str(error)
        assert elapsed < 2 + LOAD_MARGIN_S


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", "<html><body><h1>It works!</h1></body></html>"),
        ("text/plain", "internal hiccup"),
        # a server that ignores "stream": true and answers with one whole JSON completion
        ("application/json", json.dumps({"id": "x", "object": "chat.completion", "choices": []})),
    ],
    ids=["html", "text", "json-not-streamed"],
)
def test_body_that_is_not_an_event_stream(content_type: str, body: str) -> None:
    async def page(request: Request, reply: Reply) -> None:
        await reply.respond(200, body, content_type)

    with FakeServer(chat=page) as server:
        error, elapsed = chat_failure(ServerBackend(settings(server.url)))
        assert isinstance(error, ModelProtocolError)
        assert "OpenAI-compatible" in str(error)
        assert elapsed < 2 + LOAD_MARGIN_S


def test_check_against_a_models_list_that_is_junk() -> None:
    async def page(request: Request, reply: Reply) -> None:
        await reply.respond(200, "<html>router login</html>", "text/html")

    with FakeServer(chat=hang, models=page) as server:
        error, _ = failure(ServerBackend(settings(server.url)).check)
        assert isinstance(error, ModelProtocolError)
        assert "/models" in str(error) and "router login" in str(error)


@pytest.mark.parametrize(
    "events",
    [["[DONE]"], [role_chunk(), "[DONE]"], [{"id": "x", "object": "chat.completion.chunk", "choices": []}]],
    ids=["done-only", "role-only", "no-choices"],
)
def test_stream_without_any_content_is_a_protocol_error(events: list[object]) -> None:
    """A stream that ends properly but carried no text and no finish reason is not an answer that
    broke midway (ModelStreamError) but a server that answered with nothing (ModelProtocolError)."""

    async def empty(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        for event in events:
            await reply.event(event)
        await reply.end_stream()

    with FakeServer(chat=empty) as server:
        error, elapsed = chat_failure(ServerBackend(settings(server.url)))
        assert type(error) is ModelProtocolError
        assert "without any" in str(error)
        assert elapsed < 2 + LOAD_MARGIN_S


def test_stream_with_text_but_no_finish_reason_is_a_stream_error() -> None:
    async def unfinished(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.event(role_chunk())
        await reply.event(chunk("print('hi')"))
        await reply.event("[DONE]")
        await reply.end_stream()

    with FakeServer(chat=unfinished) as server:
        error, _ = chat_failure(ServerBackend(settings(server.url)))
        assert isinstance(error, ModelStreamError)
        assert error.partial == "print('hi')"
        assert "finish reason" in str(error)


# --- cut ------------------------------------------------------------------------------------------------


def test_stream_cut_midway_keeps_the_partial_text() -> None:
    async def cut(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.event(role_chunk())
        await reply.event(chunk("print("))
        await reply.event(chunk("'hel"))
        # then the socket closes: no [DONE], no terminating zero-length chunk

    with FakeServer(chat=cut) as server:
        error, elapsed = chat_failure(ServerBackend(settings(server.url, max_retries=2)))
        assert isinstance(error, ModelStreamError)
        assert error.partial == "print('hel"
        assert "midway" in str(error) and "incomplete chunked read" in str(error)
        assert len(server.chat_requests) == 1
        assert elapsed < 2 + LOAD_MARGIN_S


def test_stream_cut_right_after_the_headers() -> None:
    async def cut(request: Request, reply: Reply) -> None:
        await reply.start_stream()

    with FakeServer(chat=cut) as server:
        error, _ = chat_failure(ServerBackend(settings(server.url, max_retries=2)))
        assert isinstance(error, ModelStreamError)
        assert error.partial == ""


def test_connection_closed_before_any_response_is_retried_then_reported() -> None:
    async def drop(request: Request, reply: Reply) -> None:
        return None

    with FakeServer(chat=drop) as server:
        error, elapsed = chat_failure(ServerBackend(settings(server.url, max_retries=2)))
        # the server is up (it took the connection) but broke the exchange: not "start a server"
        assert isinstance(error, ModelStreamError)
        assert "Server disconnected" in str(error)
        assert len(server.chat_requests) == 3
        assert elapsed < 5 + LOAD_MARGIN_S


# --- cancellation ---------------------------------------------------------------------------------------


def test_cancelling_the_consumer_closes_the_connection_promptly() -> None:
    async def trickle(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.event(role_chunk())
        while True:
            await reply.event(chunk("x"))
            await asyncio.sleep(0.2)

    async def consume(backend: ServerBackend, first: asyncio.Event) -> None:
        async for _ in backend.stream(request()):
            first.set()

    async def go(backend: ServerBackend) -> float:
        first = asyncio.Event()
        task = asyncio.create_task(consume(backend, first))
        await asyncio.wait_for(first.wait(), 5)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - start

    with FakeServer(chat=trickle) as server:
        elapsed = run(go(ServerBackend(settings(server.url, deadline_s=20))))
        assert elapsed < 1 + LOAD_MARGIN_S
        assert wait_for(server.chat_requests[0].closed, 1), "the server never saw the connection close"


# --- the well-behaved case ------------------------------------------------------------------------------


def test_scripted_server_streams_a_whole_answer() -> None:
    """A scripted test double of a vLLM server (not a model): /models, /version, and a proper stream
    with vLLM's token ids in the logprobs once check() has found out that it is vLLM."""
    answer = ["print(", "'hello'", ")"]

    async def models(request: Request, reply: Reply) -> None:
        await reply.respond(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})

    async def version(request: Request, reply: Reply) -> None:
        if request.path == "/version":
            await reply.respond(200, {"version": "0.0.0-test"})
        else:
            await not_found(request, reply)

    async def chat(request: Request, reply: Reply) -> None:
        body = request.json()
        assert body["stream"] is True and body["model"] == MODEL
        await reply.start_stream()
        await reply.event(role_chunk())
        for i, piece in enumerate(answer):
            logprobs = {"content": [{"token": f"token_id:{100 + i}", "logprob": 0.0, "bytes": None}]}
            await reply.event(chunk(piece, logprobs=logprobs))
        await reply.event(chunk("", finish="stop"))
        usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
        await reply.event({**chunk(), "choices": [], "usage": usage})
        await reply.event("[DONE]")
        await reply.end_stream()

    async def go(backend: ServerBackend) -> tuple[str, Completion]:
        return await backend.check(), await complete(backend, request())

    with FakeServer(chat=chat, models=models, other=version) as server:
        backend = ServerBackend(settings(server.url))
        start = time.monotonic()
        detail, result = run(go(backend))
        assert time.monotonic() - start < 3 + LOAD_MARGIN_S
        assert detail == f"{server.url} serves {MODEL}"
        assert result.text == "print('hello')"
        assert result.finish_reason == "stop"
        assert result.token_ids == [100, 101, 102]
        assert (result.backend, result.model) == ("server", MODEL)
        sent = server.chat_requests[0].json()
        assert sent.get("return_tokens_as_token_ids") is True and sent.get("logprobs") is True
        assert server.chat_requests[0].headers["authorization"] == "Bearer EMPTY"


def test_stream_chunks_arrive_as_they_are_sent() -> None:
    """Streaming, not buffering: the first chunk reaches the consumer before the server has finished."""
    release = threading.Event()

    async def slow_tail(request: Request, reply: Reply) -> None:
        await reply.start_stream()
        await reply.event(chunk("first"))
        while not release.is_set():
            await asyncio.sleep(0.02)
        await reply.event(chunk("", finish="stop"))
        await reply.event("[DONE]")
        await reply.end_stream()

    async def go(backend: ServerBackend) -> list[str]:
        texts = []
        stream: AsyncIterator[object] = backend.stream(request())
        async for piece in stream:
            texts.append(getattr(piece, "text", ""))
            release.set()
        return texts

    with FakeServer(chat=slow_tail) as server:
        assert run(go(ServerBackend(settings(server.url))))[0] == "first"
