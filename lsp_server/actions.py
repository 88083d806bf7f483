"""Code actions, listed at once (no model call while listing; the work starts when one is chosen):
"Generate code from image" on an image reference under the cursor (Markdown ``![..](x.png)``, HTML
``<img src>``, CSS ``url(...)``, a string that is the path of an image in the workspace), and "Fix with a
screenshot..." on a diagnostic when the client can ask its user for a picture. Each carries the
``viscodex.imageToCode`` command with its arguments."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.uris import from_fs_path, to_fs_path

from .image_to_code import COMMAND

if TYPE_CHECKING:
    from .server import VisCodexServer

GENERATE = "Generate code from image"
FIX = "Fix with a screenshot..."
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_PATTERNS = (
    re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"),  # Markdown image
    re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE),  # HTML img
    re.compile(r"url\(\s*[\"']?([^\"')\s]+)[\"']?\s*\)", re.IGNORECASE),  # CSS url()
    re.compile(r"[\"'`]([^\"'`\n]+\.(?:png|jpe?g|webp|gif))[\"'`]", re.IGNORECASE),  # a string path
)


@dataclass(frozen=True)
class ImageReference:
    path: Path
    line: int
    start: int
    end: int


def references(line_text: str, line: int, folder: Path | None, roots: list[Path]) -> list[ImageReference]:
    """The image references on one line that name an existing image file inside the workspace."""
    found: list[ImageReference] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(line_text):
            target = unquote(match.group(1).split("#", 1)[0].split("?", 1)[0])
            if not target.lower().endswith(IMAGE_SUFFIXES) or "://" in target or target.startswith("data:"):
                continue
            path = _resolve(target, folder, roots)
            start, end = match.start(), match.end()
            # the string pattern also matches inside an <img src="..."> or url("..."): one reference
            if path is not None and not any(r.start < end and start < r.end for r in found):
                found.append(ImageReference(path, line, start, end))
    return sorted(found, key=lambda r: r.start)


def _resolve(target: str, folder: Path | None, roots: list[Path]) -> Path | None:
    if target.startswith("file:"):
        candidates = [Path(to_fs_path(target) or "")]
    elif target.startswith("/"):  # site-absolute in web files, else a real absolute path
        candidates = [root / target.lstrip("/") for root in roots] + [Path(target)]
    else:
        candidates = ([folder / target] if folder else []) + [root / target for root in roots]
    for candidate in candidates:
        path = candidate.resolve()
        if path.is_file() and any(path == r or r in path.parents for r in roots):
            return path
    return None


def _arguments(uri: str, **fields: Any) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, **fields}


def register(server: VisCodexServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.RefactorRewrite, types.CodeActionKind.QuickFix]
        ),
    )
    def code_actions(ls: VisCodexServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        document = ls.workspace.get_text_document(uri)
        fs = to_fs_path(uri) if uri.startswith("file:") else None
        folder = Path(fs).resolve().parent if fs else None
        roots = ls.folders()
        try:
            lines = document.lines
        except OSError:
            lines = []
        actions: list[types.CodeAction] = []
        first, last = params.range.start.line, params.range.end.line
        for number in range(first, min(last, first + 50) + 1):
            if number >= len(lines):
                break
            text = lines[number]
            for ref in references(text, number, folder, roots):
                within = (number > first or params.range.start.character <= ref.end) and (
                    number < last or params.range.end.character >= ref.start
                )
                if not within:
                    continue
                image_uri = from_fs_path(str(ref.path)) or ref.path.as_uri()
                position = {"line": number + 1, "character": 0}
                argument = _arguments(uri, images=[{"uri": image_uri}], position=position)
                actions.append(
                    types.CodeAction(
                        title=f"{GENERATE} ({ref.path.name})",
                        kind=types.CodeActionKind.RefactorRewrite,
                        command=types.Command(title=GENERATE, command=COMMAND, arguments=[argument]),
                    )
                )
        if ls.can_pick_image:
            for diagnostic in params.context.diagnostics:
                rng = get_converter().unstructure(diagnostic.range)
                argument = _arguments(
                    uri, images=[], range=rng, kind="fix", instruction=diagnostic.message, pickImage=True
                )
                actions.append(
                    types.CodeAction(
                        title=FIX,
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diagnostic],
                        command=types.Command(title=FIX, command=COMMAND, arguments=[argument]),
                    )
                )
        return actions
