"""The language server over stdio with a real LSP client (pytest-lsp), without a model or a sandbox:
capabilities, code actions, settings, input errors, and malformed messages after which it still answers.
No test here reaches a model: every request is refused or answered before a run would start."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import pytest
from helpers import BIN, free_port
from lsp_client import b64, lsp_client, open_document, png_bytes
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="function")


async def test_capabilities(tmp_path: Path) -> None:
    async with lsp_client(tmp_path) as client:
        caps = client.init_result.capabilities  # type: ignore[attr-defined]
    assert caps is not None
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions) and sync.change == types.TextDocumentSyncKind.Incremental
    assert caps.execute_command_provider is not None
    assert "viscodex.imageToCode" in caps.execute_command_provider.commands
    assert caps.code_action_provider is not None


def _markdown_workspace(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "hero.png").write_bytes(png_bytes())
    note = tmp_path / "note.md"
    note.write_text('# Notes\n\n![the hero](img/hero.png)\n\n<img src="img/hero.png">\n\nno image here\n')
    return tmp_path, note


async def test_code_action_on_an_image_reference_carries_the_command(tmp_path: Path) -> None:
    workspace, note = _markdown_workspace(tmp_path)
    async with lsp_client(workspace) as client:
        uri = open_document(client, note, "markdown")
        at = types.Range(start=types.Position(line=2, character=5), end=types.Position(line=2, character=5))
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=at,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        nothing = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=types.Position(line=6, character=2), end=types.Position(line=6, character=2)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    assert actions is not None and len(actions) == 1
    action = actions[0]
    assert isinstance(action, types.CodeAction) and action.title == "Generate code from image (hero.png)"
    assert action.command is not None and action.command.command == "viscodex.imageToCode"
    (argument,) = action.command.arguments or []
    assert argument["images"] == [{"uri": (workspace / "img" / "hero.png").as_uri()}]
    assert argument["textDocument"] == {"uri": uri} and argument["position"] == {"line": 3, "character": 0}
    assert not nothing


@pytest.mark.parametrize(
    ("line", "language"),
    [
        ('<img alt="x" src="img/hero.png" />', "html"),
        (".hero { background: url('img/hero.png') }", "css"),
        ('picture = load("img/hero.png")', "python"),
    ],
)
async def test_code_action_on_html_css_and_string_references(tmp_path: Path, line: str, language: str) -> None:
    workspace, _ = _markdown_workspace(tmp_path)
    path = workspace / f"page.{language}"
    path.write_text(f"first line\n{line}\n")
    async with lsp_client(workspace) as client:
        uri = open_document(client, path, language)
        column = line.rindex("hero")
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=1, character=column), end=types.Position(line=1, character=column)
                ),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    assert actions and [a.title for a in actions] == ["Generate code from image (hero.png)"]


async def test_a_string_naming_a_missing_or_outside_image_offers_nothing(tmp_path: Path) -> None:
    outside = tmp_path / "outside.png"
    outside.write_bytes(png_bytes())
    workspace = tmp_path / "ws"
    workspace.mkdir()
    path = workspace / "app.py"
    path.write_text(f'a = "missing.png"\nb = "{outside}"\nc = "../outside.png"\n')
    async with lsp_client(workspace) as client:
        uri = open_document(client, path, "python")
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=2, character=20)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    assert not actions


async def test_fix_with_a_screenshot_is_offered_on_diagnostics_when_the_client_can_pick_an_image(
    tmp_path: Path,
) -> None:
    path = tmp_path / "calc.py"
    path.write_text("def add(a, b):\n    return a - b\n")
    diagnostic = types.Diagnostic(
        range=types.Range(start=types.Position(line=1, character=4), end=types.Position(line=1, character=16)),
        message="test_add failed: assert -1 == 5",
    )
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
        range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic]),
    )
    async with lsp_client(tmp_path, {"canPickImage": True}) as client:
        open_document(client, path, "python")
        offered = await client.text_document_code_action_async(params)
    async with lsp_client(tmp_path) as client:
        open_document(client, path, "python")
        not_offered = await client.text_document_code_action_async(params)
    assert offered and [a.title for a in offered] == ["Fix with a screenshot..."]
    action = offered[0]
    assert isinstance(action, types.CodeAction) and action.kind == types.CodeActionKind.QuickFix
    (argument,) = action.command.arguments  # type: ignore[union-attr]
    assert argument["kind"] == "fix" and argument["pickImage"] is True and argument["images"] == []
    assert argument["instruction"] == "test_add failed: assert -1 == 5"
    assert argument["range"] == {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 16}}
    assert not not_offered


async def _image_to_code_error(client, params: dict) -> JsonRpcException:  # type: ignore[no-untyped-def]
    with pytest.raises(JsonRpcException) as caught:
        await asyncio.wait_for(client.protocol.send_request_async("viscodex/imageToCode", params), 30)
    return caught.value


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({"uri": "MISSING"}, "no such file"),
        ({"data": b64(b"not an image at all")}, "image 1"),
        ({"data": b64(b"\x89PNG\r\n\x1a\n\x00\x00")}, "image 1"),
        ({"data": "%%% not base64 %%%"}, "not valid base64"),
        ({"data": ""}, "image 1"),
        ({"uri": "OUTSIDE"}, "outside the workspace"),
        ({"uri": "https://example.com/x.png"}, "not a file: URI"),
        ({"data": b64(png_bytes()), "mime": "text/plain"}, "not an image type"),
    ],
)
async def test_bad_images_are_invalid_params(tmp_path: Path, image: dict, expected: str) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = tmp_path / "outside.png"
    outside.write_bytes(png_bytes())
    if image.get("uri") == "MISSING":
        image = {"uri": (workspace / "nothere.png").as_uri()}
    elif image.get("uri") == "OUTSIDE":
        image = {"uri": outside.as_uri()}
    doc = workspace / "page.html"
    doc.write_text("<p>hi</p>\n")
    params = {"images": [image], "textDocument": {"uri": doc.as_uri()}, "position": {"line": 0, "character": 0}}
    async with lsp_client(workspace) as client:
        error = await _image_to_code_error(client, params)
        await asyncio.sleep(0.1)
        # refused before a run started: any progress (begun before the pictures are decoded) has ended
        for values in client.progress_reports.values():  # a token may be created and never begun
            assert not values or (isinstance(values[-1], types.WorkDoneProgressEnd) and "failed" in values[-1].message)
    assert error.code == -32602, error
    assert expected in error.message


async def test_a_50_mb_base64_string_is_refused_at_once(tmp_path: Path) -> None:
    doc = tmp_path / "page.html"
    doc.write_text("<p>hi</p>\n")
    huge = "A" * (50 * 1024 * 1024)
    params = {
        "images": [{"data": huge}],
        "textDocument": {"uri": doc.as_uri()},
        "position": {"line": 0, "character": 0},
    }
    async with lsp_client(tmp_path) as client:
        error = await _image_to_code_error(client, params)
        # and the server goes on answering
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=doc.as_uri()),
                range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
    assert error.code == -32602 and "50.0 MB, over the 20 MiB limit" in error.message
    assert "viscodex.max_image_mb" in error.message
    assert not actions and actions is not None


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "poster"}, "unknown kind 'poster'"),
        ({"stack": "angular"}, "unknown stack 'angular'"),
        ({"position": None}, "give position"),
        ({"images": []}, "images must be a non-empty list"),
        ({"textDocument": "file:///x"}, "textDocument must be {uri}"),
        ({"position": {"line": -1, "character": 0}}, "position must be"),
        ({"apply": "yes"}, "apply must be true or false"),
    ],
)
async def test_bad_params_are_invalid_params(tmp_path: Path, change: dict, expected: str) -> None:
    doc = tmp_path / "page.html"
    doc.write_text("<p>hi</p>\n")
    params = {
        "images": [{"data": b64(png_bytes())}],
        "textDocument": {"uri": doc.as_uri()},
        "position": {"line": 0, "character": 0},
        **change,
    }
    async with lsp_client(tmp_path) as client:
        error = await _image_to_code_error(client, params)
    assert error.code == -32602 and expected in error.message, error.message


async def test_the_command_refuses_bad_arguments_the_same_way(tmp_path: Path) -> None:
    doc = tmp_path / "page.html"
    doc.write_text("<p>hi</p>\n")
    argument = {
        "images": [{"uri": (tmp_path / "no.png").as_uri()}],
        "textDocument": {"uri": doc.as_uri()},
        "position": {"line": 0, "character": 0},
    }
    async with lsp_client(tmp_path) as client:
        with pytest.raises(JsonRpcException) as caught:
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="viscodex.imageToCode", arguments=[argument])
            )
    assert caught.value.code == -32602 and "no such file" in caught.value.message


async def test_model_unavailable_names_the_fix_and_shows_one_message(tmp_path: Path) -> None:
    """No model anywhere (a closed port, no local checkpoint): the error names how to get one."""
    doc = tmp_path / "page.html"
    doc.write_text("<p>hi</p>\n")
    params = {
        "images": [{"data": b64(png_bytes())}],
        "textDocument": {"uri": doc.as_uri()},
        "position": {"line": 0, "character": 0},
        "kind": "ui",
    }
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    async with lsp_client(tmp_path, {"model_url": "http://127.0.0.1:9/v1"}, env=env) as client:
        error = await _image_to_code_error(client, params)
        await asyncio.sleep(0.2)
        messages = [m for m in client.messages if m.type == types.MessageType.Error]
        (token,) = client.progress_reports
        kinds = [type(v).__name__ for v in client.progress_reports[token]]
    assert error.code == -32803
    assert "viscodex-agent serve" in error.message and "viscodex-train merge" in error.message
    assert len(messages) == 1 and "viscodex-agent serve" in messages[0].message
    assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"


async def test_an_image_as_the_text_document_is_a_run_without_context(tmp_path: Path) -> None:
    """A client that names the picture itself as the document (no editor open, say): the binary file
    is no document context, and the run goes on to the model (here none: the error names the fix,
    not an internal error)."""
    picture = tmp_path / "shot.png"
    picture.write_bytes(png_bytes())
    params = {
        "images": [{"uri": picture.as_uri()}],
        "textDocument": {"uri": picture.as_uri()},
        "position": {"line": 0, "character": 0},
        "kind": "ui",
    }
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    async with lsp_client(tmp_path, {"model_url": "http://127.0.0.1:9/v1"}, env=env) as client:
        error = await _image_to_code_error(client, params)
    assert error.code == -32803 and "viscodex-agent serve" in error.message, error.message


async def test_settings_from_initialization_options_configuration_and_changes(tmp_path: Path) -> None:
    """The settings are observable through the one that changes behaviour without a model: the image size
    limit (max_image_mb), set in each of the three places; a bad value is refused with a message."""
    doc = tmp_path / "page.html"
    doc.write_text("<p>hi</p>\n")
    big = b64(png_bytes()) + "A" * (3 * 1024 * 1024)  # judged by size before decoding: about 3 MiB
    params = {"images": [{"data": big}], "textDocument": {"uri": doc.as_uri()}, "position": {"line": 0, "character": 0}}

    async def limit_message(client) -> str:  # type: ignore[no-untyped-def]
        return (await _image_to_code_error(client, params)).message

    async with lsp_client(tmp_path, {"maxImageMb": 1}) as client:
        assert "over the 1 MiB limit" in await limit_message(client)
    async with lsp_client(tmp_path, {"max_image_mb": 1}, configuration={"viscodex": {"max_image_mb": 2}}) as client:
        await asyncio.sleep(0.3)  # workspace/configuration is pulled after initialized
        assert "over the 2 MiB limit" in await limit_message(client)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"viscodex": {"max_image_mb": 0.5}})
        )
        assert "over the 0.5 MiB limit" in await limit_message(client)
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"viscodex": {"max_image_mb": "lots"}})
        )
        assert "over the 0.5 MiB limit" in await limit_message(client)
        assert any("max_image_mb" in m.message for m in client.messages)


def _frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def test_malformed_messages_leave_the_server_answering(tmp_path: Path) -> None:
    doc = tmp_path / "page.html"
    doc.write_text("<p>hi</p>\n")
    garbage = [
        b"{not json",
        b"[1, 2, 3]",
        b'"a string"',
        b'{"jsonrpc": "2.0"}',
        b'{"jsonrpc": "1.0", "id": 900, "method": "initialize"}',
        b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": 5}}',
        b'{"jsonrpc": "2.0", "method": "textDocument/didChange", "params": null}',
        b'{"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "nothing"}}',
        b'{"jsonrpc": "2.0", "method": "window/workDoneProgress/cancel", "params": {"token": "unknown"}}',
        '{"jsonrpc": "2.0", "method": "no/such", "params": {"\u00e9": [1]}}'.encode(),
        b"\xff\xfe\x00garbage",
    ]
    async with lsp_client(tmp_path) as client:
        stdin = client._server.stdin  # type: ignore[union-attr]
        for body in garbage:
            stdin.write(_frame(body))
        await stdin.drain()
        # requests with wrong types, unknown methods, wrong params for our method: each gets an error
        # pygls' client cannot send a known method with params of the wrong types: write it raw, and
        # wait for its answer as the client waits for its own requests'
        answer = asyncio.get_running_loop().create_future()
        client.protocol._request_futures["raw-1"] = answer
        body = b'{"jsonrpc": "2.0", "id": "raw-1", "method": "textDocument/codeAction", "params": {"textDocument": 5}}'
        stdin.write(_frame(body))
        with pytest.raises(JsonRpcException) as wrong_types:
            await asyncio.wait_for(answer, 10)
        with pytest.raises(JsonRpcException) as unknown:
            await asyncio.wait_for(client.protocol.send_request_async("viscodex/noSuchMethod", {"a": 1}), 10)
        for bad in (None, 5, "x", [1, 2], {"images": "x"}):
            with pytest.raises(JsonRpcException) as caught:
                await asyncio.wait_for(client.protocol.send_request_async("viscodex/imageToCode", bad), 10)
            assert caught.value.code == -32602
        actions = await asyncio.wait_for(
            client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=doc.as_uri()),
                    range=types.Range(
                        start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
                    ),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            ),
            10,
        )
    assert wrong_types.value.code == -32602
    assert unknown.value.code == -32601
    assert not actions and actions is not None


def _listeners(port: int) -> list[str]:
    """Local addresses (hex, as the kernel lists them) of the TCP sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                found.append(local.rsplit(":", 1)[0])
    return found


