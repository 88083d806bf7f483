"""The language server over stdio with a real LSP client (pytest-lsp), without a model or a sandbox:
capabilities, code actions, settings, input errors, and malformed messages after which it still answers.
No test here reaches a model: every request is refused or answered before a run would start."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsp_client import b64, lsp_client, open_document, png_bytes
from lsprotocol import types
from pygls.exceptions import JsonRpcException

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
