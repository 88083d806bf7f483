"""Did an edit keep the code that was already there?

When the user gives the file the code goes into (``--context``), the model is asked to keep what is
there; this checks it instead of trusting it. The definitions a file holds are read with tree-sitter:
Python functions, classes and methods; JavaScript/TypeScript functions, classes, methods and top-level
constants; for HTML, element ids and the definitions in its scripts. A definition of the old file that
the new code lacks is reported by name, and the candidate's score is scaled by the share it kept.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from .syntax import SyntaxLanguage, language_of_path, normalize_language, parse_tree
from .syntax.html import JS_SCRIPT_TYPES
from .tasks.base import Verification

_SCRIPT_LANGUAGES: frozenset[SyntaxLanguage] = frozenset({"javascript", "jsx", "typescript", "tsx"})


@dataclass(frozen=True)
class KeepReport:
    file: str
    kept: int
    missing: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.kept + len(self.missing)

    @property
    def share(self) -> float:
        return self.kept / self.total if self.total else 1.0

    def critique(self) -> str:
        names = ", ".join(self.missing[:12]) + (f" and {len(self.missing) - 12} more" if len(self.missing) > 12 else "")
        return (
            f"Your code drops {len(self.missing)} of the {self.total} definitions already in {self.file}: {names}. "
            "Keep the existing code and change or add only what the picture asks for."
        )


def definitions(code: str, language: str) -> set[str]:
    """Names of what ``code`` defines (``Class.method`` for methods, ``#id`` for HTML ids)."""
    lang = normalize_language(language)
    parsed = parse_tree(code, lang)
    if parsed is None:
        return set()
    root, data = parsed
    if lang == "python":
        return set(_python_defs(root, data, ""))
    if lang in _SCRIPT_LANGUAGES:
        return set(_script_defs(root, data, "", top=True))
    if lang == "html":
        return _html_defs(root, data)
    return set()


def keep_report(original: Path, new_code: str, language: str) -> KeepReport | None:
    """What of ``original``'s definitions ``new_code`` still has; None when the file is in another
    language than the code, unreadable, or defines nothing."""
    if language_of_path(original) != normalize_language(language):
        return None
    try:
        stat = original.stat()
    except OSError:
        return None
    before = _file_definitions(original.resolve(), language, stat.st_mtime_ns, stat.st_size)
    if not before:
        return None
    after = definitions(new_code, language)
    missing = tuple(sorted(before - after))
    return KeepReport(original.name, len(before) - len(missing), missing)


@functools.lru_cache(maxsize=16)
def _file_definitions(path: Path, language: str, mtime_ns: int, size: int) -> frozenset[str]:
    """A user's file's definitions, read and parsed once per version of the file (every candidate of
    a run is compared with the same file)."""
    try:
        return frozenset(definitions(path.read_text(encoding="utf-8", errors="replace"), language))
    except OSError:
        return frozenset()


def _name(node: Node | None, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace") if node is not None else ""


def _python_defs(node: Node, data: bytes, prefix: str) -> Iterator[str]:
    """Top-level and class-level definitions; a function's own locals are its business."""
    for child in node.named_children:
        target = child
        if child.type == "decorated_definition":
            target = child.child_by_field_name("definition") or child
        if target.type in ("function_definition", "class_definition"):
            name = prefix + _name(target.child_by_field_name("name"), data)
            yield name
            body = target.child_by_field_name("body")
            if target.type == "class_definition" and body is not None:
                yield from _python_defs(body, data, name + ".")


def _script_defs(node: Node, data: bytes, prefix: str, top: bool) -> Iterator[str]:
    for child in node.named_children:
        kind = child.type
        if kind == "export_statement":
            yield from _script_defs(child, data, prefix, top)
        elif kind in ("function_declaration", "generator_function_declaration", "class_declaration"):
            name = prefix + _name(child.child_by_field_name("name"), data)
            yield name
            body = child.child_by_field_name("body")
            if kind == "class_declaration" and body is not None:
                yield from _script_defs(body, data, name + ".", top=False)
        elif kind == "method_definition":
            yield prefix + _name(child.child_by_field_name("name"), data)
        elif kind in ("lexical_declaration", "variable_declaration") and top:
            for declarator in child.named_children:
                if declarator.type == "variable_declarator":
                    name_node = declarator.child_by_field_name("name")
                    if name_node is not None and name_node.type == "identifier":
                        yield prefix + _name(name_node, data)


def _html_defs(root: Node, data: bytes) -> set[str]:
    found: set[str] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "attribute" and node.named_child_count >= 2:
            key = _name(node.named_children[0], data).lower()
            value = node.named_children[1]
            if value.type == "quoted_attribute_value":
                value = value.named_children[0] if value.named_child_count else value
            if key == "id" and value.type == "attribute_value":
                found.add("#" + _name(value, data))
        elif node.type == "script_element":
            found.update(_embedded_script_defs(node, data))
            continue
        stack.extend(node.named_children)
    return found


def _embedded_script_defs(element: Node, data: bytes) -> set[str]:
    start = element.named_children[0] if element.named_child_count else None
    raw = next((c for c in element.named_children if c.type == "raw_text"), None)
    if start is None or raw is None:
        return set()
    script_type = ""
    for attribute in start.named_children:
        if attribute.type == "attribute" and _name(attribute.named_children[0], data).lower() == "type":
            value = attribute.named_children[-1]
            script_type = _name(value, data).strip("\"'").lower()
    if script_type not in JS_SCRIPT_TYPES:
        return set()
    return definitions(_name(raw, data), "jsx" if "babel" in script_type or "jsx" in script_type else "javascript")


def with_kept_code(verification: Verification, files: tuple[Path, ...], code: str, language: str) -> Verification:
    """The verification, with what the candidate dropped of the user's existing files held against it:
    the score scaled by the share of definitions kept, not passed while any is missing, and the
    missing names first in the critique."""
    reports = [report for path in files if (report := keep_report(path, code, language)) is not None]
    if not reports:
        return verification
    share = min(report.share for report in reports)
    components = {**verification.components, "kept": share}
    lost = [report for report in reports if report.missing]
    if not lost:
        return dataclasses.replace(verification, components=components)
    return dataclasses.replace(
        verification,
        score=verification.score * share,
        passed=False,
        components=components,
        critique=[report.critique() for report in lost] + verification.critique,
    )
