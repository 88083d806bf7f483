"""Design2Code's visual score (block match, text, position, colour, CLIP) as its authors compute it.

The fixtures are real benchmark pages and project-made answers (``viscodex.training.eval.d2c_fixtures``,
files in tests/data/design2code/). OFFICIAL holds the official ``visual_eval_v3_multi``'s numbers on them
(NoviScl/Design2Code @ 7a575e4c, on the sandbox's renders and the tiny random CLIP of
``design2code.save_tiny_clip(seed=0)``, 0-1 scale), produced with (7.4 min):

    .venv/bin/python -m viscodex.training.eval.official_design2code \\
        --mirror /work/.mirror/NoviScl+Design2Code/repo --clip /tmp/d2c-tiny-clip

The comparison runs on the sandbox's renders stored in tests/data/design2code/renders (remade after a
sandbox image change with ``python -m viscodex.training.eval.d2c_fixtures``, then the command above); one
test renders live through the real sandbox inside a whole ``run.evaluate``.
"""

from __future__ import annotations

import json
from pathlib import Path

import docker
import numpy as np
import pytest
from conftest import set_image
from PIL import Image

from viscodex.training.eval import design2code as d2c
from viscodex.training.eval.d2c_fixtures import CASES, FIXTURES, stored_renderer

OFFICIAL: dict[str, dict[str, float]] = {
    "117-broken": {
        "block": 0.0,
        "text": 0.0,
        "position": 0.0,
        "color": 0.0,
        "clip": 0.9991756081581116,
        "final": 0.19983512163162231,
    },
    "117-color": {
        "block": 1.0,
        "text": 1.0,
        "position": 1.0,
        "color": 0.7788525349574049,
        "clip": 0.9999997615814209,
        "final": 0.9557704593077653,
    },
    "117-perfect": {
        "block": 1.0,
        "text": 1.0,
        "position": 1.0,
        "color": 1.0,
        "clip": 1.0000001192092896,
        "final": 1.000000023841858,
    },
    "117-remove": {
        "block": 0.34675405742821475,
        "text": 1.0,
        "position": 0.9041666666666667,
        "color": 1.0,
        "clip": 0.9996139407157898,
        "final": 0.8501069329621344,
    },
    "117-text": {
        "block": 0.15295656364011842,
        "text": 1.0,
        "position": 0.9611111111111111,
        "color": 1.0,
        "clip": 0.9994275569915771,
        "final": 0.8226990463485614,
    },
    "4405-color": {
        "block": 1.0,
        "text": 1.0,
        "position": 1.0,
        "color": 0.9225058881545465,
        "clip": 0.9999999403953552,
        "final": 0.9845011657099804,
    },
    "4405-perfect": {
        "block": 1.0,
        "text": 1.0,
        "position": 1.0,
        "color": 1.0,
        "clip": 0.9999998807907104,
        "final": 0.9999999761581422,
    },
    "4405-plain": {
        "block": 0.614063530446252,
        "text": 0.7011494252873564,
        "position": 0.741796875,
        "color": 0.8144393746571978,
        "clip": 0.9999918341636658,
        "final": 0.7742882079108945,
    },
    "4405-remove": {
        "block": 0.9809768088062413,
        "text": 1.0,
        "position": 0.9733333333333334,
        "color": 1.0,
        "clip": 0.9999901652336121,
        "final": 0.9908600614746373,
    },
    "4405-text": {
        "block": 0.8422653382275828,
        "text": 1.0,
        "position": 1.0,
        "color": 1.0,
        "clip": 1.0,
        "final": 0.9684530676455165,
    },
    "blank-perfect": {
        "block": 0.0,
        "text": 0.0,
        "position": 0.0,
        "color": 0.0,
        "clip": 0.9999999403953552,
        "final": 0.19999998807907104,
    },
    "long-typo": {
        "block": 1.0,
        "text": 0.981651376146789,
        "position": 1.0,
        "color": 1.0,
        "clip": 1.0,
        "final": 0.9963302752293579,
    },
}

LOW_LEVEL = ("block", "text", "position", "color")


def _block(
    text: str, bbox: tuple[float, float, float, float], color: tuple[float, float, float] = (0, 0, 0)
) -> d2c.Block:
    return d2c.Block(text, bbox, color)


# --- pure parts ------------------------------------------------------------------------------------


