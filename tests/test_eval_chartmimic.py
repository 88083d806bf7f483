"""ChartMimic's low-level metrics (text, layout, type and colour F1) as its authors compute them.

The fixtures are the project's own (``viscodex.training.eval.fixtures``). OFFICIAL holds the official
evaluators' numbers on them, produced by running ChartMimic's own code (commit c9e149c6) in the sandbox's
``chartmimic`` image with:

    .venv/bin/python -m viscodex.training.eval.official_chartmimic --mirror /work/.mirror/ChartMimic+ChartMimic/repo
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from conftest import set_image

from viscodex.sandbox import Sandbox, SandboxPolicy
from viscodex.training.eval import chartmimic as cm
from viscodex.training.eval import chartmimic_color as cc
from viscodex.training.eval.fixtures import ANSWERS, GOLD, GOLD_ID

OFFICIAL = {
    "broken": {"color": 0, "layout": 0, "text": 0, "type": 0},
    "color": {"color": 79.67076609561813, "layout": 100.0, "text": 100.0, "type": 100.0},
    "layout": {"color": 100.0, "layout": 0, "text": 100.0, "type": 100.0},
    "perfect": {"color": 100.0, "layout": 100.0, "text": 100.0, "type": 100.0},
    "removed_series": {"color": 90.9090909090909, "layout": 100.0, "text": 88.8888888888889, "type": 80.0},
    "text": {"color": 100.0, "layout": 100.0, "text": 60.0, "type": 100.0},
    "type": {"color": 83.33333333333334, "layout": 100.0, "text": 100.0, "type": 66.66666666666666},
}


# --- pure parts ------------------------------------------------------------------------------------


def test_generated_code_loses_savefig_and_show_and_all_after_them() -> None:
    answer = (
        "Here:\n```python\nimport matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig('x.png')\nprint('after')\n```"
    )
    code = cm.extract_code(answer)
    prepared = cm.prepare_generated(code, "line_3")
    assert prepared == 'import matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig("gen/line_3.pdf")'
    shown = cm.prepare_generated("import matplotlib.pyplot as plt\nplt.bar([1], [2])\nplt.show()\nx = 1\n", "b")
    assert shown.endswith('plt.bar([1], [2])\nplt.savefig("gen/b.pdf")')


def test_only_python_fences_count_as_code() -> None:
    assert cm.extract_code("```\nplt.plot()\n```") == ""
    assert cm.extract_code("```python\na = 1\n```\n```python\nb = 2\n```") == "\na = 1\n"


def test_text_and_layout_are_multiset_f1() -> None:
    assert cm.multiset_f1(["a", "b", "b"], ["a", "b", "b"])[2] == 1.0
    # one "b" matched once only: precision 2/3, recall 2/2
    p, r, f1 = cm.multiset_f1(["a", "b", "b"], ["a", "b"])
    assert (p, r) == (2 / 3, 1.0) and f1 == pytest.approx(0.8)
    assert cm.multiset_f1([], ["a"]) == (0.0, 0.0, 0.0)
    assert cm.multiset_f1(["a"], []) == (0.0, 0.0, 0.0)
    geometry = {"nrows": 1, "ncols": 2, "row_start": 0, "row_end": 0, "col_start": 0, "col_end": 0}
    assert cm.multiset_f1([geometry], [dict(reversed(geometry.items()))])[2] == 1.0


def test_type_counts_are_matched_by_min() -> None:
    p, r, _ = cm.type_f1({"bar": 3, "plot": 1}, {"bar": 1, "scatter": 2})
    assert (p, r) == (1 / 4, 1 / 3)
    assert cm.type_f1({}, {"bar": 1}) == (0.0, 0.0, 0.0)
    assert cm.type_f1({"bar": 1}, {})[1] == 0.0


def test_ticks_are_removed_before_the_first_savefig_or_before_the_last_character() -> None:
    program = cm.text_program("import matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig('a.pdf')\n")
    assert program.index("set_xticks([])") < program.index("plt.savefig('a.pdf')")
    # no savefig: str.find gives -1 and the official code inserts before the last character
    program = cm.text_program("x = 1\n")
    assert program.index("set_xticks([])") > program.index("x = 1")


def test_loader_reads_scripts_with_pictures(tmp_path: Path) -> None:
    folder = tmp_path / "dataset" / "ori_500"
    folder.mkdir(parents=True)
    for name in ("bar_10", "bar_2", "line_1"):
        (folder / f"{name}.py").write_text("import matplotlib.pyplot as plt\n")
        (folder / f"{name}.png").write_bytes(b"png")
    (folder / "orphan_1.py").write_text("x = 1\n")
    items = cm.load(tmp_path, tmp_path / "cache")
    assert [i.id for i in items] == ["bar_2", "bar_10", "line_1"]
    with pytest.raises(cm.DataError, match="no ChartMimic scripts"):
        cm.load(tmp_path / "cache", tmp_path / "cache")


def test_prompt_carries_the_ground_truth_figure_size() -> None:
    assert "figsize=(9, 4)" in cm.prompt_for(GOLD)


def test_colour_similarity_is_one_minus_ciede2000_over_100() -> None:
    assert cc.similarity("#4C72B0", "#4C72B0") == 1.0
    # CIEDE2000 of black and white is 100 (to 1e-5): similarity 0
    assert cc.similarity("#000000", "#FFFFFF") == pytest.approx(0.0, abs=1e-6)
    # colormath 3.0.0: sRGB (76, 114, 176) against black is 40.14476302
    assert cc.similarity("#4C72B0", "#000000") == pytest.approx(1 - 0.4014476302, abs=1e-9)
    assert cc.similarity("viridis", "viridis") == 1.0 and cc.similarity("viridis", "#000000") == 0.0


def test_colour_pairing_is_the_best_permutation() -> None:
    import itertools

    gen = ["#101010", "#FF0000", "#00FF00", "#0000FE"]
    gold = ["#0000FF", "#FE0000", "#808080"]
    brute = max(
        sum(cc.similarity(a, b) for a, b in zip(gold, perm, strict=False))
        for perm in itertools.permutations(gen, len(gold))
    )
    assert cc.best_total(gen, gold) == pytest.approx(brute, abs=1e-12)
    assert cc.best_total([], gold) == 0.0


def test_colour_f1_groups_by_function_and_filters_past_ten() -> None:
    bar, line = "m/axes.py/bar", "m/_base.py/_makeline"
    gold = [f"{bar}--#FF0000", f"{line}--#0000FF"]
    # colours are only paired within a function: swapped, red meets blue in both groups
    swapped = cc.color_f1([f"{line}--#FF0000", f"{bar}--#0000FF"], gold)[2]
    assert swapped == pytest.approx(cc.similarity("#FF0000", "#0000FF")) and swapped < 0.6
    assert cc.color_f1(gold, gold)[2] == pytest.approx(1.0)
    # precision halves with a second, unmatched generated colour
    p, r, _ = cc.color_f1([*gold, f"{bar}--#00FF00"], gold)
    assert r == pytest.approx(1.0) and p == pytest.approx(2 / 3)
    # eleven near-identical greys: the filter keeps one of them
    greys = [f"{bar}--#{v:02X}{v:02X}{v:02X}" for v in range(100, 111)]
    assert len(cc.filter_colors(greys)) == 1
    assert cc.color_f1(greys, [f"{bar}--#646464"])[0] == pytest.approx(1.0)
    # no gold colour: the official recall divides by zero and loses the item; it scores 0 here
    assert cc.color_f1(gold, []) == (0.0, 0.0, 0.0)


# --- in the sandbox, against the official numbers --------------------------------------------------


@pytest.fixture(scope="module")
def chartmimic_sandbox(docker_client: docker.DockerClient) -> Iterator[Sandbox]:
    image = set_image(docker_client, "chartmimic")
    with Sandbox(
        client=docker_client, image=image, policy=SandboxPolicy(package_set="chartmimic"), pool={"exec": 1}
    ) as sb:
        yield sb


@pytest.fixture(scope="module")
def gold_trace(chartmimic_sandbox: Sandbox) -> cm.Trace:
    gold = cm.trace(chartmimic_sandbox, GOLD, GOLD_ID)
    assert gold.ok, gold.detail
    return gold


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_fixture_scores_agree_with_the_official_code(
    name: str, chartmimic_sandbox: Sandbox, gold_trace: cm.Trace
) -> None:
    mine = cm.trace(chartmimic_sandbox, ANSWERS[name], GOLD_ID)
    ours = cm.scores(mine, gold_trace)
    for metric in cm.FIELDS:
        assert ours[metric] == pytest.approx(OFFICIAL[name][metric], abs=1e-6), metric
    if name == "perfect":
        assert ours == {"text": 100.0, "layout": 100.0, "type": 100.0, "color": 100.0}
    else:
        assert min(ours.values()) < 100.0
    assert mine.ok == (name != "broken")


@pytest.mark.slow
def test_a_whole_answer_is_scored_from_its_markdown(chartmimic_sandbox: Sandbox, tmp_path: Path) -> None:
    (tmp_path / f"{GOLD_ID}.py").write_text(GOLD)
    (tmp_path / f"{GOLD_ID}.png").write_bytes(b"")
    item = cm.ChartItem(GOLD_ID, tmp_path / f"{GOLD_ID}.py", tmp_path / f"{GOLD_ID}.png")
    answer = "Sure:\n```python\n" + GOLD.replace("Sales per year", "Units sold") + "\nplt.show()\n```\n"
    row = cm.score_answer(chartmimic_sandbox, item, answer)
    assert row["id"] == GOLD_ID and row["ran"] is True
    assert row["layout"] == row["type"] == row["color"] == 100.0 and 0 < row["text"] < 100
    empty = cm.score_answer(chartmimic_sandbox, item, "I cannot draw that.")
    assert empty["text"] == empty["layout"] == empty["type"] == empty["color"] == 0.0 and empty["ran"] is False


def test_pdf_ground_truths_are_rasterised_at_120_dpi_once(tmp_path: Path) -> None:
    import shutil

    from conftest import missing_service
    from PIL import Image

    if shutil.which("pdftoppm") is None:
        missing_service("pdftoppm (poppler-utils) is not installed")
    folder = tmp_path / "ori_500"
    folder.mkdir()
    (folder / "bar_1.py").write_text(GOLD)
    # a 2 x 1 inch page (144 x 72 pt): 240 x 120 pixels at 120 dpi
    Image.new("RGB", (144, 72), "red").save(folder / "bar_1.pdf", resolution=72.0)
    items = cm.load(folder, tmp_path / "cache")
    assert items[0].picture == tmp_path / "cache" / "bar_1.png"
    with Image.open(items[0].picture) as picture:
        assert picture.size == (240, 120)
    stamp = items[0].picture.stat().st_mtime_ns
    assert cm.load(folder, tmp_path / "cache")[0].picture.stat().st_mtime_ns == stamp


# --- quirks and the judge's score ------------------------------------------------------------------


def test_savefig_cut_quirk_off_keeps_what_follows_the_save() -> None:
    code = 'import matplotlib.pyplot as plt\nplt.plot([1])\nplt.savefig(\n    "a.pdf",\n)\nplt.title("after")\n'
    assert "after" not in cm.prepare_generated(code, "x")  # as published: all after savefig is gone
    kept = cm.prepare_generated(code, "x", savefig_cut=False)
    assert kept == 'import matplotlib.pyplot as plt\nplt.plot([1])\npass\nplt.title("after")\nplt.savefig("gen/x.pdf")'
    inside = "import matplotlib.pyplot as plt\nif True:\n    plt.show()\nx = 1\n"
    compile(cm.prepare_generated(inside, "y", savefig_cut=False), "answer", "exec")  # the block stays valid


def test_ticks_last_char_quirk_off_puts_the_removal_after_the_script() -> None:
    program = cm.text_program("x = 1\n", ticks_last_char=False)
    assert program.index("x = 1\n") < program.index("set_xticks([])")
    assert "x = 1\n" in program  # not split before its last character


def test_quirk_names_are_checked_per_benchmark() -> None:
    from viscodex.training.eval import quirks

    assert quirks.resolve("chartmimic", []) == {"savefig-cut", "ticks-last-char"}
    assert quirks.resolve("chartmimic", ["savefig-cut"]) == {"ticks-last-char"}
    assert quirks.resolve("mmcode", [], all_off=True) == frozenset()
    with pytest.raises(ValueError, match="unknown quirk 'loose-output' for chartmimic"):
        quirks.resolve("chartmimic", ["loose-output"])
    assert all("Quirk" in line for line in quirks.notes("mmcode", frozenset()))


def test_judge_score_is_the_last_score_line() -> None:
    answer = "Comments:\n- Layout: good, 10\n- Style: 15\n\nScore: 73\n\n---"
    assert cm.judge_score(answer) == 73.0
    assert cm.judge_score("**Score**: 88.5/100") == 88.5
    assert cm.judge_score("Score: 140") == 100.0
    assert cm.judge_score("no number here") is None
    assert cm.judge_code("```python\nimport matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\n```").endswith(
        "plt.plot([1])"
    )
