# ruff: noqa: E501 - the chart epilogue is code in a string, kept as written
"""Wrong answers made from right ones, for measuring the verifier (tracker issue 9).

Charts: the ground-truth script plus an epilogue that changes the drawn figure before the sandbox
captures it (the sandbox saves ``plt.gcf()`` after the script ends), so the wrong answer is still one
matplotlib script. What the epilogue changed depends on what the script drew, so the epilogue prints
it as one line ``VISCODEX_PERTURB {json}`` on stdout in the same run that is scored; the bench reads it
there. Kinds: ``type`` (bars drawn as a line, a line as bars, points as a line), ``text`` (the title,
an axis label, a legend entry or an annotation reads differently), ``color`` (one series recoloured,
its legend swatch too), ``remove`` (one series not drawn, its legend entry hidden).

Pages: edits of the reference HTML made here, with the change recorded: ``text`` (a text reads
differently), ``color`` (a text drawn in another colour), ``remove`` (an element with text removed).
Every choice is seeded by the item's name, so the same data gives the same answers.
"""

from __future__ import annotations

import html as html_lib
import random
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

CHART_KINDS = ("type", "text", "color", "remove")
PAGE_KINDS = ("text", "color", "remove")
VIVID = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#00a3a3", "#f032e6", "#8b4513")
"""Replacement colours: the one farthest from every colour the figure already uses is taken."""
WORDS = (
    "harbor velvet quantum meadow lantern cobalt orchid summit falcon ember granite willow saffron "
    "nimbus tundra cinder maple beacon prairie zephyr"
).split()

