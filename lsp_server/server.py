"""The VisCodex language server. Features (image to code, progress, code actions) are registered by
the modules of this package as they are built; this file only creates the server."""

from __future__ import annotations

from pygls.lsp.server import LanguageServer

import viscodex


def build_server() -> LanguageServer:
    return LanguageServer("viscodex-lsp", viscodex.__version__)
