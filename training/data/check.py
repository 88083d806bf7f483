"""``data check``: what is wrong with a training set before a GPU-day is spent on it.

One pass over the stream of records (any layout ``load_records`` reads) finds:

- records the loader rejected (``REJECT_KINDS``: missing images, broken JSON, ...);
- images that do not decode (Pillow's ``verify`` then a full decode, which catches truncated files) or are
  too large to train on (checked from the header, before decoding);
- code that is empty or does not parse: the fenced blocks of the assistant turns, in the language their
  fence names (or the category's: a chart is Python, a web page HTML), through the agent's tree-sitter
  syntax check (``viscodex.agent.syntax``), so data and agent agree on what parses;
- exact duplicates (the same pixels; the same code once comments and blanks are normalised away) and near
  duplicates (a perceptual hash of the first image, a SimHash of the code's token 3-grams, within a few
  bits), each naming the earlier record it repeats;
- token lengths against the model's context (``TokenCounter``: the model's tokenizer and chat template,
  plus the image tokens its image processor would make from each image's size).

Memory stays flat in the number of records apart from per-record ids and 8-byte hashes; near duplicates
are found at the end over those hashes (multi-index hashing: pigeonhole bands, then exact bit counts).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from .loaders import REJECT_KINDS, DataError
from .records import IMAGE_PLACEHOLDER, Record, Rejected

__all__ = [
    "CATEGORY_LANGUAGE",
    "CHECK_KINDS",
    "CheckConfig",
    "CheckReport",
    "CodeFacts",
    "ImageFacts",
    "Issue",
    "TokenCounter",
    "TokenStats",
    "analyse_code",
    "check_records",
    "code_blocks",
    "inspect_image",
    "issue_line",
    "near_duplicates",
    "normalise_code",
    "perceptual_hash",
    "simhash",
]

CHECK_KINDS: Final[dict[str, str]] = {
    **REJECT_KINDS,
    "broken_image": "an image that Pillow cannot verify or decode (corrupt, truncated, not an image)",
    "huge_image": "an image larger than the check's limits (pixels or side)",
    "empty_code": "a fenced code block with nothing in it",
    "unparseable_code": "code that does not parse in its language (tree-sitter)",
    "duplicate_image": "the same image pixels as an earlier record",
    "near_duplicate_image": "an image within a few bits of an earlier record's (perceptual hash)",
    "duplicate_code": "the same code as an earlier record, comments and blanks aside",
    "near_duplicate_code": "code within a few bits of an earlier record's (SimHash of token 3-grams)",
    "too_long": "more tokens than the model's context (or --max-tokens)",
}
"""Every kind of issue the check reports: the loader's rejections and its own. One vocabulary."""

CATEGORY_LANGUAGE: Final[dict[str, str]] = {
    "chart": "python",
    "algorithm": "python",
    "html": "html",
    "ui": "html",
}
"""The language of an untagged block (and of an answer without fences) by category: MCD's and data
synth's code categories. QA answers are prose; only their tagged blocks are checked."""


class CheckConfig(BaseModel):
    """The check's limits; defaults suit MCD-like data (screenshots up to a long page)."""

    model_config = ConfigDict(extra="forbid")

    max_image_pixels: int = Field(40_000_000, gt=0)
    """Width x height above which an image is ``huge_image`` (a 2560 x 15000 page screenshot fits)."""
    max_image_side: int = Field(16_384, gt=0)
    near_image_bits: int = Field(4, ge=0, le=16)
    """Perceptual hashes (64 bits) differing in at most this many bits are near duplicates."""
    near_code_bits: int = Field(3, ge=0, le=16)
    """Code SimHashes (64 bits) differing in at most this many bits are near duplicates."""
    max_tokens: int | None = Field(None, gt=0)
    """Tokens above which a record is ``too_long``; None: the model's context."""
    examples: int = Field(5, ge=0)
    """Issues kept per kind in the report (all of them go to ``on_issue``)."""


