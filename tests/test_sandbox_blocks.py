"""What a render says about itself: DOM text blocks of an HTML render, the artist trace of a chart run.

Every test runs on the default package set and on the oldest one offered (matplotlib 3.8): the tracer
reads matplotlib's artists, whose internals move between versions.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import docker
import numpy as np
import pytest
from conftest import SUPPORTED_SETS, own_containers, set_image
from PIL import Image

from viscodex.agent.score.dom import dom_blocks
from viscodex.agent.score.trace import ChartTrace, trace_words
from viscodex.sandbox import HtmlRender, PageFonts, Sandbox, Viewport

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module", params=SUPPORTED_SETS)
def sandbox(request: pytest.FixtureRequest, docker_client: docker.DockerClient) -> Iterator[Sandbox]:
    """A warm sandbox on each supported package set's image (overrides conftest's)."""
    with Sandbox(client=docker_client, image=set_image(docker_client, request.param)) as shared:
        yield shared
    assert own_containers(docker_client, shared) == []


PAGE = """<body style="margin:0;font-family:'Liberation Sans',Arial,sans-serif;background:#fff">
<h1 style="position:absolute;left:20px;top:10px;margin:0;font-size:30px;color:#dc2626">Hello world</h1>
<p style="position:absolute;left:20px;top:70px;margin:0;font-size:16px;color:rgb(37, 99, 235)">
  Price <b style="color:#16a34a">$19</b> per month</p>
<div style="position:absolute;left:20px;top:110px;width:150px;font-size:16px;color:#111">
  one two three four five six seven eight nine ten</div>
<span style="position:absolute;left:300px;top:10px;text-transform:uppercase;color:#000">shout</span>
<div style="display:none">hidden one</div>
<div style="position:absolute;left:300px;top:40px;visibility:hidden">hidden two</div>
<div style="position:absolute;left:300px;top:70px;opacity:0">hidden three</div>
<div style="position:absolute;left:20px;top:700px">far below</div>
<script>document.title = "not text"</script>
</body>"""


@pytest.fixture(scope="module")
def page_render(sandbox: Sandbox) -> HtmlRender:
    return sandbox.render_html_blocks(PAGE, Viewport(width=480, height=320), full_page=False)


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def test_blocks_have_text_boxes_and_colours(page_render: HtmlRender) -> None:
    assert _size(page_render.png) == (480, 320) and page_render.error is None
    by_text = {b.text: b for b in page_render.blocks}
    title = by_text["Hello world"]
    assert title.color == (220, 38, 38) and title.tag == "h1" and title.font_size == 30
    x0, y0, x1, y1 = title.box
    assert 18 <= x0 <= 22 and 8 <= y0 <= 16 and x1 > x0 + 100 and 25 <= y1 - y0 <= 45
    assert [w.text for w in title.words] == ["Hello", "world"]
    # An inline element's words join its block's line; each word keeps its own colour.
    price = by_text["Price $19 per month"]
    assert price.tag == "p"
    assert {w.text: w.color for w in price.words}["$19"] == (22, 163, 74)
    assert {w.text: w.color for w in price.words}["Price"] == (37, 99, 235)


def test_wrapped_text_is_one_block_per_line(page_render: HtmlRender) -> None:
    lines = [b for b in page_render.blocks if b.tag == "div" and b.box[1] >= 105]
    assert len(lines) >= 3
    assert " ".join(b.text for b in lines) == "one two three four five six seven eight nine ten"
    tops = [b.box[1] for b in lines]
    assert tops == sorted(tops) and all(b.box[2] <= 20 + 150 + 1 for b in lines)


def test_hidden_transformed_and_clipped_text(page_render: HtmlRender) -> None:
    texts = [b.text for b in page_render.blocks]
    assert "SHOUT" in texts  # text-transform applies: the text as drawn, not as written
    assert not any("hidden" in t for t in texts)
    assert "not text" not in texts
    assert "far below" not in texts  # outside the viewport screenshot


def test_full_page_keeps_text_below_the_fold(sandbox: Sandbox) -> None:
    render = sandbox.render_html_blocks(PAGE, Viewport(width=480, height=320))
    below = [b for b in render.blocks if b.text == "far below"]
    assert below and _size(render.png)[1] >= below[0].box[3]


def test_page_scripts_cannot_change_what_is_collected(sandbox: Sandbox) -> None:
    sabotage = """<p style="color:#dc2626">Real text</p><script>
    Range.prototype.getClientRects = () => [];
    Range.prototype.getBoundingClientRect = () => ({left: 0, top: 0, right: 0, bottom: 0, width: 0, height: 0});
    window.getComputedStyle = () => ({display: "none", visibility: "hidden", opacity: "0", color: "#fff"});
    Array.prototype.push = function () { return 0; };
    </script>"""
    render = sandbox.render_html_blocks(sabotage, Viewport(width=300, height=100))
    assert render.error is None
    assert [(b.text, b.color) for b in render.blocks] == [("Real text", (220, 38, 38))]


def test_render_html_is_unchanged(sandbox: Sandbox) -> None:
    """Collecting the text blocks does not change the picture: the same page, the same pixels."""
    viewport = Viewport(width=480, height=320)
    plain = sandbox.render_html(PAGE, viewport, full_page=False)
    with_blocks = sandbox.render_html_blocks(PAGE, viewport, full_page=False)
    with Image.open(io.BytesIO(plain)) as a, Image.open(io.BytesIO(with_blocks.png)) as b:
        assert a.size == b.size == (480, 320)
        assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


BAR_CHART = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
ax.bar([0, 1, 2], [3, 5, 2], label="North", color="#2b6cb0")
ax.bar([0.4, 1.4, 2.4], [2, 4, 1], label="South", color="#dd6b20", width=0.4)
ax.set_xticks([0, 1, 2], ["Q1", "Q2", "Q3"])
ax.set_title("Sales by region")
ax.set_xlabel("Quarter")
ax.set_ylabel("Sales")
ax.legend()
fig.suptitle("Report")
"""


