"""Model settings: CLI flags > ``VISCODEX_*`` environment variables >
``$XDG_CONFIG_HOME/viscodex/config.toml`` > defaults, each layer overriding only the fields it sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from viscodex.model.settings import (
    DEFAULT_PRESET,
    ModelSettings,
    cache_dir,
    config_dir,
    default_model_dir,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean slate: no VISCODEX_* variable, XDG dirs in tmp; returns the config file's path (absent)."""
    for name in list(os.environ):
        if name.startswith("VISCODEX_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "config" / "viscodex" / "config.toml"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_defaults(config: Path) -> None:
    settings = ModelSettings()
    assert settings.backend == "auto"
    assert settings.model_url is None
    assert settings.model_name == "viscodex"
    assert settings.api_key.get_secret_value() == "EMPTY"
    assert settings.model_path is None
    assert settings.device == "cpu"
    assert (settings.connect_timeout_s, settings.idle_timeout_s, settings.deadline_s) == (5, 60, 600)
    assert settings.max_retries == 2
    assert settings.max_image_tokens == 1280
    assert settings.max_tokens == 2048


def test_config_file_overrides_defaults(config: Path) -> None:
    write(
        config,
        'model_url = "http://127.0.0.1:9000/v1"\nmodel_name = "from-file"\n'
        'idle_timeout_s = 12.5\nmax_retries = 0\nmodel_path = "/models/vc"\nbackend = "server"\n',
    )
    settings = ModelSettings()
    assert settings.model_url == "http://127.0.0.1:9000/v1"
    assert settings.model_name == "from-file"
    assert settings.idle_timeout_s == 12.5
    assert settings.max_retries == 0
    assert settings.model_path == Path("/models/vc")
    assert settings.backend == "server"
    assert settings.deadline_s == 600, "a field the file does not set keeps its default"


def test_environment_overrides_config_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config, 'model_name = "from-file"\nmodel_url = "http://file:1/v1"\ndeadline_s = 30\n')
    monkeypatch.setenv("VISCODEX_MODEL_NAME", "from-env")
    monkeypatch.setenv("VISCODEX_DEADLINE_S", "45")
    settings = ModelSettings()
    assert settings.model_name == "from-env"
    assert settings.deadline_s == 45
    assert settings.model_url == "http://file:1/v1", "the file still supplies what the environment lacks"


def test_environment_names_are_case_insensitive(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("viscodex_model_name", "lower")
    assert ModelSettings().model_name == "lower"


def test_flags_override_environment_and_config_file(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config, 'model_name = "from-file"\nmax_tokens = 100\nmodel_url = "http://file:1/v1"\n')
    monkeypatch.setenv("VISCODEX_MODEL_NAME", "from-env")
    monkeypatch.setenv("VISCODEX_MAX_TOKENS", "200")
    monkeypatch.setenv("VISCODEX_DEVICE", "cuda")
    settings = ModelSettings.from_flags(model_name="from-flag", max_tokens=300)
    assert settings.model_name == "from-flag"
    assert settings.max_tokens == 300
    assert settings.device == "cuda"
    assert settings.model_url == "http://file:1/v1"


def test_a_flag_that_was_not_given_does_not_override(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config, 'model_url = "http://file:1/v1"\n')
    monkeypatch.setenv("VISCODEX_MODEL_NAME", "from-env")
    settings = ModelSettings.from_flags(model_name=None, model_url=None, model_path=None)
    assert settings.model_name == "from-env"
    assert settings.model_url == "http://file:1/v1"
    assert settings.model_path is None
    assert ModelSettings.from_flags() == ModelSettings()


def test_falsy_flags_are_given_flags(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only None means "not given": 0 and "" are values (e.g. --max-retries 0)."""
    monkeypatch.setenv("VISCODEX_MAX_RETRIES", "5")
    monkeypatch.setenv("VISCODEX_DEVICE", "cuda")
    settings = ModelSettings.from_flags(max_retries=0, device="")
    assert settings.max_retries == 0
    assert settings.device == ""


def test_api_key_is_secret(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISCODEX_API_KEY", "sk-very-secret")
    settings = ModelSettings()
    assert isinstance(settings.api_key, SecretStr)
    assert settings.api_key.get_secret_value() == "sk-very-secret"
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert "sk-very-secret" not in shown
    flagged = ModelSettings.from_flags(api_key="sk-from-flag")
    assert isinstance(flagged.api_key, SecretStr)
    assert flagged.api_key.get_secret_value() == "sk-from-flag"
    assert "sk-from-flag" not in repr(flagged)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connect_timeout_s", -1),
        ("idle_timeout_s", 0),
        ("deadline_s", -0.5),
        ("max_retries", -1),
        ("max_tokens", 0),
        ("max_image_tokens", 3),
        ("backend", "cloud"),
    ],
)
def test_bad_values_are_rejected_from_every_layer(
    config: Path, monkeypatch: pytest.MonkeyPatch, field: str, value: object
) -> None:
    with pytest.raises(ValidationError, match=field):
        ModelSettings.from_flags(**{field: value})
    monkeypatch.setenv(f"VISCODEX_{field.upper()}", str(value))
    with pytest.raises(ValidationError, match=field):
        ModelSettings()
    monkeypatch.delenv(f"VISCODEX_{field.upper()}")
    write(config, f"{field} = {value!r}\n".replace("'", '"'))
    with pytest.raises(ValidationError, match=field):
        ModelSettings()


def test_non_numeric_timeout_is_rejected(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISCODEX_IDLE_TIMEOUT_S", "soon")
    with pytest.raises(ValidationError, match="idle_timeout_s"):
        ModelSettings()


def test_settings_are_frozen(config: Path) -> None:
    settings = ModelSettings()
    with pytest.raises(ValidationError):
        settings.model_name = "other"  # type: ignore[misc]


def test_unknown_names_are_ignored(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(config, 'model_name = "from-file"\nsomething_else = 1\n')
    monkeypatch.setenv("VISCODEX_NOT_A_SETTING", "x")
    assert ModelSettings().model_name == "from-file"


def test_config_dir_follows_xdg_config_home(config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert config_dir() == tmp_path / "config" / "viscodex"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for unset in (None, ""):
        if unset is None:
            monkeypatch.delenv("XDG_CONFIG_HOME")
        else:
            monkeypatch.setenv("XDG_CONFIG_HOME", unset)
        assert config_dir() == tmp_path / "home" / ".config" / "viscodex"


def test_config_file_is_read_from_xdg_config_home_at_construction(
    config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(config, 'model_name = "first"\n')
    assert ModelSettings().model_name == "first"
    other = tmp_path / "other"
    write(other / "viscodex" / "config.toml", 'model_name = "second"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(other))
    assert ModelSettings().model_name == "second"


def test_default_model_dir_follows_xdg_cache_home(
    config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert cache_dir() == tmp_path / "cache" / "viscodex"
    assert default_model_dir() == tmp_path / "cache" / "viscodex" / "models" / DEFAULT_PRESET
    assert ModelSettings().resolved_model_path() == default_model_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    assert default_model_dir() == tmp_path / "elsewhere" / "viscodex" / "models" / DEFAULT_PRESET
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_model_dir() == tmp_path / "home" / ".cache" / "viscodex" / "models" / DEFAULT_PRESET


def test_model_path_overrides_the_default_model_dir(config: Path, tmp_path: Path) -> None:
    assert ModelSettings.from_flags(model_path=tmp_path / "m").resolved_model_path() == tmp_path / "m"