def test_answers_are_cleaned_as_the_official_prompting_code_does() -> None:
    assert d2c.extract_html("```html\n<html><body>x</body></html>\n```") == "<html><body>x</body></html>"
    assert d2c.extract_html("Sure! <!DOCTYPE html><html>a</html> hope it helps") == "<!DOCTYPE html><html>a</html>"
    # only a fence at the very start and end counts: prose before it stays (the official code does this)
    assert d2c.extract_html("Here:\n```html\n<p>x</p>\n```").startswith("Here:")
    # without the quirk: the fenced block wherever it is
    assert d2c.extract_fenced_html("Here:\n```html\n<p>x</p>\n```\nBye") == "<p>x</p>"
    assert d2c.extract_fenced_html("```css\nb{}\n```\n```HTML\n<p>x</p>\n```") == "<p>x</p>"
    assert d2c.extract_fenced_html("cut off:\n```html\n<html><p>x") == "<html><p>x"
    assert d2c.extract_fenced_html("<html>plain</html> tail") == "<html>plain</html>"


def test_recolouring_gives_each_text_tag_its_own_colour_and_text_takes_the_nearest_one() -> None:
    html = '<html><body><p style="color: red">Hello <i>big</i> <span>world</span></p>tail<!-- no --></body></html>'
    first, second = d2c.recolor(html, 0), d2c.recolor(html, 50)
    assert first is not None and second is not None
    texts = d2c.text_colors(first)
    assert [t for t, _ in texts] == ["Hello", "big", "world", "tail"]
    colors = [c for _, c in texts]
    # <i> is not a text tag: it shares <p>'s colour; <span> has its own; body text is black
    assert colors[0] == colors[1] != colors[2] and colors[3] == "#000000"
    assert colors[0] == "#FAFAFA" and colors[2] == "#FAFAEA"  # the pool is used from its end
    assert "background-color: rgba(255, 255, 255, 0.0) !important" in first
    shifted = [c for _, c in d2c.text_colors(second)]
    assert shifted[0] == "#2C2C2C"  # (250 + 50) % 256 = 44


def test_a_page_with_more_text_tags_than_colours_has_none() -> None:
    assert d2c.recolor("<html><body>" + "<b>x</b>" * 4097 + "</body></html>") is None


def test_changed_pixels_are_those_shifted_by_50_within_8() -> None:
    first = np.zeros((2, 3, 3), dtype=np.uint8)
    first[0, 0] = (250, 10, 10)
    second = first.copy()
    second[0, 0] = (44 + 8, 60, 60)  # (250 + 50) % 256 = 44, within 8
    second[1, 2] = (50 + 9, 50, 50)  # 9 away: not text
    mask = d2c.changed_pixels(first, second)
    assert mask is not None and mask.tolist() == [[True, False, False], [False, False, False]]
    assert d2c.changed_pixels(first, first) is None
    assert d2c.changed_pixels(first, np.zeros((3, 3, 3), dtype=np.uint8)) is None


def test_blocks_cover_all_pixels_of_a_colour_and_take_the_real_colour_truncated() -> None:
    recolored = np.full((10, 20, 3), 255, dtype=np.uint8)
    recolored[2:4, 5:9] = (250, 250, 250)
    recolored[7, 15] = (252, 249, 247)  # within 4 of the same colour
    changed = np.zeros((10, 20), dtype=bool)
    changed[2:4, 5:9] = True
    changed[7, 15] = True
    shot = np.zeros((10, 20, 3), dtype=np.uint8)
    shot[2, 5] = (3, 0, 0)  # mean over 9 pixels: 3/9 -> 0 after truncation
    shot[7, 15] = (90, 9, 0)
    texts = [("Hello", "#FAFAFA"), ("Again", "#FAFAFA"), ("gone", "#0A0A0A"), ("bad", "#fff")]
    blocks = d2c.find_blocks(texts, shot, recolored, changed)
    assert blocks is not None and [b.text for b in blocks] == ["hello", "again"]
    assert blocks[0].bbox == pytest.approx((5 / 20, 2 / 10, 11 / 20, 6 / 10))
    assert blocks[0].color == (10, 1, 0)  # (3 + 90) / 9 = 10.33, 9 / 9 = 1
    merged = d2c.merge_by_bbox(blocks)
    assert len(merged) == 1 and merged[0].text == "hello again"