def test_chart_trace_describes_the_figure(sandbox: Sandbox) -> None:
    result = sandbox.run_chart(BAR_CHART, trace=True)
    assert result.ok and result.png is not None and result.trace is not None
    trace = result.trace
    assert (trace["width"], trace["height"]) == _size(result.png) == (600, 400)
    (ax,) = trace["axes"]
    assert ax["types"] == ["bar"]
    assert [(s["label"], s["colors"], s["n"]) for s in ax["series"]] == [
        ("North", ["#2b6cb0"], 3),
        ("South", ["#dd6b20"], 3),
    ]
    assert (ax["title"], ax["xlabel"], ax["ylabel"]) == ("Sales by region", "Quarter", "Sales")
    assert ax["xticklabels"] == ["Q1", "Q2", "Q3"] and ax["legend"] == ["North", "South"]
    roles = {t["text"]: t for t in trace["texts"]}
    assert roles["Report"]["role"] == "suptitle" and roles["Sales by region"]["role"] == "title"
    assert roles["Sales"]["rotation"] == 90.0 and roles["North"]["role"] == "legend"
    for t in trace["texts"]:
        x0, y0, x1, y1 = t["box"]
        assert 0 <= x0 < x1 <= 600 and 0 <= y0 < y1 <= 400, t
    # Pixel boxes, y down: the suptitle is above the axes title, the x label at the bottom.
    assert roles["Report"]["box"][1] < roles["Sales by region"]["box"][1] < roles["Quarter"]["box"][1]
    assert roles["Quarter"]["box"][3] > 350
    # The trace is not part of the `sandbox run --json` contract.
    assert "trace" not in json.loads(result.contract_json())


MATH_LABELS = r"""import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot([1, 2, 3], [1, 4, 9])
ax.set_title(r"Growth $6\times10^{5}$")
ax.set_xlabel(r"Speed ($\mu$m/s)")
ax.set_ylabel(r"Cost \$5")
ax.text(2, 5, r"$\alpha\,=\,0.5$")
plt.savefig("out.png")
"""


