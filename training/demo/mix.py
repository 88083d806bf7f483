"""The demo's training set: `data synth --kind chart` records, asked the ways VisCodex asks a chart model.

A model this small answers only prompts it was trained on, so each synthetic chart becomes a few
conversations in the exact words the product sends (the agent's prompts from `agent/prompts/chart.md`, the
ChartMimic instruction of `viscodex-train eval`):

- `first`: the agent's first turn (its system prompt; the instruction empty, as `solve` sends it, or the
  ChartMimic instruction, as `eval --agent` sends it), answered with the synthetic script;
- `mimic`: the ChartMimic instruction alone (eval's single shot), answered with the script;
- `type`: the agent's "what type of chart is this?" question, answered with the chart type's word;
- `head`: the script's prompts (the agent's first turn, eval's ChartMimic instruction) answered with the
  script's opening alone, up to its first line (`# bar chart`): the one picture-dependent choice of a basic
  script, learned in the vision stage in the very context where the script later has to make it (a model
  this small learned the type question's word but did not carry it over to the scripts' first line);
- `repair`: a first attempt (another chart's script, mostly of another chart type), the agent's feedback
  turn on it (its render, which is the other chart's synthetic picture, and the feedback text the agent's
  verifier gave that script against this chart, measured by `repairs.measure_feedback`; without a
  measurement, the chart-type line in the critique's words), and the right script: what lets the loop's
  later turns fix what the first one got wrong.

Pure: records in, conversations out; the caller writes them (ms-swift JSONL, which `sft` reads).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

AGENT_TYPE_WORDS: dict[str, str] = {
    "bar": "bar",
    "grouped_bar": "bar",
    "stacked_bar": "bar",
    "line": "line",
    "scatter": "scatter",
    "pie": "pie",
    "histogram": "hist",
    "heatmap": "heatmap",
    "area": "area",
    "errorbar": "line",
}
"""Synthetic chart types in the agent's chart-type words (`agent/score/charttype.py`'s KINDS). Types the
agent has no word for (box, violin, radar, subplot grids) get no `type` conversation."""


class MixRecipe(BaseModel):
    """How many conversations of each kind one synthetic chart gives (a fraction: that share of charts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first: float = Field(0.6, ge=0, description="Agent first turn, instruction empty (solve).")
    first_mimic: float = Field(
        0.5, ge=0, description="Agent first turn with the ChartMimic instruction (eval --agent)."
    )
    mimic: float = Field(1.0, ge=0, description="ChartMimic single shot (eval).")
    type: float = Field(1.0, ge=0, description="The agent's chart-type question (the vision stage's only question).")
    repair: float = Field(1.0, ge=0, le=1, description="A wrong first attempt, the feedback, the right script.")
    head_first: float = Field(0.0, ge=0, description="Agent first turn answered with the script's first line.")
    head_mimic: float = Field(0.0, ge=0, description="ChartMimic instruction answered with the script's first line.")
    seed: int = 0


@dataclass(frozen=True)
class SynthChart:
    """What the mix needs of one `data synth` record."""

    id: str
    image: Path
    answer: str
    """The assistant's answer: the script in a ```python block."""
    chart_type: str
    width: int
    height: int


def read_synth(folder: Path) -> list[SynthChart]:
    """The chart records of a `data synth --kind chart` folder (its records.jsonl), in file order."""
    charts = []
    for line in (folder / "records.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        meta = row.get("meta", {})
        answer = next(m["content"] for m in row["messages"] if m["role"] == "assistant")
        charts.append(
            SynthChart(
                id=row["id"],
                image=(folder / row["images"][0]).resolve(),
                answer=answer,
                chart_type=str(meta.get("chart_type", "")),
                width=int(meta.get("width", 640)),
                height=int(meta.get("height", 480)),
            )
        )
    return charts


def script_of(answer: str) -> str:
    """The script inside an answer's ```python block."""
    return answer.split("```python\n", 1)[-1].rsplit("```", 1)[0]


SAME_TYPE_SHARE = 0.3
"""Of the repair pairs, the share whose wrong attempt is a chart of the right type (other data)."""


@dataclass(frozen=True)
class RepairPair:
    chart: SynthChart
    """The target: its picture is what the model sees, its script the right answer."""
    wrong: SynthChart
    """The first attempt: its script is what the model wrote before the feedback."""

    @property
    def key(self) -> str:
        return f"{self.chart.id}|{self.wrong.id}"


def repair_pairs(charts: Sequence[SynthChart], share: float, seed: int) -> list[RepairPair]:
    """About ``share`` of the charts, each with a wrong attempt; the same for the same charts and seed."""
    rng = random.Random(f"viscodex-demo-repairs:{seed}")
    by_type: dict[str, list[SynthChart]] = {}
    for chart in charts:
        by_type.setdefault(chart.chart_type, []).append(chart)
    pairs = []
    for chart in charts:
        if rng.random() >= share:
            continue
        others = [t for t in sorted(by_type) if t != chart.chart_type]
        same = [c for c in by_type[chart.chart_type] if c.id != chart.id]
        if same and (not others or rng.random() < SAME_TYPE_SHARE):
            wrong = rng.choice(same)
        elif others:
            wrong = rng.choice(by_type[rng.choice(others)])
        else:
            continue
        pairs.append(RepairPair(chart, wrong))
    return pairs


def script_head(answer: str) -> str:
    """An answer up to the end of its script's first line (```` ```python ```` and `# bar chart`): the part
    of a basic script that names what the picture shows."""
    fence = "```python\n"
    start = answer.find(fence)
    if start < 0:
        return answer.split("\n", 1)[0]
    end = answer.find("\n", start + len(fence))
    return answer if end < 0 else answer[:end]


def _type_line(pair: RepairPair) -> str:
    """The chart-type line of the critique, in its words: the feedback when none was measured."""
    drawn = AGENT_TYPE_WORDS.get(pair.wrong.chart_type, pair.wrong.chart_type.replace("_", " "))
    target = AGENT_TYPE_WORDS.get(pair.chart.chart_type, pair.chart.chart_type.replace("_", " "))
    return f"- Chart type: candidate draws {drawn}, target looks like {target}"


def _user(text: str, images: int = 1) -> dict[str, str]:
    return {"role": "user", "content": "<image>" * images + text}


def conversations(
    charts: Sequence[SynthChart], recipe: MixRecipe, feedback: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every training conversation, as ms-swift rows (`messages`, `images`), in a seeded order.
    ``feedback``: the measured feedback text of repair pairs (``RepairPair.key``); given, only the pairs
    it holds become repair turns. Without it every pair does, with the chart-type line as feedback."""
    from viscodex.agent import prompts

    from ..eval.chartmimic import prompt_for

    rng = random.Random(f"viscodex-demo-mix:{recipe.seed}")
    system = {"role": "system", "content": prompts.render("chart", "system")}

    def take(share: float) -> int:
        whole = int(share)
        return whole + (1 if rng.random() < share - whole else 0)

    rows: list[dict[str, Any]] = []
    for chart in charts:
        image = str(chart.image)
        mimic_prompt = prompt_for(script_of(chart.answer))
        assistant = {"role": "assistant", "content": chart.answer}

        def first(instruction: str, chart: SynthChart = chart) -> str:
            return prompts.render(
                "chart", "first", instruction=instruction, width=chart.width, height=chart.height, context=""
            )

        for _ in range(take(recipe.first)):
            rows.append(
                {"id": f"{chart.id}-first", "messages": [system, _user(first("")), assistant], "images": [image]}
            )
        for _ in range(take(recipe.first_mimic)):
            messages = [system, _user(first(mimic_prompt)), assistant]
            rows.append({"id": f"{chart.id}-first-mimic", "messages": messages, "images": [image]})
        for _ in range(take(recipe.mimic)):
            rows.append({"id": f"{chart.id}-mimic", "messages": [_user(mimic_prompt), assistant], "images": [image]})
        head = {"role": "assistant", "content": script_head(chart.answer)}
        for _ in range(take(recipe.head_first)):
            messages = [system, _user(first("")), head]
            rows.append({"id": f"{chart.id}-head-first", "messages": messages, "images": [image]})
        for _ in range(take(recipe.head_mimic)):
            rows.append({"id": f"{chart.id}-head-mimic", "messages": [_user(mimic_prompt), head], "images": [image]})
        word = AGENT_TYPE_WORDS.get(chart.chart_type)
        if word is not None:
            for _ in range(take(recipe.type)):
                messages = [_user(prompts.render("chart", "type")), {"role": "assistant", "content": word}]
                rows.append({"id": f"{chart.id}-type", "messages": messages, "images": [image]})
    for pair in repair_pairs(charts, recipe.repair, recipe.seed):
        score = f"{rng.uniform(0.2, 0.6):.3f}"
        if feedback is not None and pair.key not in feedback:
            continue  # measured feedback only, where there is a measurement
        turn = (feedback or {}).get(pair.key) or prompts.render(
            "chart", "feedback", score=score, critique=_type_line(pair)
        )
        first_turn = prompts.render(
            "chart", "first", instruction="", width=pair.chart.width, height=pair.chart.height, context=""
        )
        messages = [
            system,
            _user(first_turn),
            {"role": "assistant", "content": f"```python\n{script_of(pair.wrong.answer)}\n```"},
            _user(turn),
            {"role": "assistant", "content": pair.chart.answer},
        ]
        images = [str(pair.chart.image), str(pair.wrong.image)]
        rows.append({"id": f"{pair.chart.id}-repair", "messages": messages, "images": images})
    rng.shuffle(rows)
    yield from rows


def write_mix(rows: Iterable[dict[str, Any]], out: Path) -> int:
    """Write the conversations as ms-swift JSONL (`out`), one per line; returns how many."""
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
            count += 1
    return count


def corpus(charts: Sequence[SynthChart]) -> list[str]:
    """The tokenizer's training text: every script and every prompt the model will be asked."""
    from viscodex.agent import prompts

    from ..eval.chartmimic import PROMPT

    texts = [script_of(c.answer) for c in charts]
    fixed = [
        prompts.render("chart", "system"),
        prompts.render("chart", "first", instruction="", width=640, height=480, context=""),
        prompts.render("chart", "type"),
        prompts.render("chart", "feedback", score="0.5", critique="- Chart type: candidate draws bar"),
        PROMPT,
        *AGENT_TYPE_WORDS.values(),
    ]
    return texts + fixed * max(1, len(texts) // 20)
