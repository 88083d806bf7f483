"""What a drawn matplotlib figure is made of, read inside the sandbox (part of the shim payload).

Standard library and matplotlib only: this runs under the image's python3, joined with the other parts
of the shim into one source (see ``payload.py``). It must work on every matplotlib a package set
offers (tested on the default and the oldest set).
"""

from __future__ import annotations

import itertools
from typing import Any

CHART_PATH = "/tmp/.viscodex-chart.png"


_MATH_SPACING = {",": "", ";": " ", ":": " ", "!": "", " ": " ", "quad": " ", "qquad": " "}
"""Mathtext's spacing commands: a thin space draws nothing OCR would read as one."""


def drawn_text(artist: Any) -> str:
    """The characters a text artist draws: its string, with mathtext's markup turned into the glyphs it
    stands for (``$\\mu = 1$`` draws a Greek mu, an equals sign and a one), by matplotlib's own table of
    TeX commands. The target's texts are OCR of glyphs, so the source's ``$``, braces and command names
    would otherwise read as text the target lacks. TeX rendered by ``usetex`` as it is."""
    import re

    text = str(artist.get_text())
    try:
        shown, math = artist._preprocess_math(text)
        if math is not True:
            return text if math else str(shown)  # plain text draws an escaped "\\$" as "$"
        from matplotlib._mathtext_data import tex2uni
    except (AttributeError, ImportError, TypeError, ValueError):  # private API that may move: keep the source
        return text

    def command(match: Any) -> str:
        name = match.group(1)
        if name in _MATH_SPACING:
            return _MATH_SPACING[name]
        return chr(tex2uni[name]) if name in tex2uni else ""  # \mathrm, \frac, ...: no glyph of their own

    parts = re.split(r"(?<!\\)\$", text)
    out = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            out.append(part.replace("\\$", "$"))
        else:
            out.append(re.sub(r"[{}^_]", "", re.sub(r"\\([A-Za-z]+|[,;:! ])", command, part)))
    return "".join(out)


def tight_box(figure: Any, save_kwargs: dict[str, Any]) -> Any:
    """The part of the figure the script's own ``savefig(..., bbox_inches="tight")`` would have saved,
    in inches, or None when it saved the whole canvas.

    Computed as ``Figure.savefig`` does (the tight box of the drawn artists, padded by ``pad_inches``),
    so the PNG holds what the script's file held: a legend anchored above the axes, say, which lies
    outside the canvas and would be cut off by a plain save.
    """
    import matplotlib

    wanted = save_kwargs.get("bbox_inches")
    if wanted is None or (isinstance(wanted, str) and wanted != "tight"):
        return None
    if not isinstance(wanted, str):
        return wanted  # an explicit Bbox in inches: saved as given
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    bbox = figure.get_tightbbox(renderer, bbox_extra_artists=save_kwargs.get("bbox_extra_artists"))
    pad = save_kwargs.get("pad_inches")
    if pad is None or pad == "layout":
        pad = matplotlib.rcParams["savefig.pad_inches"]
    return bbox.padded(pad)


def scaled_dpi(figure: Any, crop: Any, scale_to: list[int]) -> float | None:
    """The dpi at which the saved part of the figure (``crop`` in inches, or the whole canvas) comes out
    about ``scale_to`` pixels (the mean of the two axes' dpi, so a picture of another aspect still gets
    one scale); None when it cannot be had within 20-600 dpi."""
    if crop is not None:
        width, height = float(crop.width), float(crop.height)
    else:
        width, height = (float(v) for v in figure.get_size_inches())
    if width <= 0 or height <= 0:
        return None
    dpi = (scale_to[0] / width + scale_to[1] / height) / 2
    return round(dpi, 3) if 20.0 <= dpi <= 600.0 else None


