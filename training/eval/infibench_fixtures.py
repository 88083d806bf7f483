"""Project-made InfiBench cases in the official YAML format (``cases_dev/eval_*.yaml``), with answers to
grade; the official evaluator's numbers on them are kept in ``tests/test_eval_infibench.py``."""

from __future__ import annotations

KEYWORDS = """
id: kw-1
prompt: How do I memoise a recursive Python function?
type: knowledge question-answering
lang: python
grading:
  keywords:
    - content: functools.lru_cache
      weight: 2.0
    - content:
        content: "maxsize\\\\s*=\\\\s*None"
        regex: true
    - content: CACHE
      to_lower: true
    - content:
        or: ["@cache\\n", "@functools.cache\\n"]
      weight: 1.5
    - content: global
      neg: true
      weight: 1.0
    - content:
        content: typed
        cond: "context[-1] == 'match'"
"""

BLANKS = """
id: blank-1
prompt: Fill in the blanks.
type: code completion
lang: python
grading:
  blank_filling:
    template: "Use [blank] to sort a list in place and [blank] to get a new sorted list."
    targets:
      - list.sort()
      - content: ["sorted()", "sorted"]
        to_lower: true
        weight: 2.0
"""

SIMILARITY = """
id: sim-1
prompt: Why is my pandas merge slow?
type: knowledge question-answering
lang: python
grading:
  similarity:
    - metric: rougeLsum
      references:
        - "Merging on object columns is slow.\\nConvert the keys to categoricals or integers first,\\n\\
          and sort both frames."
    - metric: rouge1
      weight: 2.0
      max_score: 0.6
      references:
        - "the merge copies both frames"
        - "set an index on the key and use join instead of merge"
"""

UNIT = """
id: unit-1
prompt: Write add(a, b) in Python.
type: code completion
lang: python
grading:
  unit_test:
    tests:
      - content: "assert add(2, 3) == 5"
      - content: "assert add('a', 'b') == 'ab'\\nassert HELPER == 7"
        prefix: "HELPER = 7"
        weight: 2.0
      - content: "while add(1, 1) == 2:\\n    pass"
        timeout: 1
"""

MIXED = """
id: mixed-1
prompt: What does git stash do?
type: knowledge question-answering
lang: bash
full_score: 2.0
grading:
  max_score: 2.5
  min_score: 0.5
  keywords:
    - content: git stash
      weight: 2.0
    - content:
        and: ["pop", "apply"]
      weight: 2.0
    - content: rm -rf
      neg: true
      weight: 3.0
"""

CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "keywords": (
        KEYWORDS,
        (
            "Use functools.lru_cache(maxsize = None) to cache results:\n@functools.cache\ndef f(n): ...\n"
            "It is not typed.",
            "Keep a GLOBAL dict as a Cache; or @cache\n with typed keys.",
            "",
        ),
    ),
    "blanks": (
        BLANKS,
        (
            "Use list.sort() to sort a list in place and `Sorted()` to get a new sorted list.",
            "Use sort to sort a list in place and sorted to get a new sorted list.",
            "No idea.",
        ),
    ),
    "similarity": (
        SIMILARITY,
        (
            "Merging on object columns is slow.\nConvert the keys to categoricals first.\nSort both frames.",
            "Set an index on the key and use join; merge copies both frames.",
            "Buy a faster computer.",
        ),
    ),
    "unit": (
        UNIT,
        (
            "Here:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.",
            "```python\ndef add(a, b):\n    return a - b\n```",
            "    return a + b\n",
        ),
    ),
    "mixed": (
        MIXED,
        (
            "git stash saves your changes; use pop or apply to restore them.",
            "git stash, then rm -rf the folder.",
            "rm -rf .git",
        ),
    ),
}
"""name: (case YAML, answers)."""
