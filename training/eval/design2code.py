"""Design2Code: the low-level visual score (block match, text, position, colour) and the CLIP score of its authors.

Re-implemented from NoviScl/Design2Code @ 7a575e4c (MIT), ``Design2Code/metrics/visual_score.py`` and
``ocr_free_utils.py``, and checked against that code's own numbers (``official_design2code.py`` runs it;
``tests/test_eval_design2code.py`` keeps what it printed). What the official pipeline does, and so this:

- The answer's HTML is the model's text cleaned as ``prompting/gpt4v_utils.cleanup_response`` does (one
  surrounding fence and an ``html`` tag dropped, anything before ``<!DOCTYPE`` and after ``</html>`` cut).
  The answer (not the reference) is then pre-processed: repetitive text is cut where it starts
  (``data_utils/dedup_post_gen.check_repetitive_content``), text without an ``<html>`` tag is wrapped in
  ``<html><body><p>``, and it goes through BeautifulSoup, which drops every element after the 50th copy
  of an identical one.
- Pages are rendered full page in a 1280 x 720 window (Playwright's default, which gives the published
  screenshots' width), here in the sandbox's chromium with the network off; ``rick.jpg``, the benchmark's
  placeholder picture, is inlined when the data folder has it. A page that fails to render is a white
  1280 x 960 picture, as in the official ``screenshot_single.py``.
- Text blocks without OCR: every element gets a transparent background, and each text-holding tag (``p``,
  ``h1``-``h6``, ``div``, ``span``, ``a``, ``b``, ``li``, ``table``, ``td``, ``th``, ``button``, ``footer``,
  ``header``, ``figcaption``) a colour of its own from a 4096-colour pool; the page is rendered twice, the
  second time with every colour shifted by 50. Pixels whose colour moved by 50 (within 8 per channel) are
  text. Each text node of the body (in document order, lower-cased) takes its nearest coloured ancestor's
  colour; its block is the bounding box of all changed pixels within 4 of that colour (normalised by the
  picture's size), and its colour the mean colour of those pixels in the real render, truncated to integers.
  Text nodes sharing a colour share a box and are merged into one block (their texts joined by spaces).
- Matching: the cost of a pair is minus difflib's ``SequenceMatcher`` ratio of the texts; neighbouring
  blocks on either side are merged while a merge improves the matched costs (``find_possible_merge``);
  the final assignment (``scipy.optimize.linear_sum_assignment``) uses a context bonus (0.1 x the best two
  neighbouring costs, window 1); pairs below 0.5 text similarity are dropped.
- Scores: ``block`` = matched area / all area (matched and unmatched blocks of both pages); ``text``,
  ``position`` (1 - the larger of the centre shifts in x and y, each page normalised by its own size) and
  ``color`` (``max(0, 1 - CIEDE2000 / 100)``) are means over matched pairs; ``clip`` is the cosine of the
  CLIP image embeddings of both renders with their text boxes inpainted (OpenCV Telea, radius 3) and the
  picture squeezed to a square of its shorter side (Lanczos); ``final`` = 0.2 x the sum of the five.
  A page with blocks but no pair above 0.5 scores 0 on the four low-level parts, and ``final`` = 0.2 x clip.

Checked against the official code on the same renders: the 12 fixture cases of the tests (every score
within 1e-6, CLIP included, with the same tiny CLIP), and 16 real cases (pages 525, 1009, 1199 and 360 of
the test set, each answered by itself and by its text, colour and removal perturbations) with
``python -m viscodex.training.eval.official_design2code --mirror ... --pages /work/vdata/design2code
--ids 525,1009,1199,360``: largest difference 0.0 over all 96 numbers.

Rows (``OUT/items.jsonl``) carry ``block``, ``text``, ``position``, ``color``, ``clip`` and ``final`` on the
0-100 scale of the paper's tables (the functions here work on the official 0-1 scale), plus the number of
blocks found on each side. CLIP is open_clip's: ``ViT-B-32:openai`` (the official model's weights, fetched
once into open_clip's cache), an ``hf-hub:`` name, or a local folder (``save_tiny_clip`` makes a random one
for tests); the official code loads the same weights through OpenAI's ``clip`` package, whose preprocessing
(bicubic resize of the shorter side to 224, centre crop, the OpenAI mean and deviation) open_clip repeats.

Quirks of the official code that change scores, reproduced by default (``Quirks``), each with a switch; the
harness knows them by the names in brackets (``viscodex.training.eval.quirks``):

- ``blank-pages-zero`` (``Quirks.blank_pages_score_zero``): when either page has no text block (a page of
  pictures only, or an answer that did not render) the four low-level scores are 0, even when both pages
  have none, so a perfect answer to a text-free page scores 0.2 x CLIP. Off: two pages without text score
  1 on the four parts.
- ``autojunk`` (``Quirks.autojunk``): ``SequenceMatcher`` runs with its default ``autojunk=True``, so in a
  block of 200 or more characters the characters making up more than 1% of it are ignored when matching,
  and long texts score lower than the character-level Sørensen-Dice similarity the authors describe.
  Off: ``autojunk=False``, in the matching costs and the text score alike.
- ``clip-merged-masks`` (``Quirks.clip_masks_merged_answer_blocks``): ``find_possible_merge`` merges the
  answer's blocks in the list the CLIP step reads afterwards, so the answer's picture is inpainted over the
  union boxes of merged blocks, the reference's over its blocks as found. Off: both are inpainted over the
  blocks as found.
- ``answer-preprocess`` (``Quirks.preprocess_answer``): the repetition cut, the ``<html>`` wrap and
  BeautifulSoup's pass described above apply to the answer only. Off: the answer is rendered as given.
- ``fence-at-start-only`` (``Quirks.fence_at_start_only``): ``cleanup_response`` removes a code fence only
  at the very start and end of the answer, so "Here is the page: ```html <html>..." keeps the prose and the
  fence line as text of the page (cut only when the page starts with ``<!DOCTYPE``). Off: the longest
  ```` ```html ```` block (else the longest fenced block) anywhere in the answer is the page.

Also as the official code, and kept (they are its definitions rather than slips): text nodes of elements
that do not render (``<script>`` and ``<style>`` in the body) share their parent's colour and so join the
visible text's block; nested inline tags that are not text tags (``i``, ``em``, ``strong``, ``label``, ...)
share one block with their parent; positions are normalised by each page's own height, so a longer answer
page shifts every y; merged colours are averaged with ``/ 2`` by box and ``// 2`` in the matching.

Where this differs from the official code, on purpose: it never writes beside the data (the official code
renames the answer to ``*_old.txt`` and overwrites the reference screenshot); a style ``color:`` with an
empty value, or ``rgb()`` with fewer than three numbers, which crash the official extraction, count as no
colour; a page with more than 4096 text-holding tags, where the official colour pool raises, has no blocks.
The pixel comparison is vectorised and the text similarities memoised, which gives the same numbers faster.
"""