def trace_figure(figure: Any, renderer: Any) -> dict[str, Any]:
    """What a drawn matplotlib figure is made of, as plain JSON: per axes its chart types and series,
    and every visible text with its role, box in pixels of the saved PNG (y down) and colour.

    Called from the ``draw_event`` of the draw that makes the PNG, with its ``renderer``: the figure then
    has the PNG's dpi and crop, so its display pixels are the PNG's.

    Read from the artists (containers, lines, collections, patches) rather than from the calls, so it
    describes what was drawn whichever API drew it (pyplot, object-oriented, pandas, seaborn).
    """
    from matplotlib.collections import PathCollection, PolyCollection, QuadMesh
    from matplotlib.colors import to_hex, to_rgba
    from matplotlib.container import BarContainer
    from matplotlib.patches import Rectangle, Wedge

    canvas_w, canvas_h = figure.canvas.get_width_height()  # the PNG's size, in this draw

    def box(artist: Any) -> list[float]:
        bb = artist.get_window_extent(renderer)
        return [round(bb.x0, 1), round(canvas_h - bb.y1, 1), round(bb.x1, 1), round(canvas_h - bb.y0, 1)]

    def hexes(colors: Any, limit: int = 12) -> list[str]:
        out: list[str] = []
        for c in colors:
            rgba = to_rgba(c)
            if rgba[3] == 0:
                continue
            h = to_hex(rgba)
            if h not in out:
                out.append(h)
            if len(out) >= limit:
                break
        return out

    texts: list[dict[str, Any]] = []

    def add_text(t: Any, role: str, axes: int | None) -> None:
        if t is None or not t.get_visible() or not t.get_text().strip():
            return
        drawn = drawn_text(t)
        texts.append(
            {
                "text": t.get_text(),
                **({"drawn": drawn} if drawn != t.get_text() else {}),
                "role": role,
                "axes": axes,
                "box": box(t),
                "color": to_hex(t.get_color()),
                "rotation": round(float(t.get_rotation()), 1),
                "font_size": round(float(t.get_fontsize()) * figure.dpi / 72, 1),
            }
        )

    axes_out: list[dict[str, Any]] = []
    for index, ax in enumerate(figure.axes):
        if not ax.get_visible():
            continue
        series: list[dict[str, Any]] = []
        for container in ax.containers:
            if not isinstance(container, BarContainer):
                continue
            patches = [p for p in container.patches if p.get_visible()]
            if not patches:
                continue
            horizontal = getattr(container, "orientation", None) == "horizontal"
            kind = "barh" if horizontal else "bar"
            # Only flat bars have edges to compare (a 3D axes' bars are Patch3D, with no x or width).
            if not horizontal and len(patches) >= 3 and all(isinstance(p, Rectangle) for p in patches):
                edges = [(p.get_x(), p.get_x() + p.get_width()) for p in patches]
                gaps = [abs(b[0] - a[1]) for a, b in itertools.pairwise(edges)]
                width = max(abs(e[1] - e[0]) for e in edges) or 1.0
                if all(g <= 1e-6 * width for g in gaps):
                    kind = "hist"
            series.append(
                {
                    "type": kind,
                    "label": str(container.get_label() or ""),
                    "colors": hexes(p.get_facecolor() for p in patches),
                    "n": len(patches),
                }
            )
        for line in ax.lines:
            if not line.get_visible() or not line.get_transform().contains_branch(ax.transData):
                continue  # axhline/axvline and friends are decoration, not data
            style = str(line.get_linestyle())
            marker = str(line.get_marker())
            stroked = style not in ("None", "none", "", " ")
            kind = "line" if stroked or marker in ("None", "none", "", " ") else "scatter"
            series.append(
                {
                    "type": kind,
                    "label": str(line.get_label() or ""),
                    "colors": hexes([line.get_color()]),
                    "n": len(line.get_xydata()),
                }
            )
        for coll in ax.collections:
            if not coll.get_visible():
                continue
            if isinstance(coll, PathCollection):
                kind, n = "scatter", len(coll.get_offsets())
            elif isinstance(coll, QuadMesh):
                kind, n = "heatmap", 0
            elif isinstance(coll, PolyCollection):
                kind, n = "area", len(coll.get_paths())
            else:
                continue  # LineCollections: error bars, vlines, stems
            series.append(
                {
                    "type": kind,
                    "label": str(coll.get_label() or ""),
                    "colors": hexes(coll.get_facecolor()),
                    "n": n,
                }
            )
        wedges = [p for p in ax.patches if isinstance(p, Wedge) and p.get_visible()]
        if wedges:
            series.append(
                {
                    "type": "pie",
                    "label": "",
                    "colors": hexes(w.get_facecolor() for w in wedges),
                    "n": len(wedges),
                }
            )
        if ax.images:
            series.append({"type": "heatmap", "label": "", "colors": [], "n": len(ax.images)})
        types: list[str] = []
        for s in series:
            if s["type"] not in types:
                types.append(s["type"])
        add_text(ax.title, "title", index)
        add_text(getattr(ax, "_left_title", None), "title", index)
        add_text(getattr(ax, "_right_title", None), "title", index)
        add_text(ax.xaxis.label, "xlabel", index)
        add_text(ax.yaxis.label, "ylabel", index)
        xticks: list[str] = []
        yticks: list[str] = []
        for role, axis, out in (("xtick", ax.xaxis, xticks), ("ytick", ax.yaxis, yticks)):
            lo, hi = sorted(axis.get_view_interval())
            eps = (hi - lo) * 1e-6
            # Minor ticks too: a log axis spanning less than a decade labels them ("4x10^0").
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                if not lo - eps <= tick.get_loc() <= hi + eps:
                    continue  # a tick outside the view limits is not drawn
                for t in (tick.label1, tick.label2):
                    if t.get_visible() and t.get_text().strip():
                        out.append(t.get_text())
                        add_text(t, role, index)
        legend = ax.get_legend()
        legend_labels: list[str] = []
        if legend is not None and legend.get_visible():
            add_text(legend.get_title(), "legend_title", index)
            for t in legend.get_texts():
                legend_labels.append(t.get_text())
                add_text(t, "legend", index)
        for t in ax.texts:
            add_text(t, "text", index)
        axes_out.append(
            {
                "index": index,
                "box": box(ax),
                "types": types,
                "series": series,
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "xticklabels": xticks,
                "yticklabels": yticks,
                "legend": legend_labels,
            }
        )
    sup = {id(getattr(figure, f"_sup{k}", None)): f"sup{k}" for k in ("title", "xlabel", "ylabel")}
    for t in figure.texts:  # suptitle() and friends add their Text here too
        add_text(t, sup.get(id(t), "text"), None)
    for legend in figure.legends:
        for t in legend.get_texts():
            add_text(t, "legend", None)
    return {"width": canvas_w, "height": canvas_h, "axes": axes_out, "texts": texts}