def test_the_answer_is_preprocessed_as_the_official_code_does() -> None:
    wrapped = d2c.preprocess_answer("Just some text")
    assert wrapped == "<html><body><p>Just some text</p></body></html>"
    many = "<html><body>" + "<div>same</div>" * 53 + "</body></html>"
    assert d2c.preprocess_answer(many).count("<div>same</div>") == 50
    chunk = "".join(chr(97 + i % 26) for i in range(100))
    intro = "intro " * 16 + "1234"  # one 100-character chunk of its own
    repeated = "<html><body><p>" + intro + chunk * 6 + "</p></body></html>"
    start = d2c.repetition_start(repeated)
    # cut where the first of the five similar chunks starts (so the repeated text goes entirely)
    assert start == len("<html><body><p>") + 100
    assert d2c.preprocess_answer(repeated) == "<html><body><p>" + intro + "</p></body></html>"
    assert d2c.repetition_start("<p>" + intro + chunk * 4 + "</p>") is None


def test_difflib_autojunk_lowers_long_text_similarity() -> None:
    first = (FIXTURES / "long.html").read_text()
    second = (FIXTURES / "long.typo.html").read_text()
    with_junk = d2c.text_similarity(first, second, True)
    without = d2c.text_similarity(first, second, False)
    assert with_junk < without and without > 0.9


def test_matching_merges_neighbouring_blocks_and_drops_weak_pairs() -> None:
    answer = [_block("hello", (0.1, 0.1, 0.1, 0.05)), _block("world", (0.21, 0.1, 0.1, 0.05))]
    reference = [_block("hello world", (0.1, 0.1, 0.21, 0.05)), _block("zzz qqq", (0.5, 0.5, 0.1, 0.1))]
    parts = d2c.low_level(answer, reference)
    assert parts.matched and parts.text == 1.0 and parts.color == 1.0
    # the answer's two blocks were merged into one box, which the CLIP step then masks
    assert len(parts.answer_masks) == 1 and parts.answer_masks[0] == pytest.approx((0.1, 0.1, 0.21, 0.05))
    assert parts.block == pytest.approx(2 * 0.21 * 0.05 / (2 * 0.21 * 0.05 + 0.1 * 0.1))
    unmerged = d2c.low_level(answer, reference, d2c.Quirks(clip_masks_merged_answer_blocks=False))
    assert unmerged.answer_masks == tuple(b.bbox for b in answer)
    nothing = d2c.low_level([_block("abc", (0, 0, 0.1, 0.1))], [_block("xyz", (0, 0, 0.1, 0.1))])
    assert not nothing.matched and nothing.block == nothing.text == 0.0


def test_pages_without_text_score_zero_unless_the_quirk_is_off() -> None:
    official = d2c.low_level([], [])
    assert (official.block, official.text, official.position, official.color, official.matched) == (0, 0, 0, 0, False)
    fixed = d2c.low_level([], [], d2c.FIXED)
    assert (fixed.block, fixed.text, fixed.position, fixed.color, fixed.matched) == (1, 1, 1, 1, True)
    one_side = d2c.low_level([], [_block("a", (0, 0, 0.1, 0.1))], d2c.FIXED)
    assert one_side.block == 0.0 and not one_side.matched


def test_colour_similarity_is_one_minus_ciede2000_over_100() -> None:
    assert d2c.color_similarity((10, 20, 30), (10, 20, 30)) == 1.0
    assert d2c.color_similarity((0, 0, 0), (255, 255, 255)) == pytest.approx(0.0, abs=1e-6)  # delta E ~100
    assert 0.4 < d2c.color_similarity((255, 0, 0), (0, 0, 255)) < 0.6


def test_placeholder_pictures_are_inlined() -> None:
    html = '<img src="rick.jpg"><div style="background: url(./rick.jpg)"></div><img src="other.jpg">'
    out = d2c.with_assets(html, {"rick.jpg": b"\xff\xd8jpeg"})
    assert out.count("data:image/jpeg;base64,/9hqcGVn") == 2 and 'src="other.jpg"' in out


# --- loaders -----------------------------------------------------------------------------------------


def _png(path: Path, size: tuple[int, int] = (40, 30)) -> None:
    Image.new("RGB", size, "white").save(path)