from __future__ import annotations

import base64
import difflib
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError

FIELDS = ("block", "text", "position", "color", "clip", "final")
"""Row fields, named after the paper's columns (Block-Match, Text, Position, Color, CLIP) and the final
score, on the 0-100 scale of the Design2Code paper's tables."""
WINDOW = (1280, 720)
"""Playwright's default window: the official screenshots are full-page renders in it."""
BLANK = (1280, 960)
"""The white picture the official screenshot step writes when a page fails to render."""
TEXT_TAGS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "div", "span", "a", "b", "li", "table", "td", "th", "button",
    "footer", "header", "figcaption",
)  # fmt: skip
PLACEHOLDER = "rick.jpg"
PROMPT = (
    "You are an expert web developer who specializes in HTML and CSS.\n"
    "A user will provide you with a screenshot of a webpage.\n"
    "You need to return a single html file that uses HTML and CSS to reproduce the given website.\n"
    "Include all CSS code in the HTML file itself.\n"
    'If it involves any images, use "rick.jpg" as the placeholder.\n'
    'Some images on the webpage are replaced with a blue rectangle as the placeholder, use "rick.jpg" for '
    "those as well.\n"
    "Do not hallucinate any dependencies to external files. You do not need to include JavaScript scripts "
    "for dynamic interactions.\n"
    "Pay attention to things like size, text, position, and color of all the elements, as well as the "
    "overall layout.\n"
    "Respond with the content of the HTML+CSS file:\n"
)
"""The official direct-prompting instruction (``prompting/gpt4v.py``)."""
DEFAULT_CLIP = "ViT-B-32:openai"
"""The official model (OpenAI's CLIP ViT-B/32), through open_clip."""


@dataclass(frozen=True)
class Quirks:
    """The official code's score-changing quirks (see the module docstring); all on reproduces it."""

    blank_pages_score_zero: bool = True
    autojunk: bool = True
    clip_masks_merged_answer_blocks: bool = True
    preprocess_answer: bool = True
    fence_at_start_only: bool = True


OFFICIAL = Quirks()
FIXED = Quirks(False, False, False, False, False)


# --- data --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageItem:
    id: str
    html: Path
    picture: Path
    assets: Mapping[str, Path] = field(default_factory=dict)
    """Files the pages may reference (``rick.jpg``), inlined when rendering."""


