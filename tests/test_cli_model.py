"""The model side of `viscodex-agent`: configuration errors and the doctor's model check."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from helpers import agent as run


def test_broken_config_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "viscodex").mkdir()
    (tmp_path / "viscodex" / "config.toml").write_text("model_url = [broken\n")
    proc = run("doctor", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert "config.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_environment_value_is_a_usage_error(tmp_path: Path) -> None:
    proc = run("doctor", env={"XDG_CONFIG_HOME": str(tmp_path), "VISCODEX_DEADLINE_S": "-1"})
    assert proc.returncode == 2 and "deadline_s" in proc.stderr


@pytest.mark.slow
def test_configured_but_dead_server_fails_the_doctor(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"XDG_CONFIG_HOME": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/none.sock"}
    proc = run("doctor", "--model-url", f"http://127.0.0.1:{port}/v1", env=env)
    assert proc.returncode == 3
    assert "FAIL" in proc.stdout and "model" in proc.stdout
