"""The VisCodex language server: pasted images and code context in, verified code out, over LSP.

``build_server`` makes the server and registers its features, each in a module of its own:
``image_to_code`` (the ``viscodex/imageToCode`` request and the ``viscodex.imageToCode`` command),
``actions`` (code actions on image references and diagnostics), ``configuration`` (settings) and
``lifecycle`` (logging to the client, closing the sandbox). Nothing heavy is imported here: the model
layer, Docker and tree-sitter load on the first run that needs them, so ``initialize`` is answered at once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

import viscodex

from .runs import Runner
from .settings import LspSettings

log = logging.getLogger(__name__)


class VisCodexProtocol(LanguageServerProtocol):
    """pygls' protocol, except that a request whose params do not fit its method (wrong types) gets an
    ``InvalidParams`` response instead of none, so a client never waits for an answer that will not come."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException:
            if isinstance(data.get("id"), int | str) and isinstance(data.get("method"), str):
                message = f"invalid params for {data['method']}: they do not match the LSP types of that method"
                log.warning("%s", message)
                error = types.ResponseError(code=-32602, message=message)
                self._send_response(data["id"], error=error)
            raise

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        """An expected refusal (a ``JsonRpcException`` such as ``InvalidParams``) is answered with one log
        line, not pygls' traceback: it is the user's input, not a bug."""
        if not future.cancelled() and isinstance(exc := future.exception(), JsonRpcException):
            self._request_futures.pop(msg_id, None)
            log.info("request %s refused: %s", msg_id, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)


class VisCodexServer(LanguageServer):
    """A pygls server with what VisCodex's features share: the settings and the runs."""

    def __init__(self) -> None:
        super().__init__("viscodex-lsp", viscodex.__version__, protocol_cls=VisCodexProtocol)
        self.settings = LspSettings()
        self.runner = Runner()
        self.can_pick_image = False
        """The client can ask its user for an image (initializationOptions ``canPickImage``, or the
        experimental client capability ``viscodex.pickImage``): "Fix with a screenshot..." is offered."""

    def folders(self) -> list[Path]:
        """The workspace folders as resolved paths (the root alone when the client sent no folders)."""
        uris = [folder.uri for folder in self.workspace.folders.values()]
        if not uris and self.workspace.root_uri:
            uris = [self.workspace.root_uri]
        paths = [to_fs_path(uri) for uri in uris]
        return [Path(path).resolve() for path in paths if path]

    def folder_of(self, path: Path) -> Path | None:
        """The workspace folder that holds ``path``, the innermost if they nest."""
        holding = [folder for folder in self.folders() if folder == path or folder in path.parents]
        return max(holding, key=lambda folder: len(folder.parts)) if holding else None


SWITCH_INTERVAL_S = 0.001
"""How long a thread holds the GIL before another may run (Python's default is 5 ms): runs score
renders in worker threads, and the protocol's thread should not wait 5 ms for its turn."""


def build_server() -> VisCodexServer:
    import sys

    from . import actions, configuration, image_to_code, lifecycle

    sys.setswitchinterval(SWITCH_INTERVAL_S)
    server = VisCodexServer()
    for feature in (lifecycle, configuration, image_to_code, actions):
        feature.register(server)
    return server
