"""Text blocks of a picture by OCR, for the target, of which we have only pixels.

Uses Debian's ``tesseract`` command (``apt-get install tesseract-ocr tesseract-ocr-eng``): it ships its
models, needs no network and no Python wheel, and reads clean rendered text well. One picture is read
in a few passes, because no single page-segmentation mode finds everything on screenshots and charts:

- greyscale, automatic segmentation (``--psm 3``): paragraphs, headings, light text on dark buttons,
  rotated axis labels;
- greyscale, sparse text (``--psm 11``): scattered labels, tick labels;
- "achromatic" (coloured pixels and long straight lines turned into background), sparse text: legends
  and labels next to coloured chart marks or axes, which otherwise confuse the layout analysis;
- achromatic, uniform block (``--psm 6``): what sparse mode skips (it tends to drop the last label of
  a row of tick labels);
- "contrast" (each pixel's distance from its neighbourhood's background, dark on white whatever the
  text's polarity), sparse text: light text on coloured buttons and badges, which tesseract's own
  binarisation turns into one dark box (white "Buy now" on a red button was missed by every other pass).

The picture is upscaled first (tesseract wants ~30 px letters; UI text is 12-16 px). Words from the
passes are merged (overlapping words: the more confident wins), filtered by confidence, measured on the
pixels and grouped into lines like every other source (``words.py``). Results are cached per picture
hash: the target is read once per run however often it is scored.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from .blocks import TextBlock, iou
from .raster import RgbArray, image_key, load_rgb
from .words import blocks_from_words

BACKGROUND_CELL = 24
"""Side (pixels) of the cells whose median is taken as the local background in the contrast pass:
large enough that text strokes are a minority of a cell, small enough to fit inside a button."""
LINE_RUN = 24
"""Straight dark runs at least this long (pixels) are lines, not letters, in the achromatic pass."""
INSTALL_HINT = "install it with `apt-get install -y tesseract-ocr tesseract-ocr-eng`"


class OcrError(RuntimeError):
    """Tesseract ran but failed (bad language data, crash, timeout)."""


class OcrUnavailable(OcrError):
    """The tesseract command is not installed (or not on PATH)."""


class OcrPass(BaseModel):
    """One reading of the picture: which preprocessing, which tesseract page-segmentation mode."""

    model_config = ConfigDict(frozen=True)

    image: Literal["grey", "achromatic", "contrast"] = "grey"
    psm: int = Field(3, ge=0, le=13)


class OcrSettings(BaseModel):
    """How a picture is read. Defaults tuned on rendered UIs and matplotlib charts."""

    model_config = ConfigDict(frozen=True)

    passes: tuple[OcrPass, ...] = (
        OcrPass(image="grey", psm=3),
        OcrPass(image="grey", psm=11),
        OcrPass(image="achromatic", psm=11),
        OcrPass(image="achromatic", psm=6),
        OcrPass(image="contrast", psm=11),
    )
    scale: float = Field(2.0, ge=1.0, le=4.0)
    """Upscaling before OCR; boxes are reported in the original picture's pixels."""
    min_confidence: float = Field(60.0, ge=0, le=100)
    """Tesseract's word confidence (0-100) below which a word is dropped as a guess."""
    language: str = "eng"
    timeout_s: float = Field(60.0, gt=0)
    command: str = "tesseract"
    workers: int = Field(2, ge=1, le=8)
    """Passes run concurrently, each tesseract limited to one thread."""


class OcrWord(BaseModel):
    """A word as tesseract reported it, in the original picture's pixels."""

    model_config = ConfigDict(frozen=True)

    text: str
    box: tuple[float, float, float, float]
    confidence: float


def tesseract_path(command: str = "tesseract") -> str:
    """The tesseract executable, or OcrUnavailable with the install command."""
    found = shutil.which(command)
    if found is None:
        raise OcrUnavailable(f"OCR needs the `{command}` command, which is not installed: {INSTALL_HINT}")
    return found


def _long_runs(mask: npt.NDArray[np.bool_], min_len: int) -> npt.NDArray[np.bool_]:
    """The pixels of ``mask`` that lie on a horizontal run of at least ``min_len`` pixels."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded.ravel())
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    out = np.zeros(h * (w + 2), dtype=np.int8)
    long = (ends - starts) >= min_len
    np.add.at(out, starts[long], 1)
    np.add.at(out, ends[long], -1)
    covered = np.cumsum(out).reshape(h, w + 2)[:, :-2].astype(bool)
    return np.asarray(covered & mask, dtype=np.bool_)


def _cell_median(grey: npt.NDArray[np.float64], cell: int) -> npt.NDArray[np.float64]:
    """Each pixel's cell median (cells of ``cell`` x ``cell`` pixels): a cheap local background."""
    h, w = grey.shape
    rows, cols = -(-h // cell), -(-w // cell)
    padded = np.pad(grey, ((0, rows * cell - h), (0, cols * cell - w)), mode="edge")
    medians = np.median(padded.reshape(rows, cell, cols, cell), axis=(1, 3))
    return np.repeat(np.repeat(medians, cell, axis=0), cell, axis=1)[:h, :w]


def _prepare(rgb: RgbArray, kind: str, scale: float) -> Image.Image:
    grey = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if kind == "achromatic":
        # Coloured marks become background, and so do long straight lines (axes, grid lines, rules):
        # what is left is dark text, which the layout analysis then finds on its own.
        spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2).astype(np.int16)
        background = float(np.median(grey))
        grey = np.where(spread >= 40, background, grey)
        dark = np.abs(grey - background) >= 60
        lines = _long_runs(dark, LINE_RUN) | _long_runs(dark.T, LINE_RUN).T
        grey = np.where(lines, background, grey)
    elif kind == "contrast":
        # Distance from the local background, inverted: dark text on white and white text on a red
        # button both come out dark on white. Long straight runs are cell and box edges, not letters.
        distance = np.abs(grey - _cell_median(grey, BACKGROUND_CELL))
        lines = distance >= 60
        lines = _long_runs(lines, LINE_RUN) | _long_runs(lines.T, LINE_RUN).T
        grey = np.where(lines, 255.0, 255.0 - np.minimum(distance * 1.5, 255.0))
    image = Image.fromarray(np.clip(np.round(grey), 0, 255).astype(np.uint8), mode="L")
    if scale != 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return image