_EPILOGUE = r"""

# --- perturbation made by bench/perturb.py (kind=__KIND__) ---
def _viscodex_perturb(kind, seed):
    import json
    import random
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex, to_rgba
    from matplotlib.container import BarContainer
    from matplotlib.collections import PathCollection, PolyCollection
    from matplotlib.patches import Wedge

    rng = random.Random(seed)
    record = {"kind": kind, "applied": False}

    def done():
        print("VISCODEX_PERTURB " + json.dumps(record), flush=True)

    if not plt.get_fignums():
        record["why"] = "no open figure"
        return done()
    fig = plt.gcf()
    axes = [ax for ax in fig.axes if ax.get_visible()]

    def hexof(c):
        try:
            return to_hex(to_rgba(c), keep_alpha=False)
        except (ValueError, TypeError):
            return None

    series = []  # (axes, kind, artist(s), colour hex, label)
    for ax in axes:
        for cont in ax.containers:
            if isinstance(cont, BarContainer):
                patches = [p for p in cont.patches if p.get_visible()]
                if patches:
                    horizontal = getattr(cont, "orientation", None) == "horizontal"
                    series.append((ax, "barh" if horizontal else "bar", patches, hexof(patches[0].get_facecolor()), str(cont.get_label() or "")))
        for line in ax.lines:
            if line.get_visible() and line.get_transform().contains_branch(ax.transData) and len(line.get_xydata()) >= 2:
                style = str(line.get_linestyle())
                k = "line" if style not in ("None", "none", "", " ") else "scatter"
                series.append((ax, k, [line], hexof(line.get_color()), str(line.get_label() or "")))
        for coll in ax.collections:
            if coll.get_visible() and isinstance(coll, PathCollection) and len(coll.get_offsets()) >= 2:
                fc = coll.get_facecolor()
                series.append((ax, "scatter", [coll], hexof(fc[0]) if len(fc) else None, str(coll.get_label() or "")))
            elif coll.get_visible() and isinstance(coll, PolyCollection) and type(coll).__name__ in ("PolyCollection", "FillBetweenPolyCollection"):
                fc = coll.get_facecolor()
                series.append((ax, "area", [coll], hexof(fc[0]) if len(fc) else None, str(coll.get_label() or "")))
        wedges = [p for p in ax.patches if isinstance(p, Wedge) and p.get_visible()]
        for w in wedges:
            series.append((ax, "pie", [w], hexof(w.get_facecolor()), ""))
    series = [s for s in series if s[3] is not None]
    used = {s[3] for s in series}

    def legends():
        out = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        return out + list(fig.legends)

    def legend_entries(label):
        found = []
        for leg in legends():
            handles = getattr(leg, "legend_handles", None) or getattr(leg, "legendHandles", [])
            for text, handle in zip(leg.get_texts(), handles):
                if label and text.get_text() == label:
                    found.append((text, handle))
        return found

    def far_colour():
        from_rgb = [to_rgba(c)[:3] for c in used] or [(0.5, 0.5, 0.5)]
        best = max(__VIVID__, key=lambda v: min(sum((a - b) ** 2 for a, b in zip(to_rgba(v)[:3], u)) for u in from_rgb))
        return best

    def labelled_first(items):
        return sorted(items, key=lambda s: (not s[4] or s[4].startswith("_"),))

    if kind == "color":
        if not series:
            record["why"] = "no coloured series"
            return done()
        ax, k, arts, old, label = labelled_first(series)[0]
        new = far_colour()
        for a in arts:
            if k == "line":
                a.set_color(new)
            else:
                a.set_facecolor(new)
        for _text, handle in legend_entries(label):
            try:
                if hasattr(handle, "set_facecolor") and not hasattr(handle, "get_xydata"):
                    handle.set_facecolor(new)
                if hasattr(handle, "set_color") and hasattr(handle, "get_xydata"):
                    handle.set_color(new)
            except (AttributeError, ValueError):
                pass
        record.update(applied=True, series=k, label=label if not label.startswith("_") else "", old=old, new=new)
        return done()

    if kind == "remove":
        if len(series) < 2:
            record["why"] = "fewer than two series"
            return done()
        ax, k, arts, old, label = labelled_first(series)[0]
        for a in arts:
            a.set_visible(False)
        for text, handle in legend_entries(label):
            text.set_visible(False)
            handle.set_visible(False)
        record.update(applied=True, series=k, label=label if not label.startswith("_") else "", color=old)
        return done()

    if kind == "type":
        for ax, k, arts, old, label in series:
            if k == "bar" and len(arts) >= 2:
                xs = [p.get_x() + p.get_width() / 2 for p in arts]
                ys = [p.get_y() + p.get_height() for p in arts]
                for p in arts:
                    p.set_visible(False)
                ax.plot(xs, ys, color=old, marker="o", linewidth=2, label="_perturbed")
                record.update(applied=True, old="bar", new="line", color=old)
                return done()
            if k == "line" and 2 <= len(arts[0].get_xydata()) <= 60:
                xy = arts[0].get_xydata()
                xs = sorted(float(x) for x, _ in xy)
                step = min([b - a for a, b in zip(xs, xs[1:]) if b > a] or [1.0])
                arts[0].set_visible(False)
                ax.bar([float(x) for x, _ in xy], [float(y) for _, y in xy], width=0.8 * step, color=old, label="_perturbed")
                record.update(applied=True, old="line", new="bar", color=old)
                return done()
            if k == "scatter" and isinstance(arts[0], PathCollection) and len(arts[0].get_offsets()) <= 200:
                pts = sorted((float(x), float(y)) for x, y in arts[0].get_offsets())
                arts[0].set_visible(False)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=old, linewidth=2, label="_perturbed")
                record.update(applied=True, old="scatter", new="line", color=old)
                return done()
        record["why"] = "no bars, line or points to redraw"
        return done()

    if kind == "text":
        texts = []
        for ax in axes:
            texts += [(ax.title, "title"), (ax.xaxis.label, "xlabel")]
            leg = ax.get_legend()
            if leg is not None:
                texts += [(t, "legend") for t in leg.get_texts()]
            texts += [(t, "text") for t in ax.texts]
        texts += [(t, "text") for t in fig.texts]
        for leg in fig.legends:
            texts += [(t, "legend") for t in leg.get_texts()]
        texts = [
            (t, r) for t, r in texts
            if t.get_visible() and len(t.get_text().strip()) >= 4 and abs(((t.get_rotation() + 180) % 360) - 180) < 10
            and "$" not in t.get_text() and "\n" not in t.get_text().strip()
        ]
        if not texts:
            record["why"] = "no upright text of 4+ characters"
            return done()
        t, role = max(texts, key=lambda tr: len(tr[0].get_text()))
        old = t.get_text()
        words = max(1, len(old.split()))
        new = " ".join(w.capitalize() for w in rng.sample(__WORDS__, min(words + 1, 4)))
        t.set_text(new)
        record.update(applied=True, role=role, old=old, new=new)
        return done()
    record["why"] = "unknown kind"
    return done()


_viscodex_perturb("__KIND__", "__SEED__")
"""


def chart_perturbation(kind: str, seed: str) -> str:
    """The epilogue that turns a ground-truth chart script into a wrong answer of ``kind``."""
    if kind not in CHART_KINDS:
        raise ValueError(f"unknown chart perturbation {kind!r}")
    return (
        _EPILOGUE.replace("__KIND__", kind)
        .replace("__SEED__", seed.replace('"', ""))
        .replace("__VIVID__", repr(VIVID))
        .replace("__WORDS__", repr(list(WORDS)))
    )


PERTURB_PREFIX = "VISCODEX_PERTURB "


