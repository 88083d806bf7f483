"""CSS: the false alarms of tree-sitter-css, for syntax browsers accept."""

from __future__ import annotations

from tree_sitter import Node


def ignored_error(name: str, node: Node, data: bytes) -> bool:
    """Known false alarms of the CSS grammar, for syntax browsers accept.

    tree-sitter-css 0.25 does not know media range queries (`(width >= 600px)`), `@import ... layer()`
    or nesting with a trailing `&` (`.b & {}`). Errors in an at-rule's prelude are skipped as a class:
    a browser only drops such a rule, and the grammar lags the specs there.
    """
    if name != "css":
        return False
    if data[node.start_byte : node.end_byte] == b"&":
        return True
    parent = node.parent
    while parent is not None:
        if parent.type.endswith("_statement") or parent.type == "at_rule":
            block = next((c for c in parent.children if c.type in ("block", "keyframe_block_list")), None)
            return block is None or node.start_byte < block.start_byte
        if parent.type == "block":
            return False
        parent = parent.parent
    return False


def ignored_missing(name: str, node: Node, data: bytes) -> bool:
    """A custom property may be empty (`--x: ;`), which tree-sitter-css reports as a missing value."""
    if name != "css":
        return False
    declaration = ancestor(node, "declaration")
    if declaration is None or declaration.child_count == 0:
        return False
    prop = declaration.child(0)
    return prop is not None and data.startswith(b"--", prop.start_byte)


def ancestor(node: Node, kind: str) -> Node | None:
    """``node`` itself or its nearest ancestor of type ``kind``."""
    current: Node | None = node
    while current is not None and current.type != kind:
        current = current.parent
    return current
