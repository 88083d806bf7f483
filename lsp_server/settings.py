"""The server's settings: what a run uses, with the CLI's names (``model_url``, ``max_iters``, ...).

They come, each overriding the one before, from the defaults, ``initializationOptions``, the client's
``workspace/configuration`` (section ``viscodex``) and ``workspace/didChangeConfiguration``. A client may
spell a name in snake_case (``model_url``, as the CLI's ``--model-url``) or camelCase (``modelUrl``, as
VS Code settings are spelt); unknown names are ignored, so a newer client works with an older server.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SECTION = "viscodex"
"""The configuration section the server asks the client for (``workspace/configuration``)."""

UiStackName = Literal["html", "tailwind", "react"]
BackendName = Literal["auto", "server", "embedded"]


class LspSettings(BaseModel):
    """What the language server's runs use. Names and meanings are those of ``viscodex-agent solve``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    model_url: str | None = Field(None, description="OpenAI-compatible server URL (--model-url).")
    model_name: str | None = Field(None, description="Model name on that server (--model-name).")
    model_path: str | None = Field(None, description="Local checkpoint for the embedded backend (--model-path).")
    backend: BackendName | None = Field(None, description="auto, server or embedded (VISCODEX_BACKEND).")
    max_iters: int = Field(3, ge=1, le=50, description="Most rounds of run-and-fix (--max-iters).")
    candidates: int = Field(1, ge=1, le=8, description="Candidates per round (--candidates).")
    threshold: float = Field(0.9, ge=0.0, le=1.0, description="Visual score that counts as verified (--threshold).")
    time_budget_s: float = Field(900.0, gt=0, description="Longest a run may take, seconds.")
    timeout: float | None = Field(None, gt=0, description="Sandbox time limit per run, seconds (--timeout).")
    stack: UiStackName = Field("html", description="UI stack: html, tailwind or react (--stack).")
    test_cmd: str | None = Field(None, description="Test command for the fix task (--test-cmd).")
    max_image_mb: float = Field(20.0, gt=0, le=256, description="Largest image accepted, in MiB (decoded).")
    max_concurrent_runs: int = Field(2, ge=1, le=16, description="Runs at a time; later ones queue.")
    sandbox_jobs: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Sandbox jobs (renders, test runs) at a time over all runs; later ones wait. Default: one"
        " less than the CPU cores (at least 1), so the editor and this server keep a core while runs render.",
    )

    @property
    def sandbox_job_limit(self) -> int:
        """``sandbox_jobs``, or the default for this machine."""
        if self.sandbox_jobs is not None:
            return self.sandbox_jobs
        return max(1, (os.cpu_count() or 1) - 1)

    def model_flags(self) -> dict[str, object]:
        """The model layer's settings that were given (``ModelSettings.from_flags``'s keywords)."""
        flags: dict[str, object] = {"model_url": self.model_url, "model_name": self.model_name}
        flags["model_path"] = self.model_path
        flags["backend"] = self.backend
        return flags

    @property
    def max_image_bytes(self) -> int:
        return int(self.max_image_mb * 1024 * 1024)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).replace("-", "_").lower()


def normalize(raw: object) -> dict[str, Any]:
    """A client's settings object as LspSettings' field names (camelCase and kebab-case accepted); a
    ``viscodex`` section inside it (as ``didChangeConfiguration`` often sends) is unwrapped."""
    data = to_plain(raw)
    if not isinstance(data, dict):
        return {}
    if isinstance(data.get(SECTION), dict):
        data = data[SECTION]
    return {_snake(str(key)): value for key, value in data.items() if value is not None}


def merged(current: LspSettings, raw: object) -> LspSettings:
    """``current`` with what ``raw`` sets on top; ValueError naming the bad setting if one is invalid."""
    updates = normalize(raw)
    known = {key: value for key, value in updates.items() if key in LspSettings.model_fields}
    if not known:
        return current
    try:
        return LspSettings.model_validate({**current.model_dump(), **known})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise ValueError(f"bad viscodex setting ({problems})") from None


def to_plain(value: object) -> Any:
    """pygls hands a custom method's params over as namedtuples: back to dicts and lists, recursively."""
    if hasattr(value, "_asdict"):
        return {key: to_plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value