def chart_record(stdout: str) -> dict[str, Any] | None:
    """What a perturbed chart script says it changed (its ``VISCODEX_PERTURB`` line), if it ran."""
    import json

    for line in reversed(stdout.splitlines()):
        if line.startswith(PERTURB_PREFIX):
            data = json.loads(line[len(PERTURB_PREFIX) :])
            return data if isinstance(data, dict) else None
    return None


# --- pages -----------------------------------------------------------------------------------------

SKIP = {"script", "style", "head", "title", "noscript", "template", "option", "select", "textarea", "svg"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCKS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "li",
    "button",
    "a",
    "td",
    "th",
    "label",
    "span",
    "div",
    "blockquote",
}


@dataclass
class TextNode:
    start: int
    end: int
    text: str
    """Unescaped, whitespace collapsed."""
    parents: tuple[tuple[str, int], ...]
    """(tag, start offset of its start tag) from outermost to innermost."""


@dataclass
class _Element:
    tag: str
    start: int
    end: int = -1
    texts: list[str] = field(default_factory=list)


class _Scanner(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.stack: list[_Element] = []
        self.nodes: list[TextNode] = []
        self.elements: list[_Element] = []
        self._pending: list[tuple[int, str]] = []

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _flush(self) -> None:
        if not self._pending:
            return
        start = self._pending[0][0]
        raw = "".join(p[1] for p in self._pending)
        self._pending = []
        text = " ".join(html_lib.unescape(raw).split())
        if text and not any(e.tag in SKIP for e in self.stack):
            self.nodes.append(TextNode(start, start + len(raw), text, tuple((e.tag, e.start) for e in self.stack)))
            for e in self.stack:
                e.texts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()
        if tag in VOID:
            return
        element = _Element(tag, self._offset())
        self.stack.append(element)
        self.elements.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._flush()

    def handle_endtag(self, tag: str) -> None:
        self._flush()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                here = self._offset()
                end = self.source.find(">", here) + 1
                self.stack[i].end = end if end > 0 else len(self.source)
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self._pending.append((self._offset(), data))

    def handle_entityref(self, name: str) -> None:
        self._pending.append((self._offset(), f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self._pending.append((self._offset(), f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self._flush()


@dataclass(frozen=True)
class PagePerturbation:
    kind: str
    html: str
    change: dict[str, Any]


def _candidates(nodes: list[TextNode]) -> list[TextNode]:
    """Text nodes worth changing: 2-12 words, 8-90 characters, unique in the page, in the body."""
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.text.casefold()] = counts.get(n.text.casefold(), 0) + 1
    return [
        n
        for n in nodes
        if 8 <= len(n.text) <= 90
        and 2 <= len(n.text.split()) <= 12
        and counts[n.text.casefold()] == 1
        and any(tag == "body" for tag, _ in n.parents)
        and sum(ch.isalpha() for ch in n.text) >= 0.6 * len(n.text)
    ]


def page_perturbations(source: str, seed: str) -> list[PagePerturbation]:
    """The wrong answers made from a reference page (fewer if it has too little text)."""
    scanner = _Scanner(source)
    scanner.feed(source)
    scanner.close()
    nodes = _candidates(scanner.nodes)
    if not nodes:
        return []
    rng = random.Random(seed)
    # The longer texts first (what a reader would notice); pick among the top third at random.
    ranked = sorted(nodes, key=lambda n: -len(n.text))
    pool = ranked[: max(3, len(ranked) // 3)]
    out: list[PagePerturbation] = []

    node = rng.choice(pool)
    words = len(node.text.split())
    new = " ".join(w.capitalize() for w in rng.sample(WORDS, min(max(2, words), 8)))
    edited = source[: node.start] + html_lib.escape(new, quote=False) + source[node.end :]
    out.append(PagePerturbation("text", edited, {"old": node.text, "new": new}))

    node = rng.choice(pool)
    colour = "#e6007e"
    raw = source[node.start : node.end]
    wrapped = f'<span style="color:{colour} !important">{raw}</span>'
    out.append(
        PagePerturbation(
            "color", source[: node.start] + wrapped + source[node.end :], {"text": node.text, "new": colour}
        )
    )

    node = rng.choice(pool)
    by_start = {e.start: e for e in scanner.elements}
    removed: tuple[int, int, str] = (node.start, node.end, node.text)
    for tag, start in reversed(node.parents):
        element = by_start.get(start)
        if element is None or element.end <= start or tag not in BLOCKS:
            continue
        text = " ".join(element.texts)
        if len(text) <= 3 * len(node.text) + 20:
            removed = (element.start, element.end, text)
        break
    out.append(
        PagePerturbation(
            "remove", source[: removed[0]] + source[removed[1] :], {"text": removed[2], "node_text": node.text}
        )
    )
    return out
