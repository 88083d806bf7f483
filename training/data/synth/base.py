"""What every synthesizer shares: the kinds, one program to render, and how a kind plugs into the runner.

A synthesizer is two functions. ``generate(seed, index)`` is pure: the program of item ``index`` depends
only on ``(seed, kind, index)`` (its random generator is seeded from that triple, never from a shared
stream), so a rerun, a resume or another worker count gives the same programs. ``render(program, sandbox,
cancel)`` runs the program for real in the sandbox and returns the picture, or raises ``SynthFailure``
with a short reason; the runner counts those and keeps going.
"""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from viscodex.sandbox import RenderError, Sandbox, SandboxError, Viewport

SynthKind = Literal["chart", "ui", "algorithm"]
KINDS: tuple[SynthKind, ...] = get_args(SynthKind)
"""The kinds ``data synth --kind`` knows; a record's ``category`` is its kind."""

SynthLevel = Literal["full", "basic"]
LEVELS: tuple[SynthLevel, ...] = get_args(SynthLevel)
"""How elaborate the programs are: ``full`` (what a good model should write) or ``basic`` (short programs a
few-million-parameter model can learn; charts only)."""

Meta = dict[str, str | int | float | bool | None]


def item_id(kind: str, seed: int, index: int) -> str:
    """``chart_s7_000012``: unique across kinds and seeds, so sets made with other seeds merge without
    clashes; ends in ``_<number>`` so ChartMimic's loader orders the items naturally."""
    return f"{kind}_s{seed}_{index:06d}"


def item_rng(seed: int, kind: str, index: int) -> random.Random:
    """The random generator of one item. ``random.Random`` seeded with a string hashes it (SHA-512),
    the same on every platform and Python version, so nothing depends on the order items are made in."""
    return random.Random(f"viscodex-synth:{kind}:{seed}:{index}")


@dataclass(frozen=True)
class Program:
    """One generated program, before it is run."""

    kind: SynthKind
    seed: int
    index: int
    code: str
    language: str
    """The fence tag of the assistant's answer (``python``, ``html``)."""
    ext: str
    """The extension of ``code/<id>.<ext>``."""
    instruction: str
    meta: Meta = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """What ``render`` needs besides the code (an algorithm's samples); not written to the record."""

    @property
    def id(self) -> str:
        return item_id(self.kind, self.seed, self.index)


@dataclass(frozen=True)
class Rendered:
    """A program that ran: its picture, and what running it taught us (added to the record's meta)."""

    png: bytes
    meta: Meta = field(default_factory=dict)


class SynthFailure(Exception):
    """An item whose program did not give a usable picture; ``reason`` is a short key for the report's
    counts (``run failed``, ``blank picture``, ...), ``detail`` says what happened."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Synthesizer:
    kind: SynthKind
    roles: tuple[Literal["exec", "chart", "html"], ...]
    """The sandbox roles whose warm pools the runner sizes to the worker count."""
    generate: Callable[[int, int], Program]
    render: Callable[[Program, Sandbox, threading.Event | None], Rendered]


def screenshot(
    sandbox: Sandbox, html: str, viewport: Viewport, cancel: threading.Event | None, **options: Any
) -> Rendered:
    """A page rendered by the sandbox's browser and checked (``check_picture``); a render that fails is a
    SynthFailure with its reason, as every kind of synthesis reports it."""
    try:
        png = sandbox.render_html(html, viewport, cancel=cancel, **options)
    except RenderError as exc:
        raise SynthFailure("render failed", str(exc)) from None
    except SandboxError as exc:
        raise SynthFailure("sandbox error", str(exc)) from None
    width, height = check_picture(png)
    return Rendered(png, {"width": width, "height": height})


def check_picture(png: bytes, *, min_side: int = 64) -> tuple[int, int]:
    """The picture's (width, height); SynthFailure if it is not a PNG, is tiny or is one flat colour."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(png)) as picture:
            if picture.format != "PNG":
                raise SynthFailure("bad picture", f"not a PNG but {picture.format}")
            width, height = picture.size
            extrema: tuple[tuple[float, float], ...] = picture.convert("RGB").getextrema()  # type: ignore[assignment]
    except (UnidentifiedImageError, OSError) as exc:
        raise SynthFailure("bad picture", str(exc)) from None
    if width < min_side or height < min_side:
        raise SynthFailure("tiny picture", f"{width}x{height} px")
    if all(low == high for low, high in extrema):
        raise SynthFailure("blank picture", f"one flat colour over {width}x{height} px")
    return width, height
