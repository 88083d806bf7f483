"""The three console scripts feel like one tool: --version, the same flag names, the same failures."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from helpers import console as run

BIN = Path(sys.executable).parent
VERSION = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.parametrize("prog", ["viscodex-agent", "viscodex-lsp", "viscodex-train"])
def test_every_console_script_has_version(prog: str) -> None:
    proc = run(prog, "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{prog} {VERSION}\n"


def test_serve_takes_model_path_and_the_old_spelling() -> None:
    outcomes = [run("viscodex-agent", "serve", flag, "/nonexistent/model") for flag in ("--model-path", "--model")]
    for proc in outcomes:
        assert "No such option" not in proc.stderr
        assert proc.returncode == 3 and proc.stderr.count("\n") == 1, proc.stderr
    assert outcomes[0].stderr == outcomes[1].stderr


@pytest.mark.parametrize("prog", ["viscodex-agent", "viscodex-lsp", "viscodex-train"])
def test_unknown_flag_is_usage_exit_2(prog: str) -> None:
    proc = run(prog, "--no-such-flag")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
