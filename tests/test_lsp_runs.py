"""Runs through the language server, over stdio with a real LSP client (pytest-lsp), in the real Docker
sandbox. The model is the scripted OpenAI-compatible server of the agent tests (a TEST DOUBLE, see
scripted_model.py): each test says what it answers, so the edits can be checked exactly.

Covered: the edit for each kind of result (a fragment in the open file, a whole file created next to the
image, a fix over several files), `apply: true` and the command (applied through workspace/applyEdit),
progress in order, and both ways of cancelling (containers gone), a missing sandbox image."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest
from helpers import busy_containers, kernel_takes_slices, slice_ns
from lsp_client import b64, lsp_client, open_document, png_bytes
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from scripted_model import ScriptedModel, serve

from viscodex.sandbox.owners import LABEL, LABEL_PID

pytestmark = pytest.mark.asyncio(loop_scope="function")

TESTS_JSON = '```json\n{"tests": [{"input": "2 3\\n", "output": "5\\n"}, {"input": "10 -4\\n", "output": "6\\n"}]}\n```'
RIGHT_CODE = "a, b = map(int, input().split())\nprint(a + b)\n"
RIGHT = f"Here you go:\n```python\n{RIGHT_CODE}```"
PAGE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<style>body { margin: 0; background: #fff }</style>\n</head>\n<body>\n"
    '<p style="margin: 10px; font: 11px sans-serif">Buy now</p>\n</body>\n</html>\n'
)
UI = f"```html\n{PAGE}```"


def options(model: ScriptedModel, **more: object) -> dict[str, object]:
    return {"model_url": model.url, "backend": "server", "max_iters": 1, **more}


def messages(client, token=None) -> list[str]:  # type: ignore[no-untyped-def]
    reports = client.progress_reports
    token = token if token is not None else next(iter(reports))
    return [getattr(v, "message", None) or "" for v in reports[token]]


def _request(doc: Path, image: dict, line: int, character: int = 0, **more: object) -> dict[str, object]:
    return {
        "images": [image],
        "textDocument": {"uri": doc.as_uri()},
        "position": {"line": line, "character": character},
        **more,
    }


async def test_fragment_into_a_python_file_with_progress_in_order(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: the sample tests, then a right solution. The Python buffer (unsaved, differing from
    disk) makes it an algorithm task; the edit inserts the code at the position."""
    doc = tmp_path / "solution.py"
    doc.write_text("# on disk\n")
    buffer = "import sys\n\n\ndef helper():\n    return 1\n\n"
    with serve(ScriptedModel([TESTS_JSON, RIGHT])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, doc, "python", buffer)
            start = types.Position(line=4, character=12)  # after "return 1": an incremental change
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=doc.as_uri(), version=2),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(start=start, end=start), text="  # typed, not saved"
                        )
                    ],
                )
            )
            result = await client.protocol.send_request_async(
                "viscodex/imageToCode", _request(doc, {"data": b64(png_bytes(text="a + b"))}, 6)
            )
            reports = dict(client.progress_reports)
    assert result.kind == "algorithm" and result.language == "python" and result.verified is True
    assert result.code == RIGHT_CODE and result.score == 1.0 and result.iterations == 1
    assert Path(result.runDir).is_dir() and Path(result.runDir).parent == tmp_path / ".viscodex" / "runs"
    (change,) = result.edit.documentChanges
    assert change.textDocument.uri == doc.as_uri() and change.textDocument.version == 2
    (edit,) = change.edits
    assert edit.range.start.line == 6 and edit.range.end.line == 6 and edit.newText == RIGHT_CODE
    # the model was told about the unsaved buffer (with the incremental change), not the file on disk
    prompt = "\n".join(model.user_texts(1))
    assert "def helper():" in prompt and "import sys" in prompt and "# on disk" not in prompt
    assert "return 1  # typed, not saved" in prompt
    (token,) = reports
    values = reports[token]
    assert isinstance(values[0], types.WorkDoneProgressBegin) and values[0].cancellable is True
    assert isinstance(values[-1], types.WorkDoneProgressEnd) and "verified" in (values[-1].message or "")
    assert all(isinstance(v, types.WorkDoneProgressReport) for v in values[1:-1])
    steps = [v.message or "" for v in values[1:-1]]
    order = ["starting the model", "generating", "syntax check", "running", "scoring", "score 1.00"]
    positions = [next(i for i, s in enumerate(steps) if word in s) for word in order]
    assert positions == sorted(positions), steps
    assert any("iteration 1/1" in s for s in steps)


