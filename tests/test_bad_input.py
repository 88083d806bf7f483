"""Bad input never ends in a traceback: pictures of every shape, mode and format at every entry point,
and each console script's error paths.

Property-based (hypothesis, strategies in ``image_strategies.py``): the image pipeline (decode,
normalise, tile), the solve task's picture rules (target size, what goes to the model) and ``solve``'s
input checks, through the CLI itself. The outcome is always a usable image or the documented
``ImageInputError``, never another exception; in the CLI, exit 2 with one line, or the run goes on. No
Docker and no model: the runs that pass the checks stop at the (unreachable) model with exit 3. Only the
last tests (marked ``docker``) run the pictures the issue found through the real sandbox and a scripted
model: a 1x1 UI renders at 16x16 and is scored, a 60000x20 picture reaches the model as 16 strips.
"""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from image_strategies import FAST, PURE, Picture, claimed_pngs, pictures, sizes
from PIL import Image
from scripted_model import ScriptedModel, serve
from typer.testing import CliRunner

from viscodex.agent import ExitCode, SolveRequest, cli_errors, describe_failure, run_app
from viscodex.agent.cli import app as agent_app
from viscodex.agent.tasks import visual_common
from viscodex.agent.tasks.base import model_images
from viscodex.agent.tasks.pictures import (
    MAX_SIDE,
    MAX_TARGET_ASPECT,
    MIN_SIDE,
    check_picture,
    model_budget,
    pictures_for_model,
    target_size,
)
from viscodex.model.errors import ModelError, ModelUnavailable
from viscodex.model.image_tiling import DEFAULT_MAX_STRIPS, DEFAULT_MAX_TILES, plan_tiles, tile_image
from viscodex.model.images import (
    DEFAULT_LIMITS,
    ImageInputError,
    PixelBudget,
    decode_image,
    load_image,
    normalize_image,
)
from viscodex.model.pixel_budget import is_stable, smart_resize
from viscodex.sandbox import Viewport

BIN = Path(sys.executable).parent
BUDGETS = (model_budget(1280), PixelBudget())  # the agent's default, and the model processor's own
KINDS = ("ui", "chart", "algorithm", "fix", "auto")
UNREACHABLE = "http://127.0.0.1:9/v1"


def budgets() -> st.SearchStrategy[PixelBudget]:
    return st.sampled_from(BUDGETS)


def ratio(width: int, height: int) -> float:
    return max(width, height) / min(width, height)


def assert_model_ready(image: Image.Image, budget: PixelBudget) -> None:
    """What the model may be given: RGB, a fixed point of smart_resize within the budget."""
    assert image.mode == "RGB"
    assert is_stable(image.height, image.width, budget)
    assert image.width * image.height <= budget.max_pixels
    assert ratio(image.width, image.height) <= budget.max_aspect_ratio


# --- the image pipeline ------------------------------------------------------------------------------------


@given(picture=pictures())
@FAST
def test_any_accepted_picture_decodes_to_upright_rgb(picture: Picture) -> None:
    decoded = decode_image(picture.source)
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (picture.width, picture.height)


@given(picture=pictures(), budget=budgets())
@FAST
def test_normalize_gives_a_model_image_or_the_aspect_ratio_error(picture: Picture, budget: PixelBudget) -> None:
    if picture.ratio > budget.max_aspect_ratio:
        with pytest.raises(ImageInputError, match=r"aspect ratio .* cut it into strips"):
            normalize_image(picture.source, budget)
        return
    normalized = normalize_image(picture.source, budget)
    assert (normalized.original_width, normalized.original_height) == (picture.width, picture.height)
    height, width = smart_resize(picture.height, picture.width, budget)
    if is_stable(height, width, budget):
        assert_model_ready(normalized.image, budget)
        assert normalized.image.size == (width, height)
    else:  # the rare size the server resizes itself (see resize_to_budget)
        assert normalized.image.size == (picture.width, picture.height)
    assert normalized.tokens == budget.tokens(height, width)


