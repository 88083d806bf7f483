"""The visual tasks end to end through `viscodex-agent solve`, against the real sandbox and a scripted
OpenAI-compatible server (a TEST DOUBLE for the model): the target pictures are rendered from code we
keep, so the right answer is known and the loop's verdicts can be checked."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from helpers import REACT
from helpers import solve_cli as solve
from PIL import Image
from scripted_model import ScriptedModel, serve

from viscodex.sandbox import Sandbox, Viewport

pytestmark = pytest.mark.docker

PAGE = """<!doctype html><html><body style="margin:0;font-family:'Liberation Sans',Arial;background:#f8fafc">
<div style="margin:30px;padding:20px;background:#fff;width:300px">
<h1 style="color:#1e3a8a;font-size:28px;margin:0 0 12px">Team plan</h1>
<p style="color:#334155;font-size:18px">Unlimited boards and guests</p>
<button style="background:#dc2626;color:#fff;border:0;padding:10px 24px;font-size:18px">Buy now</button>
</div></body></html>"""
WRONG_PAGE = PAGE.replace("Buy now", "Order").replace("#1e3a8a", "#16a34a").replace("margin:30px", "margin:30px 200px")
BAR = (
    "import matplotlib.pyplot as plt\nplt.figure(figsize=(5, 4))\n"
    "plt.bar(['Mon', 'Tue', 'Wed'], [3, 7, 5], color='#2563eb')\nplt.title('Visits per day')\n"
)
LINE = BAR.replace("plt.bar(", "plt.plot(")


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("targets")
    with Sandbox(pool={}) as sandbox:
        (folder / "ui.png").write_bytes(sandbox.render_html(PAGE, Viewport(width=640, height=360), full_page=False))
        (folder / "chart.png").write_bytes(sandbox.render_chart(BAR))
    return {"ui": folder / "ui.png", "chart": folder / "chart.png"}


def fenced(language: str, code: str) -> str:
    return f"```{language}\n{code}\n```"


def test_ui_improves_to_verified_and_critique_names_the_differences(targets: dict[str, Path], tmp_path: Path) -> None:
    with serve(ScriptedModel([fenced("html", WRONG_PAGE), fenced("html", PAGE)])) as model:
        code, events, run_dir = solve(model, targets["ui"], tmp_path, "--kind", "ui", "--max-iters", "3")
    scores = [e for e in events if e.type == "score"]
    assert scores[0].score < scores[1].score
    assert scores[1].score >= 0.9 and code == 0, scores
    feedback = "\n".join(model.user_texts(1))
    # The wrong button text is named by the target's words ("Buy now" missing); a single extra word
    # ("Order") is under a page's noise floor, since OCR misreads single words.
    assert "too far right" in feedback and "Colour of 'Team plan'" in feedback and "'Buy now'" in feedback, feedback
    assert model.image_count(1) == 2, "the render goes back next to the target"
    assert (run_dir / "iter-1" / "cand-1" / "render.png").is_file()


def test_chart_wrong_type_is_named_and_fixed(targets: dict[str, Path], tmp_path: Path) -> None:
    with serve(ScriptedModel(["bar", fenced("python", LINE), fenced("python", BAR)])) as model:
        code, events, run_dir = solve(model, targets["chart"], tmp_path, "--kind", "chart", "--max-iters", "3")
    scores = [e for e in events if e.type == "score"]
    assert scores[0].score < scores[1].score and code == 0, scores
    assert scores[0].components["chart_type"] < scores[1].components["chart_type"] == 1.0
    feedback = "\n".join(model.user_texts(2)).lower()
    assert "line" in feedback and "bar" in feedback, feedback
    render = Image.open(run_dir / "iter-2" / "cand-1" / "render.png")
    assert render.size == Image.open(targets["chart"]).size


def test_auto_picks_ui_from_context_file(targets: dict[str, Path], tmp_path: Path) -> None:
    context = tmp_path / "index.html"
    context.write_text("<!doctype html><html><body></body></html>")
    with serve(ScriptedModel([fenced("html", PAGE)])) as model:
        code, events, _ = solve(model, targets["ui"], tmp_path, "--context", str(context), "--max-iters", "1")
    assert events[0].kind == "ui"
    assert "index.html" in "\n".join(model.user_texts(0))
    assert code == 0


def test_images_go_to_the_model_as_png_data_urls(targets: dict[str, Path], tmp_path: Path) -> None:
    with serve(ScriptedModel([fenced("html", PAGE)])) as model:
        code, events, _ = solve(model, targets["ui"], tmp_path, "--kind", "ui", "--max-iters", "1")
    # the page is the target's own source: verified in one round, and the events say so in order
    assert code == 0
    kinds = [e.type for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert kinds.index("candidate") < kinds.index("score")
    parts = [p for m in model.requests[0]["messages"] if isinstance(m["content"], list) for p in m["content"]]
    url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.format == "PNG"
    # 640 x 360 is well inside the pixel budget: each side is rounded to the nearest multiple of 28
    assert image.size == (23 * 28, 13 * 28)


def test_react_stack_is_rendered_and_announced(tmp_path: Path, sandbox_image: str) -> None:
    with Sandbox(pool={}) as sandbox:
        target = tmp_path / "react.png"
        target.write_bytes(sandbox.render_html(REACT, Viewport(width=500, height=200), full_page=False, stack="react"))
    with serve(ScriptedModel([fenced("html", REACT)])) as model:
        code, events, _ = solve(model, target, tmp_path, "--kind", "ui", "--stack", "react", "--max-iters", "1")
    system = model.requests[0]["messages"][0]["content"]
    assert "React 18" in system and "text/babel" in system
    assert code == 0, [e for e in events if e.type == "score"]


BODY = (
    "<!doctype html><html><body style=\"margin:0;font-family:'Liberation Sans',Arial;background:#f8fafc\">"
    "{}</body></html>"
)
CARD = '<div style="margin:30px;padding:20px;background:#fff;width:300px">'
PLAN = CARD + PAGE.split(CARD, 1)[1].split("</body>", 1)[0]
SIGN_IN = (
    CARD + '<h1 style="color:#0f766e;font-size:28px;margin:0 0 12px">Sign in</h1>'
    '<p style="color:#334155;font-size:18px">Use your work email</p></div>'
)


def pages(*contents: str) -> str:
    return BODY.format("".join(f'<div data-page="{i}">{c}</div>' for i, c in enumerate(contents, 1)))


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> list[Path]:
    """Two pages of one UI, rendered from code we keep."""
    folder = tmp_path_factory.mktemp("pages")
    paths = []
    with Sandbox(pool={}) as sandbox:
        for name, content in (("plan", PLAN), ("sign-in", SIGN_IN)):
            path = folder / f"{name}.png"
            path.write_bytes(
                sandbox.render_html(BODY.format(content), Viewport(width=640, height=360), full_page=False)
            )
            paths.append(path)
    return paths


def test_multi_page_ui_verifies_every_page(shots: list[Path], tmp_path: Path) -> None:
    """Two screenshots are two pages of one file: each page is rendered on its own and scored against
    its own picture; a wrong second page is named as such, and the file verifies only when both pass."""
    wrong_sign_in = SIGN_IN.replace("Sign in", "Register").replace("Use your work email", "Pick a username")
    wrong = pages(PLAN, wrong_sign_in.replace("#0f766e", "#dc2626").replace("margin:30px", "margin:30px 250px"))
    with serve(ScriptedModel([fenced("html", wrong), fenced("html", pages(PLAN, SIGN_IN))])) as model:
        code, events, run_dir = solve(model, shots[0], tmp_path, str(shots[1]), "--kind", "ui", "--max-iters", "3")
    scores = [e for e in events if e.type == "score"]
    assert code == 0 and len(scores) == 2, scores
    first, second = scores
    assert first.components["page 1"] >= 0.9 > first.components["page 2"], first.components
    assert not first.passed and second.passed and second.score > first.score
    assert 'data-page="2"' in "\n".join(model.user_texts(0)), "the first prompt explains the pages"
    feedback = "\n".join(model.user_texts(1))
    assert "Page 2 differs" in feedback and "'Use your work email'" in feedback and "Page 1 passes" in feedback, (
        feedback
    )
    assert model.image_count(1) == 4, "both targets, then both renders"
    assert (run_dir / "iter-1" / "cand-1" / "render-2.png").is_file()


def test_a_page_without_its_data_page_element_is_named(shots: list[Path], tmp_path: Path) -> None:
    with serve(ScriptedModel([fenced("html", BODY.format(PLAN))])) as model:
        code, events, _ = solve(model, shots[0], tmp_path, str(shots[1]), "--kind", "ui", "--max-iters", "1")
    score = next(e for e in events if e.type == "score")
    assert code == 1 and not score.passed
    assert any('No element has data-page="2"' in line for line in score.critique), score.critique