def run_pass(rgb: RgbArray, ocr_pass: OcrPass, settings: OcrSettings | None = None) -> list[OcrWord]:
    """One pass of tesseract over ``rgb`` (no merging, no cache): for a reader of a few places."""
    settings = settings or OcrSettings()
    return _run_pass(tesseract_path(settings.command), rgb, ocr_pass, settings)


def _run_pass(exe: str, rgb: RgbArray, ocr_pass: OcrPass, settings: OcrSettings) -> list[OcrWord]:
    with tempfile.TemporaryDirectory(prefix="viscodex-ocr-") as tmp:
        path = Path(tmp) / "page.png"
        _prepare(rgb, ocr_pass.image, settings.scale).save(path)
        argv = [exe, str(path), "stdout", "-l", settings.language, "--psm", str(ocr_pass.psm), "tsv"]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=settings.timeout_s, env=env, check=False)
        except subprocess.TimeoutExpired as exc:
            raise OcrError(f"tesseract took longer than {settings.timeout_s:.0f} s") from exc
        except OSError as exc:
            raise OcrUnavailable(f"could not start tesseract ({exc}): {INSTALL_HINT}") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        if "Failed loading language" in tail or "Error opening data file" in tail:
            raise OcrUnavailable(
                f"tesseract has no `{settings.language}` language data: "
                f"apt-get install -y tesseract-ocr-{settings.language} ({tail})"
            )
        raise OcrError(f"tesseract failed (exit {proc.returncode}): {tail}")
    return parse_tsv(proc.stdout.decode("utf-8", "replace"), settings.scale, settings.min_confidence)


def parse_tsv(tsv: str, scale: float = 1.0, min_confidence: float = 0.0) -> list[OcrWord]:
    """The words (level 5 rows) of tesseract's TSV output, boxes divided by ``scale``."""
    words: list[OcrWord] = []
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in reader:
        try:
            if int(row["level"]) != 5:
                continue
            conf = float(row["conf"])
            left, top = float(row["left"]), float(row["top"])
            width, height = float(row["width"]), float(row["height"])
        except (KeyError, TypeError, ValueError):
            continue
        text = (row.get("text") or "").strip()
        if not text or conf < min_confidence or width <= 0 or height <= 0:
            continue
        box = (left / scale, top / scale, (left + width) / scale, (top + height) / scale)
        words.append(OcrWord(text=text, box=box, confidence=conf))
    return words


def merge_passes(passes: Sequence[Sequence[OcrWord]], overlap: float = 0.3) -> list[OcrWord]:
    """One word per place: where words of different passes overlap, the most confident one wins
    (the earlier pass on a tie)."""
    kept: list[OcrWord] = []
    for words in passes:
        for word in words:
            clash = [i for i, other in enumerate(kept) if iou(word.box, other.box) >= overlap]
            if not clash:
                kept.append(word)
            elif all(word.confidence > kept[i].confidence for i in clash):
                for i in reversed(clash):
                    del kept[i]
                kept.append(word)
    return kept


def ocr_words(png: bytes | RgbArray, settings: OcrSettings | None = None) -> list[OcrWord]:
    """All passes of tesseract over the picture, merged; raw words before measuring and grouping."""
    settings = settings or OcrSettings()
    exe = tesseract_path(settings.command)
    rgb = load_rgb(png) if isinstance(png, bytes) else png
    with ThreadPoolExecutor(max_workers=settings.workers) as pool:
        results = list(pool.map(lambda p: _run_pass(exe, rgb, p, settings), settings.passes))
    return merge_passes(results)


_CACHE: OrderedDict[tuple[str, str], tuple[TextBlock, ...]] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def ocr_blocks(png: bytes, settings: OcrSettings | None = None) -> tuple[TextBlock, ...]:
    """Text lines of a picture, measured on its pixels; cached per (picture hash, settings)."""
    settings = settings or OcrSettings()
    key = (image_key(png), settings.model_dump_json())
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    rgb = load_rgb(png)
    words = [TextBlock(text=w.text, box=w.box) for w in ocr_words(rgb, settings)]
    blocks = tuple(blocks_from_words(words, rgb))
    with _CACHE_LOCK:
        _CACHE[key] = blocks
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return blocks


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()
