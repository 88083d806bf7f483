"""Execution policy as data: every limit of a sandbox run, with default-deny values.

Loaded from YAML or TOML so a user (or an evaluation harness) can change a limit without editing code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .errors import SandboxError
from .image import ImageRecipe


class Limits(BaseModel):
    """Limits for one run. The defaults are the project's safety policy; loosen them explicitly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    network: bool = Field(False, description="Give the container a network (never by default).")
    memory_mb: int = Field(512, ge=16, description="Memory limit; swap is set equal, so no swap.")
    cpus: float = Field(1.0, gt=0, description="CPU quota in cores.")
    pids: int = Field(128, ge=8, description="Processes and threads in the container.")
    timeout_s: float = Field(10.0, gt=0, description="Wall time of the program itself.")
    output_bytes: int = Field(1 << 20, ge=1024, description="Cap per output stream; more is cut.")
    work_mb: int = Field(64, ge=1, description="Size of the tmpfs work dir /work.")
    tmp_mb: int = Field(64, ge=1, description="Size of the tmpfs /tmp.")
    nofile: int = Field(256, ge=16, description="Open files per process.")
    user: str = Field("65534:65534", description="uid:gid the code runs as (nobody).")

    def merged(self, **changes: Any) -> Limits:
        """A copy with the given fields changed, ignoring ``None`` (unset CLI flags)."""
        return self.model_copy(update={k: v for k, v in changes.items() if v is not None})


class SandboxPolicy(BaseModel):
    """Limits per kind of work. Rendering needs more room: a browser is several processes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run: Limits = Limits()
    chart: Limits = Limits(timeout_s=20.0)
    html: Limits = Limits(memory_mb=1024, pids=512, timeout_s=20.0, tmp_mb=256)
    recycle_runs: int = Field(
        50,
        ge=1,
        description="Jobs one run or chart container may serve, with a proven reset between them; 1: a fresh"
        " container per job. Rendering HTML always gets a fresh one.",
    )
    pool_memory_mb: int = Field(
        4096, ge=0, description="Memory the idle warm containers of all pools may hold, at their memory limits."
    )
    package_set: str = Field("default", description="The image's Python package set (`sandbox build --package-set`).")
    requirements: Path | None = Field(
        None, description="A requirements file installed on top of the set (`sandbox build --packages FILE`)."
    )

    def image_recipe(self) -> ImageRecipe:
        """The recipe of the image this policy runs in: its package set plus the extra requirements."""
        extra = ""
        if self.requirements is not None:
            try:
                extra = self.requirements.read_text(encoding="utf-8")
            except OSError as exc:
                raise SandboxError(f"cannot read the requirements file {self.requirements}: {exc}") from None
        return ImageRecipe(package_set=self.package_set, extra_requirements=extra)

    @classmethod
    def load(cls, path: Path) -> SandboxPolicy:
        """Read a policy from ``.yaml``/``.yml`` or ``.toml``; missing fields keep their defaults."""
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        data = dict(data or {})
        if data.get("requirements"):
            # relative to the policy file, so a policy and its requirements can travel together
            data["requirements"] = path.parent / Path(data["requirements"]).expanduser()
        return cls.model_validate(data)
