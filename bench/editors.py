"""The editor plug-ins' cost to their editors (issue 12's goals):

    .venv/bin/python bench/editors.py [--runs 5] [--nvim-runs 21] [--json out.json]

VS Code (the packaged .vsix in code-server 4.139.1 = VS Code 1.139, driven by Playwright with Debian's
chromium; `.ci/editors.sh` sets them up):

- ``vsix_kb``: the packaged extension's size (goal: under 1 MB);
- ``activation_ms``: VS Code's own figure for the extension's activation ("Developer: Show Running
  Extensions": loading the bundle and calling ``activate()``), median of ``--runs`` fresh windows. The
  language client is started by ``activate()`` but not awaited, so this is all activation costs beyond the
  client's start (goal: under 100 ms);
- ``activate_body_ms``: ``activate()`` itself as the extension logs it (``performance.now()`` around it);
- ``server_ready_ms``: from the client's start to ``initialize`` answered by ``viscodex-lsp``, for scale
  (the lightbulb and runs wait for it, the window does not).

Each window is a new code-server with its own user data, on a workspace with a Markdown note; the server is
the checkout's ``viscodex-lsp``. No model or sandbox is involved.

If ``bench/editors_nvim.py`` is there (the Neovim plugin's bench), its ``measure()`` figures are printed too.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_vscode_codeserver import code_server, editors_env  # noqa: E402

LSP = Path(sys.executable).parent / "viscodex-lsp"


def _vs_code_activation_ms(vscode: Any) -> float:
    """The "Activation: N ms" VS Code shows for the extension in "Developer: Show Running Extensions"."""
    page = vscode.page
    vscode.run_command("Developer: Show Running Extensions")
    listing = page.locator(".runtime-extensions-editor .monaco-list").first
    listing.wait_for()
    row = page.locator(".runtime-extensions-editor .monaco-list-row", has_text="VisCodex").first
    for _ in range(20):  # the list renders the rows in view only (sorted by time): scroll until ours is
        if row.count():
            break
        box = listing.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(200)
    text = row.locator(".activation-time").inner_text(timeout=30_000)
    return float(text.rsplit(":", 1)[1].strip().removesuffix("ms"))


def measure_vscode(runs: int = 5) -> dict[str, float]:
    env = editors_env()
    activation, body, ready = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="viscodex-bench-vscode-") as tmp:
            workspace = Path(tmp) / "ws"
            workspace.mkdir()
            (workspace / "note.md").write_text("# Notes\n\n![hero](hero.png)\n")
            with code_server(Path(tmp) / "cs", workspace, {"viscodex.serverPath": str(LSP)}) as vscode:
                body.append(float(vscode.wait_for_log(r"activated in ([\d.]+) ms").group(1)))
                ready.append(float(vscode.wait_for_log(r"language server ready in (\d+) ms").group(1)))
                activation.append(_vs_code_activation_ms(vscode))
    return {
        "vsix_kb": round(Path(env["vsix"]).stat().st_size / 1024, 1),
        "activation_ms": statistics.median(activation),
        "activation_max_ms": max(activation),
        "activate_body_ms": round(statistics.median(body), 1),
        "server_ready_ms": statistics.median(ready),
    }


def measure_nvim(runs: int) -> dict[str, float] | None:
    """bench/editors_nvim.py's ``measure()``, when that module is there."""
    path = Path(__file__).with_name("editors_nvim.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("editors_nvim", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures: dict[str, float] = module.measure(runs=runs)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh VS Code windows to time")
    parser.add_argument("--nvim-runs", type=int, default=21, help="nvim starts, for bench/editors_nvim.py")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    began = time.monotonic()
    results: dict[str, Any] = {"vscode": measure_vscode(args.runs)}
    nvim = measure_nvim(args.nvim_runs)
    if nvim is not None:
        results["nvim"] = nvim
    vscode = results["vscode"]
    print(f"VS Code extension ({args.runs} fresh windows of code-server 4.139.1)")
    print(f"  .vsix size                   {vscode['vsix_kb']:8.1f} KB   (goal < 1024 KB)")
    most = f"max {vscode['activation_max_ms']:.0f}"
    print(f"  activation, as VS Code shows {vscode['activation_ms']:8.1f} ms   (goal < 100 ms; {most})")
    print(f"  activate() itself            {vscode['activate_body_ms']:8.1f} ms")
    print(f"  language server ready after  {vscode['server_ready_ms']:8.1f} ms   (for scale; not waited on)")
    if nvim is not None:
        print("Neovim plugin (bench/editors_nvim.py)")
        for key, value in nvim.items():
            print(f"  {key:28} {value:8.3f}")
    print(f"({time.monotonic() - began:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