def test_chart_trace_gives_the_glyphs_mathtext_draws(sandbox: Sandbox) -> None:
    """OCR of a picture reads the glyphs, so the trace says what a mathtext label draws beside its source:
    a TeX command as its symbol, markup and thin spaces left out, an escaped dollar as a dollar."""
    result = sandbox.run_chart(MATH_LABELS, trace=True)
    assert result.ok and result.trace is not None, result.stderr
    drawn = {t["text"]: t.get("drawn") for t in result.trace["texts"]}
    assert drawn["Growth $6\\times10^{5}$"] == "Growth 6\u00d7105"
    assert drawn["Speed ($\\mu$m/s)"] == "Speed (\u03bcm/s)"
    assert drawn["$\\alpha\\,=\\,0.5$"] == "\u03b1=0.5"
    assert drawn["Cost \\$5"] == "Cost $5"
    words = {w.text for w in trace_words(ChartTrace.parse(result.trace), max_rotation=90)}
    assert {"Growth 6\u00d7105", "Speed (\u03bcm/s)", "\u03b1=0.5"} <= words  # what is compared with OCR


KINDS = """
import matplotlib.pyplot as plt
import numpy as np
fig, axs = plt.subplots(2, 3, figsize=(9, 5))
axs[0, 0].plot([1, 2, 3], [1, 4, 9], label="sq")
axs[0, 0].axhline(2, color="grey")
axs[0, 1].scatter([1, 2, 3], [3, 1, 2])
axs[0, 2].pie([1, 2, 3])
axs[1, 0].hist(np.arange(100) % 7, bins=7)
axs[1, 1].fill_between([0, 1, 2], [1, 2, 1])
axs[1, 2].barh(["a", "b"], [1, 2])
plt.savefig("out.png")
"""


def test_chart_trace_tells_kinds_apart(sandbox: Sandbox) -> None:
    result = sandbox.run_chart(KINDS, trace=True)
    assert result.ok and result.trace is not None, result.stderr
    types = [ax["types"] for ax in result.trace["axes"]]
    assert types == [["line"], ["scatter"], ["pie"], ["hist"], ["area"], ["barh"]]
    line_axes = result.trace["axes"][0]
    assert len(line_axes["series"]) == 1 and line_axes["series"][0]["label"] == "sq"  # axhline is not data
    assert result.trace["axes"][2]["series"][0]["n"] == 3


BARS_3D = """import matplotlib.pyplot as plt
fig = plt.figure()
ax = fig.add_subplot(projection="3d")
for z, colour in zip([0, 1], ["#1f77b4", "#ff7f0e"]):
    ax.bar([0, 1, 2, 3], [3, 1, 4, 1], zs=z, zdir="y", color=colour, label=f"row {z}")
ax.set_title("Bars in 3D")
plt.savefig("out.png")
"""


def test_chart_trace_reads_bars_on_a_3d_axes(sandbox: Sandbox) -> None:
    """A 3D axes' bars are Patch3D (no x, no width): traced as bars with their colours, not a failure."""
    result = sandbox.run_chart(BARS_3D, trace=True)
    assert result.ok and result.trace is not None, result.stderr
    assert "error" not in result.trace, result.trace.get("error")
    (axes,) = result.trace["axes"]
    assert [s["type"] for s in axes["series"]] == ["bar", "bar"]
    assert [s["colors"] for s in axes["series"]] == [["#1f77b4"], ["#ff7f0e"]]
    assert any(t["text"] == "Bars in 3D" for t in result.trace["texts"])


def test_chart_trace_follows_size_and_savefig_dpi(sandbox: Sandbox) -> None:
    code = "import matplotlib.pyplot as plt\nplt.rcParams['savefig.dpi'] = 200\nplt.plot([1, 2])\nplt.title('T')"
    result = sandbox.run_chart(code, size=(500, 300), trace=True)
    assert result.ok and result.png is not None and result.trace is not None
    width, height = _size(result.png)
    assert (result.trace["width"], result.trace["height"]) == (width, height)
    (title,) = [t for t in result.trace["texts"] if t["role"] == "title"]
    assert title["box"][2] <= width and title["box"][1] < height / 5


