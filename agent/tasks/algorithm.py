"""A programming problem in a screenshot -> a Python solution, verified on the problem's sample tests.

The model first copies the sample tests out of the statement as JSON (a separate call, so a wrong
solution cannot also bend the tests); each candidate then runs on every sample in the sandbox.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from viscodex.model.chat import ChatBackend, ChatMessage, ChatRequest, complete
from viscodex.sandbox import Sandbox

from .. import prompts
from ..extract import CodeLanguage, ExtractionError, extract_json
from .base import Kind, SolveRequest, Verification, context_text, model_images


class SampleTest(BaseModel):
    input: str
    output: str


class _Tests(BaseModel):
    tests: list[SampleTest]


def same_output(got: str, expected: str) -> bool:
    """Judges' usual rule: compare line by line, ignoring trailing spaces and trailing blank lines."""

    def norm(text: str) -> list[str]:
        return [line.rstrip() for line in text.strip().splitlines()]

    return norm(got) == norm(expected)


@dataclass
class AlgorithmTask:
    kind: Kind = "algorithm"
    language: CodeLanguage = "python"
    tests: list[SampleTest] = field(default_factory=list)
    timeout_s: float | None = None
    notes: list[str] = field(default_factory=list)

    async def prepare(self, request: SolveRequest, model: ChatBackend, sandbox: Sandbox) -> None:
        self.timeout_s = request.timeout_s
        images, note = model_images(request)
        ask = ChatRequest.single(prompts.render("algorithm", "tests") + note, images, max_tokens=1024)
        answer = await complete(model, ask)
        try:
            self.tests = _Tests.model_validate(extract_json(answer.text)).tests
        except (ExtractionError, ValidationError) as exc:
            self.notes.append(f"could not read sample tests from the statement: {exc}")
            self.tests = []

    def first_messages(self, request: SolveRequest) -> list[ChatMessage]:
        images, note = model_images(request)
        text = prompts.render(
            "algorithm", "first", instruction=request.instruction, context=context_text(request.context_files)
        )
        return [
            ChatMessage("system", prompts.render("algorithm", "system")),
            ChatMessage("user", text + note, images),
        ]

    def feedback(self, request: SolveRequest, verification: Verification) -> ChatMessage:
        passed = round(verification.components.get("passed", 0))
        total = round(verification.components.get("total", 0))
        text = prompts.render(
            "algorithm",
            "feedback",
            passed=passed,
            total=total,
            critique="\n".join(verification.critique) or "(no details)",
        )
        return ChatMessage("user", text)

    def verify(self, code: str, sandbox: Sandbox) -> Verification:
        if not self.tests:
            started = time.monotonic()
            result = sandbox.run(code, stdin="", timeout_s=self.timeout_s)
            critique = [f"no sample tests could be read; the program {result.summary() if not result.ok else 'ran'}"]
            return Verification(
                0.0, False, {"passed": 0, "total": 0}, critique, result, sandbox_s=time.monotonic() - started
            )
        passed, critique, last = 0, [], None
        spent = 0.0
        for number, test in enumerate(self.tests, 1):
            started = time.monotonic()
            last = sandbox.run(code, stdin=test.input, timeout_s=self.timeout_s)
            spent += time.monotonic() - started
            if last.ok and same_output(last.stdout, test.output):
                passed += 1
                continue
            detail = (
                f"Sample {number} failed.\nInput:\n{test.input.strip()}\nExpected output:\n{test.output.strip()}\n"
                f"Your output:\n{last.stdout.strip()[-2000:] or '(nothing)'}"
            )
            if not last.ok:
                detail += f"\nThe program {last.summary()}; stderr (last lines):\n{last.stderr.strip()[-1500:]}"
            critique.append(detail)
        total = len(self.tests)
        return Verification(
            passed / total,
            passed == total,
            {"passed": passed, "total": total},
            critique,
            last,
            sandbox_s=spent,
        )
