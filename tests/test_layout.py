"""The checkout's layout: its top-level Python folders are `viscodex`'s subpackages, nothing else."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import viscodex

CHECKOUT = Path(__file__).resolve().parents[1]
FOLDERS = ("agent", "model", "sandbox", "training", "lsp_server")


@pytest.mark.parametrize("name", FOLDERS)
def test_folders_are_not_top_level_modules_in_tests(name: str) -> None:
    spec = importlib.util.find_spec(name)
    # (a bench test puts bench/ on the path, whose scripts include model.py and sandbox.py: not these)
    assert spec is None or spec.origin is None or Path(spec.origin).resolve().parent != CHECKOUT / name
    assert importlib.util.find_spec(f"viscodex.{name}") is not None


def test_installed_package_resolves_to_the_checkout_folders() -> None:
    for name in FOLDERS:
        spec = importlib.util.find_spec(f"viscodex.{name}")
        assert spec is not None and spec.origin is not None
        assert Path(spec.origin).resolve().parent == CHECKOUT / name
    assert Path(viscodex.__file__).resolve().parent == CHECKOUT / "src" / "viscodex"


def test_outside_the_tests_nothing_installs_a_top_level_agent() -> None:
    """From another folder (as a user's script runs), only `viscodex.agent` exists."""
    code = "import importlib.util as u; print(u.find_spec('agent') is None, u.find_spec('viscodex.agent') is not None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=60)
    assert out.stdout.split() == ["True", "True"], out.stderr
