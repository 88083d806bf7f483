"""How much a render looks like the target picture, and what to fix, for the agent loop.

Pipeline: the target's text blocks by OCR (``ocr_blocks``, cached per picture), the candidate's from its
DOM (``dom_blocks`` of ``Sandbox.render_html_blocks``) or its chart trace (``Sandbox.run_chart(...,
trace=True)``); then ``score_ui`` / ``score_chart`` (pure, named components, documented weights) and
``critique`` / ``render_critique`` (the differences in words, for the model's next turn).
"""

from .blocks import TextBlock
from .charttype import normalize_types, type_agreement
from .critique import Finding, critique, findings, render_critique, summary_line
from .dom import dom_blocks
from .ocr import OcrError, OcrSettings, OcrUnavailable, ocr_blocks
from .trace import ChartTrace, trace_blocks
from .visual import (
    BlockPair,
    ChartScore,
    ChartWeights,
    ScoreScales,
    ScoreWeights,
    VisualScore,
    score_chart,
    score_ui,
)

__all__ = [
    "BlockPair",
    "ChartScore",
    "ChartTrace",
    "ChartWeights",
    "Finding",
    "OcrError",
    "OcrSettings",
    "OcrUnavailable",
    "ScoreScales",
    "ScoreWeights",
    "TextBlock",
    "VisualScore",
    "critique",
    "dom_blocks",
    "findings",
    "normalize_types",
    "ocr_blocks",
    "render_critique",
    "score_chart",
    "score_ui",
    "summary_line",
    "trace_blocks",
    "type_agreement",
]
