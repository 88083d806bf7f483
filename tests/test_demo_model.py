"""The demo model (issue 15): the offline default and its one line, doctor naming it, a smaller version of
`viscodex-train demo`'s training (loss falls, loads in transformers, serves with vLLM), and `solve` on a
held-out chart with the shipped demo ending with a rendered figure."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from helpers import AGENT, BIN

from viscodex.model.presets import DEFAULT_PRESET, DEMO_PRESET, PRESETS
from viscodex.model.settings import ModelSettings
from viscodex.training.demo.mix import (
    MixRecipe,
    SynthChart,
    conversations,
    corpus,
    read_synth,
    repair_pairs,
    write_mix,
)
from viscodex.training.demo.model import SMALL_SPEC, write_initial_model
from viscodex.training.demo.pipeline import RECIPE, VISION_MIX, VISION_RECIPE, export_bf16
from viscodex.training.sft.recipe import SFTRecipe

TRAIN = str(BIN / "viscodex-train")
SHIPPED = PRESETS[DEMO_PRESET].shipped_dir()
NOT_SHIPPED = SHIPPED is None or not (SHIPPED / "config.json").is_file()


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No config file, an empty cache, no VISCODEX_* model variables: what a fresh offline machine has."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("VISCODEX_MODEL_URL", "VISCODEX_MODEL_PATH", "VISCODEX_BACKEND", "VISCODEX_DEMO_FALLBACK"):
        monkeypatch.delenv(name, raising=False)
    return env


def _fake_checkpoint(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


# --- the offline default ------------------------------------------------------------------------------


def test_nothing_configured_falls_back_to_the_demo_and_says_how_to_get_the_real_one(
    empty_home: dict[str, str], tmp_path: Path
) -> None:
    cached_demo = _fake_checkpoint(tmp_path / "cache" / "viscodex" / "models" / DEMO_PRESET)
    local = ModelSettings().local_model()
    assert local.demo and local.path == cached_demo  # a demo built by `viscodex-train demo` wins over the shipped
    notice = local.notice()
    assert "\n" not in notice and DEMO_PRESET in notice and "`viscodex-train merge --preset viscodex-8b`" in notice

    from viscodex.model.select import probe

    backend, detail = asyncio.run(probe(ModelSettings()))
    assert backend == "embedded" and "using the demo model" in detail

    from viscodex.agent.doctor import model_check

    check = model_check(ModelSettings())
    assert check.ok and not check.warn
    assert "demo model viscodex-demo-chart" in check.detail and "viscodex-train merge --preset" in check.fix


def test_the_demo_is_never_used_when_something_else_is_there(empty_home: dict[str, str], tmp_path: Path) -> None:
    _fake_checkpoint(tmp_path / "cache" / "viscodex" / "models" / DEMO_PRESET)
    assert not ModelSettings(model_path=tmp_path / "mine").local_model().demo
    assert not ModelSettings(model_url="http://127.0.0.1:9/v1").local_model().demo
    assert not ModelSettings(demo_fallback=False).local_model().demo
    real = _fake_checkpoint(tmp_path / "cache" / "viscodex" / "models" / DEFAULT_PRESET)
    local = ModelSettings().local_model()
    assert local.path == real and not local.demo and local.notice() == ""


def test_without_any_model_the_error_names_both_commands(empty_home: dict[str, str]) -> None:
    from viscodex.model.errors import ModelUnavailable
    from viscodex.model.select import open_backend

    with pytest.raises(ModelUnavailable) as info:  # the fallback switched off: as if nothing shipped
        asyncio.run(open_backend(ModelSettings(demo_fallback=False)))
    assert "viscodex-train merge --preset viscodex-8b" in str(info.value)


@pytest.mark.skipif(NOT_SHIPPED, reason="the demo model is not shipped (README: The demo model)")
def test_the_shipped_demo_is_small_and_found(empty_home: dict[str, str]) -> None:
    assert SHIPPED is not None
    size = sum(f.stat().st_size for f in SHIPPED.iterdir() if f.is_file())
    assert size <= 20_000_000
    assert ModelSettings().local_model().path == SHIPPED
    card = json.loads((SHIPPED / "viscodex_demo.json").read_text())
    assert card["name"] == DEMO_PRESET and card["parameters"] > 1_000_000 and card["figures"]
    assert (SHIPPED / "README.md").read_text().startswith(f"# {DEMO_PRESET}")


# --- a smaller version of the training ----------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_charts(tmp_path_factory: pytest.TempPathFactory, sandbox_image: str) -> Path:
    out = tmp_path_factory.mktemp("synth")
    proc = subprocess.run(
        [TRAIN, "data", "synth", "--kind", "chart", "--n", "6", "--seed", "5", "--out", str(out / "charts")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "charts"


def _mean_loss(model_dir: Path, rows: list[dict[str, object]]) -> float:
    """Teacher-forced loss on the answers, batch by batch, with the trainer's own collator."""
    from transformers import AutoModelForImageTextToText

    from viscodex.model.processor import load_processor
    from viscodex.training.sft.collate import ChatMarkers, VisionSFTCollator

    processor = load_processor(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    collate = VisionSFTCollator(processor, ChatMarkers.from_tokenizer(processor.tokenizer))
    losses = []
    with torch.no_grad():
        for start in range(0, len(rows), 4):
            batch = collate(rows[start : start + 4])  # type: ignore[arg-type]
            losses.append(float(model(**batch).loss))
    return sum(losses) / len(losses)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_small_demo_trains_loads_and_serves(
    synth_charts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vllm_lock_path: Path
) -> None:
    charts = read_synth(synth_charts)
    assert len(charts) == 6
    mix = tmp_path / "mix" / "train.jsonl"
    count = write_mix(conversations(charts, MixRecipe(first=1, mimic=1, type=1, repair=1)), mix)
    rows = [json.loads(line) for line in mix.read_text().splitlines()]
    assert count == len(rows) and {r["id"].rsplit("-", 1)[-1] for r in rows} >= {"first", "mimic", "repair"}
    init = write_initial_model(tmp_path / "init", corpus(charts), SMALL_SPEC, seed=3)
    # the same corpus, spec and seed give the same bytes: the recipe rebuilds the model exactly
    again = write_initial_model(tmp_path / "init-again", corpus(charts), SMALL_SPEC, seed=3)
    assert (init / "model.safetensors").read_bytes() == (again / "model.safetensors").read_bytes()

    out = tmp_path / "sft"
    sft = [TRAIN, "sft", "--model", str(init), "--data", str(mix), "--layout", "swift", "--out", str(out)]
    proc = subprocess.run(
        [*sft, "--config", str(RECIPE), "--max-steps", "10", "--batch-size", "4", "--eval-split", "0"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after = _mean_loss(init, rows[:8]), _mean_loss(out, rows[:8])
    assert after < before - 0.5, (before, after)

    shipped = tmp_path / "demo"
    size = export_bf16(out, shipped)
    assert size < 2_000_000 and json.loads((shipped / "config.json").read_text())["dtype"] == "bfloat16"

    from PIL import Image

    from viscodex.model.chat import ChatRequest, complete
    from viscodex.model.embedded_backend import EmbeddedBackend

    picture = Image.open(charts[0].image)
    request = ChatRequest.single("Write matplotlib code that reproduces this chart.", [picture], max_tokens=8)
    local = asyncio.run(complete(EmbeddedBackend(ModelSettings(model_path=shipped)), request))
    assert len(local.token_ids) >= 1

    from helpers import vllm_answer

    served = vllm_answer(shipped, request, tmp_path, vllm_lock_path, monkeypatch)
    # the bf16 weights, served in fp32 by both: the same greedy ids
    assert served.token_ids == local.token_ids


def test_a_seed_makes_a_sampled_answer_reproducible() -> None:
    """The embedded backend takes a request's seed as vLLM does: the same seed, the same sampled ids,
    whatever was sampled between (torch's generator is global, so without it the second answer would
    continue where the one between left off)."""
    from PIL import Image

    from viscodex.agent import prompts
    from viscodex.model.chat import ChatMessage, ChatRequest, complete
    from viscodex.model.embedded_backend import EmbeddedBackend

    backend = EmbeddedBackend(ModelSettings(model_path=SHIPPED))
    picture = Image.open(Path(__file__).parents[1] / "examples" / "chart" / "quarterly_sales.png")
    first_turn = prompts.render("chart", "first", instruction="", width=640, height=480, context="")
    messages = [ChatMessage("system", prompts.render("chart", "system")), ChatMessage("user", first_turn, (picture,))]

    def ask(seed: int) -> tuple[int, ...]:
        request = ChatRequest(messages, max_tokens=40, temperature=1.0, seed=seed)
        return tuple(asyncio.run(complete(backend, request)).token_ids)

    first, other, again = ask(7), ask(8), ask(7)
    assert len(first) >= 20 and first == again, (first, other, again)


def test_remeasured_figures_are_added_to_the_card_beside_the_training_runs(tmp_path: Path) -> None:
    from viscodex.training.demo.figures import RunFigures
    from viscodex.training.demo.pipeline import add_remeasured

    card = json.loads((SHIPPED / "viscodex_demo.json").read_text())
    card.pop("remeasured", None)
    (tmp_path / "viscodex_demo.json").write_text(json.dumps(card))
    later = RunFigures("agent, 4 iter.", 30, 1.0, 1.0, 0.9, 90.0, 30.0, 100.0)
    add_remeasured(tmp_path, "2026-12-04", "the loop at abc1234", ["viscodex-train eval ..."], [later])
    text = (tmp_path / "README.md").read_text()
    trained = [RunFigures(**f).row() for f in card["figures"]]
    assert trained and all(row in text for row in trained)  # what the training run measured stays
    assert "### Re-measured 2026-12-04 (the same weights; the loop at abc1234)" in text
    assert text.index(trained[-1]) < text.index(later.row())
    assert json.loads((tmp_path / "viscodex_demo.json").read_text())["remeasured"][0]["figures"][0]["right_type"] == 0.9


def _chart(name: str, chart_type: str) -> SynthChart:
    script = f"import matplotlib.pyplot as plt\n# {name}\n"
    return SynthChart(name, Path(f"/data/{name}.png"), f"```python\n{script}```", chart_type, 600, 400)


def test_repair_turns_pair_a_wrong_attempt_with_its_measured_feedback() -> None:
    """Repair pairs are fixed by the seed, mostly of another type; the mix puts the measured feedback text
    between the wrong script and the right one, and the chart-type line where none was measured."""
    charts = [_chart(f"c{i}", ("bar", "line", "pie")[i % 3]) for i in range(60)]
    pairs = repair_pairs(charts, 0.5, seed=1)
    assert pairs == repair_pairs(charts, 0.5, seed=1) and pairs != repair_pairs(charts, 0.5, seed=2)
    assert 15 <= len(pairs) <= 45 and all(p.wrong.id != p.chart.id for p in pairs)
    other = sum(p.wrong.chart_type != p.chart.chart_type for p in pairs)
    assert len(pairs) / 2 < other < len(pairs)  # mostly another type, some the same type

    measured = {pairs[0].key: "Your script was run ... MEASURED"}
    recipe = MixRecipe(first=0, first_mimic=0, mimic=0, type=0, repair=0.5, seed=1)
    rows = list(conversations(charts, recipe))
    assert len(rows) == len(pairs) and all(r["id"].endswith("-repair") for r in rows)
    # with measurements, only the measured pairs become repair turns
    (only,) = conversations(charts, recipe, measured)
    assert only["messages"][3]["content"] == "<image>Your script was run ... MEASURED"
    by_pair = {(r["images"][0], r["images"][1]): r["messages"] for r in rows}
    first = by_pair[(str(pairs[0].chart.image), str(pairs[0].wrong.image))]
    assert [m["role"] for m in first] == ["system", "user", "assistant", "user", "assistant"]
    assert f"# {pairs[0].wrong.id}" in first[2]["content"] and first[4]["content"] == pairs[0].chart.answer
    assert "- Chart type: candidate draws" in first[3]["content"]


def test_the_vision_stage_asks_the_chart_type_and_trains_the_vision_tower() -> None:
    """The first stage's data: one chart-type question per chart whose type has a word, answered with that
    word, and the script's prompts answered with the script's first line only (no plotting call); its
    recipe trains the vision tower and projector (they start random)."""
    charts = [
        SynthChart(
            f"c{i}",
            Path(f"/data/c{i}.png"),
            f"```python\n# {('bar chart', 'histogram', 'box plot')[i % 3]}\nimport matplotlib.pyplot as plt\n```",
            ("bar", "histogram", "box")[i % 3],
            600,
            400,
        )
        for i in range(90)
    ]
    rows = list(conversations(charts, VISION_MIX))
    types = [r for r in rows if r["id"].endswith("-type")]
    assert len(types) == 60  # "box" has no word in the agent's chart-type question
    assert sorted(r["messages"][1]["content"] for r in types) == ["bar"] * 30 + ["hist"] * 30
    assert all(len(r["messages"]) == 2 and "What type of chart" in r["messages"][0]["content"] for r in types)
    heads = [r for r in rows if "-head-" in r["id"]]
    assert 60 <= len(heads) <= 120  # about half the charts in each of the two prompts
    assert {r["messages"][-1]["content"] for r in heads} == {
        "```python\n# bar chart",
        "```python\n# histogram",
        "```python\n# box plot",
    }
    mimic = [r for r in heads if r["id"].endswith("-head-mimic")]
    assert mimic and all("matplotlib code that reproduces" in r["messages"][0]["content"] for r in mimic)
    assert len(rows) == len(types) + len(heads)
    recipe = SFTRecipe.load(VISION_RECIPE)
    assert not recipe.freeze_vision and not recipe.freeze_projector
    assert SFTRecipe.load(RECIPE).name != recipe.name


# --- solve with the shipped demo ----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(NOT_SHIPPED, reason="the demo model is not shipped (README: The demo model)")
def test_solve_with_the_demo_model_ends_with_a_rendered_figure(
    sandbox_image: str, tmp_path: Path, empty_home: dict[str, str]
) -> None:
    """Nothing configured: `solve` takes the shipped demo, says so once, treats the picture as a chart (the
    demo's one task), and renders what it wrote."""
    held = tmp_path / "held"
    proc = subprocess.run(
        [
            TRAIN,
            "data",
            "synth",
            "--kind",
            "chart",
            "--level",
            "basic",
            "--n",
            "1",
            "--seed",
            "1000",
            "--out",
            str(held),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    picture = next((held / "images").glob("*.png"))
    run = tmp_path / "run"
    env = {**os.environ, **empty_home}
    proc = subprocess.run(
        # No --kind: `auto` takes the demo's one task (model/presets.py) instead of asking a chart model.
        [AGENT, "solve", str(picture), "--max-iters", "2", "--run-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=800,
        env=env,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    notices = [line for line in proc.stderr.splitlines() if "using the demo model" in line]
    assert len(notices) == 1 and "viscodex-train merge --preset viscodex-8b" in notices[0]
    assert "Traceback" not in proc.stderr
    report = json.loads((run / "report.json").read_text())
    assert report["kind"] == "chart"
    assert list(run.rglob("render.png")), f"no candidate rendered: {sorted(p.name for p in run.rglob('*'))}"


# --- the figures eval does not compute ----------------------------------------------------------------


def test_figures_count_parse_draw_and_the_right_type() -> None:
    """Right type means the answer's traced plotting calls equal the ground truth's, not merely overlap."""
    from viscodex.training.demo.figures import item_figures, summarize
    from viscodex.training.eval.chartmimic import Trace

    def tracer(script: str, item_id: str) -> Trace:  # what ChartMimic's type tracer logs for these scripts
        calls = {name: 1 for name in ("bar", "plot", "pie") if f"ax.{name}(" in script}
        return Trace([], [], calls, ok=True)

    gold = {"bar"}
    answers = {
        "right": "```python\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar([1], [2])\n```",
        "extra": "```python\nfig, ax = plt.subplots()\nax.bar([1], [2])\nax.plot([1], [2])\n```",
        "wrong": "```python\nfig, ax = plt.subplots()\nax.pie([1, 2])\n```",
        "broken": "```python\nax.bar([1, 2)\n```",
        "none": "I cannot draw this.",
    }
    rows = {name: {"id": name, "ran": name != "broken", "type": 50.0} for name in answers}
    figures = {name: item_figures(rows[name], answer, gold, tracer) for name, answer in answers.items()}
    assert [n for n, f in figures.items() if f.parses] == ["right", "extra", "wrong"]
    assert [n for n, f in figures.items() if f.draws] == ["right", "extra", "wrong"]
    assert [n for n, f in figures.items() if f.right_type] == ["right"]
    total = summarize("single shot", figures.values())
    assert (total.items, total.parses, total.right_type, total.type) == (5, 0.6, 0.2, 50.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_solve_says_once_that_it_uses_the_demo(
    sandbox_image: str, tiny_models: dict[str, Path], tmp_path: Path, empty_home: dict[str, str]
) -> None:
    """A checkpoint in the demo's cache place (here the tiny random VLM standing in for a built demo) is what
    `solve` uses with nothing configured: the Started line names it and one warning line says it is the demo."""
    import shutil

    shutil.copytree(tiny_models["vlm"], tmp_path / "cache" / "viscodex" / "models" / DEMO_PRESET)
    run = tmp_path / "run"
    env = {**os.environ, **empty_home, "VISCODEX_MAX_TOKENS": "48"}
    solve = [AGENT, "solve", "examples/chart/quarterly_sales.png", "--kind", "chart", "--max-iters", "1"]
    proc = subprocess.run(
        [*solve, "--run-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=500,
        env=env,
        cwd=Path(__file__).parents[1],
    )
    assert proc.returncode == 1, proc.stderr[-3000:]  # a random model's answer is not verified
    notices = [line for line in proc.stderr.splitlines() if "using the demo model" in line]
    assert len(notices) == 1, proc.stderr
    assert "viscodex-train merge --preset viscodex-8b" in notices[0]
    assert f"embedded model {DEMO_PRESET}" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads((run / "report.json").read_text())["kind"] == "chart"
