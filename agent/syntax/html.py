"""HTML: tree-sitter's errors, plus tags left open or closed twice (its grammar recovers from them
silently), plus the JavaScript, JSON and CSS in a page's ``<script>`` and ``<style>`` elements."""

from __future__ import annotations

from functools import cache
from typing import Final

from tree_sitter import Node, Query, QueryCursor

from .formats import check_json
from .parsers import grammar, node_text, parse, tree_issues
from .report import Found, Source

_HTML_QUERY: Final = """
(element) @element
(erroneous_end_tag) @stray
(script_element) @script
(style_element) @style
"""

# https://html.spec.whatwg.org/multipage/syntax.html#void-elements (plus obsolete ones browsers still know)
VOID_ELEMENTS: Final = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
    + "basefont bgsound frame keygen".split()
)
# https://html.spec.whatwg.org/multipage/syntax.html#optional-tags: these may be left open.
OPTIONAL_END_ELEMENTS: Final = frozenset(
    "html head body li dt dd p rt rp optgroup option colgroup caption thead tbody tfoot tr td th".split()
)
# `<div/>` opens a div in HTML: the slash is ignored on non-void HTML elements, so everything after it
# lands inside. Only well-known HTML names: in SVG and MathML (`<path/>`) the slash does close.
_NOT_SELF_CLOSING: Final = frozenset(
    "a article aside button canvas div footer form h1 h2 h3 h4 h5 h6 header iframe label li main nav ol "
    "p script section select span style table tbody td textarea th thead tr ul video audio".split()
)
_MAY_STAY_OPEN: Final = frozenset(name.encode() for name in VOID_ELEMENTS | OPTIONAL_END_ELEMENTS)
JS_SCRIPT_TYPES: Final = frozenset(
    {"", "module", "text/javascript", "application/javascript", "text/ecmascript", "text/babel", "text/jsx"}
)
_JSON_SCRIPT_TYPES: Final = frozenset(
    {"application/json", "application/ld+json", "importmap", "speculationrules"},
)


@cache
def html_query() -> Query:
    return Query(grammar("html"), _HTML_QUERY)


def check_html(source: Source, deadline: float) -> list[Found]:
    """tree-sitter's errors, plus tags left open or closed twice, plus the scripts and styles inside."""
    data = source.data
    root = parse("html", data, deadline)
    found = tree_issues("html", data, 0, deadline, root)
    for capture, nodes in QueryCursor(html_query()).captures(root).items():
        for node in nodes:
            if capture == "element":
                found.extend(_element_issues(node, data))
            elif capture == "stray":
                end_name = next((c for c in node.children if c.type == "erroneous_end_tag_name"), None)
                tag = node_text(end_name, data).lower() if end_name is not None else "?"
                found.append((node.start_byte, f"stray end tag </{tag}>: no open <{tag}> to close"))
            else:
                found.extend(_embedded(node, capture, data, source, deadline))
    return found


def _element_issues(element: Node, data: bytes) -> list[Found]:
    """An element that must be closed and is not (its last child is no end tag), or `<div/>`.

    This runs for every element of a page, so it sticks to cheap calls: ``Node.parent`` is not one
    (tree-sitter finds a parent by walking down from the root, which is quadratic on deep pages).
    """
    tag = element.child(0)
    name_node = tag.child(1) if tag is not None and tag.child_count > 1 else None
    if tag is None or name_node is None or name_node.type != "tag_name":
        return []
    raw_name = data[name_node.start_byte : name_node.end_byte].lower()
    if tag.type == "self_closing_tag":
        name = raw_name.decode("utf-8", "replace")
        if name in _NOT_SELF_CLOSING:
            return [(tag.start_byte, f"<{name}/> does not close in HTML; write <{name}></{name}>")]
        return []
    if tag.type != "start_tag" or raw_name in _MAY_STAY_OPEN:
        return []
    last = element.child(element.child_count - 1)
    if last is not None and last.type == "end_tag":
        return []
    name = raw_name.decode("utf-8", "replace")
    return [(tag.start_byte, f"unclosed <{name}> opened at line {tag.start_point.row + 1}")]


def _embedded(element: Node, kind: str, data: bytes, source: Source, deadline: float) -> list[Found]:
    """Check a <script>'s JavaScript (or JSON) or a <style>'s CSS, at their place in the page."""
    start_tag = element.child(0) if element.child_count else None
    raw = next((child for child in element.children if child.type == "raw_text"), None)
    if start_tag is None or raw is None:
        return []
    content = data[raw.start_byte : raw.end_byte]
    declared = _attribute(start_tag, "type", data)
    mime = (declared or "").strip().lower().split(";")[0].strip()
    if kind == "style":
        return tree_issues("css", content, raw.start_byte, deadline) if mime in ("", "text/css") else []
    if mime in JS_SCRIPT_TYPES:
        return tree_issues("javascript", content, raw.start_byte, deadline)
    if mime in _JSON_SCRIPT_TYPES:
        return check_json(source, content.decode("utf-8", "replace"), raw.start_byte)
    return []  # templates, shaders, other languages: not ours to judge


def _attribute(start_tag: Node, name: str, data: bytes) -> str | None:
    for attribute in start_tag.children:
        if attribute.type != "attribute" or not attribute.child_count:
            continue
        key = attribute.child(0)
        if key is None or node_text(key, data).lower() != name:
            continue
        for value in attribute.children[1:]:
            if value.type == "attribute_value":
                return node_text(value, data)
            if value.type == "quoted_attribute_value":
                inner = next((c for c in value.children if c.type == "attribute_value"), None)
                return node_text(inner, data) if inner is not None else ""
        return ""
    return None