async def test_whole_file_next_to_the_image_through_the_command(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: one HTML page. From a Markdown note the result is a whole file: created next to the
    image (CreateFile + text), applied through workspace/applyEdit, then opened with window/showDocument."""
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "hero.png").write_bytes(png_bytes())
    note = tmp_path / "note.md"
    note.write_text("# Landing page\n\n![hero](img/hero.png)\n")
    with serve(ScriptedModel([UI])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, note, "markdown")
            argument = _request(note, {"uri": (tmp_path / "img" / "hero.png").as_uri()}, 3, kind="ui")
            result = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="viscodex.imageToCode", arguments=[argument])
            )
            applied = list(client.applied)  # type: ignore[attr-defined]
            shown = list(client.shown_documents)
    created = tmp_path / "img" / "hero.html"
    assert result["kind"] == "ui" and result["language"] == "html" and result["applied"] is True
    assert created.read_text() == PAGE
    assert note.read_text() == "# Landing page\n\n![hero](img/hero.png)\n"
    (edit,) = applied
    create, text = edit.document_changes
    assert isinstance(create, types.CreateFile) and create.uri == created.as_uri()
    assert isinstance(text, types.TextDocumentEdit) and text.edits[0].new_text == PAGE
    assert [d.uri for d in shown] == [created.as_uri()]


async def test_a_second_whole_file_does_not_overwrite_the_first(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: the same HTML page twice; the second file is hero-2.html."""
    (tmp_path / "hero.png").write_bytes(png_bytes())
    (tmp_path / "hero.html").write_text("mine\n")
    note = tmp_path / "note.md"
    note.write_text("![hero](hero.png)\n")
    with serve(ScriptedModel([UI])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, note, "markdown")
            result = await client.protocol.send_request_async(
                "viscodex/imageToCode",
                _request(note, {"uri": (tmp_path / "hero.png").as_uri()}, 1, kind="ui", apply=True),
            )
    assert result.applied is True
    assert (tmp_path / "hero.html").read_text() == "mine\n" and (tmp_path / "hero-2.html").read_text() == PAGE


def _repo(root: Path) -> None:
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text("from util import double\n\n\ndef add(a, b):\n    return a - b\n")
    (root / "util.py").write_text("def double(x):\n    return x + x + 1\n")
    (root / "tests" / "test_calc.py").write_text(
        "import os, sys\nsys.path.insert(0, os.getcwd())\nfrom calc import add\nfrom util import double\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\ndef test_double():\n    assert double(4) == 8\n"
    )


FIX = (
    "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -4,2 +4,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    "--- a/util.py\n+++ b/util.py\n@@ -1,2 +1,2 @@\n def double(x):\n-    return x + x + 1\n+    return x + x\n```"
)


async def test_fix_over_several_files_is_not_applied_without_consent(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: a diff over two files that makes the tests pass. The workspace folder is the repository;
    the request (no apply) returns the edit and the files stay as they were; applied, they are fixed."""
    _repo(tmp_path)
    (tmp_path / "error.png").write_bytes(png_bytes(text="AssertionError: assert -1 == 5"))
    calc = tmp_path / "calc.py"
    params = _request(calc, {"uri": (tmp_path / "error.png").as_uri()}, 4, kind="fix")
    with serve(ScriptedModel([FIX, FIX])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, calc, "python")
            result = await client.protocol.send_request_async("viscodex/imageToCode", params)
            untouched = (calc.read_text(), (tmp_path / "util.py").read_text())
            applied_result = await client.protocol.send_request_async("viscodex/imageToCode", {**params, "apply": True})
    assert result.kind == "fix" and result.language == "diff" and result.verified is True
    assert untouched == (
        "from util import double\n\n\ndef add(a, b):\n    return a - b\n",
        "def double(x):\n    return x + x + 1\n",
    )
    changes = {c.textDocument.uri: c for c in result.edit.documentChanges}
    assert set(changes) == {calc.as_uri(), (tmp_path / "util.py").as_uri()}
    (calc_edit,) = changes[calc.as_uri()].edits
    assert calc_edit.range.start.line == 3 and calc_edit.range.end.line == 5
    assert calc_edit.newText == "def add(a, b):\n    return a + b\n"
    assert changes[calc.as_uri()].textDocument.version == 1  # the open buffer's version
    assert applied_result.applied is True
    assert calc.read_text().endswith("return a + b\n") and (tmp_path / "util.py").read_text().endswith("x + x\n")


async def test_apply_true_that_the_client_refuses_is_reported(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: the sample tests and a right solution; the client answers applyEdit with applied=false."""
    doc = tmp_path / "solution.py"
    doc.write_text("\n")
    with serve(ScriptedModel([TESTS_JSON, RIGHT])) as model:
        async with lsp_client(tmp_path, options(model), apply=False) as client:
            open_document(client, doc, "python")
            result = await client.protocol.send_request_async(
                "viscodex/imageToCode", _request(doc, {"data": b64(png_bytes())}, 1, kind="algorithm", apply=True)
            )
            asked = len(client.applied)  # type: ignore[attr-defined]
    assert asked == 1 and result.applied is False and doc.read_text() == "\n"


def _family(pid: int) -> list[int]:
    """``pid`` and its child processes: the server runs its runs in a worker process of its own, which
    owns (labels) the sandbox's containers."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return [pid, *children]


@pytest.mark.parametrize("how", ["$/cancelRequest", "window/workDoneProgress/cancel"])
async def test_cancel_stops_the_run_and_its_container(
    tmp_path: Path, docker_client, sandbox_image: str, how: str
) -> None:  # type: ignore[no-untyped-def]
    """Scripted model: the sample tests, then a solution that sleeps two minutes. Cancelled while it runs,
    the request ends with RequestCancelled (-32800), the progress with "cancelled", and the container that
    ran it is gone within seconds; the server answers the next request."""
    doc = tmp_path / "solution.py"
    doc.write_text("\n")
    slow = "```python\nimport time\ntime.sleep(120)\n```"
    with serve(ScriptedModel([TESTS_JSON, slow])) as model:
        async with lsp_client(tmp_path, options(model, timeout=120)) as client:
            pid = client._server.pid  # type: ignore[union-attr]
            open_document(client, doc, "python")
            params = _request(doc, {"data": b64(png_bytes())}, 1, kind="algorithm")
            request = asyncio.ensure_future(
                client.protocol.send_request_async("viscodex/imageToCode", params, msg_id="run-1")
            )
            deadline = time.monotonic() + 90
            busy: list[str] = []
            owners = [pid]
            while not busy:
                assert time.monotonic() < deadline and not request.done()
                await asyncio.sleep(0.3)
                if len(model.requests) >= 2:
                    owners = _family(pid)
                    busy = await asyncio.to_thread(busy_containers, docker_client, owners)
            (token,) = client.progress_reports
            if how == "$/cancelRequest":
                client.protocol.notify("$/cancelRequest", types.CancelParams(id="run-1"))
            else:
                client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
            cancelled_at = time.monotonic()
            with pytest.raises(JsonRpcException) as caught:
                await asyncio.wait_for(request, 20)
            answered_in = time.monotonic() - cancelled_at
            gone_deadline = time.monotonic() + 10
            while True:
                alive = {c.id for c in docker_client.containers.list(all=True, sparse=True, filters={"label": [LABEL]})}
                if not alive & set(busy) or time.monotonic() > gone_deadline:
                    break
                await asyncio.sleep(0.2)
            gone_in = time.monotonic() - cancelled_at
            end = client.progress_reports[token][-1]
            actions = await client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=doc.as_uri()),
                    range=types.Range(
                        start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
                    ),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            )
    assert caught.value.code == -32800
    assert answered_in < 5
    assert not alive & set(busy), f"the run's container was still there {gone_in:.1f} s after the cancel"
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "cancelled"
    assert actions is not None
    assert len(owners) > 1, "the runs did not happen in a worker process of the server"
    # and after shutdown, none of the server's containers is left
    for owner in owners:
        assert (
            docker_client.containers.list(all=True, sparse=True, filters={"label": [LABEL, f"{LABEL_PID}={owner}"]})
            == []
        )


async def test_a_crashed_run_worker_fails_its_run_not_the_server(
    tmp_path: Path, docker_client, sandbox_image: str
) -> None:  # type: ignore[no-untyped-def]
    """Scripted model: the sample tests, then a solution that sleeps two minutes; the run worker is
    killed (as a segfault in a run's native code would end it) while the solution runs. The request
    fails with RequestFailed (-32803) saying the worker stopped, the server goes on answering, the next
    run gets a new worker and verifies, the runs' worker is niced below the server, and the dead
    worker's container does not outlive the server."""
    doc = tmp_path / "solution.py"
    doc.write_text("\n")
    slow = "```python\nimport time\ntime.sleep(120)\n```"
    with serve(ScriptedModel([TESTS_JSON, slow, TESTS_JSON, RIGHT])) as model:
        async with lsp_client(tmp_path, options(model, timeout=120)) as client:
            pid = client._server.pid  # type: ignore[union-attr]
            open_document(client, doc, "python")
            params = _request(doc, {"data": b64(png_bytes())}, 1, kind="algorithm")
            request = asyncio.ensure_future(client.protocol.send_request_async("viscodex/imageToCode", params))
            deadline = time.monotonic() + 90
            busy: list[str] = []
            while not busy:
                assert time.monotonic() < deadline and not request.done()
                await asyncio.sleep(0.3)
                if len(model.requests) >= 2:
                    busy = await asyncio.to_thread(busy_containers, docker_client, _family(pid)[1:])
            (worker,) = _family(pid)[1:]
            niceness = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[16])
            server_niceness = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
            slices = [_slice_ns(p) for p in (pid, worker)]
            os.kill(worker, signal.SIGKILL)
            with pytest.raises(JsonRpcException) as caught:
                await asyncio.wait_for(request, 20)
            gone_deadline = time.monotonic() + 15  # the server removes what the dead worker left
            while (left := _containers_of(docker_client, worker)) and time.monotonic() < gone_deadline:
                await asyncio.sleep(0.3)
            second = await asyncio.wait_for(client.protocol.send_request_async("viscodex/imageToCode", params), 120)
            (new_worker,) = _family(pid)[1:]
    assert caught.value.code == -32803 and "worker stopped" in caught.value.message, caught.value.message
    assert second.verified and second.code.strip() == RIGHT_CODE.strip()
    assert new_worker != worker
    assert niceness >= server_niceness + 10
    if None not in slices:  # the server's short slice for prompt replies; the worker's work gets the default
        assert slices[0] == 100_000 and slices[1] != 100_000, slices
    assert left == []
    assert _containers_of(docker_client, new_worker) == []


def _slice_ns(pid: int) -> int | None:
    """The time slice the kernel gives a process's main thread; None before Linux 6.12, which has no
    per-thread slice."""
    return slice_ns(Path(f"/proc/{pid}/sched").read_text()) if kernel_takes_slices() else None


def _containers_of(client: docker.DockerClient, pid: int) -> list[object]:
    return client.containers.list(all=True, sparse=True, filters={"label": [LABEL, f"{LABEL_PID}={pid}"]})


async def test_missing_sandbox_image_names_the_build_command(tmp_path: Path, docker_client, sandbox_image: str) -> None:  # type: ignore[no-untyped-def]
    """Scripted model (answers nothing: the run stops at the sandbox). The image named does not exist."""
    doc = tmp_path / "solution.py"
    doc.write_text("\n")
    with serve(ScriptedModel([])) as model:
        env = {"VISCODEX_SANDBOX_IMAGE": "viscodex-sandbox:no-such-tag"}
        async with lsp_client(tmp_path, options(model), env=env) as client:
            with pytest.raises(JsonRpcException) as caught:
                await client.protocol.send_request_async(
                    "viscodex/imageToCode", _request(doc, {"data": b64(png_bytes())}, 1, kind="algorithm")
                )
            await asyncio.sleep(0.2)
            shown = [m.message for m in client.messages]
    assert caught.value.code == -32803
    assert "viscodex-agent sandbox build" in caught.value.message and "no-such-tag" in caught.value.message
    assert len(shown) == 1 and "viscodex-agent sandbox build" in shown[0]


async def test_runs_beyond_the_bound_queue_and_the_server_keeps_answering(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model, each answer 5 s late: the sample tests and a right solution, twice. With one run at a
    time the second request's progress says it is queued; code actions are answered while the model works;
    both runs share one model backend and one sandbox (each opened once, as the log says)."""
    from conftest import LOAD_MARGIN_S

    doc = tmp_path / "solution.py"
    doc.write_text("\n")
    with serve(ScriptedModel([TESTS_JSON, RIGHT, TESTS_JSON, RIGHT], delay_s=5)) as model:
        async with lsp_client(tmp_path, options(model, max_concurrent_runs=1)) as client:
            open_document(client, doc, "python")
            params = _request(doc, {"data": b64(png_bytes())}, 1, kind="algorithm")
            first = asyncio.ensure_future(client.protocol.send_request_async("viscodex/imageToCode", params))
            while len(client.progress_reports) < 1:
                await asyncio.sleep(0.05)
            second = asyncio.ensure_future(client.protocol.send_request_async("viscodex/imageToCode", params))
            while not model.requests:
                await asyncio.sleep(0.05)
            latencies = []
            for _ in range(5):  # while the model works on the first run
                started = time.monotonic()
                await client.text_document_code_action_async(
                    types.CodeActionParams(
                        text_document=types.TextDocumentIdentifier(uri=doc.as_uri()),
                        range=types.Range(
                            start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
                        ),
                        context=types.CodeActionContext(diagnostics=[]),
                    )
                )
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(0.2)
            results = await asyncio.wait_for(asyncio.gather(first, second), 120)
            tokens = list(client.progress_reports)
            logs = [m.message for m in client.log_messages]
    assert all(r.verified for r in results)
    # whichever reached the slot second (both start at once) says it waits
    queued = [any("queued" in step for step in messages(client, token)) for token in tokens]
    assert sorted(queued) == [False, True], [messages(client, token) for token in tokens]
    assert max(latencies) < 0.5 + LOAD_MARGIN_S, latencies
    assert sum("model backend: server" in line for line in logs) == 1, logs
    assert sum("sandbox ready" in line for line in logs) == 1, logs


REACT_PAGE = (
    '<!DOCTYPE html>\n<html>\n<body style="margin: 0">\n<div id="root"></div>\n<script type="text/babel">\n'
    'function BuyNow() {\n  return <p style={{margin: 10, font: "11px sans-serif"}}>Buy now</p>;\n}\n'
    'ReactDOM.createRoot(document.getElementById("root")).render(<BuyNow />);\n</script>\n</body>\n</html>\n'
)


async def test_a_tsx_file_gets_a_component(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: a React page (the stack a TSX file asks for). The page is rendered and scored as
    any UI; the edit inserts its component, without the mounting, into the TSX file."""
    doc = tmp_path / "Buy.tsx"
    doc.write_text('import React from "react";\n\n')
    with serve(ScriptedModel([f"```html\n{REACT_PAGE}```"])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, doc, "typescriptreact")
            result = await client.protocol.send_request_async(
                "viscodex/imageToCode", _request(doc, {"data": b64(png_bytes())}, 2)
            )
    assert result.kind == "ui" and result.language == "tsx"
    component = 'function BuyNow() {\n  return <p style={{margin: 10, font: "11px sans-serif"}}>Buy now</p>;\n}\n'
    assert result.code == component
    (change,) = result.edit.documentChanges
    assert change.textDocument.uri == doc.as_uri() and change.edits[0].newText == component
    assert "React 18" in model.requests[0]["messages"][0]["content"]  # the React stack's prompt
    assert (Path(result.runDir) / "iter-1" / "cand-1" / "render.png").is_file()  # rendered and scored


async def test_a_range_edit_must_keep_the_definitions_it_replaces(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: the sample tests; a right solution that drops `helper` from the replaced code; then one
    that keeps it. The agent's kept-code check, given what the range replaces, refuses the first."""
    doc = tmp_path / "solution.py"
    text = "import sys\n\n\ndef helper(x):\n    return x\n\n\ndef main():\n    pass\n"
    doc.write_text(text)
    drops = "```python\ndef main():\n    a, b = map(int, input().split())\n    print(a + b)\n\n\nmain()\n```"
    keeps = (
        "```python\ndef helper(x):\n    return x\n\n\ndef main():\n    a, b = map(int, input().split())\n"
        "    print(helper(a + b))\n\n\nmain()\n```"
    )
    replaced = {"start": {"line": 3, "character": 0}, "end": {"line": 9, "character": 0}}
    with serve(ScriptedModel([TESTS_JSON, drops, keeps])) as model:
        async with lsp_client(tmp_path, options(model, max_iters=3)) as client:
            open_document(client, doc, "python")
            params = {"images": [{"data": b64(png_bytes())}], "textDocument": {"uri": doc.as_uri()}, "range": replaced}
            result = await client.protocol.send_request_async("viscodex/imageToCode", params)
    assert result.verified is True and result.iterations == 2
    assert "def helper(x)" in result.code
    feedback = "\n".join(model.user_texts(2))
    assert "drops 1 of the 2 definitions" in feedback and "helper" in feedback
    (change,) = result.edit.documentChanges
    (edit,) = change.edits
    assert (edit.range.start.line, edit.range.end.line) == (3, 9) and edit.newText == result.code


class _TextOnlyModel(BaseHTTPRequestHandler):
    """A TEST DOUBLE of a text-only model server: it lists its model, and refuses any chat request with
    vLLM's words for a model that takes no images."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(200, {"object": "list", "data": [{"id": "viscodex", "object": "model"}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self._json(400, {"error": {"message": "viscodex is not a multimodal model", "type": "BadRequestError"}})


async def test_a_model_that_rejects_images_names_the_fix(tmp_path: Path, sandbox_image: str) -> None:
    """A text-only model server (the double above): the error says to pick a model that takes images."""
    doc = tmp_path / "page.html"
    doc.write_text("<html><body>\n</body></html>\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TextOnlyModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        async with lsp_client(tmp_path, {"model_url": url, "backend": "server", "max_iters": 1}) as client:
            with pytest.raises(JsonRpcException) as caught:
                await client.protocol.send_request_async(
                    "viscodex/imageToCode", _request(doc, {"data": b64(png_bytes())}, 1, kind="ui")
                )
            await asyncio.sleep(0.2)
            shown = [m.message for m in client.messages]
    finally:
        server.shutdown()
        server.server_close()
    assert caught.value.code == -32803
    assert "refused an image" in caught.value.message and "--model-name" in caught.value.message
    assert len(shown) == 1 and "refused an image" in shown[0]


TWO_PAGES = (
    '<!DOCTYPE html>\n<html>\n<body style="margin: 0">\n<div data-page="1"><p>Buy now</p></div>\n'
    '<div data-page="2"><p>Thanks</p></div>\n</body>\n</html>\n'
)


async def test_several_images_are_several_pages(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: one file with two data-page elements. Two pictures are two pages of one UI: the model
    sees both, each page is rendered against its own picture."""
    note = tmp_path / "note.md"
    note.write_text("# Checkout\n")
    images = [{"data": b64(png_bytes(text="Buy now"))}, {"data": b64(png_bytes(text="Thanks"))}]
    with serve(ScriptedModel([f"```html\n{TWO_PAGES}```"])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, note, "markdown")
            params = {**_request(note, images[0], 1, kind="ui"), "images": images}
            result = await client.protocol.send_request_async("viscodex/imageToCode", params)
    run = Path(result.runDir)
    assert result.kind == "ui" and result.code == TWO_PAGES and model.image_count(0) == 2
    assert (run / "target-1.png").is_file() and (run / "target-2.png").is_file()
    assert (run / "iter-1" / "cand-1" / "render.png").is_file() and (
        run / "iter-1" / "cand-1" / "render-2.png"
    ).is_file()
    create, _ = result.edit.documentChanges
    assert create.uri == (tmp_path / "note.html").as_uri()  # base64 pictures: the new file goes next to the note


CHART = "import matplotlib.pyplot as plt\n\nplt.bar(['a', 'b'], [3, 5])\nplt.title('Sales')\n"


async def test_a_python_file_with_matplotlib_gets_a_chart_script(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: asked the chart type, "bar"; then a matplotlib script. A Python file that uses
    matplotlib makes it a chart task; the script is run in the sandbox and lands in the file."""
    doc = tmp_path / "plots.py"
    doc.write_text("import matplotlib.pyplot as plt\n\n")
    with serve(ScriptedModel(["bar", f"```python\n{CHART}```"])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, doc, "python")
            result = await client.protocol.send_request_async(
                "viscodex/imageToCode", _request(doc, {"data": b64(png_bytes())}, 2)
            )
    assert result.kind == "chart" and result.language == "python" and result.code == CHART
    (change,) = result.edit.documentChanges
    assert change.textDocument.uri == doc.as_uri() and change.edits[0].newText == CHART
    assert (Path(result.runDir) / "iter-1" / "cand-1" / "render.png").is_file()  # the script ran and drew


async def test_an_html_page_gets_a_fragment_that_fits(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: one HTML page. Into an HTML file that has its own body, the edit inserts the new
    page's styles and body content, not a second document."""
    doc = tmp_path / "index.html"
    doc.write_text("<!DOCTYPE html>\n<html>\n<body>\n<main>\n</main>\n</body>\n</html>\n")
    with serve(ScriptedModel([UI])) as model:
        async with lsp_client(tmp_path, options(model)) as client:
            open_document(client, doc, "html")
            result = await client.protocol.send_request_async(
                "viscodex/imageToCode", _request(doc, {"data": b64(png_bytes())}, 4)
            )
    assert result.kind == "ui" and result.language == "html" and result.code == PAGE
    (change,) = result.edit.documentChanges
    assert change.textDocument.uri == doc.as_uri()
    assert change.edits[0].newText == (
        "<style>body { margin: 0; background: #fff }</style>\n"
        '<p style="margin: 10px; font: 11px sans-serif">Buy now</p>\n'
    )
