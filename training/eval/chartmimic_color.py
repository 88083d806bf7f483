"""ChartMimic's colour F1, as ``ColorEvaluator`` (ChartMimic/ChartMimic @ c9e149c6) computes it.

Two halves, as in the official code:

- In the sandbox (``HEAD`` and ``TAIL``, run around the script by ``chartmimic.text_program``): some forty
  plotting calls are wrapped (``Axes.bar``, ``scatter``, ``pie``, ``hist``, ``boxplot``, the line maker
  behind ``plot``, polar ``plot``, ``imshow``/``contour``/... by colormap name, ``Axes3D.*``, networkx
  drawing, squarify, venn, ``Ellipse``/``Circle`` creation, ...). A call made from the script (not from
  inside another wrapped call; one flag for all of them) files the objects it drew under
  ``"<file of the function>/<name>[_polar|_3d|_squarify]--<colour when drawn>"``, a later object under the
  same key replacing an earlier one. When the script has finished, each filed object's colour is read again
  (so a later ``set_color`` counts) into ``"<function key>--<colour>"`` strings, duplicates dropped.
  Colours are upper-case hex (``#RRGGBB``, or ``#RRGGBBAA`` when given so), colormaps their name.
  If the logging itself raises (an unconvertible colour, say), the official script dies there and logs no
  colour; here the script goes on (its text trace is taken in the same run) and the colours are empty.
- On the host (``color_f1``): with more than ten colours, a colour within similarity 0.7 of one already kept
  is dropped (greedy, in list order). Colours are grouped by function key; in each group the generated and
  the gold colours are paired one to one to maximise the summed similarity (``1 - CIEDE2000 / 100`` with
  colormath's sRGB -> Lab, floored at 0; two colormap names: 1 if equal; a colormap and a hex: 0).
  precision = total / generated colours, recall = total / gold colours, F1 from both.

Differences, none of which changes a score:
- The official pairing tries every permutation (hours for groups of ten); the best pairing is found here
  by the assignment algorithm (``scipy.optimize.linear_sum_assignment``), which gives the same maximum.
- The official list order before the >10 filter is the order of a Python ``set`` (string hashing, so it
  changes from run to run and the official score of a chart with many similar colours does too); here the
  colours are sorted first, so a rerun gives the same number.
- When the gold script logs no colour the official recall divides by zero (unless the gold file name holds
  ``box``) and its worker process dies, losing that item and the ones after it in the same worker; the
  published tables divide by all 500 items, so such an item counts 0, which is what is returned here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

COLOR_MARKER = "@@viscodex-chartmimic-colors@@"

HEAD = r'''
import inspect as _vxc_inspect
import matplotlib as _vxc_mpl
import matplotlib.colors as _vxc_colors
import numpy as _vxc_np
import networkx as _vxc_nx
import networkx.drawing.nx_pylab as _vxc_nx_pylab
import squarify as _vxc_squarify
from matplotlib.axes._base import _process_plot_var_args as _VxcLineMaker
from matplotlib.axes._axes import Axes as _VxcAxes
from mpl_toolkits.mplot3d import Axes3D as _VxcAxes3D
from matplotlib.projections.polar import PolarAxes as _VxcPolar
from matplotlib.image import NonUniformImage as _VxcNonUniform
from matplotlib.patches import Ellipse as _VxcEllipse, Circle as _VxcCircle
from matplotlib_venn._common import VennDiagram as _VxcVenn

_vxc_objects = {}
_vxc_state = {"busy": False, "failed": False}


def _vxc_hex(color):
    """A colour as upper-case hex; None for what the official converter rejects (after printing it)."""
    try:
        if isinstance(color, str):
            if color.startswith("#") and len(color) in (7, 9):
                return color.upper()
            return _vxc_colors.to_hex(_vxc_colors.to_rgba(color)).upper()
        if isinstance(color, (list, tuple, _vxc_np.ndarray)) and len(color) in (3, 4):
            return _vxc_colors.to_hex(color).upper()
        raise ValueError("Unsupported color format")
    except ValueError:
        return None


def _vxc_key(where, color):
    return where + "--" + color  # a None colour raises TypeError, as the official concatenation does


def _vxc_cmap_name(kwargs):
    cmap = kwargs["cmap"]
    return cmap if type(cmap) == str else cmap.name


def _vxc_file_objects(name, where, args, kwargs, result):
    """What one outermost call files in _vxc_objects (keys carry the colour at drawing time)."""
    objects = _vxc_objects
    if name == "_makeline":
        objects[_vxc_key(where, _vxc_hex(result[1]["color"]))] = result[0]
    elif name in ("axhline", "axvline"):
        objects[_vxc_key(where, _vxc_hex(result.get_color()))] = result
    elif name == "_fill_between_x_or_y":
        objects[_vxc_key(where, _vxc_hex(list(result.get_facecolors()[0])))] = result
    elif name == "bar":
        for patch in result:
            objects[_vxc_key(where, _vxc_hex(list(patch._original_facecolor)))] = patch
    elif name == "scatter" and type(args[0]) != _VxcPolar:
        if kwargs.get("cmap") is not None:
            objects[_vxc_key(where, _vxc_cmap_name(kwargs))] = result
        elif len(result.get_facecolor()) != 0:
            objects[_vxc_key(where, _vxc_hex(list(result.get_facecolor()[0])))] = result
    elif name == "pie":
        for wedge in result[0]:
            objects[_vxc_key(where, _vxc_hex(wedge.get_facecolor()))] = wedge
    elif name in ("axvspan", "axhspan"):
        objects[_vxc_key(where, _vxc_hex(result.get_facecolor()))] = result
    elif name in ("hlines", "vlines"):
        for edge in result.get_edgecolors():
            last = _vxc_hex(list(edge))
            where + "--" + last
        objects[_vxc_key(where, last)] = result  # only the last colour's key (unbound when there is none)
    elif name == "boxplot":
        for box in result["boxes"]:
            if type(box) == _vxc_mpl.patches.PathPatch:
                objects[_vxc_key(where, _vxc_hex(list(box.get_facecolor())))] = box
    elif name == "violinplot":
        for body in result["bodies"]:
            objects[_vxc_key(where, _vxc_hex(list(body.get_facecolor()[0])))] = body
    elif name == "hist":
        patches = result[2]
        groups = [patches] if type(patches) != _vxc_mpl.cbook.silent_list else list(patches)
        for group in groups:
            for patch in group:
                objects[_vxc_key(where, _vxc_hex(list(patch.get_facecolor())))] = patch
    elif name == "quiver":
        for face in result.get_facecolors().tolist():
            last = _vxc_hex(face)
            where + "--" + last
        objects[_vxc_key(where, last)] = result
    elif name == "plot" and len(args) > 0 and type(args[0]) == _VxcPolar:
        for line in result:
            objects[_vxc_key(where + "_polar", _vxc_hex(line.get_color()))] = line
    elif name == "scatter" and type(args[0]) == _VxcPolar:
        if kwargs.get("cmap") is not None:
            objects[_vxc_key(where + "_polar", _vxc_cmap_name(kwargs))] = result
        elif len(result.get_facecolor()) != 0:
            objects[_vxc_key(where + "_polar", _vxc_hex(list(result.get_facecolor()[0])))] = result
    elif name == "plot" and "squarify" in where:
        for container in result.containers:
            for patch in container:
                objects[_vxc_key(where + "_squarify", _vxc_hex(list(patch.get_facecolor())))] = patch
    elif name in ("imshow", "pcolor", "contour", "contourf", "tripcolor"):
        objects[_vxc_key(where, result.get_cmap().name)] = result
    elif name == "fill":
        for patch in result:
            objects[_vxc_key(where, _vxc_hex(list(patch.get_facecolor())))] = patch
    elif name == "__init__" and type(args[0]) == _VxcNonUniform:
        objects[_vxc_key(where, args[0].get_cmap().name)] = args[0]
    elif name == "broken_barh":
        for face in result.get_facecolors().tolist():
            last = _vxc_hex(face)
            where + "--" + last
        objects[_vxc_key(where, _vxc_hex(last))] = result
    elif name == "__init__" and type(args[0]) in (_VxcEllipse, _VxcCircle):
        objects[_vxc_key(where, _vxc_hex(args[0].get_facecolor()))] = args[0]
    elif name == "__init__" and type(args[0]) == _VxcVenn:
        for patch in args[0].patches:
            last = _vxc_hex(patch.get_facecolor())
            where + "--" + last
        objects[_vxc_key(where, last)] = args[0]


def _vxc_file_3d(name, where, kwargs, result):
    objects = _vxc_objects
    where = where + "_3d"
    if name == "scatter":
        if kwargs.get("cmap") is not None:
            objects[_vxc_key(where, _vxc_cmap_name(kwargs))] = result
        else:
            for face in result.get_facecolors().tolist():
                last = _vxc_hex(face)
                where + "--" + last
            objects[_vxc_key(where, last)] = result
    elif name == "plot":
        for line in result:
            objects[_vxc_key(where, _vxc_hex(line.get_color()))] = line
    elif name == "plot_surface":
        if kwargs.get("cmap") is not None:
            objects[_vxc_key(where, _vxc_cmap_name(kwargs))] = result
        else:
            objects[_vxc_key(where, _vxc_hex(result.get_facecolors().tolist()[0]))] = result
    elif name == "bar3d":
        objects[_vxc_key(where, _vxc_hex(result.get_facecolors().tolist()[0]))] = result
    elif name == "bar":
        for patch in result:
            objects[_vxc_key(where, _vxc_hex(patch.get_facecolor()))] = patch
    elif name == "add_collection3d":
        for face in result.get_facecolors().tolist():
            last = _vxc_hex(face)
            where + "--" + last
        objects[_vxc_key(where, _vxc_hex(last))] = result


def _vxc_file_networkx(name, where, result):
    objects = _vxc_objects
    if name == "draw_networkx_labels":
        for label in result.values():
            objects[_vxc_key(where, _vxc_hex(label.get_color()))] = label
    elif name == "draw_networkx_edges" and type(result) == list:
        for arrow in result:
            last = _vxc_hex(arrow.get_facecolor())
            where + "--" + last
        objects[_vxc_key(where, last)] = result
    else:
        colors = result.get_edgecolors() if name == "draw_networkx_edges" else result.get_facecolors()
        for face in colors.tolist():
            last = _vxc_hex(face)
            where + "--" + last
        objects[_vxc_key(where, last)] = result


def _vxc_wrap(func, filer):
    where = _vxc_inspect.getfile(func) + "/" + func.__name__

    def traced(*args, **kwargs):
        if _vxc_state["busy"]:
            return func(*args, **kwargs)
        _vxc_state["busy"] = True
        result = func(*args, **kwargs)  # an error of the script's own leaves the flag set, as there
        if not _vxc_state["failed"]:
            try:
                filer(func.__name__, where, args, kwargs, result)
            except Exception:
                _vxc_state["failed"] = True  # the official run dies here and logs no colour at all
        _vxc_state["busy"] = False
        return result

    return traced


def _vxc_fixed(func, defaults):
    """networkx's drawing functions are wrapped with a fixed keyword list (the networkx 3.2 one): other
    keywords are a TypeError, every listed one is passed on explicitly."""
    traced = _vxc_wrap(func, lambda name, where, args, kwargs, result: _vxc_file_networkx(name, where, result))

    def fixed(G, pos, *rest, **given):
        names = list(defaults)
        bound = dict(defaults)
        for index, value in enumerate(rest):
            bound[names[index]] = value
        for key, value in given.items():
            if key not in bound:
                raise TypeError(f"{func.__name__}() got an unexpected keyword argument '{key}'")
            bound[key] = value
        return traced(G, pos, **bound)

    return fixed


_vxc_2d = lambda func: _vxc_wrap(func, _vxc_file_objects)
_vxc_3d = lambda func: _vxc_wrap(
    func, lambda name, where, args, kwargs, result: _vxc_file_3d(name, where, kwargs, result)
)
_VxcLineMaker._makeline = _vxc_2d(_VxcLineMaker._makeline)
for _vxc_name in ("bar", "scatter", "axhline", "axvline", "_fill_between_x_or_y", "pie", "axvspan", "axhspan",
                  "hlines", "vlines", "boxplot", "violinplot", "hist"):
    setattr(_VxcAxes, _vxc_name, _vxc_2d(getattr(_VxcAxes, _vxc_name)))
_VxcPolar.plot = _vxc_2d(_VxcPolar.plot)
for _vxc_name in ("quiver", "imshow", "pcolor", "contour", "contourf", "fill"):
    setattr(_VxcAxes, _vxc_name, _vxc_2d(getattr(_VxcAxes, _vxc_name)))
_VxcNonUniform.__init__ = _vxc_2d(_VxcNonUniform.__init__)
_VxcEllipse.__init__ = _vxc_2d(_VxcEllipse.__init__)
_VxcAxes.broken_barh = _vxc_2d(_VxcAxes.broken_barh)
_VXC_NODES = dict(nodelist=None, node_size=300, node_color="#1f78b4", node_shape="o", alpha=None, cmap=None,
                  vmin=None, vmax=None, ax=None, linewidths=None, edgecolors=None, label=None, margins=None)
_VXC_EDGES = dict(edgelist=None, width=1.0, edge_color="k", style="solid", alpha=None, arrowstyle=None,
                  arrowsize=10, edge_cmap=None, edge_vmin=None, edge_vmax=None, ax=None, arrows=None, label=None,
                  node_size=300, nodelist=None, node_shape="o", connectionstyle="arc3", min_source_margin=0,
                  min_target_margin=0)
_VXC_LABELS = dict(labels=None, font_size=12, font_color="k", font_family="sans-serif", font_weight="normal",
                   alpha=None, bbox=None, horizontalalignment="center", verticalalignment="center", ax=None,
                   clip_on=True)
for _vxc_module in (_vxc_nx_pylab, _vxc_nx):
    _vxc_module.draw_networkx_nodes = _vxc_fixed(_vxc_module.draw_networkx_nodes, _VXC_NODES)
    _vxc_module.draw_networkx_edges = _vxc_fixed(_vxc_module.draw_networkx_edges, _VXC_EDGES)
    _vxc_module.draw_networkx_labels = _vxc_fixed(_vxc_module.draw_networkx_labels, _VXC_LABELS)
_vxc_squarify.plot = _vxc_2d(_vxc_squarify.plot)
for _vxc_name in ("scatter", "plot", "plot_surface", "bar3d", "bar", "add_collection3d"):
    setattr(_VxcAxes3D, _vxc_name, _vxc_3d(getattr(_VxcAxes3D, _vxc_name)))
_VxcAxes.tripcolor = _vxc_2d(_VxcAxes.tripcolor)
_VxcVenn.__init__ = _vxc_2d(_VxcVenn.__init__)
_VxcCircle.__init__ = _vxc_2d(_VxcCircle.__init__)
'''
"""Goes before the script (after the text tracer's own head)."""

TAIL = r'''

def _vxc_reread(where, drawn, obj):
    """The colours of one filed object as they are now, as ``"<key>--<colour>"`` strings."""
    out = []
    hexed = _vxc_hex
    def add(color, key=where):
        out.append(key + "--" + color)
    if "/_makeline" in where or "/axhline" in where or "/axvline" in where:
        add(hexed(obj.get_color()))
    elif "/_fill_between_x_or_y" in where:
        add(hexed(list(obj.get_facecolors()[0])))
    elif "/bar" in where and "_3d" not in where:
        add(hexed(list(obj._original_facecolor)))
    elif "/scatter" in where and "polar" not in where and "3d" not in where:
        if not drawn.startswith("#"):
            add(drawn)
        elif len(obj.get_facecolor()) != 0:
            add(hexed(list(obj.get_facecolor()[0])))
    elif "/pie" in where or "/axvspan" in where or "/axhspan" in where:
        add(hexed(obj.get_facecolor()))
    elif "/hlines" in where or "/vlines" in where:
        for edge in obj.get_edgecolors():
            add(hexed(list(edge)))
    elif "/boxplot" in where or "/hist" in where:
        add(hexed(list(obj.get_facecolor())))
    elif "/violinplot" in where:
        add(hexed(list(obj.get_facecolor()[0])))
    elif "/quiver" in where:
        for face in obj.get_facecolors().tolist():
            add(hexed(face))
    elif "/plot" in where and "polar" in where:
        add(hexed(obj.get_color()), where + "_polar")
    elif "/scatter" in where and "polar" in where:
        if not drawn.startswith("#"):
            add(drawn, where + "_polar")
        elif len(obj.get_facecolor()) != 0:
            add(hexed(list(obj.get_facecolor()[0])), where + "_polar")
    elif "/plot" in where and "_squarify" in where:
        add(hexed(list(obj.get_facecolor())))
    elif "/imshow" in where or "/pcolor" in where or "/contour" in where:
        add(obj.get_cmap().name)
    elif "/fill" in where:
        add(hexed(list(obj.get_facecolor())))
    elif "/__init__" in where and type(obj) == _VxcNonUniform:
        add(obj.get_cmap().name)
    elif "/broken_barh" in where:
        for face in obj.get_facecolors().tolist():
            add(hexed(face))
    elif "/__init__" in where and type(obj) == _VxcEllipse:
        add(hexed(obj.get_facecolor()))
    elif "/tripcolor" in where:
        add(obj.get_cmap().name)
    elif "/__init__" in where and type(obj) == _VxcVenn:
        for patch in obj.patches:
            add(hexed(patch.get_facecolor()))
    elif "/__init__" in where and type(obj) == _VxcCircle:
        add(hexed(obj.get_facecolor()))
    elif "/scatter" in where and "3d" in where:
        if not drawn.startswith("#"):
            add(drawn, where + "_3d")
        else:
            for face in obj.get_facecolors().tolist():
                add(hexed(face), where + "_3d")
    elif "/plot" in where and "3d" in where and "plot_surface" not in where:
        add(hexed(obj.get_color()), where + "_3d")
    elif "/plot_surface" in where:
        if not drawn.startswith("#"):
            add(drawn, where + "_3d")
        else:
            add(hexed(obj.get_facecolors().tolist()[0]), where + "_3d")
    elif "/bar3d" in where:
        add(hexed(obj.get_facecolors().tolist()[0]), where + "_3d")
    elif "/bar" in where and "3d" in where:
        add(hexed(obj.get_facecolor()), where + "_3d")
    elif "/add_collection3d" in where:
        for face in obj.get_facecolors().tolist():
            add(hexed(face), where + "_3d")
    elif "/draw_networkx_labels" in where:
        add(hexed(obj.get_color()))
    elif "/draw_networkx_edges" in where and type(obj) == list:
        for arrow in obj:
            add(hexed(arrow.get_facecolor()))
    elif "/draw_networkx_edges" in where:
        for face in obj.get_edgecolors().tolist():
            add(hexed(face))
    elif "/draw_networkx_nodes" in where:
        for face in obj.get_facecolors().tolist():
            add(hexed(face))
    return out


def _vxc_final_colors():
    if _vxc_state["failed"]:
        return []
    colors = []
    try:
        for key, obj in _vxc_objects.items():
            where, drawn = key.split("--")[0], key.split("--")[1]
            colors.extend(_vxc_reread(where, drawn, obj))
    except Exception:
        return []  # the official suffix raises here and writes no colour file
    return sorted(set(colors))


import json as _vxc_json
print("\n%s" + _vxc_json.dumps(_vxc_final_colors()))
'''
"""Goes after the script; prints the marker and the colours as a JSON list."""


def tail() -> str:
    return TAIL % COLOR_MARKER


# --- the host half: the official matching, from the traced colour strings -----------------------


@lru_cache(maxsize=65536)
def _lab(hex_color: str) -> tuple[float, float, float]:
    from colormath.color_conversions import convert_color  # type: ignore[import-untyped]
    from colormath.color_objects import LabColor, sRGBColor  # type: ignore[import-untyped]

    digits = hex_color.lstrip("#")
    rgb = [int(digits[i : i + 2], 16) for i in (0, 2, 4)]
    lab = convert_color(sRGBColor(rgb[0], rgb[1], rgb[2], is_upscaled=True), LabColor)
    return (float(lab.lab_l), float(lab.lab_a), float(lab.lab_b))


@lru_cache(maxsize=65536)
def similarity(first: str, second: str) -> float:
    """``color_utils.calculate_similarity_single``: ``max(0, 1 - CIEDE2000 / 100)`` for two hex colours
    (colormath's conversion and formula; its ``delta_e_cie2000`` wrapper needs ``numpy.asscalar``, gone in
    numpy 2, so the matrix function under it is called the same way); colormap names: 1 if equal."""
    if first.startswith("#") and second.startswith("#"):
        import numpy as np
        from colormath import color_diff_matrix  # type: ignore[import-untyped]

        distance = color_diff_matrix.delta_e_cie2000(np.array(_lab(first)), np.array([_lab(second)]))[0]
        return max(0.0, 1.0 - float(distance) / 100.0)
    if not first.startswith("#") and not second.startswith("#"):
        return 1.0 if first == second else 0.0
    return 0.0


def _color(entry: str) -> str:
    return entry.split("--")[1]


def filter_colors(entries: Sequence[str]) -> list[str]:
    """``color_utils.filter_color``: keep an entry unless its colour is within 0.7 of one already kept."""
    kept: list[str] = []
    for entry in entries:
        if all(similarity(_color(entry), _color(other)) <= 0.7 for other in kept):
            kept.append(entry)
    return kept


def group_colors(entries: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for entry in entries:
        groups.setdefault(entry.split("--")[0], []).append(_color(entry))
    return groups


def best_total(generated: Sequence[str], gold: Sequence[str]) -> float:
    """The largest summed similarity of a one-to-one pairing (the official permutation search's maximum)."""
    if not generated or not gold:
        return 0.0
    import numpy as np
    from scipy.optimize import linear_sum_assignment  # type: ignore[import-untyped]

    matrix = np.array([[similarity(g, t) for t in gold] for g in generated])
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return float(sum(matrix[r, c] for r, c in zip(rows, cols, strict=True)))


def color_f1(generated: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    """Precision, recall and F1 of the generated colour entries against the gold ones (as traced)."""
    generated = sorted(generated)
    gold = sorted(gold)
    if len(generated) > 10:
        generated = filter_colors(generated)
    if len(gold) > 10:
        gold = filter_colors(gold)
    mine, theirs = group_colors(generated), group_colors(gold)
    total = sum(best_total(mine.get(key, []), theirs.get(key, [])) for key in set(mine) | set(theirs))
    precision = total / len(generated) if generated else 0.0
    recall = total / len(gold) if gold else 0.0
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1
