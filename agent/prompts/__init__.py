"""The prompts, one Markdown file per task, split into ``## name`` sections and filled with
``string.Template`` (``$name``) so that a prompt can be read and changed without reading code."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

_SECTION = re.compile(r"^## (\w+)\s*$", re.MULTILINE)


@cache
def sections(task: str) -> dict[str, str]:
    text = resources.files(__name__).joinpath(f"{task}.md").read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def render(task: str, section: str, **values: object) -> str:
    """The section filled in; a placeholder without a value is an error (a prompt bug), not blank."""
    return Template(sections(task)[section]).substitute({k: str(v) for k, v in values.items()})
