"""Synthetic image-code pairs, each rendered for real in the sandbox (`viscodex-train data synth`).

Kinds (``KINDS``): ``chart`` (matplotlib programs of the chart types in ``charts.CHART_TYPES``), ``ui``
(HTML/CSS pages in plain HTML and Tailwind, screenshotted) and ``algorithm`` (problem statements with
sample tests rendered as pictures, with reference solutions that pass those samples in the sandbox).
Item ``i``'s program depends only on ``(seed, kind, i)``; a rerun skips the items already made. Levels
(``LEVELS``): ``full`` (the default) and ``basic``, short charts of one plotting call (``basic_charts``)
that the few-million-parameter demo model learns from.

Output layout of ``--out DIR`` (a contract: the loaders, ``data check``, the trainer and the demo model
read it):

- ``DIR/records.jsonl``: one JSON object per kept item, in item order once a run completes::

      {"id": "chart_s0_000012", "category": "chart" | "ui" | "algorithm",
       "images": ["images/chart_s0_000012.png"],             # relative to DIR
       "messages": [{"role": "user", "content": "<image>\\n<instruction>"},
                    {"role": "assistant", "content": "```python\\n<code>\\n```"}],   # ```html for ui
       "meta": {"kind": ..., "seed": ..., "index": ..., "width": ..., "height": ...,   # picture size, px
                "chart_type": ... (chart) | "stack": ... (ui) | "family": ... (algorithm), ...}}

  ``meta`` values are JSON scalars. Charts also carry ``figsize`` ("6.5x4"), ``dpi``, ``palette``,
  ``style`` (and ``panels``, ``grid`` for subplot grids); ui ``sections`` and ``viewport``; algorithms
  ``samples`` (how many sample tests the statement shows and the reference passed).
- ``DIR/images/<id>.png``: the picture the item's code rendered to, in the sandbox.
- ``DIR/code/<id>.<ext>``: the code alone (``.py`` for charts and algorithms, ``.html`` for ui).
- ``DIR/failures.jsonl``: items whose program failed, ``{"id", "index", "reason", "detail"}``; not kept,
  not retried (the program would be the same).
- ``DIR/report.json``: kind, seed, n, kept, failed, counts by reason, the failures, kept items by type,
  items per minute, status (``running``, ``complete``, ``incomplete``, ``interrupted``) and versions
  (viscodex, the sandbox image and its Python, matplotlib, numpy).
- charts only, ``DIR/ori_500/<id>.py`` and ``<id>.png``: a ChartMimic direct-mimic folder, so
  ``viscodex-train eval --bench chartmimic --data DIR/ori_500`` scores a model on synthetic charts. Make
  the evaluation set with another ``--seed`` and ``--out`` than the training set, so it is held out.

A line in ``records.jsonl`` or ``failures.jsonl`` is written last, after the item's files: an item is done
exactly when its line is there (see ``runner``).
"""

from .base import KINDS, LEVELS, Program, Rendered, Synthesizer, SynthFailure, SynthKind, SynthLevel, item_id
from .runner import (
    FAILURES,
    RECORDS,
    REPORT,
    SynthError,
    SynthReport,
    check_folder,
    synthesize,
    synthesizer_for,
)

__all__ = [
    "FAILURES",
    "KINDS",
    "LEVELS",
    "RECORDS",
    "REPORT",
    "Program",
    "Rendered",
    "SynthError",
    "SynthFailure",
    "SynthKind",
    "SynthLevel",
    "SynthReport",
    "Synthesizer",
    "check_folder",
    "item_id",
    "synthesize",
    "synthesizer_for",
]