@dataclass(frozen=True)
class Issue:
    id: str
    kind: str
    detail: str
    source: str = ""


@dataclass
class TokenStats:
    model: str
    limit: int
    """The context the lengths were held against (``--max-tokens`` or the model's)."""
    counted: int = 0
    max: int = 0
    mean: float = 0.0
    p50: int = 0
    p95: int = 0
    over: int = 0
    image_tokens: bool = True
    """False when the model has no image processor config: images were not counted."""


@dataclass
class CheckReport:
    source: str
    total: int = 0
    """Records read, rejected ones included."""
    clean: int = 0
    """Records without any issue."""
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[Issue]] = field(default_factory=dict)
    images: int = 0
    """Images checked (a file that several records name counts for each; it is decoded once when they
    are near each other)."""
    tokens: TokenStats | None = None

    @property
    def ok(self) -> bool:
        return not self.counts

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def lines(self) -> list[str]:
        """The report as text for a terminal."""
        out = [f"{self.source}: {self.total} records, {self.clean} clean, {self.images} images checked"]
        for kind, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"  {n:>8}  {kind}: {CHECK_KINDS.get(kind, kind)}")
            out.extend(f"            {i.id}: {i.detail}" for i in self.examples.get(kind, []))
        if self.tokens is not None:
            t = self.tokens
            images = "" if t.image_tokens else " (images not counted: no image processor config)"
            out.append(
                f"tokens ({t.model}, limit {t.limit}): max {t.max}, mean {t.mean:.0f}, p50 {t.p50}, "
                f"p95 {t.p95}, {t.over} over{images}"
            )
        else:
            out.append("tokens: not counted (give --model DIR)")
        return out


# --- images --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageFacts:
    width: int = 0
    height: int = 0
    problem: str | None = None
    """``broken_image`` or ``huge_image``; None when the image decoded within the limits."""
    detail: str = ""
    pixels_hash: int = 0
    """8 bytes of BLAKE2b over mode, size and pixels: the same picture in another lossless file is equal."""
    phash: int = 0


_DCT: Final = np.array([[np.cos(np.pi * (2 * n + 1) * k / 64) for n in range(32)] for k in range(32)], dtype=np.float64)
"""The 32-point DCT-II basis (rows k), for the perceptual hash without scipy."""


def perceptual_hash(image: Image.Image) -> int:
    """pHash: grey 32x32, 2-D DCT, the 8x8 lowest frequencies but the DC term against their median, as 64
    bits. Re-encoding, resizing and small edits move few bits; different pictures differ in ~32."""
    small = image.resize((32, 32), Image.Resampling.BILINEAR, reducing_gap=2.0)  # area-averaged, fast
    grey = np.asarray(small.convert("L"), dtype=np.float64)
    low = (_DCT @ grey @ _DCT.T)[:8, :8].flatten()
    bits = low > np.median(low[1:])
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def inspect_image(path: Path, max_pixels: int, max_side: int) -> ImageFacts:
    """Open, verify, decode and hash one image; a problem is reported, never raised."""
    try:
        with Image.open(path) as probe:
            width, height = probe.size
            if width * height > max_pixels or max(width, height) > max_side:
                return ImageFacts(width, height, "huge_image", f"{path.name} is {width}x{height}")
            probe.verify()
        with Image.open(path) as image:
            image.load()
            digest = hashlib.blake2b(digest_size=8)
            digest.update(f"{image.mode}{image.size}".encode())
            digest.update(image.tobytes())
            return ImageFacts(width, height, None, "", int.from_bytes(digest.digest(), "big"), perceptual_hash(image))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return ImageFacts(problem="broken_image", detail=f"{path.name}: {' '.join(str(exc).split())[:160]}")


# --- code ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fence_languages() -> dict[str, str]:
    from viscodex.agent.extract import FENCE_ALIASES

    table: dict[str, str] = {}
    for language, tags in FENCE_ALIASES.items():
        for tag in tags:
            table.setdefault(tag, language)
    return table


