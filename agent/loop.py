"""The verify-and-iterate loop, as a plain loop you can read in one sitting.

    generate -> extract the code -> check its syntax (tree-sitter; an error goes straight back to the
    model, no sandbox run spent) -> run and measure it in the sandbox -> keep the best -> tell the model
    what differs -> again, until verified, no better for `patience` rounds, or out of iterations/time.

Every step reports a typed event through ``emit``; the loop never prints. Each round the model sees the
original request plus only its latest attempt and the feedback on it, so the context stays bounded; when
that attempt came out worse than the best so far, the best one and its feedback instead, and the
original request alone beside it (a fresh answer).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from viscodex.model.chat import ChatBackend, ChatMessage, ChatRequest, Completion, complete
from viscodex.model.errors import ModelError, ModelHTTPError
from viscodex.sandbox import LANGUAGE_SPECS, LanguageName, Sandbox, language_spec_for_path

from . import prompts
from .events import Candidate, Done, Emit, ParseError, SandboxResult, Score, Started
from .extract import CodeLanguage, extract_code
from .keep import with_kept_code
from .syntax import SyntaxSession, check_syntax
from .tasks import make_task
from .tasks.base import KINDS, Kind, SolveRequest, Task, Verification, model_images

UI_LANGUAGES: frozenset[LanguageName] = frozenset({"html", "css", "jsx", "tsx", "vue", "svelte"})
"""A context file in one of these (read off its suffix) makes ``auto`` a UI task."""
MAX_PREVIOUS_CHARS = 24_000
"""The previous attempt goes back to the model as its extracted code, cut to this size."""
SAMPLING_TEMPERATURE = 0.7
"""For several candidates a round, and for a repair asked again from the same attempt."""


@dataclass
class Attempt:
    iteration: int
    index: int
    answer: str
    code: str
    path: Path
    verification: Verification


@dataclass
class IterationTiming:
    iteration: int
    total_s: float
    model_s: float
    sandbox_s: float

    @property
    def overhead_s(self) -> float:
        return self.total_s - self.model_s - self.sandbox_s


@dataclass
class SolveResult:
    kind: Kind
    verified: bool
    best: Attempt | None
    iterations: int
    reason: str
    run_dir: Path
    timings: list[IterationTiming] = field(default_factory=list)


async def pick_kind(request: SolveRequest, model: ChatBackend) -> Kind:
    """The task for ``auto``: from the repository or the context file when they say, else the model."""
    if request.kind != "auto":
        return request.kind
    if request.repo is not None:
        return "fix"
    trained: tuple[str, ...] = getattr(model, "kinds", ())  # EmbeddedBackend.kinds; others: every task
    known = [k for k in KINDS if k in trained]
    if len(known) == 1:  # a model trained for one task (the demo: charts) cannot tell the others apart
        return known[0]
    for path in request.context_files:
        spec = language_spec_for_path(path)
        if spec is not None and spec.name in UI_LANGUAGES:
            return "ui"
        if spec is not None and spec.name == "python":
            text = path.read_text(encoding="utf-8", errors="replace")
            return "chart" if "matplotlib" in text or "seaborn" in text else "algorithm"
    images, note = model_images(request)  # cut as every other model call cuts them
    answer = await complete(model, ChatRequest.single(prompts.render("auto", "classify") + note, images, max_tokens=8))
    words = answer.text.lower().replace(".", " ").split()
    return next((w for w in words if w in KINDS), "ui")


class Loop:
    """One solve run: the task, the model, the sandbox and the run folder it writes."""

    def __init__(self, request: SolveRequest, model: ChatBackend, sandbox: Sandbox, run_dir: Path, emit: Emit) -> None:
        self.request = request
        self.model = model
        self.sandbox = sandbox
        self.run_dir = run_dir
        self._emit = emit
        self._start = time.monotonic()
        self._base: list[ChatMessage] = []
        self._syntax: dict[int, SyntaxSession] = {}
        """Per candidate slot: the answer is parsed while it streams in, so the check after its last
        chunk re-parses only the tail (see ``SyntaxSession``)."""

    def elapsed(self) -> float:
        return round(time.monotonic() - self._start, 3)

    async def run(self) -> SolveResult:
        request = self.request
        kind = await pick_kind(request, self.model)
        task = make_task(kind)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for number, image in enumerate(request.images, 1):
            shutil.copyfile(image, self.run_dir / f"target-{number}{image.suffix.lower()}")
        self._emit(
            Started(
                elapsed_s=self.elapsed(),
                kind=kind,
                images=[str(p) for p in request.images],
                run_dir=str(self.run_dir),
                backend=self.model.name,
                model=self.model.model,
                max_iters=request.max_iters,
            )
        )
        await task.prepare(request, self.model, self.sandbox)
        base = task.first_messages(request)
        conversations = [list(base)]
        best: Attempt | None = None
        timings: list[IterationTiming] = []
        stale = 0
        reason = "iteration budget"
        iteration = 0
        self._base = base
        retry = False
        for iteration in range(1, request.max_iters + 1):
            started = time.monotonic()
            try:
                attempts, model_s, sandbox_s = await self._round(task, iteration, conversations, retry)
            except ModelError as exc:
                if best is None:
                    raise
                reason = f"model error: {exc}"  # keep what was verified so far instead of losing it
                iteration -= 1
                break
            timings.append(IterationTiming(iteration, time.monotonic() - started, model_s, sandbox_s))
            round_best = max(attempts, key=lambda a: a.verification.score)
            if best is None or round_best.verification.score > best.verification.score:
                best, stale = round_best, 0
            else:
                stale += 1
            self._write_report(kind, best, iteration, "running", timings)
            if best.verification.passed:
                reason = "verified"
                break
            if stale >= request.patience:
                reason = f"no improvement in {stale} rounds"
                break
            if time.monotonic() - self._start > request.time_budget_s:
                reason = "time budget"
                break
            # A round that came out worse than the best so far is not built on (its errors would
            # compound: a repair that broke the syntax, repaired again, rarely finds its way back): the
            # next round repairs the best attempt again and, beside it, answers the request afresh,
            # both sampled so that the model does not repeat itself. A model that could not mend its
            # answer by editing it (it keeps the type it first drew) may still write a right one from
            # the start; the verifier picks.
            retry = round_best.verification.score < best.verification.score
            basis = best if retry else round_best
            previous = f"```{task.language}\n{basis.code[:MAX_PREVIOUS_CHARS]}\n```"
            repair = [*base, ChatMessage("assistant", previous), task.feedback(request, basis.verification)]
            conversations = [repair, list(base)] if retry else [repair]
        verified = bool(best and best.verification.passed)
        self._write_report(kind, best, iteration, reason, timings)
        self._emit(
            Done(
                elapsed_s=self.elapsed(),
                verified=verified,
                score=best.verification.score if best else 0.0,
                iterations=iteration,
                reason=reason,
                output=str(best.path) if best else None,
                run_dir=str(self.run_dir),
            )
        )
        return SolveResult(kind, verified, best, iteration, reason, self.run_dir, timings)

    async def _round(
        self, task: Task, iteration: int, conversations: list[list[ChatMessage]], retry: bool = False
    ) -> tuple[list[Attempt], float, float]:
        """One round's candidates: ``request.candidates`` answers to each conversation. Greedy when there
        is one, unless the round asks again what an earlier round asked (``retry``): then sampled, with
        seeds no earlier round used."""
        n = self.request.candidates
        temperature = 0.0 if n == 1 and not retry else SAMPLING_TEMPERATURE
        first_seed = iteration * n if retry else 0
        asks = [(messages, first_seed + k) for messages in conversations for k in range(n)]
        started = time.monotonic()
        language = task.language
        calls = (self._ask(messages, temperature, seed, slot, language) for slot, (messages, seed) in enumerate(asks))
        answers: list[Completion] = list(await asyncio.gather(*calls))
        model_s = time.monotonic() - started
        results = await asyncio.gather(*(self._attempt(task, iteration, i, a.text) for i, a in enumerate(answers, 1)))
        return list(results), model_s, sum(a.verification.sandbox_s for a in results)

    async def _ask(
        self, messages: list[ChatMessage], temperature: float, seed: int, slot: int, language: CodeLanguage
    ) -> Completion:
        """One model call (``slot``: the candidate's place in its round); if the conversation outgrew
        the model's context, once more without the previous attempt (the feedback still says what to
        fix)."""
        try:
            return await self._stream(ChatRequest(messages, temperature=temperature, seed=seed), slot, language)
        except ModelHTTPError as exc:
            if exc.status != 400 or "context" not in str(exc).lower() or len(messages) <= len(self._base):
                raise
            shorter = [*self._base, messages[-1]]
            return await self._stream(ChatRequest(shorter, temperature=temperature, seed=seed), slot, language)

    async def _stream(self, request: ChatRequest, slot: int, language: CodeLanguage) -> Completion:
        """The whole answer, its code parsed every ``PARSE_EVERY_CHARS`` as it arrives."""
        session = self._syntax.setdefault(slot, SyntaxSession())
        result = Completion(backend=self.model.name, model=self.model.model)
        parsed = 0
        async for chunk in self.model.stream(request):
            result.add(chunk)
            if len(result.text) - parsed >= PARSE_EVERY_CHARS:
                parsed = len(result.text)
                code = extract_code(result.text, language).code
                session.prime(code[: code.rfind("\n") + 1], language)
        return result

    async def _attempt(self, task: Task, iteration: int, index: int, answer: str) -> Attempt:
        folder = self.run_dir / f"iter-{iteration}" / f"cand-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "answer.md").write_text(answer, encoding="utf-8")
        extracted = extract_code(answer, task.language)
        path = folder / f"code{LANGUAGE_SPECS[task.language].suffixes[0]}"
        path.write_text(extracted.code, encoding="utf-8")
        self._emit(
            Candidate(
                elapsed_s=self.elapsed(),
                iteration=iteration,
                index=index,
                language=task.language,
                chars=len(extracted.code),
                path=str(path),
            )
        )
        syntax = check_syntax(extracted.code, task.language, session=self._syntax.get(index - 1))
        if not syntax.ok or not extracted.code.strip():
            errors = [f"line {e.line}, column {e.column}: {e.message}" for e in syntax.errors] or [
                "the answer has no code"
            ]
            self._emit(ParseError(elapsed_s=self.elapsed(), iteration=iteration, index=index, errors=errors))
            critique = ["Your code does not parse, so it was not run:", *errors]
            verification = Verification(0.0, False, {"syntax": 0.0}, critique)
        else:
            verification = await asyncio.to_thread(task.verify, extracted.code, self.sandbox)
            verification = with_kept_code(verification, self.request.context_files, extracted.code, task.language)
            if verification.run is not None:
                run = verification.run
                self._emit(
                    SandboxResult(
                        elapsed_s=self.elapsed(),
                        iteration=iteration,
                        index=index,
                        exit_code=run.exit_code,
                        timed_out=run.timed_out,
                        oom_killed=run.oom_killed,
                        duration_s=run.duration_s,
                        stderr_tail=run.stderr[-500:],
                    )
                )
        if verification.render is not None:
            (folder / "render.png").write_bytes(verification.render)
        for page, png in enumerate(verification.more_renders, 2):
            (folder / f"render-{page}.png").write_bytes(png)
        attempt = Attempt(iteration, index, answer, extracted.code, path, verification)
        (folder / "score.json").write_text(
            json.dumps(
                {
                    "score": verification.score,
                    "passed": verification.passed,
                    "components": verification.components,
                    "critique": verification.critique,
                },
                indent=2,
            )
        )
        self._emit(
            Score(
                elapsed_s=self.elapsed(),
                iteration=iteration,
                index=index,
                score=verification.score,
                passed=verification.passed,
                components=verification.components,
                critique=verification.critique[:10],
            )
        )
        return attempt

    def _write_report(
        self, kind: str, best: Attempt | None, iterations: int, reason: str, timings: list[IterationTiming]
    ) -> None:
        report = {
            "kind": kind,
            "verified": bool(best and best.verification.passed),
            "score": best.verification.score if best else 0.0,
            "iterations": iterations,
            "reason": reason,
            "best": str(best.path) if best else None,
            "components": best.verification.components if best else {},
            "timings": [
                {
                    "iteration": t.iteration,
                    "total_s": t.total_s,
                    "model_s": t.model_s,
                    "sandbox_s": t.sandbox_s,
                }
                for t in timings
            ],
        }
        (self.run_dir / "report.json").write_text(json.dumps(report, indent=2))


PARSE_EVERY_CHARS = 1000
"""While an answer streams in, its code is parsed again after this many more characters: a 7B model
writes them in seconds, a parse of the new part is far quicker (``bench/syntax.py``)."""