def load(data: Path | str, cache: Path, *, split: str = "train") -> list[PageItem]:
    """The items of the published layout: a folder of ``<id>.html`` with ``<id>.png`` beside it
    (``testset_final/`` itself or a folder holding it; ``rick.jpg`` there is kept as the placeholder), a
    dataset saved with ``datasets``' ``save_to_disk``, or a hub dataset name (``SALT-NLP/Design2Code-hf``:
    an ``image`` and a ``text`` column) whose rows are written to ``cache`` once."""
    path = Path(data)
    for folder in (path, path / "testset_final"):
        if folder.is_dir() and any(folder.glob("*.html")):
            return _load_folder(folder)
    if path.is_dir() and ((path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file()):
        return _load_rows(_dataset(str(path), split, local=True), cache)
    if path.exists():
        raise DataError(f"{path} holds no Design2Code pages (<id>.html with <id>.png; e.g. testset_final/)")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", str(data)):
        raise DataError(f"{data} is neither a folder nor a hub dataset name (owner/name)")
    return _load_rows(_dataset(str(data), split, local=False), cache)


def _natural(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 62, path.stem)


def _load_folder(folder: Path) -> list[PageItem]:
    assets = {PLACEHOLDER: folder / PLACEHOLDER} if (folder / PLACEHOLDER).is_file() else {}
    items = [
        PageItem(html.stem, html, html.with_suffix(".png"), assets)
        for html in sorted(folder.glob("*.html"), key=_natural)
        if html.with_suffix(".png").is_file()
    ]
    if not items:
        raise DataError(f"{folder} has HTML files but no <id>.png beside them")
    return items


def _dataset(name: str, split: str, *, local: bool) -> Any:
    try:
        import datasets  # type: ignore[import-untyped]
    except ImportError as exc:
        raise DataError("reading a dataset needs the datasets package (pip install 'viscodex[train]')") from exc
    try:
        loaded = datasets.load_from_disk(name) if local else datasets.load_dataset(name, split=split)
    except Exception as exc:
        raise DataError(f"cannot load dataset {name}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise DataError(f"dataset {name} has no split {split!r} (it has {', '.join(loaded)})")
        loaded = loaded[split]
    return loaded


def _load_rows(rows: Any, cache: Path) -> list[PageItem]:
    columns = set(rows.column_names)
    if not {"image", "text"} <= columns:
        raise DataError(f"a Design2Code dataset needs 'image' and 'text' columns; this one has {sorted(columns)}")
    cache.mkdir(parents=True, exist_ok=True)
    items = []
    for index, row in enumerate(rows):
        item_id = str(row.get("id", index))
        html, png = cache / f"{item_id}.html", cache / f"{item_id}.png"
        if not (html.is_file() and png.is_file()):
            html.write_text(row["text"], encoding="utf-8")
            image = row["image"]
            if isinstance(image, dict):  # undecoded: {"bytes": ..., "path": ...}
                png.write_bytes(image["bytes"])
            else:
                image.convert("RGB").save(png, format="PNG")
        items.append(PageItem(item_id, html, png))
    return items


def prompt_for(_item: PageItem) -> str:
    return PROMPT


def extract_html(answer: str) -> str:
    """The answer as the official ``cleanup_response`` leaves it."""
    text = answer
    if text[:3] == "```":
        text = text[3:].strip()
    if text[-3:] == "```":
        text = text[:-3].strip()
    if text[:4] == "html":
        text = text[4:].strip()
    if "<!DOCTYPE" in text:
        text = "<!DOCTYPE" + text.split("<!DOCTYPE", 1)[1]
    if "</html>" in text:
        text = text.split("</html>")[0] + "</html>"
    return text


_FENCED = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def extract_fenced_html(answer: str) -> str:
    """Without the ``fence-at-start-only`` quirk: the longest ```html block (else the longest fenced block)
    wherever it is in the answer, then ``extract_html``; an answer without a fence goes to ``extract_html``."""
    blocks = [(tag.lower(), body) for tag, body in _FENCED.findall(answer) if body.strip()]
    tagged = [body for tag, body in blocks if tag == "html"] or [body for _, body in blocks]
    return extract_html(max(tagged, key=len).strip()) if tagged else extract_html(answer)


# --- the HTML side (pure) ----------------------------------------------------------------------------


def repetition_start(content: str, chunk_size: int = 100, repeats: int = 5, similarity: float = 0.8) -> int | None:
    """``check_repetitive_content``: where in ``content`` text starts repeating (``None``: it does not).

    The tags are removed, the text cut into 100-character chunks; a chunk similar (ratio >= 0.8) to one
    seen before counts as its repetition, and the fifth one marks the first as the start."""
    clean = re.sub("<.*?>", "", content)
    positions = _position_map(clean, content)
    chunks = [clean[i : i + chunk_size] for i in range(0, len(clean), chunk_size)]
    seen: dict[str, list[int]] = {}
    start = len(clean)
    for index, chunk in enumerate(chunks):
        for seen_chunk, indexes in seen.items():
            if difflib.SequenceMatcher(None, chunk, seen_chunk).ratio() >= similarity:
                indexes.append(index)
                if len(indexes) >= repeats:
                    clean_start = min(start, indexes[0] * chunk_size)
                    at = positions[clean_start] if clean_start < len(positions) else len(content)
                    start = min(start, at)
                break
        else:
            seen[chunk] = [index]
    # The official code compares with the length of the text without tags (a position in the original).
    return None if start == len(clean) else start


def _position_map(clean: str, original: str) -> list[int]:
    out, at = [], 0
    for char in clean:
        while original[at] != char:
            at += 1
        out.append(at)
        at += 1
    return out


def preprocess_answer(html: str) -> str:
    """The official ``pre_process`` of an answer: repetition cut, ``<html>`` wrap, BeautifulSoup's pass
    (which drops every element after the 50th identical copy)."""
    from bs4 import BeautifulSoup

    start = repetition_start(html)
    if start is not None:
        html = html[:start]
    if not re.search(r"<html[^>]*>", html, re.IGNORECASE):
        html = f"<html><body><p>{html}</p></body></html>"
    soup = BeautifulSoup(html, "html.parser")
    counts: dict[str, int] = {}
    for element in soup.find_all(True):
        try:
            text = str(element)
        except Exception:  # noqa: BLE001 - as the official code: an element that cannot print goes
            element.decompose()
            continue
        counts[text] = counts.get(text, 0) + 1
        if counts[text] > 50:
            element.decompose()
    return str(soup)


def _color_pool(offset: int) -> list[str]:
    values = range(10, 251, 16)
    return [
        f"{(r + offset) % 256:02X}{(g + offset) % 256:02X}{(b + offset) % 256:02X}"
        for r in values
        for g in values
        for b in values
    ]


def _update_style(element: Any, name: str, value: str) -> None:
    styles = element.attrs.get("style", "").split(";")
    kept = [s for s in styles if not s.strip().startswith(name) and len(s.strip()) > 0]
    kept.append(f"{name}: {value} !important")
    element["style"] = "; ".join(kept).strip()


def recolor(html: str, offset: int = 0) -> str | None:
    """``process_html``: transparent backgrounds, one colour per text-holding tag (shifted by ``offset``);
    ``None`` when the page has more text tags than the pool has colours (the official code raises)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for element in soup.find_all(True):
        _update_style(element, "background-color", "rgba(255, 255, 255, 0.0)")
    pool = _color_pool(offset)
    for tag in soup.find_all(list(TEXT_TAGS)):
        if not pool:
            return None
        _update_style(tag, "color", f"#{pool.pop()}")
        _update_style(tag, "opacity", "1.0")
    return str(soup)


def _style_color(tag: Any) -> str | None:
    from PIL import ImageColor

    if "style" not in tag.attrs:
        return None
    styles = [s for s in tag["style"].split(";") if "color" in s and "background-color" not in s]
    if not styles:
        return None
    parts = styles[-1].split(":")
    color = parts[1].strip().replace(" !important", "") if len(parts) > 1 else ""
    if not color:
        return None  # the official code raises IndexError here and loses the whole item
    if color[0] == "#":
        return color
    try:
        rgb = tuple(map(int, color[4:-1].split(","))) if color.startswith("rgb") else ImageColor.getrgb(color)
        return "#{:02x}{:02x}{:02x}".format(*rgb)
    except (ValueError, IndexError):  # official: ValueError gives None, IndexError (``rgb(5)``) crashes
        return None


def text_colors(recolored: str) -> list[tuple[str, str]]:
    """``extract_text_with_color`` + ``flatten_tree``: each text node of the body with the colour of its
    nearest ancestor that has one (black at the top), in document order."""
    from bs4 import BeautifulSoup
    from bs4.element import Comment, NavigableString, Tag

    out: list[tuple[str, str]] = []

    def walk(element: Any, parent: str) -> None:
        if isinstance(element, Comment):
            return
        if isinstance(element, NavigableString):
            text = element.strip()
            if text:
                out.append((text, parent))
        elif isinstance(element, Tag):
            color = _style_color(element) or parent
            for child in element.children:
                walk(child, color)

    body = BeautifulSoup(recolored, "html.parser").body
    if body is not None:
        walk(body, "#000000")
    return out


# --- blocks from the renders (pure numpy) ------------------------------------------------------------


@dataclass
class Block:
    text: str
    bbox: tuple[float, float, float, float]
    """``(x, y, width, height)`` as fractions of the picture's width and height."""
    color: tuple[float, float, float]


def decode_png(data: bytes) -> np.ndarray:
    """An RGB array (height, width, 3) of a PNG."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.array(image.convert("RGB"))


def changed_pixels(first: np.ndarray, second: np.ndarray) -> np.ndarray | None:
    """``find_different_pixels``: where ``second`` is ``first`` shifted by 50 (mod 256, within 8) in every
    channel; ``None`` when the pictures differ in size or no pixel changed."""
    if first.shape != second.shape:
        return None
    shifted = (first.astype(np.int16) + 50) % 256
    mask = np.all(np.abs(shifted - second.astype(np.int16)) <= 8, axis=2)
    return mask if mask.any() else None


def _hex_rgb(color: str) -> tuple[int, int, int] | None:
    digits = color.lstrip("#")
    try:
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    except ValueError:
        return None


def find_blocks(
    texts: Sequence[tuple[str, str]], shot: np.ndarray, recolored: np.ndarray, changed: np.ndarray
) -> list[Block] | None:
    """``get_blocks_from_image_diff_pixels``: one block per text node with pixels of its colour (within 4
    per channel, uint8 arithmetic as the official ``cv2.inRange`` bounds) among the changed ones.

    ``None`` where the official code gives up on the whole page (a pixel outside the real render)."""
    height, width = recolored.shape[:2]
    # Only changed pixels can be in a block: test the colours there, not over the whole picture. The
    # changed pixels' coordinates are row-major, the order of the official np.intersect1d's sorted rows.
    candidates = np.argwhere(changed)
    values = recolored[candidates[:, 0], candidates[:, 1]]
    masks: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray] | None] = {}
    blocks = []
    for text, color in texts:
        rgb = _hex_rgb(color)
        if rgb is None:
            continue
        if rgb not in masks:
            target = np.array(rgb, dtype=np.uint8)
            low, high = target - np.uint8(4), target + np.uint8(4)  # wraps, as the official uint8 arrays do
            coords = candidates[np.all((values >= low) & (values <= high), axis=1)]
            masks[rgb] = None if coords.size == 0 else (coords.min(axis=0), coords)
        found = masks[rgb]
        if found is None:
            continue
        (y_min, x_min), coords = found
        y_max, x_max = coords.max(axis=0)
        if coords[:, 0].max() >= shot.shape[0] or coords[:, 1].max() >= shot.shape[1]:
            return None
        mean = shot[coords[:, 0], coords[:, 1]].mean(axis=0).astype(int)
        bbox = (x_min / width, y_min / height, (x_max - x_min + 1) / width, (y_max - y_min + 1) / height)
        blocks.append(Block(text.lower(), tuple(float(v) for v in bbox), tuple(int(v) for v in mean)))  # type: ignore[arg-type]
    return blocks


def merge_by_bbox(blocks: Sequence[Block]) -> list[Block]:
    """``merge_blocks_by_bbox``: blocks with the same box become one (texts joined, colours averaged)."""
    merged: dict[tuple[float, ...], Block] = {}
    for block in blocks:
        if block.bbox in merged:
            first = merged[block.bbox]
            first.text += " " + block.text
            first.color = tuple((a + b) / 2 for a, b in zip(first.color, block.color, strict=True))  # type: ignore[assignment]
        else:
            merged[block.bbox] = Block(block.text, block.bbox, block.color)
    return list(merged.values())


# --- matching (pure) ---------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 18)
def text_similarity(first: str, second: str, autojunk: bool = True) -> float:
    return difflib.SequenceMatcher(None, first, second, autojunk=autojunk).ratio()


def _costs(a: Sequence[Block], b: Sequence[Block], autojunk: bool) -> np.ndarray:
    cost = np.zeros((len(a), len(b)))
    for i, first in enumerate(a):
        for j, second in enumerate(b):
            cost[i, j] = -text_similarity(first.text, second.text, autojunk)
    return cost


def context_costs(cost: np.ndarray, bonus: float, window: int) -> np.ndarray:
    """``adjust_cost_for_context``: a good pair (cost below -0.5) gains ``bonus`` x the sum of the best
    ``2 x window`` costs around it."""
    if window <= 0 or bonus == 0:  # the official loop adds 0.0 then: the same matrix
        return cost
    n, m = cost.shape
    adjusted = np.copy(cost)
    for i in range(n):
        for j in range(m):
            if adjusted[i][j] >= -0.5:
                continue
            near = cost[max(0, i - window) : min(n, i + window + 1), max(0, j - window) : min(m, j + window + 1)]
            ordered = np.sort(near.flatten())[::-1]
            ordered = np.delete(ordered, np.where(ordered == cost[i, j])[0][0])
            adjusted[i][j] += bonus * np.sum(ordered[-window * 2 :])
    return adjusted


def _matching(
    a: Sequence[Block], b: Sequence[Block], bonus: float, window: int, autojunk: bool
) -> tuple[list[tuple[int, int]], list[float]]:
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

    cost = context_costs(_costs(a, b, autojunk), bonus, window)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True)], cost[rows, cols].tolist()


def _merge_two(first: Block, second: Block) -> Block:
    x0 = min(first.bbox[0], second.bbox[0])
    y0 = min(first.bbox[1], second.bbox[1])
    x1 = max(first.bbox[0] + first.bbox[2], second.bbox[0] + second.bbox[2])
    y1 = max(first.bbox[1] + first.bbox[3], second.bbox[1] + second.bbox[3])
    color = tuple((p + q) // 2 for p, q in zip(first.color, second.color, strict=True))
    return Block(first.text + " " + second.text, (x0, y0, x1 - x0, y1 - y0), color)  # type: ignore[arg-type]


def _merge_listed(blocks: list[Block], merges: list[list[Any]]) -> list[Block]:
    """``merge_blocks_by_list``, in place: merges in order, skipping any touching an already merged pair."""
    popped = []
    while merges:
        i, j = merges[0][0], merges[0][1]
        blocks[i] = _merge_two(blocks[i], blocks[j])
        popped.append(j)
        merges = [m for m in merges[1:] if m[0] != i and m[1] != i and m[0] != j and m[1] != j]
    for index in sorted(popped, reverse=True):
        if index < len(blocks):
            blocks.pop(index)
    return blocks


def difference_of_means(first: Sequence[float], second: Sequence[float]) -> float:
    """The official gain of a merge: the mean of the costs not shared by both matchings, before minus after."""
    left, right = Counter(first), Counter(second)
    for element in set(first) & set(second):
        common = min(left[element], right[element])
        left[element] -= common
        right[element] -= common
    only_left, only_right = list(left.elements()), list(right.elements())
    mean_left = sum(only_left) / len(only_left) if only_left else 0
    mean_right = sum(only_right) / len(only_right) if only_right else 0
    if mean_left - mean_right > 0:
        return mean_left - mean_right if min(only_left) > min(only_right) else 0.0
    return mean_left - mean_right


def _merge_side(fixed: list[Block], side: list[Block], current: list[float], answer_side: bool, aj: bool) -> bool:
    """One pass of ``find_possible_merge`` over one side; True if it merged (``side`` changed in place)."""
    if len(side) < 2:
        return False
    merges = []
    for i in range(len(side) - 1):
        trial = list(side)  # the official deepcopy: blocks are never changed in place, a new list suffices
        trial[i] = _merge_two(trial[i], trial[i + 1])
        trial.pop(i + 1)
        _, cost = _matching(trial, fixed, 0.0, 1, aj) if answer_side else _matching(fixed, trial, 0.0, 1, aj)
        gain = difference_of_means(current, cost)
        if gain > 0.05:
            merges.append([i, i + 1, gain])
    merges.sort(key=lambda m: m[2], reverse=True)
    if not merges:
        return False
    _merge_listed(side, merges)
    return True


def find_possible_merge(answer: list[Block], reference: list[Block], autojunk: bool = True) -> list[tuple[int, int]]:
    """``find_possible_merge``: merge neighbouring blocks (of ``answer``, then of ``reference``, both in
    place) while a merge lowers the matched costs by more than 0.05, then the final matching."""
    while True:
        _, current = _matching(answer, reference, 0.0, 1, autojunk)
        changed_a = _merge_side(reference, answer, current, True, autojunk)
        if changed_a:
            _, current = _matching(answer, reference, 0.0, 1, autojunk)
        changed_b = _merge_side(answer, reference, current, False, autojunk)
        if not changed_a and not changed_b:
            break
    matching, _ = _matching(answer, reference, 0.1, 1, autojunk)
    return matching


@lru_cache(maxsize=65536)
def _lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    from colormath.color_conversions import convert_color  # type: ignore[import-untyped]
    from colormath.color_objects import LabColor, sRGBColor  # type: ignore[import-untyped]

    lab = convert_color(sRGBColor(rgb[0], rgb[1], rgb[2], is_upscaled=True), LabColor)
    return (float(lab.lab_l), float(lab.lab_a), float(lab.lab_b))


def color_similarity(first: Sequence[float], second: Sequence[float]) -> float:
    """``max(0, 1 - CIEDE2000 / 100)`` with colormath's sRGB -> Lab, as the official code computes it (its
    ``delta_e_cie2000`` wrapper needs ``numpy.asscalar``, gone in numpy 2, so the matrix function under it
    is called the same way)."""
    from colormath import color_diff_matrix  # type: ignore[import-untyped]

    a, b = _lab(tuple(float(v) for v in first)), _lab(tuple(float(v) for v in second))
    delta = color_diff_matrix.delta_e_cie2000(np.array(a), np.array([b]))[0]
    return max(0.0, 1.0 - float(delta) / 100.0)


@dataclass(frozen=True)
class LowLevel:
    block: float
    text: float
    position: float
    color: float
    matched: bool
    """False: no pair survived (or a page had no block); the four scores are the official zeros."""
    answer_masks: tuple[tuple[float, float, float, float], ...]
    """The boxes the CLIP step inpaints on the answer's picture (see the ``clip_masks_...`` quirk)."""


def low_level(answer: Sequence[Block], reference: Sequence[Block], quirks: Quirks = OFFICIAL) -> LowLevel:
    """Block match, text, position and colour of an answer's blocks against the reference's (both as
    ``find_blocks`` returned them; the reference is merged by box here, as the official code does)."""
    reference = merge_by_bbox(reference)
    found = tuple(b.bbox for b in answer)
    if not answer or not reference:
        both_blank = not answer and not reference
        score = 0.0 if quirks.blank_pages_score_zero or not both_blank else 1.0
        return LowLevel(score, score, score, score, not quirks.blank_pages_score_zero and both_blank, found)
    answer_m = merge_by_bbox(answer)
    reference_m = deepcopy(reference)
    matching = find_possible_merge(answer_m, reference_m, quirks.autojunk)
    masks = tuple(b.bbox for b in answer_m) if quirks.clip_masks_merged_answer_blocks else found
    pairs = []
    for i, j in matching:
        similarity = text_similarity(answer_m[i].text, reference_m[j].text, quirks.autojunk)
        if similarity >= 0.5:
            pairs.append((i, j, similarity))
    if not pairs:
        return LowLevel(0.0, 0.0, 0.0, 0.0, False, masks)
    left = {i for i, _, _ in pairs}
    right = {j for _, j, _ in pairs}
    unmatched = sum(b.bbox[2] * b.bbox[3] for k, b in enumerate(answer_m) if k not in left)
    unmatched_ref = sum(b.bbox[2] * b.bbox[3] for k, b in enumerate(reference_m) if k not in right)
    areas, matched, texts, positions, colors = [unmatched + unmatched_ref], [], [], [], []
    for i, j, similarity in pairs:
        p, q = answer_m[i].bbox, reference_m[j].bbox
        area = p[2] * p[3] + q[2] * q[3]
        shift = max(abs(q[0] + q[2] / 2 - (p[0] + p[2] / 2)), abs(q[1] + q[3] / 2 - (p[1] + p[3] / 2)))
        areas.append(area)
        matched.append(area)
        texts.append(similarity)
        positions.append(1 - shift)
        colors.append(color_similarity(answer_m[i].color, reference_m[j].color))
    return LowLevel(
        float(np.sum(matched) / np.sum(areas)),
        float(np.mean(texts)),
        float(np.mean(positions)),
        float(np.mean(colors)),
        True,
        masks,
    )


# --- CLIP --------------------------------------------------------------------------------------------


def inpainted_square(shot: np.ndarray, boxes: Sequence[Sequence[float]]) -> Any:
    """``rescale_and_mask``: the text boxes inpainted (OpenCV Telea, radius 3), then the picture squeezed to
    a square of its shorter side (Lanczos), as a PIL image."""
    import cv2
    from PIL import Image

    image = shot
    if boxes:
        bgr = cv2.cvtColor(shot, cv2.COLOR_RGB2BGR)
        mask = np.zeros(bgr.shape[:2], dtype=np.uint8)
        height, width = bgr.shape[:2]
        for x, y, w, h in boxes:
            left, top = int(x * width), int(y * height)
            mask[top : top + int(h * height), left : left + int(w * width)] = 255
        image = cv2.cvtColor(cv2.inpaint(bgr, mask, 3, cv2.INPAINT_TELEA), cv2.COLOR_BGR2RGB)
    picture = Image.fromarray(image)
    side = min(picture.size)
    return picture.resize((side, side), Image.Resampling.LANCZOS)


class Clip:
    """An open_clip image encoder and its preprocessing.

    ``spec``: a folder holding ``open_clip_config.json`` and weights (``save_tiny_clip`` writes one),
    ``hf-hub:owner/name``, or ``ARCH:PRETRAINED`` of open_clip's registry (``ViT-B-32:openai``, the
    official model, downloaded once into open_clip's cache)."""

    def __init__(self, spec: str = DEFAULT_CLIP, device: str = "cpu") -> None:
        import open_clip  # type: ignore[import-untyped]
        import torch

        self.spec, self.device, self._torch = spec, device, torch
        try:
            if Path(spec).is_dir():
                model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{spec}", device=device)
            elif spec.startswith("hf-hub:"):
                model, _, preprocess = open_clip.create_model_and_transforms(spec, device=device)
            else:
                arch, _, pretrained = spec.partition(":")
                model, _, preprocess = open_clip.create_model_and_transforms(
                    arch, pretrained=pretrained or None, device=device
                )
        except Exception as exc:
            raise DataError(f"cannot load CLIP {spec!r}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
        self.model = model.eval()
        self.preprocess = preprocess

    def embed(self, picture: Any) -> Any:
        torch = self._torch
        with torch.no_grad():
            features = self.model.encode_image(self.preprocess(picture).unsqueeze(0).to(self.device))
        return features / features.norm(dim=-1, keepdim=True)

    def similarity(self, first: Any, second: Any) -> float:
        """``calculate_clip_similarity_with_blocks`` on two prepared pictures: the embeddings' cosine."""
        return float((self.embed(first) @ self.embed(second).T).item())


def save_tiny_clip(out: Path, seed: int = 0) -> Path:
    """A tiny random CLIP (one 32-wide layer per tower, 224 x 224 input as ViT-B/32) saved as an
    open_clip local folder, for tests and dry runs without the real weights."""
    import json

    import open_clip
    import torch
    from safetensors.torch import save_file

    config = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 224, "layers": 1, "width": 32, "head_width": 16, "patch_size": 32},
        "text_cfg": {"context_length": 16, "vocab_size": 64, "width": 32, "heads": 2, "layers": 1},
    }
    torch.manual_seed(seed)
    open_clip.factory._MODEL_CONFIGS["viscodex-tiny-clip"] = config
    model = open_clip.create_model("viscodex-tiny-clip", pretrained=None)
    out.mkdir(parents=True, exist_ok=True)
    preprocess = {"size": 224, "mean": list(open_clip.OPENAI_DATASET_MEAN), "std": list(open_clip.OPENAI_DATASET_STD)}
    preprocess |= {"interpolation": "bicubic", "resize_mode": "shortest"}
    (out / "open_clip_config.json").write_text(json.dumps({"model_cfg": config, "preprocess_cfg": preprocess}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "open_clip_model.safetensors"))
    return out