@given(size=sizes(), budget=budgets())
@PURE
def test_plan_tiles_covers_any_size_or_refuses_it(size: tuple[int, int], budget: PixelBudget) -> None:
    """Every size 1..70000 either way: strips the model takes whole, covering the picture, or the error."""
    width, height = size
    try:
        boxes = plan_tiles(width, height, budget)
    except ImageInputError as exc:
        assert "too elongated" in str(exc)
        assert ratio(width, height) > 1000  # anything up to 1000:1 is always carried
        return
    assert 1 <= len(boxes) <= max(DEFAULT_MAX_TILES, DEFAULT_MAX_STRIPS)
    vertical = height >= width
    ends = []
    for left, top, right, bottom in boxes:
        if vertical:
            assert (left, right) == (0, width)
        else:
            assert (top, bottom) == (0, height)
        strip_height, strip_width = bottom - top, right - left
        assert is_stable(*smart_resize(strip_height, strip_width, budget), budget)
        ends.append((top, bottom) if vertical else (left, right))
    assert ends[0][0] == 0 and ends[-1][1] == (height if vertical else width)
    for (_, end), (start, _) in itertools.pairwise(ends):
        assert start <= end  # no gap between neighbours
    if len(boxes) > DEFAULT_MAX_TILES:  # extra strips only for thin pictures: never more tokens than 8 images
        tokens = sum(budget.tokens(*smart_resize(b - t, r - lft, budget)) for lft, t, r, b in boxes)
        assert tokens <= DEFAULT_MAX_TILES * budget.max_pixels // budget.factor**2


@given(picture=pictures(pillow=False), budget=budgets())
@FAST
def test_tile_image_gives_model_ready_strips_or_refuses(picture: Picture, budget: PixelBudget) -> None:
    image = load_image(picture.source)
    try:
        planned = plan_tiles(picture.width, picture.height, budget)
    except ImageInputError:
        with pytest.raises(ImageInputError, match="too elongated"):
            tile_image(image, budget)
        return
    tiles = tile_image(image, budget)
    assert [tile.box for tile in tiles] == planned
    for tile in tiles:
        assert_model_ready(tile.image, budget)


@given(claimed=claimed_pngs())
@FAST
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_png_claiming_any_size_decodes_or_is_refused(claimed: tuple[int, int, bytes]) -> None:
    """Headers claiming up to 70000x70000: refused before decoding, or as cut off, or (tiny) decoded."""
    width, height, data = claimed
    try:
        decoded = decode_image(data)
    except ImageInputError as exc:
        message = str(exc)
        if width * height > DEFAULT_LIMITS.max_pixels:
            assert "more than the limit" in message
        else:
            assert "truncated or corrupt" in message or "decompression bomb" in message
        return
    assert decoded.image.size == (width, height) and decoded.image.mode == "RGB"


# --- the solve task's picture rules --------------------------------------------------------------------------


@given(size=sizes(), kind=st.sampled_from(("ui", "chart")))
@PURE
def test_target_size_fits_the_sandbox_viewport_or_refuses(size: tuple[int, int], kind: str) -> None:
    width, height = size
    if ratio(width, height) > MAX_TARGET_ASPECT:
        with pytest.raises(ImageInputError, match=f"too elongated for a {kind} task"):
            target_size(width, height, kind)
        return
    rendered = target_size(width, height, kind)
    assert all(MIN_SIDE <= side <= MAX_SIDE for side in rendered)
    Viewport(width=rendered[0], height=rendered[1])  # the sandbox takes it
    assert ratio(*rendered) <= MAX_TARGET_ASPECT  # so the candidate's render goes to the model whole
    if MIN_SIDE <= min(width, height) and max(width, height) <= MAX_SIDE:
        assert rendered == (width, height)
    else:  # scaled until the longer side is 8192 or the shorter 16, the shape kept to the pixel
        long_side, short_side = max(width, height), min(width, height)
        scale = MAX_SIDE / long_side if long_side > MAX_SIDE else MIN_SIDE / short_side
        assert abs(rendered[0] - width * scale) <= 0.5 and abs(rendered[1] - height * scale) <= 0.5


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="viscodex-bad-input-") as name:
        yield Path(name)


@given(picture=pictures(), kind=st.sampled_from(KINDS), budget=budgets())
@FAST
def test_what_passes_the_input_check_the_run_can_use(
    picture: Picture, kind: str, budget: PixelBudget, folder: Path
) -> None:
    """check_picture passes or refuses; a picture it passes goes to the model, and a visual target and
    its render fit the sandbox and the model, without another error."""
    path = picture.write(folder)
    try:
        decoded = check_picture(path, kind, budget)
    except ImageInputError as exc:
        assert str(exc)
        assert "too elongated" in str(exc)  # every accepted format and mode decodes: only shape refuses
        return
    assert decoded.image.size == (picture.width, picture.height)
    images, _ = pictures_for_model([path], budget)
    for image in images:
        normalize_image(image, budget)  # what the model client does with each: no error
    if kind in ("ui", "chart"):
        rendered = target_size(picture.width, picture.height, kind)
        Viewport(width=rendered[0], height=rendered[1])
        pictures_for_model([Image.new("RGB", rendered, "white")], budget)  # the render goes back whole


