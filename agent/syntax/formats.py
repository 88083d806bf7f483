"""The formats checked without a grammar: JSON (the standard library's parser says where it stopped) and
unified diffs (headers and hunks, checked line by line)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Final

from .report import Found, Source

_HUNK_HEADER: Final = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def check_json(source: Source, text: str, base: int) -> list[Found]:
    """JSON needs no grammar: the standard library's parser says where it stopped."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return [(source.char_offset_to_byte(text, exc.pos, base), exc.msg)]
    except (ValueError, RecursionError) as exc:
        return [(base, str(exc) or type(exc).__name__)]
    return []


# --- diff ------------------------------------------------------------------------------------------


def check_diff(source: Source) -> list[Found]:
    """Unified diff structure: `---`/`+++` headers, `@@ -a,b +c,d @@` hunks whose line counts add up.

    A hunk whose header miscounts its lines is the usual way a model's diff fails to apply (`git apply`
    calls it a corrupt patch). An empty line inside a hunk counts as an empty context line, as GNU patch
    takes it (models often strip the lone space). A `--- ` line inside a hunk is a removed line unless a
    `+++ ` line follows it (then it starts the next file).
    """
    text = source.data.decode("utf-8", "replace")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    starts: list[int] = []  # byte offset of each line, for placing issues
    offset = 0
    for raw_line in source.data.split(b"\n"):
        starts.append(offset)
        offset += len(raw_line) + 1
    found: list[Found] = []

    def at(index: int, message: str) -> None:
        found.append((starts[min(index, len(starts) - 1)], message))

    if not any(line.strip() for line in lines):
        return [(0, "empty diff")]

    def file_header(index: int) -> bool:
        followed = index + 1 < len(lines) and lines[index + 1].startswith("+++ ")
        return followed and lines[index].startswith("--- ")

    hunks = 0
    git = False
    files = 0
    hunks_in_file = 0
    file_line = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            git = True
            i += 1
        elif line.startswith("--- "):
            if not file_header(i):
                at(i, "`--- ` header not followed by a `+++ ` header")
                i += 1
                continue
            if files and not hunks_in_file and not git:
                at(file_line, "file header with no hunks")
            files += 1
            hunks_in_file = 0
            file_line = i
            i += 2
        elif line.startswith("+++ "):
            at(i, "`+++ ` header without a `--- ` header before it")
            i += 1
        elif line.startswith("@@"):
            match = _HUNK_HEADER.match(line)
            if not match:
                at(i, "malformed hunk header; expected `@@ -start,count +start,count @@`")
                hunks_in_file += 1
                i = _skip_hunk_lines(lines, i + 1)
                continue
            if not files:
                at(i, "hunk before any `--- `/`+++ ` file header")
                files = 1
            hunks += 1
            hunks_in_file += 1
            i = _check_hunk(lines, i, match, at, file_header)
        else:
            if files and line[:1] in ("+", "-", " "):
                at(i, "line outside any hunk")
                i = _skip_hunk_lines(lines, i + 1)
                continue
            i += 1  # prose, `index ...`, `new file mode ...`: allowed between files
    if files and not hunks_in_file and not git:
        at(file_line, "file header with no hunks")
    if not hunks and not git and not files:
        at(0, "no hunks found; expected `--- a/file`, `+++ b/file` and `@@ -a,b +c,d @@` lines")
    return found


def _check_hunk(
    lines: list[str],
    header: int,
    match: re.Match[str],
    at: Callable[[int, str], None],
    file_header: Callable[[int], bool],
) -> int:
    """Count one hunk's lines against its header; return the index of the first line after it."""
    old_want = int(match[2]) if match[2] is not None else 1
    new_want = int(match[4]) if match[4] is not None else 1
    old = new = 0
    i = header + 1
    while i < len(lines) and (old < old_want or new < new_want):
        line = lines[i]
        first = line[:1]
        if first == "-" and file_header(i):
            break
        if first == " " or line == "":
            old += 1
            new += 1
        elif first == "-":
            old += 1
        elif first == "+":
            new += 1
        elif first != "\\":  # "\ No newline at end of file" counts for neither side
            break
        i += 1
    while i < len(lines) and lines[i].startswith("\\"):
        i += 1
    counts = f"-{match[1]},{old_want} +{match[3]},{new_want}"
    if (old, new) != (old_want, new_want):
        at(header, f"hunk header says {counts} but the hunk has {old} old and {new} new lines")
    elif i < len(lines) and lines[i][:1] in ("+", "-", " ") and not file_header(i):
        end = _skip_hunk_lines(lines, i)
        extra_old = sum(1 for line in lines[i:end] if line[:1] in ("-", " "))
        extra_new = sum(1 for line in lines[i:end] if line[:1] in ("+", " "))
        at(
            header,
            f"hunk header says {counts} but the hunk has {old_want + extra_old} old and "
            f"{new_want + extra_new} new lines",
        )
        return end
    return i


def _skip_hunk_lines(lines: list[str], i: int) -> int:
    while i < len(lines) and lines[i][:1] in ("+", "-", " ", "\\"):
        if lines[i].startswith(("--- ", "+++ ")):
            break
        i += 1
    return i