FORM = """<body style="margin:0;font:16px 'Liberation Sans',sans-serif">
<input placeholder="Email address" style="position:absolute;left:20px;top:20px;width:300px;padding:8px">
<input type="password" value="secret" style="position:absolute;left:20px;top:70px">
<input type="submit" value="Send Request" style="position:absolute;left:20px;top:120px;padding:6px 20px">
<select style="position:absolute;left:20px;top:170px">
<option>First</option><option selected>Chosen one</option></select>
<textarea placeholder="Ask your question" style="position:absolute;left:20px;top:220px;width:300px"></textarea>
<input value="typed" style="position:absolute;left:20px;top:300px;display:none">
</body>"""


def test_blocks_hold_what_form_controls_show(sandbox: Sandbox) -> None:
    """Placeholders, button values and the chosen option are on the screen (a target's OCR reads them),
    so they are text blocks too, with boxes on the control's ink; a password and a hidden field are not."""
    render = sandbox.render_html_blocks(FORM, Viewport(width=480, height=360), full_page=False)
    by_text = {b.text: b for b in render.blocks}
    assert {"Email address", "Send Request", "Chosen one", "Ask your question"} <= set(by_text), by_text.keys()
    assert not {"secret", "typed", "First"} & {w for b in render.blocks for w in b.text.split()}
    grey = np.asarray(Image.open(io.BytesIO(render.png)).convert("L"))
    for text, (left, top, right, bottom) in {
        "Email address": (20, 20, 340, 60),
        "Send Request": (20, 120, 200, 160),
        "Chosen one": (20, 170, 200, 200),
        "Ask your question": (20, 220, 340, 280),
    }.items():
        x0, y0, x1, y1 = by_text[text].box
        assert left <= x0 < x1 <= right and top <= y0 < y1 <= bottom, (text, by_text[text].box)
        assert (grey[int(y0) : int(y1) + 1, int(x0) : int(x1) + 1] < 200).any(), text  # glyphs are in the box


TIGHT = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(6, 4))
ax.bar(["a", "b"], [1, 2], color="#2b6cb0", label="Above")
ax.set_xlabel("Quarter")
fig.legend(loc="upper center", bbox_to_anchor=(0.5, 1.15))
plt.savefig("chart.pdf", bbox_inches="tight")
"""


def _ink_rows(png: bytes, box: list[float]) -> tuple[int, int]:
    """First and last row with dark pixels in a band a little wider than ``box``."""
    with Image.open(io.BytesIO(png)) as image:
        grey = np.asarray(image.convert("L"))
    x0, y0, x1, y1 = int(box[0]), max(0, int(box[1]) - 8), int(box[2]) + 1, int(box[3]) + 8
    rows = np.flatnonzero((grey[y0:y1, x0:x1] < 100).any(axis=1)) + y0
    return int(rows[0]), int(rows[-1])


def test_chart_keeps_the_scripts_tight_crop(sandbox: Sandbox) -> None:
    """A legend anchored above the axes lies outside the canvas: the script's own
    ``savefig(bbox_inches="tight")`` keeps it, so the picture must too, and the trace's boxes must be
    those of the cropped picture (the x label's ink inside its box, not a crop's offset away)."""
    result = sandbox.run_chart(TIGHT, trace=True)
    assert result.ok and result.png is not None and result.trace is not None, result.stderr
    width, height = _size(result.png)
    assert (width, height) != (600, 400) and height > 400  # taller than the canvas: the legend is in
    assert (result.trace["width"], result.trace["height"]) == (width, height)
    roles = {t["text"]: t for t in result.trace["texts"]}
    legend, xlabel = roles["Above"]["box"], roles["Quarter"]["box"]
    assert 0 <= legend[1] < legend[3] < 60  # near the top of the picture, not cut off above it
    top, bottom = _ink_rows(result.png, xlabel)
    assert abs(top - xlabel[1]) <= 3 and abs(bottom - xlabel[3]) <= 4, (top, bottom, xlabel)


SHORT_TIGHT = """
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(5, 2))
x, y = [1.2, 2, 8, 32, 128, 390], [67, 83, 90, 92, 97, 97]
ax.plot(x, y, marker="o")
for xi, yi in zip(x, y):
    ax.annotate(f"{yi:.2f}", (xi, yi), textcoords="offset points", xytext=(0, 10), ha="center", fontsize=7)