@pytest.fixture(scope="module")
def cli_env(folder: Path) -> dict[str, str]:
    """No configuration, no local model: a run that passes the checks ends at the model (exit 3)."""
    return {
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_CACHE_HOME": str(folder / "cache"),
        "VISCODEX_MODEL_PATH": str(folder / "no-model"),
        "VISCODEX_MODEL_URL": UNREACHABLE,
    }


@given(picture=pictures(max_pixels=400_000), kind=st.sampled_from(KINDS))
@FAST
def test_solve_refuses_with_one_line_or_goes_on(
    picture: Picture, kind: str, folder: Path, cli_env: dict[str, str]
) -> None:
    """``viscodex-agent solve PICTURE``: exit 2 and one line exactly when the input check refuses it,
    else the run goes on to the model (unreachable here: exit 3). Never a traceback."""
    path = picture.write(folder, "solve")
    try:
        check_picture(path, kind, model_budget(1280))
        expected = ExitCode.UNAVAILABLE
    except ImageInputError:
        expected = ExitCode.USAGE
    args = ["solve", str(path), "--kind", kind, "--max-iters", "1", *(["--repo", str(folder)] if kind == "fix" else [])]
    result = CliRunner().invoke(agent_app, args, env=cli_env)
    assert isinstance(result.exception, SystemExit | None), result.exception  # nothing else escaped
    assert result.exit_code == expected, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("viscodex-agent: ") and "Traceback" not in result.stderr
    if expected == ExitCode.USAGE:
        assert last.startswith(f"viscodex-agent: {path}: ")


def test_tiny_picture_is_scaled_up_to_the_smallest_viewport(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visual_common, "ocr_blocks", lambda png: [])
    path = folder / "dot.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(path)
    target = visual_common.load_target(path, "ui")
    assert (target.width, target.height) == (16, 16)
    rendered = Image.open(io.BytesIO(target.png))
    assert rendered.size == (16, 16) and rendered.convert("RGB").getpixel((15, 15)) == (200, 30, 30)
    Viewport(width=target.width, height=target.height)


def test_elongated_picture_goes_to_the_model_as_strips(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(visual_common, "ocr_blocks", lambda png: [])
    wide, tall = folder / "wide.png", folder / "tall.png"
    Image.new("L", (60000, 20), 200).save(wide)
    Image.new("L", (20, 60000), 200).save(tall)
    for path, order in ((wide, "left to right"), (tall, "top to bottom")):
        images, note = model_images(SolveRequest(images=(path,), kind="algorithm"))
        assert len(images) == 16 and f"cut into 16 overlapping strips, {order}" in note
        for image in images:
            assert isinstance(image, Image.Image)
            assert_model_ready(normalize_image(image, model_budget(1280)).image, model_budget(1280))
        with pytest.raises(ImageInputError, match=f"{path}: a .* picture is too elongated for a ui task"):
            visual_common.load_target(path, "ui")


# --- the failure handler -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ImageInputError("a 1x70000 picture is too elongated"), ExitCode.USAGE),
        (cli_errors.UsageError("no such file: x"), ExitCode.USAGE),
        (ModelUnavailable("no model"), ExitCode.UNAVAILABLE),
        (ModelError("it broke"), ExitCode.FAILED),
        (KeyboardInterrupt(), ExitCode.FAILED),
    ],
)
def test_expected_failures_have_an_exit_code(exc: BaseException, code: ExitCode) -> None:
    described = describe_failure(exc)
    assert described is not None and described[1] == code
    assert describe_failure(RuntimeError("a bug")) is None


def test_a_validation_error_is_bad_configuration_only_while_configuring() -> None:
    try:
        Viewport(width=1, height=1)
    except Exception as exc:  # pydantic.ValidationError
        described = describe_failure(exc)
        assert described is not None and described[1] == ExitCode.USAGE and "\n" not in described[0]
        assert "width: Input should be greater than or equal to 16" in described[0]
        assert describe_failure(exc, configuring=False) is None


def _app_raising(exc: BaseException) -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.command()
    def boom() -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (RuntimeError("something\nwent wrong"), 1, "unexpected error RuntimeError: something went wrong (a bug"),
        (PermissionError(13, "Permission denied"), 1, "Permission denied"),
        (ImageInputError("bad picture"), 2, "bad picture"),
    ],
)
def test_run_app_ends_anything_in_one_line(
    exc: BaseException, code: int, words: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["prog"])
    monkeypatch.delenv(cli_errors.DEBUG_VARIABLE, raising=False)
    with pytest.raises(SystemExit) as exited:
        run_app(_app_raising(exc), "prog")
    assert exited.value.code == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("prog: ") and words in err