@dataclass(frozen=True)
class CodeBlock:
    language: str | None
    """A checked language, or None (an untagged or unknown block outside a code category)."""
    code: str


def code_blocks(record: Record) -> list[CodeBlock]:
    """The code of a record's assistant turns: each fenced block in its fence's language (the category's
    when untagged); an answer in a code category without any fence counts as code in that language (what
    the agent's extraction does with an unfenced answer)."""
    from viscodex.agent.extract import fenced_blocks

    fences = _fence_languages()
    default = CATEGORY_LANGUAGE.get(record.category or "")
    blocks: list[CodeBlock] = []
    for message in record.messages:
        if message.role != "assistant":
            continue
        fenced = fenced_blocks(message.content)
        for block in fenced:
            blocks.append(CodeBlock(fences.get(block.info, default if not block.info else None), block.code))
        if not fenced and default is not None and message.content.strip():
            blocks.append(CodeBlock(default, message.content))
    return blocks


_COMMENT_TYPES: Final = frozenset({"comment", "line_comment", "block_comment", "html_comment"})


def normalise_code(code: str, language: str | None) -> str:
    """Code as a duplicate check sees it: comments removed (tree-sitter's comment nodes, where the language
    has a grammar), each line stripped, blank lines dropped, runs of blanks made one."""
    if language is not None:
        from viscodex.agent.syntax import parse_tree

        parsed = parse_tree(code, language)
        if parsed is not None:
            root, data = parsed
            cuts: list[tuple[int, int]] = []
            stack = [root]
            while stack:
                node = stack.pop()
                if node.type in _COMMENT_TYPES:
                    cuts.append((node.start_byte, node.end_byte))
                else:
                    stack.extend(node.children)
            for start, end in sorted(cuts, reverse=True):
                data = data[:start] + data[end:]
            code = data.decode("utf-8", "replace")
    lines = (" ".join(line.split()) for line in code.splitlines())
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class CodeFacts:
    """What the check needs of a record's code: its problems and its hashes (None: no code to compare)."""

    problems: tuple[tuple[str, str], ...] = ()
    """(kind, detail): ``empty_code`` and ``unparseable_code``."""
    digest: int | None = None
    """8 bytes of BLAKE2b of the normalised code: equal for exact duplicates."""
    simhash: int = 0


def analyse_code(record: Record) -> CodeFacts:
    """Check the syntax of a record's code blocks and hash their normalised text. Pure (no state), so
    it runs on the worker threads."""
    from viscodex.agent.syntax import check_syntax

    problems: list[tuple[str, str]] = []
    normalised = []
    for block in code_blocks(record):
        if not block.code.strip():
            problems.append(("empty_code", "an empty code block"))
            continue
        if block.language is not None:
            report = check_syntax(block.code, block.language, max_errors=1)
            if not report.ok:
                first = report.errors[0] if report.errors else None
                where = f"line {first.line}, column {first.column}: {first.message}" if first else ""
                problems.append(("unparseable_code", f"{block.language} {where}"))
        normalised.append(normalise_code(block.code, block.language))
    text = "\n".join(n for n in normalised if n)
    if not text:
        return CodeFacts(tuple(problems))
    digest = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return CodeFacts(tuple(problems), digest, simhash(text))


_TOKEN: Final = re.compile(r"\w+|[^\w\s]")


def simhash(text: str) -> int:
    """64-bit SimHash over the set of token 3-grams (Charikar): similar code, few differing bits."""
    tokens = _TOKEN.findall(text)
    # a set: a template's repeated lines count once, so the parts that differ weigh in (MinHash's Jaccard view)
    grams = sorted({" ".join(tokens[i : i + 3]) for i in range(max(len(tokens) - 2, 1))})
    if not grams or not grams[0]:
        return 0
    digests = b"".join(hashlib.blake2b(g.encode(), digest_size=8).digest() for g in grams)
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1)
    ones = bits.sum(axis=0, dtype=np.int64)
    return int.from_bytes(np.packbits(ones * 2 > len(grams)).tobytes(), "big")


