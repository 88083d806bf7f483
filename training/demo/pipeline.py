"""`viscodex-train demo`: synthetic charts -> fine-tuning -> evaluation -> the demo model where the settings
find it, with a model card. Each stage is the project's own command, run as a child process exactly as a
user would type it (so the card's recipe is a list of commands anyone can rerun); the demo's own work is
only what sits between them: the training mix, the initial weights, the bf16 export, the figures and the card.

Every stage is resumable: `data synth` and `eval` skip what they finished, and a stage whose output is
complete is not run again, so a second `viscodex-train demo` with the same arguments after a crash continues.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..data.synth.base import item_id
from .figures import TABLE_HEAD, CachedTracer, RunFigures, run_figures
from .mix import MixRecipe, conversations, corpus, read_synth, repair_pairs, write_mix
from .model import DEMO_NAME, DemoSpec

RECIPE = Path(__file__).with_name("recipe.yaml")
VISION_RECIPE = Path(__file__).with_name("recipe-vision.yaml")
VISION_MIX = MixRecipe(first=0, first_mimic=0, mimic=0, type=1, repair=0, head_first=0.5, head_mimic=0.5)
"""The first fine-tuning stage's data: the chart-type question, one per chart, and the script's prompts
answered with the script's first line alone (`# bar chart`; half the charts each). Short answers, so a step
costs a fraction of a script's, and all of their loss is the picture's: what teaches a vision tower that
starts random to see (LLaVA's alignment stage, for the same reason), and the language model to say what it
sees where the script starts. The second stage, the whole mix, starts from its weights."""
HELDOUT_SEED_OFFSET = 1000
"""The held-out charts use seed + this: programs the training set never had."""
CARD_JSON = "viscodex_demo.json"


class DemoError(RuntimeError):
    """A stage failed; the message names the stage and its command's last line of output."""


@dataclass(frozen=True)
class DemoConfig:
    out: Path
    """Where the finished model goes (the settings look in the cache's models/viscodex-demo-chart)."""
    work: Path
    """Synthetic data, the mix, the initial model, the fine-tune and the eval runs."""
    seed: int = 0
    charts: int = 2100
    heldout: int = 30
    level: str = "basic"
    """`data synth --level`: basic charts (one plotting call each) are what a model this small can learn."""
    measure_repairs: bool = True
    """Give the repair turns the feedback the agent's verifier really gives (``repairs``)."""
    repairs: int = 2100
    """At most this many repair turns (the first pairs in chart order): each is a sandbox run and a
    scoring, about a CPU-second. 2100 takes a pair for every default chart (share 1.0). With 240 (3.5% of the
    mix) the model's later turns came out degenerate; with 640 (share 0.3) the shipped model answered its own
    training repair turns with the right chart type 8 times in 20 and broke the syntax in 5 (`bench/RESULTS.md`)."""
    max_steps: int | None = None
    spec: DemoSpec = field(default_factory=DemoSpec)
    mix: MixRecipe = field(default_factory=MixRecipe)
    vision_mix: MixRecipe = VISION_MIX
    agent_iters: tuple[int, ...] = (1, 4)
    evaluate: bool = True
    workers: int = 2


Say = Callable[[str], None]


def _train_cli() -> list[str]:
    """`viscodex-train` of the same installation as this process (beside its Python), else the one on PATH."""
    beside = Path(sys.executable).with_name("viscodex-train")
    return [str(beside) if beside.is_file() else "viscodex-train"]


def run_stage(name: str, args: Sequence[str], say: Say) -> float:
    """Run one `viscodex-train` command, its progress bar and messages shown as they come; return its seconds."""
    say(f"$ viscodex-train {' '.join(args)}")
    started = time.monotonic()
    proc = subprocess.run([*_train_cli(), *args], check=False)
    if proc.returncode != 0:
        raise DemoError(f"{name} failed (exit {proc.returncode}); its message is above")
    return time.monotonic() - started


def data_digest(paths: Sequence[Path]) -> str:
    """sha256 over the files' names and bytes, in the given order."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def export_bf16(source: Path, out: Path) -> int:
    """The fine-tuned checkpoint with its weights in bf16 (half the bytes; loaded back as fp32 on CPU), the
    processor files as they are. Written beside `out` and moved into place whole. Returns its bytes."""
    import torch
    from safetensors.torch import load_file, save_file

    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for item in source.iterdir():
        # training_args.bin is the trainer's pickle: nothing loading the model reads it.
        if item.is_file() and item.suffix != ".safetensors" and item.name not in ("README.md", "training_args.bin"):
            shutil.copy2(item, staging / item.name)
    tensors = load_file(str(source / "model.safetensors"))
    save_file(
        {name: t.to(torch.bfloat16).contiguous() for name, t in sorted(tensors.items())},
        str(staging / "model.safetensors"),
        metadata={"format": "pt"},
    )
    config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
    config["dtype"] = "bfloat16"
    for sub in ("text_config", "vision_config"):
        if isinstance(config.get(sub), dict):
            config[sub]["dtype"] = "bfloat16"
    (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return sum(f.stat().st_size for f in out.iterdir() if f.is_file())


def run_demo(config: DemoConfig, say: Say) -> dict[str, Any]:
    """All stages; returns what the model card records."""
    work, seed = config.work, config.seed
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    commands: list[str] = []

    def stage(name: str, args: list[str], done: bool = False) -> None:
        commands.append("viscodex-train " + " ".join(args))
        if done:
            say(f"{name}: done before, kept")
            return
        timings[name] = round(run_stage(name, args, say), 1)

    synth, heldout = work / "synth", work / "heldout"
    synth_args = ["data", "synth", "--kind", "chart", "--level", config.level, "--n", str(config.charts)]
    synth_args += ["--seed", str(seed)]
    stage("synth", [*synth_args, "--out", str(synth), "--workers", str(config.workers)])
    held_seed = seed + HELDOUT_SEED_OFFSET
    held_args = ["data", "synth", "--kind", "chart", "--level", config.level, "--n", str(config.heldout)]
    held_args += ["--seed", str(held_seed)]
    stage("heldout", [*held_args, "--out", str(heldout), "--workers", str(config.workers)])

    # Items 0 .. charts-1 of the seed, in id order: the same set whatever order the workers finished in,
    # and whatever more an earlier, larger run of the same folder made.
    wanted = {item_id("chart", seed, index) for index in range(config.charts)}
    charts = sorted((c for c in read_synth(synth) if c.id in wanted), key=lambda c: c.id)
    mix = config.mix.model_copy(update={"seed": seed})
    feedback: dict[str, str] = {}
    if config.measure_repairs:
        from .repairs import measure_feedback

        pairs = repair_pairs(charts, mix.repair, seed)[: config.repairs]
        say(f"repairs: the agent's verifier on {len(pairs)} wrong first attempts -> {work / 'repairs.jsonl'}")
        started = time.monotonic()
        feedback = measure_feedback(pairs, work / "repairs.jsonl", config.workers)
        timings["repairs"] = round(time.monotonic() - started, 1)
    mix_file = work / "mix" / "train.jsonl"
    rows = write_mix(conversations(charts, mix, feedback), mix_file)
    say(f"mix: {rows} conversations from {len(charts)} charts -> {mix_file}")
    digest = data_digest([synth / "records.jsonl", *(c.image for c in charts)])

    from .model import parameter_count, write_initial_model

    init = work / "init"
    if not (init / "config.json").is_file():
        write_initial_model(init, corpus(charts), config.spec, seed)

    def sft(name: str, model: Path, data: Path, out: Path, recipe: Path) -> None:
        args = ["sft", "--model", str(model), "--data", str(data), "--layout", "swift", "--out", str(out)]
        args += ["--config", str(recipe), "--seed", str(seed)]
        if config.max_steps is not None:
            args += ["--max-steps", str(config.max_steps)]
        stage(name, args, done=(out / "model.safetensors").is_file())

    vision_file = work / "mix" / "vision.jsonl"
    vision_rows = write_mix(conversations(charts, config.vision_mix.model_copy(update={"seed": seed})), vision_file)
    say(f"vision mix: {vision_rows} chart-type questions and script openings -> {vision_file}")
    vision, sft_out = work / "vision", work / "sft"
    sft("sft vision", init, vision_file, vision, VISION_RECIPE)
    sft("sft", vision, mix_file, sft_out, RECIPE)

    size = export_bf16(sft_out, config.out)
    from transformers import AutoConfig, Qwen2_5_VLForConditionalGeneration

    with _quiet():
        model = Qwen2_5_VLForConditionalGeneration(AutoConfig.from_pretrained(str(config.out)))  # type: ignore[no-untyped-call]
    params = parameter_count(model)
    say(f"model: {params / 1e6:.2f} M parameters, {size / 1e6:.1f} MB (bf16) -> {config.out}")

    card: dict[str, Any] = {
        "name": DEMO_NAME,
        "seed": seed,
        "charts": len(charts),
        "conversations": rows,
        "heldout": config.heldout,
        "heldout_seed": held_seed,
        "data_digest": digest,
        "parameters": params,
        "bytes": size,
        "spec": config.spec.model_dump(),
        "mix": config.mix.model_dump(),
        "vision_mix": config.vision_mix.model_dump(),
        "vision_recipe": VISION_RECIPE.read_text(encoding="utf-8"),
        "sft_recipe": RECIPE.read_text(encoding="utf-8"),
        "commands": commands,
        "seconds": timings,
        "figures": [],
    }
    if config.evaluate:
        card["figures"] = [asdict(f) for f in evaluate_demo(config, heldout / "ori_500", commands, timings, say)]
        card["commands"] = commands
    write_card(config.out, card)
    return card


def evaluate_demo(
    config: DemoConfig, data: Path, commands: list[str], timings: dict[str, float], say: Say
) -> list[RunFigures]:
    """Single shot, then the agent loop at each budget, on the held-out charts; their figures."""
    runs: list[tuple[str, Path]] = []
    base = ["eval", "--bench", "chartmimic", "--data", str(data), "--model-path", str(config.out)]
    base += ["--workers", str(config.workers), "--limit", str(config.heldout)]
    single = config.work / "eval" / "single"
    args = [*base, "--out", str(single)]
    commands.append("viscodex-train " + " ".join(args))
    timings["eval single"] = round(run_stage("eval", args, say), 1)
    runs.append(("single shot", single))
    agent = config.work / "eval" / "agent"
    budgets = ",".join(str(b) for b in config.agent_iters)
    args = [*base, "--agent", "--max-iters", budgets, "--out", str(agent)]
    commands.append("viscodex-train " + " ".join(args))
    timings["eval agent"] = round(run_stage("eval --agent", args, say), 1)
    if len(config.agent_iters) == 1:
        runs.append((f"agent, {config.agent_iters[0]} iter.", agent))
    else:
        runs.extend((f"agent, {b} iter.", agent / f"iters-{b}") for b in config.agent_iters)

    from viscodex.sandbox import Sandbox, SandboxPolicy

    say("figures: tracing the answers' and the ground truths' plotting calls")
    with Sandbox(policy=SandboxPolicy(package_set="chartmimic"), pool={"exec": config.workers}) as sandbox:
        tracer = CachedTracer(sandbox, config.work / "eval" / "traces")
        held = {item_id("chart", config.seed + HELDOUT_SEED_OFFSET, index) for index in range(config.heldout)}
        figures = [run_figures(label, run, data, tracer, held)[0] for label, run in runs]
    for line in (TABLE_HEAD, *(f.row() for f in figures)):
        say(line)
    return figures


def write_card(out: Path, card: dict[str, Any]) -> None:
    """`out/viscodex_demo.json` (everything) and `out/README.md` (the model card people read)."""
    (out / CARD_JSON).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    lines = [
        f"# {card['name']}",
        "",
        "The offline demo model of VisCodex: a Qwen2.5-VL-architecture model of "
        f"{card['parameters'] / 1e6:.2f} M parameters ({card['bytes'] / 1e6:.1f} MB, bf16) that writes a matplotlib "
        "script for a chart picture. Trained from random weights on synthetic charts, on a CPU, by the "
        "project's own pipeline. It is a demonstration of the pipeline and the agent loop, not a useful "
        "model: build the real one with `viscodex-train merge --preset viscodex-8b`.",
        "",
        "## Recipe",
        "",
        f"`viscodex-train demo --seed {card['seed']}` ran, in order:",
        "",
        "```bash",
        *card["commands"],
        "```",
        "",
        f"Training data: {card['charts']} synthetic charts (seed {card['seed']}) as {card['conversations']} "
        f"conversations (mix: {json.dumps(card['mix'])}); data digest (sha256 of records.jsonl and the "
        f"images) `{card['data_digest']}`. Stage times of this run (s; a stage finished by an earlier run "
        f"only checks its output): {json.dumps(card['seconds'])}.",
        "",
        "## Figures",
        "",
        f"On {card['heldout']} held-out synthetic charts (seed {card['heldout_seed']}), scored by "
        "`viscodex-train eval --bench chartmimic`; parse / run and draw / right chart type computed by "
        "`training/demo/figures.py` from eval's answers and ChartMimic's type tracer.",
        "",
    ]
    if card["figures"]:
        lines.append(TABLE_HEAD)
        lines += [RunFigures(**f).row() for f in card["figures"]]
    else:
        lines.append("(not evaluated)")
    for later in card.get("remeasured", []):
        # The same weights measured again after the loop or the verifier changed: the training run's
        # figures above stay as they were measured.
        lines += ["", f"### Re-measured {later['date']} (the same weights; {later['why']})", "", "```bash"]
        lines += [*later["commands"], "```", "", TABLE_HEAD]
        lines += [RunFigures(**f).row() for f in later["figures"]]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def add_remeasured(out: Path, date: str, why: str, commands: list[str], figures: list[RunFigures]) -> None:
    """Append figures measured again on the shipped weights to the card (its JSON and README)."""
    card = json.loads((out / CARD_JSON).read_text(encoding="utf-8"))
    later = {"date": date, "why": why, "commands": commands, "figures": [asdict(f) for f in figures]}
    card["remeasured"] = [*card.get("remeasured", []), later]
    write_card(out, card)


class _quiet:
    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        self._level = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]

    def __exit__(self, *exc: object) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity(self._level)
