"""ChartMimic direct mimic (``ori_500``): the low-level text, layout, type and colour F1 of its authors.

Re-implemented from ChartMimic/ChartMimic @ c9e149c6 (``chart2code/utils/evaluator/`` and
``chart2code/utils/post_process/code_checker.py``); that repository carries no licence, so none of its
code is copied here: the behaviour is reproduced and tested against the official code's own numbers
(``tests/test_eval_chartmimic.py``). What the official pipeline does, and so what this module does:

- The answer's code is the first ```` ```python ```` block (none: the item scores 0 everywhere).
  ``plt.savefig(`` and everything after it is deleted, and so is ``plt.show(`` and everything after it
  (their regular expressions run with DOTALL); ``plt.savefig("<id>.pdf")`` is appended.
- Each script (the generated one and the ground truth) runs in the sandbox with tracing around it:
  - text: ``RendererPdf.draw_text`` logs every string drawn while the PDF is saved; before the script's
    first ``plt.savefig`` every axes' ticks are removed (so tick labels do not count).
  - layout: after the script, each axes' gridspec geometry (rows, columns, the span it covers); an item
    whose id starts with ``graph`` gives every axes the same fixed geometry, as the official code does.
  - colour: some forty plotting calls log the colours they drew, read again when the script has ended
    (``chartmimic_color``; in the same run as the text trace, as neither tracer touches the other's calls).
  - type: how often each plotting call (``Axes.bar``, ``Axes.plot`` (on polar axes kept apart), ``hist``,
    ``pie``, networkx drawing, ``Axes3D.*``, ``Circle``/``Ellipse`` creation, ...) was made from the
    script; calls made inside another traced call are not counted.
- text and layout: precision and recall of the multiset of strings (geometries); type: counts matched by
  ``min``; F1 from those, 0 when either side logged nothing; colour: colours paired within each plotting
  function by ``1 - CIEDE2000/100`` (``chartmimic_color.color_f1``). Scores are F1 x 100.

Checked against the official evaluators run in the same image: the project's fixtures (in the tests), and
22 real ``ori_500`` ground truths, one per chart type, each answered with another script of its type
(``official_chartmimic.official_on_pairs``): all 66 numbers equal (largest difference 0.0). The colour F1:
equal on the 7 fixtures, and on 16 real pairs (``official_chartmimic --ori500 pie,3d,graph,violin,box,hist,
radar,heatmap,line,bar,area,tree,scatters,quiver,errorbar,CB --compare``): all 64 numbers within 3e-14.

Quirks of the official code that are not reproduced, because they make a score depend on the order in
which one process evaluated the items: its type evaluator keeps the previous item's numbers when the
generated script logged no call, and its recall when the ground truth logged none; here both are 0.

Rows carry ``text``, ``layout``, ``type`` and ``color``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import chartmimic_color as color
from .errors import DataError
from .quirks import defaults as _default_quirks

FIELDS = ("text", "layout", "type", "color")
PROMPT = (
    "You are an expert Python developer who specializes in writing matplotlib code based on a given "
    "picture. I found a very nice picture in a STEM paper, but there is no corresponding source code "
    "available. I need your help to generate the Python code that can reproduce the picture based on the "
    "picture I provide.\nNote that it is necessary to use figsize=({width}, {height}) to set the image size "
    "to match the original size.\nNow, please give me the matplotlib code that reproduces the picture below."
)
"""The official direct-mimic instruction (``chart2code/prompts/DirectAgent/gpt-4-vision-preview.json``)."""
DPI = 120
"""The official pipeline rasterises the ground-truth PDFs with pdf2image at this resolution."""
MARKER = "@@viscodex-chartmimic@@"
QUIRKS = _default_quirks("chartmimic")
"""The official quirks reproduced unless switched off (``quirks.QUIRKS`` says what each does)."""
SPLIT = "@@viscodex-chartmimic-split@@"


@dataclass(frozen=True)
class ChartItem:
    id: str
    script: Path
    picture: Path
    """A PNG of the ground truth (rasterised from its PDF at 120 dpi when only the PDF is there)."""


def load(data: Path, cache: Path) -> list[ChartItem]:
    """The items of a direct-mimic folder: ``<id>.py`` next to ``<id>.png`` or ``<id>.pdf``.

    ``data`` is ``ori_500/`` itself or a folder holding it (``dataset/ori_500`` of the ChartMimic
    repository at its first commit 7ee16fb). PDFs without a PNG beside them are rasterised into
    ``cache`` with ``pdftoppm -r 120`` (what pdf2image runs), once.
    """
    for candidate in (data, data / "ori_500", data / "dataset" / "ori_500"):
        if candidate.is_dir() and any(candidate.glob("*.py")):
            folder = candidate
            break
    else:
        raise DataError(f"{data} holds no ChartMimic scripts (<id>.py with <id>.pdf or <id>.png; e.g. ori_500/)")
    items = []
    for script in sorted(folder.glob("*.py"), key=_natural):
        png, pdf = script.with_suffix(".png"), script.with_suffix(".pdf")
        if png.is_file():
            picture = png
        elif pdf.is_file():
            picture = cache / f"{script.stem}.png"
            if not picture.is_file():
                _rasterise(pdf, picture)
        else:
            continue  # the official loader lists PDFs: a script without its picture is no item
        items.append(ChartItem(script.stem, script, picture))
    if not items:
        raise DataError(f"{folder} has scripts but no <id>.pdf or <id>.png beside them")
    return items


def _natural(path: Path) -> tuple[str, int]:
    stem, _, number = path.stem.rpartition("_")
    return (stem, int(number)) if number.isdigit() else (path.stem, -1)


def _rasterise(pdf: Path, png: Path) -> None:
    if shutil.which("pdftoppm") is None:
        raise DataError(f"{pdf} needs rasterising and pdftoppm is missing (apt-get install poppler-utils)")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "page"
        subprocess.run(
            ["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(pdf), str(prefix)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        shutil.move(str(prefix.with_suffix(".png")), png)


def figure_size(script: str) -> tuple[float, float] | None:
    """``figsize=(w, h)`` of the ground truth, for the prompt (the official one reads a size table)."""
    match = re.search(r"figsize\s*=\s*\(\s*([0-9.]+)\s*,\s*([0-9.]+)\s*\)", script)
    return (float(match.group(1)), float(match.group(2))) if match else None


def prompt_for(gold_script: str) -> str:
    width, height = figure_size(gold_script) or (6.0, 4.0)
    return PROMPT.format(width=f"{width:g}", height=f"{height:g}")


# --- the answer as the official post-processing leaves it --------------------------------------------


def extract_code(answer: str) -> str:
    """The first ```python block, or "" (the official checker then writes no file)."""
    found = re.findall(r"```python(.*?)```", answer, re.DOTALL)
    return found[0] if found else ""


def prepare_generated(code: str, item_id: str, *, savefig_cut: bool = True) -> str:
    """``savefig``/``show`` and all after them removed, a ``savefig`` to a PDF appended. With
    ``savefig_cut`` off (quirk ``savefig-cut``) only the ``plt.savefig``/``plt.show`` statements go."""
    if savefig_cut:
        code = re.sub(r"plt\.savefig\(.*\n*", "", code, flags=re.S)
        code = re.sub(r"plt.show\(.*\n*", "", code, flags=re.S)
    else:
        code = _without_save_calls(code)
    return code.strip() + f'\nplt.savefig("gen/{item_id}.pdf")'


def _without_save_calls(code: str) -> str:
    """The script without its ``plt.savefig(...)`` / ``plt.show(...)`` statements (each whole, over as many
    lines as it spans); a script that does not parse loses the lines that start such a call."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:
        return "\n".join(line for line in code.splitlines() if not re.match(r"\s*plt\.(savefig|show)\(", line))
    spans: dict[int, int] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr in ("savefig", "show")
            and isinstance(node.value.func.value, ast.Name)
            and node.value.func.value.id == "plt"
        ):
            spans[node.lineno] = node.end_lineno or node.lineno
    out: list[str] = []
    skip_until = 0
    for number, line in enumerate(code.splitlines(), start=1):
        if number <= skip_until:
            continue
        if number in spans:
            skip_until = spans[number]
            # ``pass`` keeps a block whose only statement this was valid
            out.append(line[: len(line) - len(line.lstrip())] + "pass")
            continue
        out.append(line)
    return "\n".join(out)


# --- the tracing programs that run in the sandbox ----------------------------------------------------

_WARNINGS = """import warnings
warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)
"""

_TEXT_HEAD = (
    _WARNINGS
    + """from matplotlib.backends.backend_pdf import RendererPdf as _VxRendererPdf
_vx_texts = []
def _vx_logged_draw_text(draw):
    def traced(*args, **kwargs):
        renderer, x, y, s = args[0], args[2], args[3], args[4]
        _vx_rel = ((x / renderer.width / 72) * 100, (y / renderer.height / 72) * 100)  # as logged officially
        _vx_texts.append(s)
        return draw(*args, **kwargs)
    return traced
_VxRendererPdf.draw_text = _vx_logged_draw_text(_VxRendererPdf.draw_text)
"""
)

_TICKS_OFF = """
for _vx_ax in plt.gcf().get_axes():
    _vx_ax.set_xticks([])
    _vx_ax.set_yticks([])
"""

_STRUCTURE_HEAD = (
    _WARNINGS
    + """import inspect as _vx_inspect
import matplotlib.pyplot as plt
from matplotlib.axes import Axes as _VxAxes
from matplotlib.projections.polar import PolarAxes as _VxPolarAxes
from mpl_toolkits.mplot3d import Axes3D as _VxAxes3D
from matplotlib.image import NonUniformImage as _VxNonUniformImage
from matplotlib.patches import Ellipse as _VxEllipse, Circle as _VxCircle
from matplotlib_venn._common import VennDiagram as _VxVennDiagram
import squarify as _vx_squarify
import networkx as _vx_nx
import networkx.drawing.nx_pylab as _vx_nx_pylab
_vx_calls = {}
_vx_busy = [False]
def _vx_count(func, networkx=False):
    def traced(*args, **kwargs):
        if _vx_busy[0]:
            return func(*args, **kwargs)
        _vx_busy[0] = True
        where = _vx_inspect.getfile(func)
        if networkx:
            where += "/" + func.__name__
        elif args and type(args[0]) is _VxPolarAxes and func.__name__ == "plot":
            where += "_polar"
        key = where + "-" + func.__name__
        _vx_calls[key] = _vx_calls.get(key, 0) + 1
        result = func(*args, **kwargs)
        _vx_busy[0] = False
        return result
    return traced
for _vx_name in ("bar", "barh", "plot", "axhline", "axvline", "axvspan", "axhspan", "hlines", "vlines",
                 "errorbar", "boxplot", "violinplot", "violin", "hist", "fill_between", "fill_betweenx",
                 "scatter", "quiver", "pie", "fill", "imshow", "pcolor", "contour", "contourf", "broken_barh",
                 "tripcolor"):
    setattr(_VxAxes, _vx_name, _vx_count(getattr(_VxAxes, _vx_name)))
for _vx_name in ("scatter", "plot", "plot_surface", "bar3d", "bar", "add_collection3d"):
    setattr(_VxAxes3D, _vx_name, _vx_count(getattr(_VxAxes3D, _vx_name)))
for _vx_name in ("draw_networkx_nodes", "draw_networkx_edges", "draw_networkx_labels"):
    setattr(_vx_nx_pylab, _vx_name, _vx_count(getattr(_vx_nx_pylab, _vx_name), networkx=True))
    setattr(_vx_nx, _vx_name, _vx_count(getattr(_vx_nx, _vx_name), networkx=True))
_vx_squarify.plot = _vx_count(_vx_squarify.plot)
for _vx_cls in (_VxNonUniformImage, _VxEllipse, _VxVennDiagram, _VxCircle):
    _vx_cls.__init__ = _vx_count(_vx_cls.__init__)
"""
)

_STRUCTURE_TAIL = """
import json as _vx_json
def _vx_layout(fig, graph):
    out = []
    for ax in fig.axes:
        if graph:
            out.append(dict(nrows=1, ncols=1, row_start=0, row_end=1, col_start=0, col_end=1))
            continue
        spec = ax.get_subplotspec()
        if spec is None:
            continue
        nrows, ncols = spec.get_gridspec().get_geometry()
        out.append(dict(nrows=nrows, ncols=ncols, row_start=spec.rowspan.start, row_end=spec.rowspan.stop - 1,
                        col_start=spec.colspan.start, col_end=spec.colspan.stop - 1))
    return out
print("\\n%s" + _vx_json.dumps({"layout": _vx_layout(plt.gcf(), %r), "types": _vx_calls}))
"""


def text_program(script: str, *, ticks_last_char: bool = True) -> str:
    """The official text run: its tracer, the script with ticks removed before its first ``plt.savefig``.

    Where the script has no ``plt.savefig`` the official ``str.find`` gives -1 and the removal lands
    before the last character; reproduced unless ``ticks_last_char`` is off (then it goes last).
    """
    code = (
        _TEXT_HEAD
        + color.HEAD
        + script
        + f'\nimport json as _vx_json\nprint("\\n{MARKER}" + _vx_json.dumps(_vx_texts, default=str))\n'
        + color.tail()
    )
    at = code.find("plt.savefig")
    if at < 0 and not ticks_last_char:
        at = len(code)
    return code[:at] + _TICKS_OFF + code[at:]


def structure_program(script: str, item_id: str) -> str:
    """The official chart-type run and layout run, which change nothing in the script, as one program."""
    return _STRUCTURE_HEAD + script + _STRUCTURE_TAIL % (MARKER, item_id.startswith("graph"))


def parse_trace(stdout: str, marker: str = MARKER) -> Any:
    """What a tracing program printed after its marker; None if it never got there (the script failed)."""
    at = stdout.rfind(marker)
    if at < 0:
        return None
    line = stdout[at + len(marker) :].splitlines()[0] if stdout[at + len(marker) :] else ""
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


# --- the metrics -------------------------------------------------------------------------------------


def _prf(correct: float, generated: float, gold: float) -> tuple[float, float, float]:
    precision = correct / generated if generated else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def multiset_f1(generated: Sequence[Any], gold: Sequence[Any]) -> tuple[float, float, float]:
    """Text and layout: each gold element takes one equal generated element; 0 if either side is empty."""
    if not generated or not gold:
        return 0.0, 0.0, 0.0
    left = Counter(json.dumps(g, sort_keys=True) for g in generated)
    correct = 0
    for element in gold:
        key = json.dumps(element, sort_keys=True)
        if left[key] > 0:
            left[key] -= 1
            correct += 1
    return _prf(correct, len(generated), len(gold))


def type_f1(generated: Mapping[str, int], gold: Mapping[str, int]) -> tuple[float, float, float]:
    """Chart types: calls of the same function matched by count (``min``); 0 if the generated side has none."""
    if not generated:
        return 0.0, 0.0, 0.0
    correct = sum(min(count, gold[name]) for name, count in generated.items() if name in gold)
    return _prf(correct, sum(generated.values()), sum(gold.values()))


@dataclass
class Trace:
    texts: list[str]
    layout: list[dict[str, int]]
    types: dict[str, int]
    ok: bool
    detail: str = ""
    colors: list[str] = field(default_factory=list)
    """``"<function key>--<colour>"`` entries (``chartmimic_color``); empty when the script failed."""


def scores(generated: Trace, gold: Trace) -> dict[str, float]:
    """The item's row fields, on the paper's 0-100 scale."""
    return {
        "text": 100 * multiset_f1(generated.texts, gold.texts)[2],
        "layout": 100 * multiset_f1(generated.layout, gold.layout)[2],
        "type": 100 * type_f1(generated.types, gold.types)[2],
        "color": 100 * color.color_f1(generated.colors, gold.colors)[2],
    }


def trace(
    sandbox: Any, script: str, item_id: str, *, timeout_s: float = 60.0, quirks: frozenset[str] = QUIRKS
) -> Trace:
    """Run ``script``'s two tracing programs in ``sandbox`` (a ``viscodex.sandbox.Sandbox`` built on the
    ``chartmimic`` package set) and collect what they logged. The working folder is the run's own, as the
    official scripts save ``<id>.pdf`` beside themselves; a generated script saves into ``gen/``."""
    text = text_program(script, ticks_last_char="ticks-last-char" in quirks)
    files = {"text.py": text, "structure.py": structure_program(script, item_id), "gen/.keep": ""}
    command = (
        f"timeout {int(timeout_s)} python3 text.py > text.out 2>text.err; "
        f"timeout {int(timeout_s)} python3 structure.py > structure.out 2>structure.err; "
        f"tail -c 1000000 text.out; echo; echo {SPLIT}; tail -c 1000000 structure.out; echo; echo {SPLIT}; "
        "tail -c 300 text.err; tail -c 300 structure.err"
    )
    result = sandbox.run(command=command, files=files, timeout_s=2 * timeout_s + 10)
    parts = result.stdout.split(SPLIT)
    texts_raw = parse_trace(parts[0]) if parts else None
    structure = parse_trace(parts[1]) if len(parts) > 1 else None
    if not isinstance(texts_raw, list):
        texts_raw = None
    if not isinstance(structure, dict):
        structure = None
    texts = [str(t) for t in texts_raw] if texts_raw is not None else []
    layout = list(structure.get("layout", [])) if structure else []
    types = {str(k): int(v) for k, v in (structure.get("types", {}) if structure else {}).items()}
    colors_raw = parse_trace(parts[0], color.COLOR_MARKER) if parts else None
    colors = [str(c) for c in colors_raw] if isinstance(colors_raw, list) else []
    ok = texts_raw is not None and structure is not None
    detail = "" if ok else " ".join((parts[2] if len(parts) > 2 else result.stderr or result.summary()).split())[-600:]
    return Trace(texts, layout, types, ok, detail, colors)


def score_answer(
    sandbox: Any, item: ChartItem, answer: str, *, timeout_s: float = 60.0, quirks: frozenset[str] = QUIRKS
) -> dict[str, Any]:
    """One item's row: the official metrics of the answer's code against the ground truth."""
    gold_script = item.script.read_text(encoding="utf-8")
    return score_script(sandbox, item.id, gold_script, answer, timeout_s=timeout_s, quirks=quirks)


def score_script(
    sandbox: Any,
    item_id: str,
    gold_script: str,
    answer: str,
    *,
    timeout_s: float = 60.0,
    quirks: frozenset[str] = QUIRKS,
) -> dict[str, Any]:
    """``score_answer`` from the ground truth's text (what travels to a Ray node, which has no data folder)."""
    code = extract_code(answer)
    row: dict[str, Any] = {"id": item_id}
    if not code:
        row.update(dict.fromkeys(FIELDS, 0.0))
        row["ran"] = False
        row["error"] = "no ```python block in the answer"
        return row
    gold = trace(sandbox, gold_script, item_id, timeout_s=timeout_s, quirks=quirks)
    prepared = prepare_generated(code, item_id, savefig_cut="savefig-cut" in quirks)
    mine = trace(sandbox, prepared, item_id, timeout_s=timeout_s, quirks=quirks)
    row.update(scores(mine, gold))
    row["ran"] = mine.ok
    if not mine.ok:
        row["error"] = mine.detail
    if not gold.ok:
        row["gold_error"] = gold.detail
    return row


