"""The code context of a request, from the open (unsaved) buffer: the document's language and, read
with tree-sitter (``viscodex.agent.syntax``), the enclosing function / class / element, the imports and
the code around the cursor, within a size budget. It goes to the model as part of the instruction; the
text the edit replaces goes to the agent as a context file, so its kept-code check holds the result to
keeping what was there."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node

BUDGET_CHARS = 6000
"""Most characters of context sent with a request (enclosing code, imports, nearby lines together)."""
NEARBY_LINES = 12

LANGUAGE_IDS = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "jsx",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "html": "html",
    "css": "css",
    "markdown": "markdown",
    "vue": "vue",
    "svelte": "svelte",
}
"""LSP ``languageId``s -> the language names the agent uses (``viscodex.sandbox.LANGUAGE_SPECS``)."""

_ENCLOSING = {
    "python": ("function_definition", "class_definition"),
    "javascript": ("function_declaration", "class_declaration", "method_definition", "arrow_function"),
    "jsx": ("function_declaration", "class_declaration", "method_definition", "arrow_function"),
    "typescript": ("function_declaration", "class_declaration", "method_definition", "arrow_function"),
    "tsx": ("function_declaration", "class_declaration", "method_definition", "arrow_function"),
    "html": ("element", "script_element", "style_element"),
    "css": ("rule_set", "media_statement"),
}
_IMPORTS = {
    "python": ("import_statement", "import_from_statement", "future_import_statement"),
    "javascript": ("import_statement",),
    "jsx": ("import_statement",),
    "typescript": ("import_statement",),
    "tsx": ("import_statement",),
    "css": ("import_statement",),
}


@dataclass(frozen=True)
class CodeContext:
    language: str | None
    """The agent's name for the document's language, or None when it is not one the agent writes."""
    enclosing: str = ""
    imports: str = ""
    nearby: str = ""
    replaced: str = ""
    """What the edit replaces (empty for an insertion)."""

    def prompt(self, file_name: str) -> str:
        """The context as words for the model: where the code lands and what is around it."""
        if not (self.enclosing or self.imports or self.nearby or self.replaced):
            return ""
        parts = [f"The code goes into {file_name} ({self.language or 'plain text'}) at the marked place."]
        if self.imports:
            parts.append(f"Its imports:\n```\n{self.imports}\n```")
        if self.enclosing:
            parts.append(f"It lands inside:\n```\n{self.enclosing}\n```")
        if self.nearby:
            parts.append(f"The code around the place (<<HERE>> marks it):\n```\n{self.nearby}\n```")
        if self.replaced:
            parts.append(f"It replaces:\n```\n{self.replaced}\n```")
        return "\n\n".join(parts)


def document_language(language_id: str | None, uri: str) -> str | None:
    """The document's language: its ``languageId`` if the agent knows it, else its file suffix."""
    if language_id and language_id in LANGUAGE_IDS:
        return LANGUAGE_IDS[language_id]
    suffix = PurePosixPath(uri).suffix.lower()
    by_suffix = {".py": "python", ".js": "javascript", ".jsx": "jsx", ".ts": "typescript", ".tsx": "tsx"}
    by_suffix |= {".html": "html", ".htm": "html", ".css": "css", ".md": "markdown", ".markdown": "markdown"}
    return by_suffix.get(suffix)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n... (cut)"


def code_context(source: str, language: str | None, start: int, end: int) -> CodeContext:
    """The context of the offsets ``start``..``end`` (an insertion when equal) in ``source``."""
    replaced = source[start:end]
    lines_before = source[:start].split("\n")
    lines_after = source[end:].split("\n")
    before = "\n".join(lines_before[-NEARBY_LINES:])
    after = "\n".join(lines_after[:NEARBY_LINES])
    nearby = _cut(before + "<<HERE>>" + after, BUDGET_CHARS // 3)
    enclosing = imports = ""
    if language in _ENCLOSING:
        from viscodex.agent.syntax import parse_tree

        parsed = parse_tree(source, language)
        if parsed is not None:
            root, data = parsed
            byte_at = len(source[:start].encode("utf-8"))
            enclosing = _enclosing(root, data, byte_at, _ENCLOSING[language])
            imports = "\n".join(
                data[n.start_byte : n.end_byte].decode("utf-8", "replace")
                for n in root.named_children
                if n.type in _IMPORTS.get(language, ())
            )
    return CodeContext(
        language=language,
        enclosing=_cut(enclosing, BUDGET_CHARS // 3),
        imports=_cut(imports, BUDGET_CHARS // 6),
        nearby=nearby,
        replaced=_cut(replaced, BUDGET_CHARS // 6) if replaced else "",
    )


def _enclosing(root: Node, data: bytes, at: int, types: tuple[str, ...]) -> str:
    """The text of the innermost node of one of ``types`` that holds byte ``at``, or ''."""
    node: Node | None = root.descendant_for_byte_range(at, at)
    while node is not None:
        if node.type in types and node.start_byte < at < node.end_byte:
            return data[node.start_byte : node.end_byte].decode("utf-8", "replace")
        node = node.parent
    return ""