def test_debug_variable_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["prog"])
    monkeypatch.setenv(cli_errors.DEBUG_VARIABLE, "1")
    with pytest.raises(RuntimeError, match="a bug"):
        run_app(_app_raising(RuntimeError("a bug")), "prog")


# --- every console script's error paths, as a user runs them -------------------------------------------------


@pytest.fixture(scope="module")
def files(folder: Path) -> dict[str, str]:
    made = folder / "cli"
    made.mkdir()
    Image.new("RGB", (1, 1), "red").save(made / "tiny.png")
    Image.new("L", (60000, 20), 255).save(made / "wide.png")
    Image.new("L", (1, 70000), 255).save(made / "line.png")
    (made / "text.png").write_text("not a picture\n")
    (made / "empty.png").write_bytes(b"")
    data = (made / "tiny.png").read_bytes()
    (made / "cut.png").write_bytes(data[: len(data) // 2])
    (made / "prog.py").write_text("print(1)\n")
    (made / "broken.yaml").write_text("memory: [\n")
    (made / "unknown.yaml").write_text("no_such_limit: 3\n")
    (made / "recipe.yaml").write_text("vlm: [\n")
    (made / "config").mkdir()
    (made / "config" / "viscodex").mkdir()
    (made / "config" / "viscodex" / "config.toml").write_text("model_url = \n")
    return {p.stem: str(p) for p in made.iterdir()} | {"dir": str(made)}


ERROR_PATHS: dict[str, tuple[list[str], int]] = {
    # viscodex-agent solve: the pictures, the flags, the services
    "agent: unknown flag": (["viscodex-agent", "--bogus"], 2),
    "solve: no picture": (["viscodex-agent", "solve"], 2),
    "solve: missing file": (["viscodex-agent", "solve", "{dir}/nope.png"], 2),
    "solve: text as png": (["viscodex-agent", "solve", "{text}"], 2),
    "solve: empty file": (["viscodex-agent", "solve", "{empty}"], 2),
    "solve: cut-off png": (["viscodex-agent", "solve", "{cut}"], 2),
    "solve: a folder": (["viscodex-agent", "solve", "{dir}"], 2),
    "solve: 60000x20 as ui": (["viscodex-agent", "solve", "{wide}", "--kind", "ui"], 2),
    "solve: 1x70000": (["viscodex-agent", "solve", "{line}"], 2),
    "solve: unknown kind": (["viscodex-agent", "solve", "{tiny}", "--kind", "nope"], 2),
    "solve: unknown stack": (["viscodex-agent", "solve", "{tiny}", "--stack", "vue"], 2),
    "solve: zero iterations": (["viscodex-agent", "solve", "{tiny}", "--max-iters", "0"], 2),
    "solve: fix without repo": (["viscodex-agent", "solve", "{tiny}", "--kind", "fix"], 2),
    "solve: fix, repo missing": (["viscodex-agent", "solve", "{tiny}", "--kind", "fix", "--repo", "{dir}/no"], 2),
    "solve: missing context": (["viscodex-agent", "solve", "{tiny}", "--context", "{dir}/nope.py"], 2),
    "solve: bad config.toml": (["viscodex-agent", "solve", "{tiny}", "@config"], 2),
    "solve: bad variable": (["viscodex-agent", "solve", "{tiny}", "@VISCODEX_MAX_IMAGE_TOKENS=1"], 2),
    "solve: model unreachable": (["viscodex-agent", "solve", "{tiny}", "--model-url", UNREACHABLE], 3),
    "solve: 60000x20, model unreachable": (["viscodex-agent", "solve", "{wide}", "--model-url", UNREACHABLE], 3),
    "serve: no model": (["viscodex-agent", "serve", "--model", "{dir}/no-model"], 3),
    # viscodex-agent sandbox: files and policies (refused before Docker is asked)
    "sandbox run: missing file": (["viscodex-agent", "sandbox", "run", "{dir}/nope.py"], 2),
    "sandbox run: broken policy": (["viscodex-agent", "sandbox", "run", "{prog}", "--policy", "{broken}"], 2),
    "sandbox run: unknown limit": (["viscodex-agent", "sandbox", "run", "{prog}", "--policy", "{unknown}"], 2),
    "sandbox run: missing policy": (["viscodex-agent", "sandbox", "run", "{prog}", "--policy", "{dir}/no.yaml"], 2),
    "sandbox render: missing file": (["viscodex-agent", "sandbox", "render", "{dir}/no.html", "--out", "x.png"], 2),
    # viscodex-train
    "train: unknown flag": (["viscodex-train", "--bogus"], 2),
    "train: unknown command": (["viscodex-train", "nosuch"], 2),
    "merge: inputs missing": (
        ["viscodex-train", "merge", "--vlm", "{dir}/a", "--code", "{dir}/b", "--base", "{dir}/c", "--out", "{dir}/m"],
        2,
    ),
    "merge: broken recipe": (["viscodex-train", "merge", "--config", "{recipe}", "--out", "{dir}/m"], 2),
    "merge: missing recipe": (["viscodex-train", "merge", "--config", "{dir}/no.yaml", "--out", "{dir}/m"], 2),
    "merge: unknown preset": (["viscodex-train", "merge", "--preset", "nope"], 2),
    "merge: bad lam": (["viscodex-train", "merge", "--lam", "abc", "--out", "{dir}/m"], 2),
    "merge-sweep: bad lams": (["viscodex-train", "merge-sweep", "--lams", "a,b", "--out", "{dir}/m"], 2),
    "tiny: out is a file": (["viscodex-train", "tiny", "--out", "{prog}"], 2),
    # viscodex-lsp
    "lsp: unknown flag": (["viscodex-lsp", "--bogus"], 2),
    "lsp: port out of range": (["viscodex-lsp", "--tcp", "--port", "70000"], 2),
    "lsp: address not ours": (["viscodex-lsp", "--tcp", "--host", "192.0.2.1", "--port", "2087"], 2),
}


@pytest.mark.slow  # console-script subprocesses: seconds each
@pytest.mark.parametrize("case", list(ERROR_PATHS))
def test_console_script_error_paths_end_without_a_traceback(case: str, files: dict[str, str]) -> None:
    template, code = ERROR_PATHS[case]
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(Path(files["dir"]) / "cache"),
        "XDG_CONFIG_HOME": str(Path(files["dir"]) / "no-config"),
        "VISCODEX_MAX_RETRIES": "0",
    }
    env.pop(cli_errors.DEBUG_VARIABLE, None)
    args = []
    for part in template:
        if part == "@config":
            env["XDG_CONFIG_HOME"] = files["config"]
        elif part.startswith("@"):
            name, value = part[1:].split("=", 1)
            env[name] = value
        else:
            args.append(part.format(**files))
    args[0] = str(BIN / args[0])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.strip()


# --- the pictures the issue found, end to end (the real sandbox, a scripted model) ---------------------------

PAGE = "```html\n<!doctype html><html><body style='margin:0;background:#c81e1e'></body></html>\n```"
TESTS = '```json\n{"tests": [{"input": "7\\n", "output": "7\\n"}]}\n```'
ECHO = "```python\nprint(input())\n```"


def solve_with(model: ScriptedModel, picture: Path, run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["solve", str(picture), "--max-iters", "1", "--model-url", model.url, "--run-dir", str(run_dir), *args]
    return subprocess.run(
        [str(BIN / "viscodex-agent"), *command],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "XDG_CACHE_HOME": str(run_dir.parent / "cache")},
    )


@pytest.mark.docker
def test_a_1x1_ui_picture_renders_and_scores(folder: Path, sandbox_image: str) -> None:
    dot = folder / "dot-e2e.png"
    Image.new("RGB", (1, 1), (200, 30, 30)).save(dot)
    run_dir = folder / "run-dot"
    with serve(ScriptedModel([PAGE])) as model:
        proc = solve_with(model, dot, run_dir, "--kind", "ui")
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    assert Image.open(run_dir / "iter-1" / "cand-1" / "render.png").size == (16, 16)
    assert (run_dir / "iter-1" / "cand-1" / "score.json").is_file()
    assert "viewport of 16x16 pixels" in "\n".join(model.user_texts(0))


@pytest.mark.docker
@pytest.mark.parametrize("size", [(60000, 20), (20, 60000)])
def test_a_3000_to_1_picture_reaches_the_model_as_strips(
    size: tuple[int, int], folder: Path, sandbox_image: str
) -> None:
    path = folder / f"strip-{size[0]}x{size[1]}.png"
    Image.new("L", size, 230).save(path)
    with serve(ScriptedModel([TESTS, ECHO])) as model:
        proc = solve_with(model, path, folder / f"run-{size[0]}", "--kind", "algorithm")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert model.image_count(0) == 16 and model.image_count(1) == 16  # the sample-test ask, then the first turn
    assert "cut into 16 overlapping strips" in "\n".join(model.user_texts(1))