# --- rendering (the sandbox) and one item ------------------------------------------------------------


def _blank_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", BLANK, color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def with_assets(html: str, assets: Mapping[str, bytes]) -> str:
    """``src="rick.jpg"`` (and the like) as data URLs: the renderer has no file system or network."""
    for name, data in assets.items():
        kind = "png" if name.endswith(".png") else "jpeg"
        url = f"data:image/{kind};base64,{base64.b64encode(data).decode()}"
        html = re.sub(rf"""(["'(]\s*)(?:\./)?{re.escape(name)}(\s*["')])""", rf"\g<1>{url}\g<2>", html)
    return html


def render(sandbox: Any, html: str, assets: Mapping[str, bytes] | None = None, *, timeout_s: float = 60.0) -> bytes:
    """A full-page PNG of ``html`` in the official window, or the official white picture if it fails."""
    from viscodex.sandbox import RenderError, Viewport

    try:
        png: bytes = sandbox.render_html(
            with_assets(html, assets or {}), Viewport(width=WINDOW[0], height=WINDOW[1]), timeout_s=timeout_s
        )
        return png
    except RenderError:
        return _blank_png()


Renderer = Callable[[str], bytes]


@dataclass
class Page:
    """A page as the metric sees it: its render and its text blocks."""

    shot: np.ndarray
    blocks: list[Block]


