"""A real LSP client for the language server's tests: pytest-lsp's client talking to `viscodex-lsp` over
stdio, with a `workspace/applyEdit` handler that records what it is asked to apply (and can apply it to
the files, as an editor would), and small helpers to send raw bytes and apply WorkspaceEdits."""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from PIL import Image, ImageDraw
from pytest_lsp import LanguageClient
from pytest_lsp.client import make_test_lsp_client

LSP = str(Path(sys.executable).parent / "viscodex-lsp")


def png_bytes(size: tuple[int, int] = (320, 160), text: str = "Buy now") -> bytes:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((10, 10), text, fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def capabilities(progress: bool = True) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(
            work_done_progress=progress, show_document=types.ShowDocumentClientCapabilities(support=True)
        ),
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            configuration=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                resource_operations=[types.ResourceOperationKind.Create, types.ResourceOperationKind.Delete],
            ),
        ),
    )


def _fix_code_action_decoding(client: LanguageClient) -> None:
    """lsprotocol 2025.0.0 decodes a CodeAction that carries a command as a Command (TOOLING.md): pick
    Command only when `command` is a string."""
    converter = client.protocol._converter

    def hook(obj: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(types.Command | types.CodeAction, hook)


@asynccontextmanager
async def lsp_client(
    workspace: Path,
    options: dict[str, Any] | None = None,
    *,
    progress: bool = True,
    apply: bool = True,
    configuration: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[LanguageClient]:
    """`viscodex-lsp` started and initialized on `workspace`; shut down (shutdown + exit) afterwards.

    `client.applied` records each `workspace/applyEdit`'s edit; with `apply`, it is applied to disk and
    answered applied=true, else answered applied=false."""
    client = make_test_lsp_client()
    _fix_code_action_decoding(client)
    client.applied = []  # type: ignore[attr-defined]
    if configuration is not None:
        client.set_configuration(configuration)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        client.applied.append(params.edit)  # type: ignore[attr-defined]
        if not apply:
            return types.ApplyWorkspaceEditResult(applied=False, failure_reason="the user said no")
        apply_to_disk(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    import os

    await client.start_io(LSP, env={**os.environ, **(env or {})})
    client.init_result = await client.initialize_session(  # type: ignore[attr-defined]
        types.InitializeParams(
            capabilities=capabilities(progress),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options=options or {},
        )
    )
    try:
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


def _apply_text(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")

    def offset(pos: types.Position) -> int:
        return sum(len(line) + 1 for line in lines[: pos.line]) + pos.character

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start, end = offset(edit.range.start), offset(edit.range.end)
        text = text[:start] + edit.new_text + text[end:]
    return text


def apply_to_disk(edit: types.WorkspaceEdit) -> None:
    """Apply a WorkspaceEdit's document changes to the files, as an editor would on save."""
    for change in edit.document_changes or []:
        if isinstance(change, types.CreateFile):
            path = Path(change.uri.removeprefix("file://"))
            assert not path.exists(), f"CreateFile would overwrite {path}"
            path.write_text("")
        elif isinstance(change, types.DeleteFile):
            Path(change.uri.removeprefix("file://")).unlink()
        elif isinstance(change, types.TextDocumentEdit):
            path = Path(change.text_document.uri.removeprefix("file://"))
            path.write_text(_apply_text(path.read_text(), list(change.edits)))  # type: ignore[arg-type]


def open_document(client: LanguageClient, path: Path, language: str, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language, version=1, text=path.read_text() if text is None else text
            )
        )
    )
    return uri
