"""Model configuration: CLI flags > ``VISCODEX_*`` environment variables > the user's config file >
defaults. The config file is ``$XDG_CONFIG_HOME/viscodex/config.toml`` (``~/.config/...``), with the same
names as the fields below, at the top level (``model_url = "http://127.0.0.1:8000/v1"``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_PRESET = "viscodex-8b"


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