def page_blocks(html: str, render_png: Renderer) -> Page:
    """``get_blocks_ocr_free`` around the page's own render: recolour twice, render, diff, find blocks."""
    from concurrent.futures import ThreadPoolExecutor

    first, second = recolor(html, 0), recolor(html, 50)
    if first is None or second is None:
        return Page(decode_png(render_png(html)), [])
    with ThreadPoolExecutor(3) as pool:  # three independent renders: as many sandbox containers at once
        shot, recolored, moved = (decode_png(png) for png in pool.map(render_png, (html, first, second)))
    changed = changed_pixels(recolored, moved)
    if changed is None:
        return Page(shot, [])
    blocks = find_blocks(text_colors(first), shot, recolored, changed)
    return Page(shot, blocks or [])


def scores(answer: Page, reference: Page, clip: Clip, quirks: Quirks = OFFICIAL) -> dict[str, float]:
    """The item's six numbers on the official 0-1 scale (``final`` = 0.2 x the sum of the five)."""
    parts = low_level(answer.blocks, reference.blocks, quirks)
    reference_masks = [b.bbox for b in merge_by_bbox(reference.blocks)]
    clip_score = clip.similarity(
        inpainted_square(answer.shot, parts.answer_masks), inpainted_square(reference.shot, reference_masks)
    )
    out = {"block": parts.block, "text": parts.text, "position": parts.position, "color": parts.color}
    out["clip"] = clip_score
    out["final"] = 0.2 * (sum(out.values()) if parts.matched else clip_score)
    return out


