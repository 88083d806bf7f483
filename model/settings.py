"""Model configuration: CLI flags > ``VISCODEX_*`` environment variables > the user's config file >
defaults. The config file is ``$XDG_CONFIG_HOME/viscodex/config.toml`` (``~/.config/...``), with the same
names as the fields below, at the top level (``model_url = "http://127.0.0.1:8000/v1"``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .presets import DEFAULT_PRESET as DEFAULT_PRESET  # re-exported: callers import it from here
from .presets import DEMO_PRESET, PRESETS, ModelPreset


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "viscodex"


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "viscodex"


def default_model_dir() -> Path:
    """Where `viscodex-train merge --preset viscodex-8b` writes the merged model."""
    return cache_dir() / "models" / DEFAULT_PRESET


class ModelSettings(BaseSettings):
    """How to reach the model. Every field can be set by flag, environment or config file."""

    model_config = SettingsConfigDict(env_prefix="VISCODEX_", extra="ignore", frozen=True)

    backend: Literal["auto", "server", "embedded"] = Field(
        "auto", description="auto: the server if it answers, else the embedded model."
    )
    model_url: str | None = Field(None, description="An OpenAI-compatible base URL, e.g. .../v1.")
    model_name: str = Field("viscodex", description="The model name the server serves.")
    api_key: SecretStr = Field(SecretStr("EMPTY"), description="For hosted servers; vLLM ignores it.")
    model_path: Path | None = Field(None, description="A local checkpoint for the embedded backend.")
    device: str = Field("cpu", description="torch device of the embedded backend.")
    connect_timeout_s: float = Field(5.0, gt=0)
    idle_timeout_s: float = Field(60.0, gt=0, description="Longest wait for the next streamed token.")
    deadline_s: float = Field(600.0, gt=0, description="Longest a whole call may take.")
    max_retries: int = Field(2, ge=0, description="Retries, with backoff, of transient failures.")
    max_image_tokens: int = Field(1280, ge=4, description="Pixel budget per image, in 28x28 patches.")
    max_tokens: int = Field(2048, ge=1)
    demo_fallback: bool = Field(
        True,
        description=f"With no model configured and no merged {DEFAULT_PRESET} in the cache, use the demo model "
        f"{DEMO_PRESET} (chart pictures only) instead of failing.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_dir() / "config.toml")
        return (init_settings, env_settings, toml)

    @classmethod
    def from_flags(cls, **flags: object) -> ModelSettings:
        """Settings with the CLI flags that were given (None means: not given) on top."""
        return cls(**{k: v for k, v in flags.items() if v is not None})  # type: ignore[arg-type]

    def resolved_model_path(self) -> Path:
        return self.model_path or default_model_dir()

    def configured(self) -> bool:
        """Whether the user named a model (a server or a checkpoint) rather than leaving it to the defaults."""
        return self.model_url is not None or self.model_path is not None

    def local_model(self) -> LocalModel:
        """The checkpoint the embedded backend loads: ``model_path`` if given; else the merged VisCodex in
        the cache; else, unless ``demo_fallback`` is off or a server was configured, the demo model (cache,
        then the copy shipped in the package). When none exists, the merged model's place (which the error
        then names)."""
        if self.model_path is not None:
            return LocalModel(self.model_path, None)
        default = PRESETS[DEFAULT_PRESET]
        if self.demo_fallback and self.model_url is None and default.local_dir() is None:
            demo = PRESETS[DEMO_PRESET]
            found = demo.local_dir()
            if found is not None:
                return LocalModel(found, demo)
        return LocalModel(default_model_dir(), default)


@dataclass(frozen=True)
class LocalModel:
    path: Path
    preset: ModelPreset | None
    """The preset it is, or None for a checkpoint the user named."""

    @property
    def demo(self) -> bool:
        return self.preset is not None and self.preset.demo

    def notice(self) -> str:
        """The one line that says the demo is in use and how to get the real model ("" if not the demo)."""
        if not self.demo:
            return ""
        real = PRESETS[DEFAULT_PRESET]
        assert self.preset is not None
        return (
            f"using the demo model {self.preset.name} ({self.preset.summary}; charts only) from {self.path}: "
            f"nothing configured and no {real.name} in the cache; build the real one with `{real.build}`"
        )
