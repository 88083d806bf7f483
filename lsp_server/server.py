"""The VisCodex language server: today a bare pygls server with VisCodex's name and version, which
answers `initialize` and `shutdown`. Its features (image to code, progress, code actions) are the
language-server issue's work; they will be registered here, each in a module of its own."""

from __future__ import annotations

from pygls.lsp.server import LanguageServer

import viscodex


def build_server() -> LanguageServer:
    return LanguageServer("viscodex-lsp", viscodex.__version__)
