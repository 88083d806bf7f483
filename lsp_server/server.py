"""The VisCodex language server: pasted images and code context in, verified code out, over LSP.

``build_server`` makes the server and registers its features, each in a module of its own:
``image_to_code`` (the ``viscodex/imageToCode`` request and the ``viscodex.imageToCode`` command),
``actions`` (code actions on image references and diagnostics), ``configuration`` (settings) and
``lifecycle`` (logging to the client, closing the sandbox). Nothing heavy is imported here: the model
layer, Docker and tree-sitter load on the first run that needs them, so ``initialize`` is answered at once.
"""

from __future__ import annotations

from pathlib import Path

from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

import viscodex

from .runs import Runner
from .settings import LspSettings


class VisCodexServer(LanguageServer):
    """A pygls server with what VisCodex's features share: the settings and the runs."""

    def __init__(self) -> None:
        super().__init__("viscodex-lsp", viscodex.__version__)
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


def build_server() -> VisCodexServer:
    from . import actions, configuration, image_to_code, lifecycle

    server = VisCodexServer()
    for feature in (lifecycle, configuration, image_to_code, actions):
        feature.register(server)
    return server