def test_folder_loader_reads_the_published_layout(tmp_path: Path) -> None:
    folder = tmp_path / "testset_final"
    folder.mkdir()
    for name in ("10", "2", "117"):
        (folder / f"{name}.html").write_text("<html></html>")
        _png(folder / f"{name}.png")
    (folder / "117.text.html").write_text("<html></html>")  # a perturbation: no picture of its own
    (folder / "rick.jpg").write_bytes(b"jpeg")
    items = d2c.load(tmp_path, tmp_path / "cache")
    assert [i.id for i in items] == ["2", "10", "117"]
    assert items[0].assets == {"rick.jpg": folder / "rick.jpg"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(d2c.DataError, match="holds no Design2Code pages"):
        d2c.load(tmp_path / "empty", tmp_path / "cache2")
    with pytest.raises(d2c.DataError, match="neither a folder nor a hub dataset"):
        d2c.load(tmp_path / "missing" / "deep", tmp_path / "cache")


def test_a_hub_name_offline_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(d2c.DataError, match="cannot load dataset SALT-NLP/Design2Code-hf") as error:
        d2c.load("SALT-NLP/Design2Code-hf", tmp_path / "cache")
    assert "\n" not in str(error.value)


def test_a_saved_dataset_loads_like_the_hub_one(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    picture = Image.new("RGB", (32, 24), "navy")
    rows = datasets.Dataset.from_dict(
        {"image": [picture, picture], "text": ["<html><body>a</body></html>", "<html><body>b</body></html>"]},
        features=datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")}),
    )
    rows.save_to_disk(str(tmp_path / "saved"))
    items = d2c.load(tmp_path / "saved", tmp_path / "cache")
    assert [i.id for i in items] == ["0", "1"]
    assert items[1].html.read_text() == "<html><body>b</body></html>"
    with Image.open(items[0].picture) as image:
        assert image.size == (32, 24)
    bad = datasets.Dataset.from_dict({"question": ["x"]})
    bad.save_to_disk(str(tmp_path / "bad"))
    with pytest.raises(d2c.DataError, match="needs 'image' and 'text' columns"):
        d2c.load(tmp_path / "bad", tmp_path / "cache2")


# --- CLIP ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return d2c.save_tiny_clip(tmp_path_factory.mktemp("clip"), seed=0)


@pytest.fixture(scope="module")
def clip(clip_dir: Path) -> d2c.Clip:
    return d2c.Clip(str(clip_dir))


def test_tiny_clip_loads_by_path_and_compares_pictures(clip: d2c.Clip) -> None:
    red = Image.new("RGB", (64, 64), "red")
    stripes = Image.fromarray(np.tile(np.array([[0], [255]], dtype=np.uint8), (32, 64))).convert("RGB")
    assert clip.similarity(red, red) == pytest.approx(1.0, abs=1e-6)
    assert clip.similarity(red, stripes) < 0.999
    with pytest.raises(d2c.DataError, match="cannot load CLIP"):
        d2c.Clip("no-such-architecture")


def test_inpainting_masks_boxes_and_squeezes_to_a_square() -> None:
    shot = np.full((40, 80, 3), 255, dtype=np.uint8)
    shot[10:20, 10:30] = 0
    square = d2c.inpainted_square(shot, [(10 / 80, 10 / 40, 20 / 80, 10 / 40)])
    assert square.size == (40, 40)
    assert np.asarray(square).min() > 200  # the black box is painted over from its white surroundings
    assert np.asarray(d2c.inpainted_square(shot, [])).min() < 50


# --- against the official numbers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def references() -> dict[str, d2c.Page]:
    pages = sorted({case.page for case in CASES.values()})
    return {page: d2c.page_blocks((FIXTURES / f"{page}.html").read_text(), stored_renderer()) for page in pages}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture_scores_agree_with_the_official_code(
    name: str, references: dict[str, d2c.Page], clip: d2c.Clip
) -> None:
    """On the sandbox's stored renders (the pixels the official code scored), every number within 1e-6."""
    case = CASES[name]
    mine = d2c.page_blocks(d2c.preprocess_answer(case.path.read_text()), stored_renderer())
    ours = d2c.scores(mine, references[case.page], clip)
    for metric in d2c.FIELDS:
        assert ours[metric] == pytest.approx(OFFICIAL[name][metric], abs=1e-6), metric
    if name.endswith("-perfect") and name != "blank-perfect":
        assert all(ours[m] == 1.0 for m in LOW_LEVEL)
    elif name != "blank-perfect":
        assert min(ours[m] for m in LOW_LEVEL) < 1.0
    if name == "blank-perfect":
        fixed = d2c.scores(mine, references[case.page], clip, d2c.FIXED)
        assert all(fixed[m] == 1.0 for m in LOW_LEVEL) and fixed["final"] == pytest.approx(1.0, abs=1e-6)
    if name == "long-typo":  # without autojunk the reworded paragraph scores higher
        fixed = d2c.scores(mine, references[case.page], clip, d2c.Quirks(autojunk=False))
        assert fixed["text"] > ours["text"]


class StoredSandbox:
    """Serves the stored sandbox renders (``d2c_fixtures.RENDERS``) through ``Sandbox.render_html``'s call."""

    def render_html(self, html: str, viewport: object = None, **_kwargs: object) -> bytes:
        return stored_renderer()(html)


@pytest.mark.parametrize("name", ["4405-plain", "117-broken"])  # files without </html>: cleanup keeps them whole
def test_score_html_rows_are_the_official_numbers_x_100(name: str, clip: d2c.Clip) -> None:
    case = CASES[name]
    reference = (FIXTURES / f"{case.page}.html").read_text()
    row = d2c.score_html(StoredSandbox(), case.page, reference, case.path.read_text(), clip=clip)
    assert row["id"] == case.page
    for metric in d2c.FIELDS:
        assert row[metric] == pytest.approx(100 * OFFICIAL[name][metric], abs=1e-4), metric
    if name == "117-broken":  # the cut-off page shows no text: the official 0.2 x CLIP
        assert row["blocks"] == 0 and row["final"] == pytest.approx(20 * OFFICIAL[name]["clip"], abs=1e-4)


@pytest.mark.slow
def test_an_evaluation_run_scores_the_model_answer_live(
    docker_client: docker.DockerClient, clip_dir: Path, tmp_path: Path
) -> None:
    """``run.evaluate`` on the benchmark's layout with a scripted model: the official prompt and picture go
    out, the answer is rendered in the real sandbox, and the row holds the official numbers x 100."""
    import asyncio
    import shutil

    from scripted_model import ScriptedModel, serve

    from viscodex.model.settings import ModelSettings
    from viscodex.training.eval.run import EvalConfig, evaluate

    set_image(docker_client, "default")
    data = tmp_path / "testset_final"
    data.mkdir()
    for name in ("117.html", "117.png"):
        shutil.copy(FIXTURES / name, data / name)
    answer = "```html\n" + (FIXTURES / "117.color.html").read_text() + "\n```"
    out = tmp_path / "run"
    with serve(ScriptedModel([answer])) as model:
        settings = ModelSettings(model_url=model.url)
        config = EvalConfig(
            bench="design2code", data=tmp_path, out=out, settings=settings, workers=1, clip=str(clip_dir)
        )
        summary = asyncio.run(evaluate(config))
        assert model.user_texts(0)[0] == d2c.PROMPT and model.image_count(0) == 1
    (row,) = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert row["id"] == "117" and (row["blocks"], row["reference_blocks"]) == (2, 2)
    for metric in d2c.FIELDS:
        assert row[metric] == pytest.approx(100 * OFFICIAL["117-color"][metric], abs=1e-4), metric
        assert summary["metrics"][metric] == pytest.approx(row[metric])
    assert any("Quirk autojunk on" in note for note in summary["notes"])


def test_the_quirks_registry_knows_design2code_from_a_bare_import() -> None:
    """The CLI imports ``quirks`` alone before building the run: the names must be there already."""
    import subprocess
    import sys

    code = (
        "from viscodex.training.eval import quirks; "
        "print(sorted(quirks.resolve('design2code', ['autojunk']))); "
        "print(len(quirks.notes('design2code', frozenset())))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "['answer-preprocess', 'blank-pages-zero', 'clip-merged-masks', 'fence-at-start-only']"
    assert out[1] == "5"
    assert d2c.quirks_from(["autojunk"]) == d2c.Quirks(False, True, False, False, False)
    assert d2c.quirks_from(None) == d2c.OFFICIAL