# --- near duplicates over hashes -------------------------------------------------------------------------

_WINDOW: Final = 2048
"""Within one band bucket, each hash is compared with at most this many earlier ones (bounds the work on
degenerate sets where thousands of pictures hash alike, e.g. blank pages)."""


def near_duplicates(hashes: np.ndarray, valid: np.ndarray, max_bits: int) -> dict[int, int]:
    """index -> the earliest index before it whose 64-bit hash differs in at most ``max_bits`` bits.

    Pigeonhole: split the bits into ``max_bits + 1`` bands; two hashes that close agree on at least one
    band, so only hashes sharing a band value are compared (vectorised, in sorted buckets).
    """
    index = np.flatnonzero(valid)
    found: dict[int, int] = {}
    if len(index) < 2:
        return found
    values = hashes[index].astype(np.uint64)
    bands = max_bits + 1
    edges = [round(64 * b / bands) for b in range(bands + 1)]
    for low, high in itertools.pairwise(edges):
        mask = np.uint64((1 << (high - low)) - 1)
        keys = (values >> np.uint64(low)) & mask
        order = np.lexsort((index, keys))
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for start, end in zip(starts, ends, strict=True):
            if end - start < 2:
                continue
            members = order[start:end]
            group = values[members]
            for row in range(1, len(members)):
                first = max(0, row - _WINDOW)
                distances = np.bitwise_count(group[first:row] ^ group[row])
                close = np.flatnonzero(distances <= max_bits)
                if len(close):
                    me, earlier = int(index[members[row]]), int(index[members[first + close[0]]])
                    if me not in found or earlier < found[me]:
                        found[me] = earlier
    return found


# --- tokens --------------------------------------------------------------------------------------------