ax.set_xscale("log", base=2)
ax.set_xticks([2, 8, 32, 128])
ax.set_xticklabels(["$2^{1}$", "$2^{3}$", "$2^{5}$", "$2^{7}$"])
ax.set_xlim(1, 256)
plt.yticks([70, 80, 90], fontsize=10)
plt.ylim(66, 99)
ax.set_xlabel("Number of Training Objects")
ax.set_ylabel("Coverage (%)")
plt.tight_layout()
plt.savefig("chart.pdf", bbox_inches="tight")
"""


def test_chart_trace_boxes_sit_on_the_ink_at_another_scale(sandbox: Sandbox) -> None:
    """Cropped and drawn at a scale other than the figure's (a ChartMimic picture's 120 dpi against 100),
    the x label is placed from the extents of the tick labels (mathtext here) and of annotations at that
    scale, which do not scale exactly (on matplotlib 3.8): the trace must be that draw's, so the label's
    box holds its ink (another draw put it 4 px low, and its measured letters came out 29% short against
    the same script's picture). The box's bottom is the font's descent, a little below a "j"."""
    result = sandbox.run_chart(SHORT_TIGHT, trace=True, scale_to=(588, 225))
    assert result.ok and result.png is not None and result.trace is not None, result.stderr
    (xlabel,) = [t["box"] for t in result.trace["texts"] if t["role"] == "xlabel"]
    top, bottom = _ink_rows(result.png, xlabel)
    assert abs(top - xlabel[1]) <= 1.5 and abs(bottom - xlabel[3]) <= 3, (top, bottom, xlabel)


def test_chart_trace_holds_the_minor_tick_labels_a_short_log_axis_draws(sandbox: Sandbox) -> None:
    """A log axis spanning less than a decade labels its minor ticks (2x10^0 ... 6x10^0): they are drawn,
    so the trace has them, or the picture's OCR of them is "missing text" (ChartMimic line_9)."""
    code = "import matplotlib.pyplot as plt\nplt.plot([2, 7], [1, 2])\nplt.xscale('log')"
    result = sandbox.run_chart(code, trace=True)
    assert result.ok and result.trace is not None, result.stderr
    drawn = {t["drawn"] for t in result.trace["texts"] if t["role"] == "xtick"}
    assert {"2×100", "3×100", "4×100", "6×100"} <= drawn, drawn


def test_chart_scale_to_renders_at_the_pictures_scale(sandbox: Sandbox) -> None:
    """``scale_to`` keeps the figure's inches and layout and changes only the dpi: twice the pixels,
    glyphs twice as tall, the trace in the new picture's pixels."""
    code = "import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3), dpi=100)\nplt.plot([1, 2])\nplt.title('T')"
    plain = sandbox.run_chart(code, trace=True)
    scaled = sandbox.run_chart(code, trace=True, scale_to=(800, 600))
    assert plain.png is not None and scaled.png is not None and plain.trace and scaled.trace
    assert _size(plain.png) == (400, 300) and _size(scaled.png) == (800, 600)
    (t1,) = [t for t in plain.trace["texts"] if t["role"] == "title"]
    (t2,) = [t for t in scaled.trace["texts"] if t["role"] == "title"]
    assert t2["font_size"] == pytest.approx(2 * t1["font_size"], rel=0.02)
    assert t2["box"] == pytest.approx([2 * v for v in t1["box"]], abs=3)


def test_chart_without_trace_has_none(sandbox: Sandbox) -> None:
    result = sandbox.run_chart("import matplotlib.pyplot as plt\nplt.plot([1, 2])")
    assert result.ok and result.png is not None and result.trace is None


FAMILIES = """<body style="margin:0;background:#fff;font-size:20px">
<div style="position:absolute;left:10px;top:10px;font-family:'DejaVu Sans'">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:50px;font-family:Arial,Helvetica,sans-serif">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:90px">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:130px;font-family:'Open Sans',Verdana">Quick brown foxes jump</div>
</body>"""


def _line_widths(render: HtmlRender, lines: int = 4) -> list[float]:
    rows = sorted((b.box[1], b.box[2] - b.box[0]) for b in render.blocks if b.text == "Quick brown foxes jump")
    assert len(rows) == lines, render.blocks
    return [width for _, width in rows]


def test_dejavu_fonts_draw_every_family_in_dejavu_sans(sandbox: Sandbox) -> None:
    """``fonts="dejavu"`` (how Design2Code's pictures were drawn): a page naming Arial, naming nothing, or
    naming a font the machine lacks is set in DejaVu Sans, so each line is as wide as the one that asks for
    DejaVu Sans; with the image's own fonts Arial is Liberation Sans (narrower) and the default a serif."""
    viewport = Viewport(width=480, height=180)
    dejavu, own, again = (
        _line_widths(sandbox.render_html_blocks(FAMILIES, viewport, full_page=False, fonts=f))
        for f in ("dejavu", "system", "dejavu")
    )
    assert max(dejavu) - min(dejavu) < 1.0, dejavu
    assert again == dejavu
    assert own[1] < own[0] - 10 and own[2] < own[0] - 10, own


WEB_FONTS = """<head><style>
@font-face { font-family: 'Open Sans'; font-weight: 400;
  src: url(https://fonts.gstatic.com/s/opensans/v36/x.woff2) format('woff2'); }
@font-face { font-family: 'Lato'; src: url(//fonts.gstatic.com/s/lato/v24/y.woff2) format('woff2'); }
@font-face { font-family: 'Raleway'; src: url(https://fonts.gstatic.com/s/raleway/v29/z.woff2) format('woff2'); }
@font-face { font-family: 'Effra'; src: url(https://use.typekit.net/af/e/f.woff2) format('woff2'); }
</style></head><body style="margin:0;background:#fff;font-size:20px">
<div style="position:absolute;left:10px;top:10px;font-family:'DejaVu Sans'">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:50px;font-family:'Open Sans',sans-serif">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:90px;font-family:Lato,sans-serif">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:130px;font-family:'Lobster Two',cursive">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:170px;font-family:Raleway,sans-serif">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:210px;font-family:Effra,sans-serif">Quick brown foxes jump</div>
</body>"""
BY_NAME = WEB_FONTS.split("</head>")[1]


LIGHT = """<body style="margin:0;background:#fff;font:40px 'DejaVu Sans';color:#000">
<div style="position:absolute;left:10px;top:0;width:600px;height:60px">Quick brown foxes jump</div>
<div style="position:absolute;left:10px;top:60px;width:600px;height:60px;font-weight:300">Quick brown foxes jump</div>
</body>"""


def test_web_fonts_are_drawn_as_the_page_loads_them(sandbox: Sandbox) -> None:
    """The image's web fonts (``sandbox.image.WEB_FONT_PACKAGES`` and ``WEB_FONT_NPM``). With the image's
    fonts a page naming Open Sans, Lato or Lobster Two gets each (its own width, not DejaVu Sans'). In
    ``dejavu`` mode (how Design2Code's pictures were drawn) a family named alone is DejaVu Sans, while an
    ``@font-face`` that loads it from an absolute address (Google Fonts) gets the image's file, network
    off: Open Sans there is as wide as the image's Open Sans, and Raleway (a Fontsource web font, not a
    system font: named alone it is DejaVu Sans in both modes) is drawn in Raleway; a protocol-relative
    address (which does not load from a page opened from a file) and a family the image lacks (Effra,
    a commercial font) stay DejaVu Sans, and the render names Effra as missing."""
    viewport = Viewport(width=480, height=260)
    own = _line_widths(sandbox.render_html_blocks(BY_NAME, viewport, full_page=False, fonts="system"), 6)
    named = _line_widths(sandbox.render_html_blocks(BY_NAME, viewport, full_page=False, fonts="dejavu"), 6)
    render = sandbox.render_html_blocks(WEB_FONTS, viewport, full_page=False, fonts="dejavu")
    loaded = _line_widths(render, 6)
    # the render says which loaded family it could not have (not Lato: a protocol-relative address is
    # never requested from a page opened from a file)
    assert render.missing_fonts == ("Effra",)
    base, open_sans, lato, lobster, raleway, _ = own
    for width in (open_sans, lato, lobster):
        assert abs(width - base) > 10, own
    assert len({round(w) for w in (open_sans, lato, lobster)}) == 3, own
    assert max(named) - min(named) < 1.0, named
    # the same face, laid out as a web font (its own metrics, not fontconfig's hinting): within 1%
    assert loaded[1] == pytest.approx(open_sans, rel=0.01) and abs(loaded[1] - base) > 10, (loaded, own)
    for width in (loaded[2], loaded[3], loaded[5]):
        assert width == pytest.approx(loaded[0], abs=1.0), loaded
    # Raleway named alone falls back (to the system's sans-serif, DejaVu in dejavu mode); loaded, it is not
    assert abs(loaded[4] - loaded[0]) > 10 and abs(loaded[4] - raleway) > 5, (loaded, own)


def test_dejavu_light_weight_is_drawn_extra_light(sandbox: Sandbox) -> None:
    """``font-weight: 300`` in DejaVu Sans is DejaVu's ExtraLight face (``fonts-dejavu-extra``), thinner
    than the book face, as on the machine that drew Design2Code's pictures."""
    png = sandbox.render_html(LIGHT, Viewport(width=620, height=120), full_page=False, fonts="dejavu")
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    book, light = (float((255 - grey[rows]).sum()) for rows in (slice(0, 60), slice(60, 120)))
    assert light < 0.7 * book, (book, light)


CJK = """<html lang="{lang}"><body style="margin:0;background:#fff;font-size:20px;font-family:sans-serif">
<div style="position:absolute;left:10px;top:10px">国際物流のジュピター</div>
<div style="position:absolute;left:10px;top:50px">Quick brown foxes jump</div>
</body></html>"""


@pytest.mark.parametrize("fonts", ["system", "dejavu"])
def test_cjk_text_is_drawn_in_a_cjk_font(sandbox: Sandbox, fonts: PageFonts) -> None:
    """Chinese, Japanese and Korean characters are full-width: ten of them at 20 px make a line 200 px wide
    when a font that has them draws them (the image's ``fonts-droid-fallback``); without one the browser
    draws boxes of another width. In ``dejavu`` mode (how Design2Code's pictures were drawn) the Latin text
    of a ``lang="ja"`` page stays DejaVu Sans, as wide as on an English page: the CJK font has no Latin."""
    viewport = Viewport(width=480, height=100)
    widths = {}
    for lang in ("ja", "en"):
        render = sandbox.render_html_blocks(CJK.format(lang=lang), viewport, full_page=False, fonts=fonts)
        widths[lang] = {b.text: b.box[2] - b.box[0] for b in render.blocks}
    assert widths["ja"]["国際物流のジュピター"] == pytest.approx(200, abs=1), widths
    assert widths["en"]["国際物流のジュピター"] == pytest.approx(200, abs=1), widths
    if fonts == "dejavu":
        assert widths["ja"]["Quick brown foxes jump"] == pytest.approx(
            _line_widths(
                sandbox.render_html_blocks(FAMILIES, Viewport(width=480, height=180), full_page=False, fonts=fonts)
            )[0],
            abs=1.0,
        ), widths


BUTTONS = """<body style="margin:0;background:#3b82f6">
<input type="text" placeholder="Search site" style="position:absolute;left:10px;top:10px;width:120px">
<input type="submit" value="Search" style="position:absolute;left:150px;top:10px">
<button style="position:absolute;left:230px;top:10px">Go</button>
</body>"""


def test_a_small_controls_label_is_read_against_its_face(sandbox: Sandbox) -> None:
    """A default-size button is barely taller than its label: the label's colour, read on the picture
    (``dom_blocks``), is that of its dark letters against the button's light face, not the face's colour
    read against the border."""
    render = sandbox.render_html_blocks(BUTTONS, Viewport(width=320, height=60), full_page=False)
    blocks = {b.text: b for b in dom_blocks(render)}
    assert {"Search", "Go"} <= set(blocks), blocks.keys()
    for text in ("Search", "Go"):
        colour = blocks[text].color
        assert colour is not None and max(colour) < 90, (text, colour)