# --- the high-level score: a judge model compares the two pictures -----------------------------------

JUDGE_FIELD = "gpt4v_score"
"""The column name of ChartMimic's own results (``get_results.ipynb``: ``GPT4VScore``)."""
JUDGE_PROMPT = (
    "You are an excellent judge at evaluating visualization chart plots. The first image (reference image) is "
    "created using ground truth matplotlib code, and the second image (AI-generated image) is created using "
    "matplotlib code generated by an AI assistant. Your task is to score how well the AI-generated plot matches "
    "the ground truth plot.\n\n### Scoring Methodology:\nThe AI-generated image's score is based on the following "
    "criteria, totaling a score out of 100 points:\n\n1. **Chart Types (20 points)** Does the AI-generated image "
    "include all chart types present in the reference image (e.g., line charts, bar charts, etc.)?\n2. **Layout "
    "(10 points)** Does the arrangement of subplots in the AI-generated image match the reference image (e.g., "
    "number of rows and columns)?\n3. **Text Content (20 points)** Does the AI-generated image include all text "
    "from the reference image (e.g., titles, annotations, axis labels), excluding axis tick labels?\n4. **Data "
    "(20 points)** How accurately do the data trends in the AI-generated image resemble those in the original "
    "image and is the number of data groups the same as in the reference image?\n5. **Style (20 points)** Does "
    "the AI-generated image match the original in terms of colors (line colors, fill colors, etc.), marker types "
    "(point shapes, line styles, etc.), legends, grids, and other stylistic details?\n6. **Clarity (10 points)** "
    "Is the AI-generated image clear and free of overlapping elements?\n\n### Evaluation:\nCompare the two images "
    "head to head and provide a detailed assessment. Use the following format for your response:\n\n\n---\n\n"
    "Comments:\n- Chart Types: ${your comment and subscore}\n- Layout: ${your comment and subscore}\n- Text "
    "Content: ${your comment and subscore}\n- Data: ${your comment and subscore}\n- Style: ${your comment and "
    "subscore}\n- Clarity: ${your comment and subscore}\n\nScore: ${your final score out of 100}\n\n---\n\n"
    "Please use the above format to ensure the evaluation is clear and comprehensive.\n"
)
"""The official judge instruction (``chart2code/prompts/GPT4EvaluationAgent/gpt-4-vision-preview.json``),
sent with the reference picture and then the generated one, at temperature 0.1 and up to 4096 tokens
(``eval_configs/evaluation_direct.yaml``)."""
JUDGE_TEMPERATURE = 0.1
JUDGE_MAX_TOKENS = 4096


def judge_score(response: str) -> float | None:
    """The final ``Score: N`` of a judge's answer, clipped to 0-100; None if it gave none. (The official
    repository stores the raw answers; the number is the one its format asks for on the ``Score:`` line.)"""
    found = re.findall(r"(?im)^\W*score\W*:\W*(\d+(?:\.\d+)?)", response)
    if not found:
        return None
    return min(100.0, max(0.0, float(found[-1])))


def judge_code(answer: str, *, savefig_cut: bool = True) -> str:
    """The generated script as it is rendered for the judge: post-processed, without the PDF save."""
    prepared = prepare_generated(extract_code(answer), "judge", savefig_cut=savefig_cut)
    return prepared.rsplit("\n", 1)[0]


def render_for_judge(sandbox: Any, code: str, *, timeout_s: float = 60.0) -> bytes | None:
    """PNG of the generated chart for the judge; None when the script draws nothing."""
    from viscodex.sandbox import RenderError

    try:
        png: bytes = sandbox.render_chart(code, timeout_s=timeout_s)
    except RenderError:
        return None
    return png