class TokenCounter:
    """Token lengths as the model would see a record: its chat template over the turns (images as the
    template's image entries), plus the image tokens its image processor makes of each image's size
    (Qwen2-VL's smart resize: patches merged ``merge_size``-square)."""

    def __init__(self, model: Path, max_tokens: int | None = None) -> None:
        try:
            from transformers import AutoTokenizer
        except ImportError:
            raise DataError("counting tokens needs transformers: pip install 'viscodex[train]'") from None
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model))
            config = json.loads((model / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot load a tokenizer from {model}: {' '.join(str(exc).split())[:200]}") from None
        context = config.get("max_position_embeddings") or (config.get("text_config") or {}).get(
            "max_position_embeddings"
        )
        if max_tokens is None and not isinstance(context, int):
            raise DataError(f"{model}/config.json names no max_position_embeddings; give --max-tokens")
        self.limit: int = max_tokens if max_tokens is not None else int(str(context))
        self.name = str(model)
        self.vision: dict[str, Any] | None = None
        processor = model / "preprocessor_config.json"
        if processor.is_file():
            raw = json.loads(processor.read_text(encoding="utf-8"))
            size = raw.get("size") or {}
            self.vision = {
                "patch": int(raw.get("patch_size", 14)),
                "merge": int(raw.get("merge_size", 2)),
                "min": int(raw.get("min_pixels") or size.get("shortest_edge") or 56 * 56),
                "max": int(raw.get("max_pixels") or size.get("longest_edge") or 28 * 28 * 1280),
            }

    def image_tokens(self, width: int, height: int) -> int:
        if self.vision is None or width <= 0 or height <= 0:
            return 0
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        v = self.vision
        try:
            h, w = smart_resize(height, width, factor=v["patch"] * v["merge"], min_pixels=v["min"], max_pixels=v["max"])
        except ValueError:  # an aspect ratio over 200: the processor refuses it too
            return 0
        return int((h // v["patch"]) * (w // v["patch"]) // (v["merge"] ** 2))

    def count(self, records: Sequence[Record], sizes: Sequence[Sequence[tuple[int, int]]]) -> list[int]:
        """Tokens per record (a batch: the tokenizer runs over all texts at once)."""
        texts = [self._text(r) for r in records]
        ids = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        out = []
        for tokens, record_sizes in zip(ids, sizes, strict=True):
            extra = sum(max(self.image_tokens(w, h) - 1, 0) for w, h in record_sizes)
            out.append(len(tokens) + extra)
        return out

    def _text(self, record: Record) -> str:
        conversation: list[dict[str, Any]] = []
        for message in record.messages:
            pieces = message.content.split(IMAGE_PLACEHOLDER)
            content: list[dict[str, str]] = []
            for i, piece in enumerate(pieces):
                if i:
                    content.append({"type": "image"})
                if piece:
                    content.append({"type": "text", "text": piece})
            conversation.append({"role": message.role, "content": content})
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(conversation, tokenize=False))
        return "\n".join(f"{m.role}: {m.content}" for m in record.messages)


# --- the pass ------------------------------------------------------------------------------------------

_BATCH: Final = 256


class _Pass:
    """The state of one check: counters, hashes by record index, the token batch."""

    def __init__(
        self, config: CheckConfig, tokens: TokenCounter | None, on_issue: Callable[[Issue], None] | None
    ) -> None:
        self.config = config
        self.counter = tokens
        self.on_issue = on_issue
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[Issue]] = {}
        self.ids: list[str] = []
        self.sources: list[str] = []
        self.flagged = bytearray()
        self.image_hash = array("Q")
        self.code_hash = array("Q")
        self.has_image = bytearray()
        self.has_code = bytearray()
        self.exact_images: dict[tuple[int, ...], int] = {}
        self.exact_code: dict[int, int] = {}
        self.images = 0
        self.pending: list[tuple[int, Record, list[tuple[int, int]]]] = []
        self.lengths: list[int] = []
        self.inspect = lru_cache(maxsize=4096)(self._inspect)

    def _inspect(self, path: Path) -> ImageFacts:
        return inspect_image(path, self.config.max_image_pixels, self.config.max_image_side)

    def analyse(self, item: Record | Rejected) -> tuple[list[ImageFacts], CodeFacts]:
        """The facts of a record's images and code (run on the worker threads: decoding, hashing and
        parsing release the GIL); the order-dependent bookkeeping stays in ``add``."""
        if isinstance(item, Rejected):
            return [], CodeFacts()
        return [self.inspect(path) for path in item.images], analyse_code(item)

    def issue(self, index: int | None, issue: Issue) -> None:
        self.counts[issue.kind] += 1
        kept = self.examples.setdefault(issue.kind, [])
        if len(kept) < self.config.examples:
            kept.append(issue)
        if index is not None:
            self.flagged[index] = 1
        if self.on_issue is not None:
            self.on_issue(issue)

    def add(self, item: Record | Rejected, facts: list[ImageFacts], code: CodeFacts) -> None:
        index = len(self.ids)
        self.ids.append(item.id)
        self.sources.append(item.source)
        self.flagged.append(0)
        self.image_hash.append(0)
        self.code_hash.append(0)
        self.has_image.append(0)
        self.has_code.append(0)
        if isinstance(item, Rejected):
            self.issue(index, Issue(item.id, item.kind or "bad_field", item.reason, item.source))
            return
        self.images += len(facts)
        self._images(index, item, facts)
        self._code(index, item, code)

    def _images(self, index: int, record: Record, facts: list[ImageFacts]) -> None:
        for fact in facts:
            if fact.problem is not None:
                self.issue(index, Issue(record.id, fact.problem, fact.detail, record.source))
        if self.counter is not None:
            self.pending.append((index, record, [(f.width, f.height) for f in facts]))
            if len(self.pending) >= _BATCH:
                self.flush_tokens()
        if not facts or any(f.problem for f in facts):
            return
        key = tuple(f.pixels_hash for f in facts)
        earlier = self.exact_images.setdefault(key, index)
        if earlier != index:
            self.issue(index, Issue(record.id, "duplicate_image", f"same image as {self.ids[earlier]}", record.source))
            return
        self.image_hash[index] = facts[0].phash
        self.has_image[index] = 1

    def _code(self, index: int, record: Record, code: CodeFacts) -> None:
        for kind, detail in code.problems:
            self.issue(index, Issue(record.id, kind, detail, record.source))
        if code.digest is None:
            return
        earlier = self.exact_code.setdefault(code.digest, index)
        if earlier != index:
            self.issue(index, Issue(record.id, "duplicate_code", f"same code as {self.ids[earlier]}", record.source))
            return
        self.code_hash[index] = code.simhash
        self.has_code[index] = 1

    def flush_tokens(self) -> None:
        if self.counter is None or not self.pending:
            return
        lengths = self.counter.count([r for _, r, _ in self.pending], [s for _, _, s in self.pending])
        for (index, record, _), length in zip(self.pending, lengths, strict=True):
            self.lengths.append(length)
            if length > self.counter.limit:
                detail = f"{length} tokens > {self.counter.limit}"
                self.issue(index, Issue(record.id, "too_long", detail, record.source))
        self.pending.clear()

    def finish(self, source: str) -> CheckReport:
        self.flush_tokens()
        for kind, hashes, valid, bits, what in (
            ("near_duplicate_image", self.image_hash, self.has_image, self.config.near_image_bits, "image"),
            ("near_duplicate_code", self.code_hash, self.has_code, self.config.near_code_bits, "code"),
        ):
            pairs = near_duplicates(
                np.frombuffer(hashes, dtype=np.uint64), np.frombuffer(bytes(valid), dtype=np.uint8) == 1, bits
            )
            for index, earlier in sorted(pairs.items()):
                detail = f"{what} close to {self.ids[earlier]}'s"
                self.issue(index, Issue(self.ids[index], kind, detail, self.sources[index]))
        report = CheckReport(
            source=source,
            total=len(self.ids),
            clean=len(self.flagged) - sum(self.flagged),
            counts=dict(self.counts),
            examples=self.examples,
            images=self.images,
        )
        if self.counter is not None:
            lengths = np.array(self.lengths or [0])
            report.tokens = TokenStats(
                model=self.counter.name,
                limit=self.counter.limit,
                counted=len(self.lengths),
                max=int(lengths.max()),
                mean=float(lengths.mean()),
                p50=int(np.percentile(lengths, 50)),
                p95=int(np.percentile(lengths, 95)),
                over=int((lengths > self.counter.limit).sum()),
                image_tokens=self.counter.vision is not None,
            )
        return report


def check_records(
    items: Iterable[Record | Rejected],
    config: CheckConfig | None = None,
    *,
    source: str = "",
    tokens: TokenCounter | None = None,
    on_issue: Callable[[Issue], None] | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> CheckReport:
    """Check a stream of records; every issue goes to ``on_issue`` as found (near duplicates and the
    last token batch at the end) and the report counts them by kind. ``progress`` gets the number of
    records done after each. Images and code are analysed on ``workers`` threads (default: the CPUs,
    at most 8) a window ahead of the records, which are still counted and reported in order."""
    state = _Pass(config or CheckConfig(), tokens, on_issue)
    threads = workers or min(8, os.cpu_count() or 1)
    window: deque[tuple[Record | Rejected, Future[tuple[list[ImageFacts], CodeFacts]]]] = deque()
    done = 0
    with ThreadPoolExecutor(threads, thread_name_prefix="data-check") as pool:
        for item in items:
            window.append((item, pool.submit(state.analyse, item)))
            while len(window) > 4 * threads or (window and window[0][1].done()):
                first, future = window.popleft()
                state.add(first, *future.result())
                done += 1
                if progress is not None:
                    progress(done)
        while window:
            first, future = window.popleft()
            state.add(first, *future.result())
            done += 1
            if progress is not None:
                progress(done)
    return state.finish(source)


def issue_line(issue: Issue) -> str:
    """One issue as a JSON line (``--issues FILE``)."""
    return json.dumps(asdict(issue), ensure_ascii=False)
