"""A TEST DOUBLE for the model: a real OpenAI-compatible HTTP server (on 127.0.0.1) that replays scripted
answers in order and records every request it gets.

It exists to test the loop's logic (what reaches the next prompt, which candidate is kept, when the loop
stops) with answers we choose. The real path (vLLM serving a real checkpoint) is tested separately.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedModel:
    def __init__(self, answers: list[str], name: str = "viscodex", delay_s: float = 0.0) -> None:
        self.answers = list(answers)
        self.name = name
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.url = ""

    def next_answer(self, body: dict[str, Any]) -> str:
        with self._lock:
            self.requests.append(body)
            if not self.answers:
                return "I have nothing more to say."
            return self.answers.pop(0)

    def user_texts(self, request_index: int) -> list[str]:
        """The text parts of the user messages of one recorded request."""
        texts = []
        for message in self.requests[request_index]["messages"]:
            if message["role"] != "user":
                continue
            content = message["content"]
            if isinstance(content, str):
                texts.append(content)
            else:
                texts.extend(part["text"] for part in content if part.get("type") == "text")
        return texts

    def image_count(self, request_index: int) -> int:
        count = 0
        for message in self.requests[request_index]["messages"]:
            if isinstance(message["content"], list):
                count += sum(part.get("type") == "image_url" for part in message["content"])
        return count


def _handler(model: ScriptedModel) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": model.name, "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = model.next_answer(body)
            if model.delay_s:
                time.sleep(model.delay_s)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": model.name}
            pieces = [answer[i : i + 64] for i in range(0, len(answer), 64)] or [""]
            for piece in pieces:
                chunk = {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def serve(model: ScriptedModel) -> Iterator[ScriptedModel]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(model))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    model.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield model
    finally:
        server.shutdown()
        server.server_close()
