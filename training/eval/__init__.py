"""Evaluation on the benchmarks the VisCodex paper reports, scored as their authors score them.

``viscodex-train eval`` drives it: a benchmark module (``chartmimic``, ``mmcode``, ``design2code``) loads
the items from a local folder, the model answers each one (single shot, or inside the agent loop), the
answer is scored in the sandbox with a re-implementation of the benchmark's official metric, and every item
becomes one line of ``OUT/items.jsonl`` (see ``store``), so a crashed run resumes where it stopped.
"""

# Benchmark modules that add quirks to ``quirks.QUIRKS`` register them on import: importing them here makes
# the registry complete whichever module of the package is imported first (the CLI reads ``quirks`` alone).
from . import design2code as _design2code  # noqa: F401