@lru_cache(maxsize=4)
def clip_model(spec: str = DEFAULT_CLIP) -> Clip:
    """One ``Clip`` per spec and process (a pool worker or a Ray actor loads it once)."""
    return Clip(spec)


def score_html(
    sandbox: Any,
    item_id: str,
    reference_html: str,
    answer: str,
    *,
    clip: str | Clip = DEFAULT_CLIP,
    quirks: Iterable[str] | None = None,
    assets: Mapping[str, bytes] | None = None,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """One item's row from plain data (so it can run on a Ray node): the answer's page against the
    reference page, the six scores on the paper's 0-100 scale; ``quirks``: the names kept on (``QUIRKS``;
    None: all, as published)."""
    on = quirks_from(quirks)
    model = clip if isinstance(clip, Clip) else clip_model(clip)

    def render_png(html: str) -> bytes:
        return render(sandbox, html, assets, timeout_s=timeout_s)

    html = extract_html(answer) if on.fence_at_start_only else extract_fenced_html(answer)
    reference = page_blocks(reference_html, render_png)
    mine = page_blocks(preprocess_answer(html) if on.preprocess_answer else html, render_png)
    numbers = scores(mine, reference, model, on)
    row: dict[str, Any] = {"id": item_id}
    row.update({name: 100 * numbers[name] for name in FIELDS})
    row["blocks"] = len(mine.blocks)
    row["reference_blocks"] = len(reference.blocks)
    if not html.strip():
        row["error"] = "the answer holds no HTML"
    return row


def score_answer(
    sandbox: Any, item: PageItem, answer: str, clip: str | Clip = DEFAULT_CLIP, **kwargs: Any
) -> dict[str, Any]:
    """``score_html`` of an item read from its files."""
    assets = {name: path.read_bytes() for name, path in item.assets.items()}
    reference = item.html.read_text(encoding="utf-8", errors="replace")
    return score_html(sandbox, item.id, reference, answer, clip=clip, assets=assets, **kwargs)


# --- the quirks' names, in the harness's registry (``quirks.py``) ---------------------------------------

QUIRK_FLAGS = {
    "blank-pages-zero": "blank_pages_score_zero",
    "autojunk": "autojunk",
    "clip-merged-masks": "clip_masks_merged_answer_blocks",
    "answer-preprocess": "preprocess_answer",
    "fence-at-start-only": "fence_at_start_only",
}


def quirks_from(on: Iterable[str] | None) -> Quirks:
    """The ``Quirks`` with exactly the named ones on (None: all of them, as the official code)."""
    if on is None:
        return OFFICIAL
    names = set(on)
    return Quirks(**{flag: name in names for name, flag in QUIRK_FLAGS.items()})


def _register() -> None:
    """Add Design2Code's quirks to the harness's one registry, so ``--no-quirk NAME`` and the summary's
    notes know them."""
    from . import quirks

    mine = (
        quirks.Quirk(
            "blank-pages-zero",
            "design2code",
            "a page without text blocks scores 0 on block, text, position and colour, even when neither page "
            "has any, so a perfect answer to a text-free page gets 0.2 x CLIP",
            "two pages without text score 1 on those four",
        ),
        quirks.Quirk(
            "autojunk",
            "design2code",
            "text similarity is difflib.SequenceMatcher with autojunk on: in a block of 200+ characters the "
            "characters making up more than 1% of it are ignored, which lowers long texts' scores",
            "SequenceMatcher(autojunk=False), the character-level Dice similarity the paper describes",
        ),
        quirks.Quirk(
            "clip-merged-masks",
            "design2code",
            "the CLIP step inpaints the answer over the union boxes of the blocks the matching merged (the "
            "merge changes the list it reads), the reference over its blocks as found",
            "both pictures are inpainted over their blocks as found",
        ),
        quirks.Quirk(
            "answer-preprocess",
            "design2code",
            "only the answer is pre-processed: repeated text cut from where it starts, bare text wrapped in "
            "<html><body><p>, and every element after the 50th identical copy dropped",
            "the answer is rendered as given",
        ),
        quirks.Quirk(
            "fence-at-start-only",
            "design2code",
            "the answer is cleaned as prompting/gpt4v_utils.cleanup_response does: a code fence is removed only "
            "at the very start and end, so prose before a ```html block stays on the page (unless the page has "
            "<!DOCTYPE) and is scored as extra text",
            "the longest ```html block (else the longest fenced block) anywhere in the answer is the page",
        ),
    )
    if not any(q.bench == "design2code" for q in quirks.QUIRKS):
        quirks.QUIRKS = (*quirks.QUIRKS, *mine)
        quirks.BY_NAME.update({q.name: q for q in mine})


_register()