async def test_tcp_serves_on_localhost_only(tmp_path: Path) -> None:
    """`viscodex-lsp --tcp --port P`: a client over TCP gets initialized and a code action; the socket
    listens on 127.0.0.1 only (the default host); shutdown + exit end the process with 0."""
    workspace, note = _markdown_workspace(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "viscodex-lsp"), "--tcp", "--port", str(port)], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not _listeners(port):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the server never listened"
            await asyncio.sleep(0.1)
        listening = _listeners(port)
        client = LanguageClient("tcp-test", "1")
        await client.start_tcp("127.0.0.1", port)
        result = await client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=workspace.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            )
        )
        client.initialized(types.InitializedParams())
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=note.as_uri(), language_id="markdown", version=1, text=note.read_text()
                )
            )
        )
        at = types.Position(line=2, character=5)
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=note.as_uri()),
                range=types.Range(start=at, end=at),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        await client.shutdown_async(None)
        client.exit(None)
        code = await asyncio.to_thread(proc.wait, 30)
        await client.stop()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert result.server_info is not None and result.server_info.name == "viscodex-lsp"
    assert actions is not None and len(actions) == 1
    assert listening == ["0100007F"], listening  # 127.0.0.1, and no other address
    assert code == 0


async def test_tcp_port_in_use_is_a_usage_error() -> None:
    """A port another process holds: exit 2 and one line that says so, no traceback."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        command = [str(BIN / "viscodex-lsp"), "--tcp", "--port", str(port)]
        proc = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr
