"""One evaluation run: load the benchmark, answer each item (single shot or in the agent loop), score it in
the sandbox, append its row to ``OUT/items.jsonl``, and write the summary.

Items run concurrently (``workers`` at a time) on one event loop: the model calls are asynchronous, the
sandbox calls go to threads, and each scoring sandbox keeps ``workers`` warm containers. Items already in
``items.jsonl`` are skipped, so an interrupted run continues where it stopped when started again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from viscodex.model.chat import ChatBackend, ChatRequest, complete
from viscodex.model.settings import ModelSettings

from . import chartmimic, design2code, hub, infibench, mmcode, quirks
from .scale import LocalScorer, RayScorer, Scorer
from .store import ItemStore, write_summary

Bench = Literal["chartmimic", "mmcode", "design2code", "infibench"]
BENCHES: tuple[Bench, ...] = ("chartmimic", "mmcode", "design2code", "infibench")

PAPER_NOTE = (
    "Paper column: the VisCodex paper's (arXiv 2508.09945) published numbers were not available offline "
    "when this harness was written (its tables were not readable and the authors' README shows them only as "
    "an image missing from the mirror), so the column is left empty rather than filled from memory."
)
PAPER: dict[str, dict[str, float]] = {}
"""Published VisCodex-8B numbers per benchmark and metric, to be filled from the paper's tables."""


@dataclass(frozen=True)
class EvalConfig:
    bench: Bench
    data: Path
    out: Path
    settings: ModelSettings
    agent: bool = False
    max_iters: int = 3
    limit: int | None = None
    workers: int = 2
    samples: int = 1
    """MMCode: answers per problem (n of pass@k)."""
    ks: tuple[int, ...] = (1,)
    temperature: float = 0.0
    item_timeout_s: float = 60.0
    """ChartMimic: the longest one tracing run of a script may take."""
    quirks: frozenset[str] | None = None
    """The official quirks kept on (``quirks.QUIRKS``); None: all of the benchmark's, as published."""
    judge: ModelSettings | None = None
    """ChartMimic: the judge model of the high-level score (GPT-4o in the paper); None: not scored."""
    ray: str | None = None
    """A Ray cluster's address (or ``local``) to score the items on (``scale``); None: the local pool."""
    clip: str = design2code.DEFAULT_CLIP
    """Design2Code: the CLIP model (an open_clip folder, ``hf-hub:...`` or ``ARCH:PRETRAINED``)."""

    def active_quirks(self) -> frozenset[str]:
        return quirks.defaults(self.bench) if self.quirks is None else self.quirks


@dataclass
class Progress:
    total: int = 0
    skipped: int = 0
    done: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


Report = Callable[[str, dict[str, Any]], None]
"""Called as ``report(event, data)``: ``"start"`` (total, skipped), ``"item"`` (the row)."""


def _ignore(_event: str, _data: dict[str, Any]) -> None:
    pass


def write_budgets(out: Path, runs: Sequence[tuple[int, dict[str, Any]]]) -> str:
    """``OUT/summary.md`` and ``summary.json`` of an agent run at several iteration budgets: each metric
    per budget, and the loop's gain (the last budget's mean minus the first's)."""
    import json

    names = list(runs[0][1]["metrics"])
    table: dict[str, Any] = {"budgets": [b for b, _ in runs], "metrics": {}, "gain": {}}
    lines = [
        f"# {runs[0][1]['bench']}: the agent loop at {len(runs)} budgets",
        "",
        "| metric | " + " | ".join(f"{b} iter." for b, _ in runs) + " | gain |",
        "| --- |" + " ---: |" * (len(runs) + 1),
    ]
    for name in names:
        values = [s["metrics"].get(name) for _, s in runs]
        gain = values[-1] - values[0] if values[0] is not None and values[-1] is not None else None
        table["metrics"][name] = values
        table["gain"][name] = gain
        cells = ["-" if v is None else f"{v:.2f}" for v in values]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'-' if gain is None else f'{gain:+.2f}'} |")
    lines += ["", "Each budget's items, summary and answers are in iters-N/.", ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    text = "\n".join(lines)
    (out / "summary.md").write_text(text, encoding="utf-8")
    return text


def load_items(config: EvalConfig) -> list[Any]:
    """The benchmark's items from a local folder or file, or from the hub (``hub:OWNER/NAME``)."""
    name = hub.hub_name(config.data)
    if config.bench == "chartmimic":
        data = config.data if name is None else hub.chartmimic_folder(name, config.out / "hub")
        items: list[Any] = chartmimic.load(data, config.out / "pictures")
    elif config.bench == "design2code":
        items = design2code.load(config.data if name is None else name, config.out / "pages")
    elif config.bench == "infibench":
        items = infibench.load(config.data)
    else:
        items = mmcode.load(config.data if name is None else hub.mmcode_folder(name))
    return items[: config.limit] if config.limit is not None else items


def fields(config: EvalConfig) -> tuple[str, ...]:
    if config.bench == "chartmimic":
        return chartmimic.FIELDS + ((chartmimic.JUDGE_FIELD,) if config.judge is not None else ())
    if config.bench == "design2code":
        return design2code.FIELDS
    if config.bench == "infibench":
        return infibench.FIELDS
    return mmcode.fields(config.ks)


def notes(config: EvalConfig) -> list[str]:
    mode = f"agent loop, at most {config.max_iters} iterations" if config.agent else "single shot"
    out = [f"Answers: {mode}; model {config.settings.model_url or config.settings.resolved_model_path()}."]
    if config.bench == "chartmimic":
        out.append("Scores are F1 x 100 of the official text, layout, type and colour evaluators, re-implemented.")
        if config.judge is not None:
            judge = config.judge.model_url or config.judge.resolved_model_path()
            out.append(
                f"{chartmimic.JUDGE_FIELD}: the official judge prompt answered by {judge} (the paper used GPT-4o); "
                "the generated chart is rendered by the sandbox's chart runner, 0 when it draws nothing."
            )
    elif config.bench == "design2code":
        out.append(f"Design2Code: the official visual score x 100, re-implemented; CLIP {config.clip}.")
    elif config.bench == "infibench":
        out.append("InfiBench: the official grader's score x 100 of each question's full score, re-implemented.")
    else:
        out.append(f"MMCode: {config.samples} sample(s) per problem at temperature {config.temperature}.")
    return out + quirks.notes(config.bench, config.active_quirks())


async def evaluate(config: EvalConfig, report: Report = _ignore) -> dict[str, Any]:
    """Run (or resume) the evaluation; return the summary it wrote."""
    from viscodex.model.select import open_backend
    from viscodex.sandbox import Sandbox

    items = await asyncio.to_thread(load_items, config)
    store = ItemStore(config.out)
    todo = [item for item in items if not store.done(item.id)]
    report("start", {"total": len(items), "skipped": len(items) - len(todo)})
    places: list[str] = []
    if todo:
        package_set = "chartmimic" if config.bench == "chartmimic" else "default"
        backend = await open_backend(config.settings)
        judge = await open_backend(config.judge) if config.judge is not None else None
        try:
            scorer: Scorer
            if config.ray is not None:
                scorer = await RayScorer.open(config.ray, package_set, config.workers)
                places = scorer.places
            else:
                scorer = await LocalScorer.open(package_set, config.workers)
            agent_box = None
            try:
                if config.agent:
                    agent_box = await asyncio.to_thread(Sandbox, pool={"exec": 1, "chart": 1})
                gate = asyncio.Semaphore(config.workers)

                async def one(item: Any) -> None:
                    async with gate:
                        row = await _item(config, item, backend, scorer, agent_box, judge)
                    store.add(row)
                    report("item", row)

                await asyncio.gather(*(one(item) for item in todo))
            finally:
                if agent_box is not None:
                    await asyncio.to_thread(agent_box.close)
                await scorer.close()
        finally:
            await backend.aclose()
            if judge is not None:
                await judge.aclose()
    rows = [store.rows[item.id] for item in items if item.id in store.rows]
    return write_summary(
        config.out,
        bench=config.bench,
        fields=fields(config),
        rows=rows,
        paper=PAPER.get(config.bench),
        paper_note=PAPER_NOTE,
        notes=notes(config),
        config={
            "data": str(config.data),
            "agent": config.agent,
            "max_iters": config.max_iters if config.agent else None,
            "samples": config.samples,
            "temperature": config.temperature,
            "quirks": sorted(config.active_quirks()),
            "ray": config.ray,
            "ray_actors": places or None,
        },
    )


async def _item(
    config: EvalConfig, item: Any, backend: ChatBackend, scorer: Scorer, agent_box: Any, judge: ChatBackend | None
) -> dict[str, Any]:
    started = time.monotonic()
    on = config.active_quirks()
    scorer = timed = _Timed(scorer)
    model_s = 0.0
    if config.bench == "chartmimic":
        prompt = chartmimic.prompt_for(item.script.read_text(encoding="utf-8"))
        mark = time.monotonic()
        answers = await _answers(config, backend, agent_box, item.id, prompt, [item.picture], "chart", 1)
        model_s = time.monotonic() - mark
        _keep(config.out, item.id, answers)
        gold_script = item.script.read_text(encoding="utf-8")
        row: dict[str, Any] = await scorer.call(
            chartmimic.score_script, item.id, gold_script, answers[0], timeout_s=config.item_timeout_s, quirks=on
        )
        if judge is not None:
            row[chartmimic.JUDGE_FIELD] = await _judge(config, judge, scorer, item, answers[0], bool(row["ran"]))
    elif config.bench == "design2code":
        mark = time.monotonic()
        answers = await _answers(config, backend, agent_box, item.id, design2code.PROMPT, [item.picture], "ui", 1)
        model_s = time.monotonic() - mark
        _keep(config.out, item.id, answers)
        assets = {name: path.read_bytes() for name, path in item.assets.items()}
        reference = item.html.read_text(encoding="utf-8", errors="replace")
        row = await scorer.call(
            design2code.score_html, item.id, reference, answers[0], clip=config.clip, quirks=on, assets=assets
        )
    elif config.bench == "infibench":
        mark = time.monotonic()
        prompt = infibench.prompt_for(item)
        answers = await _answers(config, backend, agent_box, item.id, prompt, item.images, "algorithm", config.samples)
        model_s = time.monotonic() - mark
        _keep(config.out, item.id, answers)
        row = infibench.row_for(item, [await scorer.call(infibench.grade, item, answer) for answer in answers])
    else:
        images = _write_images(config.out / "pictures" / item.id, item.images)
        prompt = mmcode.prompt_for(item)
        mark = time.monotonic()
        answers = await _answers(config, backend, agent_box, item.id, prompt, images, "algorithm", config.samples)
        model_s = time.monotonic() - mark
        _keep(config.out, item.id, answers)
        verdicts = [
            await scorer.call(mmcode.judge, mmcode.extract_code(answer), item.input_output, quirks=on)
            for answer in answers
        ]
        row = mmcode.row_for(item, verdicts, config.ks, on)
    row["seconds"] = round(time.monotonic() - started, 3)
    row["model_seconds"] = round(model_s, 3)
    row["sandbox_seconds"] = round(timed.seconds, 3)
    return row


class _Timed:
    """A scorer that adds up how long its calls took (the sandbox's share of an item's time)."""

    def __init__(self, inner: Scorer) -> None:
        self.inner = inner
        self.seconds = 0.0

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        mark = time.monotonic()
        try:
            return await self.inner.call(fn, *args, **kwargs)
        finally:
            self.seconds += time.monotonic() - mark

    async def close(self) -> None:
        await self.inner.close()


async def _judge(config: EvalConfig, judge: ChatBackend, scorer: Scorer, item: Any, answer: str, ran: bool) -> float:
    """ChartMimic's high-level score: the judge compares the reference picture with the generated chart (0
    when the answer's script draws nothing: the official table divides by all items)."""
    from viscodex.model.chat import ChatMessage

    if not ran:
        return 0.0
    code = chartmimic.judge_code(answer, savefig_cut="savefig-cut" in config.active_quirks())
    png = await scorer.call(chartmimic.render_for_judge, code, timeout_s=config.item_timeout_s)
    if png is None:
        return 0.0
    folder = config.out / "judge"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{item.id}.png").write_bytes(png)
    request = ChatRequest(
        [ChatMessage("user", chartmimic.JUDGE_PROMPT, (item.picture, folder / f"{item.id}.png"))],
        max_tokens=chartmimic.JUDGE_MAX_TOKENS,
        temperature=chartmimic.JUDGE_TEMPERATURE,
    )
    response = (await complete(judge, request)).text
    (folder / f"{item.id}.md").write_text(response, encoding="utf-8")
    score = chartmimic.judge_score(response)
    return 0.0 if score is None else score


async def _answers(
    config: EvalConfig,
    backend: ChatBackend,
    agent_box: Any,
    item_id: str,
    prompt: str,
    images: Sequence[Path],
    kind: Literal["chart", "algorithm", "ui"],
    count: int,
) -> list[str]:
    """``count`` answers to the item, each as Markdown with its code in a ```python block."""
    if not config.agent:
        chat = ChatRequest.single(prompt, tuple(images), temperature=config.temperature)
        return [(await complete(backend, chat)).text for _ in range(count)]
    from viscodex.agent import Loop, SolveRequest
    from viscodex.agent.tasks.ui import DESIGN2CODE_FONTS, DESIGN2CODE_WINDOW_HEIGHT

    # The agent's verifier renders its pages as the benchmark's pictures were taken.
    conditions: dict[str, Any] = (
        {"window_height": DESIGN2CODE_WINDOW_HEIGHT, "page_fonts": DESIGN2CODE_FONTS}
        if config.bench == "design2code"
        else {}
    )
    answers = []
    for sample in range(count):
        request = SolveRequest(
            images=tuple(images),
            kind=kind,
            instruction=prompt,
            max_iters=config.max_iters,
            max_image_tokens=config.settings.max_image_tokens,
            **conditions,
        )
        folder = config.out / "agent" / item_id / f"sample-{sample}"
        result = await Loop(request, backend, agent_box, folder, lambda _e: None).run()
        code = result.best.code if result.best is not None else ""
        fence = "html" if kind == "ui" else "python"
        answers.append(f"```{fence}\n{code}\n```" if code else "")
    return answers


def _keep(out: Path, item_id: str, answers: Sequence[str]) -> None:
    folder = out / "answers"
    folder.mkdir(parents=True, exist_ok=True)
    for index, answer in enumerate(answers):
        name = f"{item_id}.md" if len(answers) == 1 else f"{item_id}-{index}.md"
        (folder / name).write_text(answer, encoding="utf-8")


def _write_images(folder: Path, images: Sequence[bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, data in enumerate(images):
        path = folder / f"{index}.png"
        if not path.is_file():
            path.write_bytes(data)
        paths.append(path)
    return paths
