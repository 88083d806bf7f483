"""An error screenshot plus a repository -> a unified diff, verified by applying it to a copy of the
repository inside the sandbox and running the tests there. The user's repository is never touched."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from viscodex.model.chat import ChatBackend, ChatMessage
from viscodex.sandbox import Sandbox

from .. import prompts
from ..extract import CodeLanguage
from .base import Kind, SolveRequest, Verification, model_images

SKIP_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".viscodex",  # run folders (the CLI's and the language server's): not part of the code under test
}
MAX_FILE_BYTES = 1 << 20
MAX_REPO_BYTES = 16 << 20
PROMPT_CHARS = 40_000
DIFF_NAME = "viscodex.diff"


class RepoError(ValueError):
    """The repository cannot be sent to the sandbox (too big, not a folder, no way to test it)."""


def collect_repo(root: Path) -> dict[str, bytes]:
    """The repository's text files (what a fix can touch and the tests need), within size caps."""
    if not root.is_dir():
        raise RepoError(f"--repo {root} is not a folder")
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in SKIP_DIRS for part in rel.parts) or not path.is_file() or path.is_symlink():
            continue
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary
        total += size
        if total > MAX_REPO_BYTES:
            raise RepoError(f"--repo {root} has more than {MAX_REPO_BYTES >> 20} MB of text files")
        files[rel.as_posix()] = data
    if not files:
        raise RepoError(f"--repo {root} has no text files")
    return files


def detect_test_command(files: dict[str, bytes]) -> str:
    names = set(files)
    has_pytest = any(
        (n.rsplit("/", 1)[-1].startswith("test_") and n.endswith(".py")) or n.endswith("_test.py") for n in names
    ) or any(n in names for n in ("pytest.ini", "conftest.py", "tests/conftest.py"))
    if has_pytest or b"[tool.pytest" in files.get("pyproject.toml", b""):
        return "python3 -m pytest -q -p no:cacheprovider"
    raise RepoError("cannot tell how to run this repository's tests; pass --test-cmd")


def _pytest_fraction(output: str) -> float | None:
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error|errors)", output)}
    good = counts.get("passed", 0)
    bad = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    return good / (good + bad) if good + bad else None


@dataclass
class FixTask:
    kind: Kind = "fix"
    language: CodeLanguage = "diff"
    files: dict[str, bytes] = field(default_factory=dict)
    test_cmd: str = ""
    timeout_s: float = 60.0
    notes: list[str] = field(default_factory=list)

    async def prepare(self, request: SolveRequest, model: ChatBackend, sandbox: Sandbox) -> None:
        if request.repo is None:
            raise RepoError("the fix task needs --repo DIR")
        self.files = collect_repo(request.repo)
        self.test_cmd = request.test_cmd or detect_test_command(self.files)
        self.timeout_s = request.timeout_s or 60.0

    def _listing(self, request: SolveRequest) -> str:
        first = (
            {p.resolve().relative_to(request.repo.resolve()).as_posix() for p in request.context_files}
            if request.repo
            else set()
        )
        order = sorted(self.files, key=lambda n: (n not in first, n))
        parts, used = [], 0
        for name in order:
            text = self.files[name].decode("utf-8", "replace")
            block = f"--- {name}\n```\n{text}\n```\n"
            if used + len(block) > PROMPT_CHARS:
                parts.append(f"--- {name} ({len(text)} characters, not shown)\n")
                continue
            used += len(block)
            parts.append(block)
        return "".join(parts)

    def first_messages(self, request: SolveRequest) -> list[ChatMessage]:
        images, note = model_images(request)
        text = prompts.render(
            "fix",
            "first",
            instruction=request.instruction,
            test_cmd=self.test_cmd,
            files=self._listing(request),
        )
        return [
            ChatMessage("system", prompts.render("fix", "system")),
            ChatMessage("user", text + note, images),
        ]

    def feedback(self, request: SolveRequest, verification: Verification) -> ChatMessage:
        summary = "the tests pass" if verification.passed else f"score {verification.score:.2f}"
        text = prompts.render("fix", "feedback", summary=summary, critique="\n".join(verification.critique))
        return ChatMessage("user", text)

    def verify(self, code: str, sandbox: Sandbox) -> Verification:
        command = (
            f"patch -p1 --batch --forward --no-backup-if-mismatch < {DIFF_NAME} > .patch.log 2>&1 "
            f"|| {{ echo 'viscodex: the diff did not apply:' >&2; cat .patch.log >&2; exit 90; }}\n"
            f"{self.test_cmd}"
        )
        files = {**self.files, DIFF_NAME: code.encode() if code.endswith("\n") else (code + "\n").encode()}
        started = time.monotonic()
        result = sandbox.run(files=files, command=command, timeout_s=self.timeout_s)
        spent = time.monotonic() - started
        output = (result.stdout + "\n" + result.stderr).strip()
        tail = "\n".join(output.splitlines()[-60:])
        if result.exit_code == 90:
            return Verification(0.0, False, {"applied": 0.0}, [tail], result, sandbox_s=spent)
        fraction = _pytest_fraction(output)
        score = 1.0 if result.ok else (fraction if fraction is not None else 0.0) * 0.99
        components = {"applied": 1.0, "tests": score}
        critique = [] if result.ok else [tail or result.summary()]
        return Verification(score, result.ok, components, critique, result, sandbox_s=spent)
