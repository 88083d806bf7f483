"""The VS Code extension (editors/vscode) as users get it: the packaged .vsix, its unit tests, and the .vsix
installed into a REAL VS Code (code-server 4.139.1 = VS Code 1.139, from npm, offline) driven by Playwright
with Debian's chromium. `.ci/editors.sh` sets these up (cached outside the checkout) and writes
editors/vscode/.editors-env.json naming them; without it these tests skip on a developer's machine and fail
in CI (CI=true).

This module also holds what the end-to-end tests (test_vscode_e2e.py) and bench/editors.py share:
`CodeServer`, one isolated code-server (its own HOME, user data and extensions) with a browser page on it.

Covered here: the .vsix (size, contents, every contributed setting a server setting), the extension's unit
tests (node's test runner), activation in code-server (the language client starts the server; the time
activation takes) and a missing server (the error names the fix, its button opens the setting)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import missing_service, require_module

from viscodex.lsp_server.settings import LspSettings

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]
EXTENSION = CHECKOUT / "editors" / "vscode"
ENV_FILE = EXTENSION / ".editors-env.json"
SCREENSHOTS = EXTENSION / "images"
EXTENSION_ID = "viscodex.viscodex"
VSIX_LIMIT = 1024 * 1024
SETUP = "run .ci/editors.sh (node 24, code-server, chromium, the packaged .vsix)"


def editors_env() -> dict[str, str]:
    """What .ci/editors.sh set up; a skip here, a failure in CI, when it is missing or out of date."""
    if not ENV_FILE.is_file():
        missing_service(f"{ENV_FILE} is missing: {SETUP}")
    env: dict[str, str] = json.loads(ENV_FILE.read_text())
    for key in ("node", "code_server", "chromium", "vsix"):
        if not Path(env[key]).exists():
            missing_service(f"{env[key]} ({key}) is missing: {SETUP}")
    vsix = Path(env["vsix"]).stat().st_mtime
    sources = [EXTENSION / "package.json", *(EXTENSION / "src").rglob("*.ts")]
    stale = [str(p.relative_to(CHECKOUT)) for p in sources if p.stat().st_mtime > vsix and "test" not in p.parts]
    if stale:
        missing_service(f"the .vsix is older than {', '.join(stale[:3])}: {SETUP}")
    return env


def update_screenshots() -> bool:
    """VSCODE_UPDATE_SCREENSHOTS=1: the tests' screenshots replace editors/vscode/images/*.png."""
    return os.environ.get("VSCODE_UPDATE_SCREENSHOTS") == "1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CodeServer:
    """One code-server with the .vsix installed, on `workspace`, and a chromium page on it.

    `machine_settings` go to the remote machine's settings (code-server is VS Code's remote server: settings
    of scope `machine`, such as viscodex.serverPath, are read only there), `user_settings` to the user's."""

    BASE_USER_SETTINGS: ClassVar[dict[str, Any]] = {
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "workbench.enableExperiments": False,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "extensions.ignoreRecommendations": True,
        "update.mode": "none",
        "chat.disableAIFeatures": True,
        "git.enabled": False,
        # the terminal's text in the DOM, where the tests read it (no WebGL canvas)
        "terminal.integrated.gpuAcceleration": "off",
        # files reach the disk soon after an edit, so the tests read them there as well as on screen
        "files.autoSave": "afterDelay",
        "files.autoSaveDelay": 300,
    }

    def __init__(
        self,
        root: Path,
        workspace: Path,
        machine_settings: dict[str, Any],
        user_settings: dict[str, Any],
        extra_env: dict[str, str] | None = None,
        extra_path: list[str] | None = None,
    ):
        require_module("playwright.sync_api")  # the dev extras' playwright; a skip here, a failure in CI
        self.env_info = editors_env()
        self.extra_env = extra_env or {}
        self.extra_path = extra_path or []
        self.root = root
        self.workspace = workspace
        self.user_data = root / "user-data"
        self.extensions = root / "extensions"
        self.home = root / "home"
        for folder in (self.user_data / "User", self.user_data / "Machine", self.extensions, self.home):
            folder.mkdir(parents=True, exist_ok=True)
        if self.extra_path:
            # code-server gives the extension host the login shell's environment, not its own: PATH additions
            # go where a user's go, the shell's profile
            line = f'export PATH="{os.pathsep.join(self.extra_path)}{os.pathsep}$PATH"\n'
            for profile in (".bash_profile", ".profile"):
                (self.home / profile).write_text(line)
        self.write_settings(machine_settings, user_settings)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.page: Any = None
        self._playwright: Any = None
        self._browser: Any = None
        self.console: list[str] = []

    def write_settings(self, machine: dict[str, Any] | None = None, user: dict[str, Any] | None = None) -> None:
        """Settings files as a user edits them; VS Code watches them, so a running window picks a change up."""
        if machine is not None:
            (self.user_data / "Machine" / "settings.json").write_text(json.dumps(machine, indent=2))
        if user is not None:
            merged = {**self.BASE_USER_SETTINGS, **user}
            (self.user_data / "User" / "settings.json").write_text(json.dumps(merged, indent=2))

    def _env(self) -> dict[str, str]:
        node_bin = str(Path(self.env_info["node"]).parent)
        # no display of the machine's: the clipboard tools see only what a test gives them
        inherited = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        path = os.pathsep.join([*self.extra_path, node_bin, os.environ.get("PATH", "")])
        return {
            **inherited,
            **self.extra_env,
            # code-server writes to ~/.local/share and ~/.cache whatever its flags say
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "PATH": path,
        }

    def _code_server(self, *args: str) -> list[str]:
        dirs = ["--user-data-dir", str(self.user_data), "--extensions-dir", str(self.extensions)]
        return [self.env_info["code_server"], *dirs, *args]

    def install(self) -> float:
        """Install the packaged .vsix, as a user does; the seconds it took."""
        began = time.monotonic()
        proc = subprocess.run(
            self._code_server("--install-extension", self.env_info["vsix"], "--force"),
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0 and "successfully installed" in proc.stdout, (proc.stdout, proc.stderr)
        return time.monotonic() - began

    def start(self) -> None:
        config = self.root / "config.yaml"
        config.write_text(f"bind-addr: 127.0.0.1:{self.port}\nauth: none\ncert: false\n")
        log = (self.root / "code-server.log").open("wb")
        command = self._code_server(
            "--config", str(config), "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust"
        )
        # a session of its own: code-server's helpers (extension host, language server) outlive its main pid
        self.proc = subprocess.Popen(
            [*command, str(self.workspace)],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                break
            assert self.proc.poll() is None, f"code-server exited: {self.log_tail()}"
            assert time.monotonic() < deadline, f"code-server did not listen: {self.log_tail()}"
            time.sleep(0.2)
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=self.env_info["chromium"], args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = self._browser.new_context(viewport={"width": 1400, "height": 860})
        self.page = context.new_page()
        self.page.set_default_timeout(30_000)
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.goto(f"http://127.0.0.1:{self.port}/?folder={self.workspace}")
        self.page.wait_for_selector(".monaco-workbench", timeout=90_000)
        self.page.wait_for_selector(".explorer-folders-view .monaco-list-row", timeout=90_000)

    def log_tail(self, chars: int = 3000) -> str:
        path = self.root / "code-server.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def extension_log(self) -> str:
        """The extension's output channel ("VisCodex", with the language server's log), as VS Code writes it."""
        logs = sorted(self.user_data.glob(f"logs/*/exthost*/{EXTENSION_ID}/VisCodex.log"))
        return "\n".join(path.read_text(errors="replace") for path in logs)

    def wait_for_log(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.extension_log())
            if found:
                return found
            tail = self.extension_log()[-3000:]
            assert time.monotonic() < deadline, f"no /{pattern}/ in the extension's log:\n{tail}"
            time.sleep(0.3)

    def session_pids(self) -> set[int]:
        """Every process of this code-server's session: its helpers, the extension host, viscodex-lsp and
        what that starts (its run worker)."""
        if self.proc is None:
            return set()
        sid = os.getsid(self.proc.pid) if self.proc.poll() is None else self.proc.pid
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    stat = (entry / "stat").read_text()
                    # fields after the command's closing parenthesis: state ppid pgrp session
                    if int(stat.rsplit(")", 1)[1].split()[3]) == sid:
                        pids.add(int(entry.name))
        return pids

    def server_pids(self) -> set[int]:
        """The viscodex-lsp processes (and their children) this code-server started."""
        found = set()
        for pid in self.session_pids():
            with contextlib.suppress(OSError):
                if b"viscodex" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(pid)
        return found

    # --- driving the workbench -------------------------------------------------------------------------

    def run_command(self, title: str, attempts: int = 20) -> None:
        """F1, the command's title, Enter. Right after start the palette may not list an extension's command
        yet: retried until it does."""
        page = self.page
        for _ in range(attempts):
            page.keyboard.press("Escape")
            page.keyboard.press("F1")
            page.wait_for_selector(".quick-input-widget .quick-input-box input")
            page.keyboard.type(title)
            row = page.locator(".quick-input-list .monaco-list-row", has_text=title).first
            try:
                row.wait_for(timeout=1500)
            except Exception:  # not listed yet
                continue
            page.keyboard.press("Enter")
            return
        raise AssertionError(f"the command palette never listed {title!r}")

    def open_file(self, relative: str) -> None:
        """Quick Open (Ctrl+P) the workspace file, then wait for its editor tab."""
        page = self.page
        page.keyboard.press("Escape")
        page.keyboard.press("Control+P")
        page.wait_for_selector(".quick-input-widget .quick-input-box input")
        page.keyboard.type(relative)
        name = Path(relative).name
        label = page.locator(".label-name", has_text=re.compile(f"^{re.escape(name)}$"))
        page.locator(".quick-input-list .monaco-list-row").filter(has=label).first.click()
        page.locator(f".tabs-container .tab.active:has-text('{name}')").wait_for()
        focus = ".editor-instance .monaco-editor textarea, .editor-instance .monaco-editor .native-edit-context"
        page.locator(focus).first.wait_for(state="attached")

    def go_to_line(self, line: int) -> None:
        page = self.page
        page.keyboard.press("Control+G")
        page.wait_for_selector(".quick-input-widget .quick-input-box input")
        page.keyboard.type(str(line))
        page.keyboard.press("Enter")
        page.locator(".statusbar-item", has_text=f"Ln {line}, Col 1").first.wait_for()

    def editor_text(self) -> str:
        """The visible lines of the active editor, as Monaco renders them."""
        lines = self.page.locator(".editor-instance .monaco-editor .view-lines .view-line")
        texts = lines.evaluate_all(
            "els => els.map(e => [parseFloat(e.style.top) || 0, e.textContent.replace(/\\u00a0/g, ' ')])"
        )
        return "\n".join(text for _, text in sorted(texts))

    def notification(self, text: str, timeout: float = 60) -> Any:
        """The notification toast that shows `text`."""
        toast = self.page.locator(".notifications-toasts .notification-list-item", has_text=text).first
        toast.wait_for(timeout=timeout * 1000)
        return toast

    def clear_notifications(self) -> None:
        self.run_command("Notifications: Clear All Notifications")

    def screenshot(self, name: str, folder: Path) -> Path:
        """A screenshot of the window into `folder`, and into editors/vscode/images with
        VSCODE_UPDATE_SCREENSHOTS=1."""
        path = folder / name
        self.page.screenshot(path=str(path))
        if update_screenshots():
            SCREENSHOTS.mkdir(exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / name)
        return path

    def stop(self) -> None:
        """Close the page (the window goes, the extension deactivates: the language client shuts the server
        down), then code-server, then whatever of its session is left."""
        with contextlib.suppress(Exception):
            if self._browser is not None:
                self._browser.close()
        with contextlib.suppress(Exception):
            if self._playwright is not None:
                self._playwright.stop()
        if self.proc is None:
            return
        pids = self.session_pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@contextlib.contextmanager
def code_server(
    root: Path,
    workspace: Path,
    machine_settings: dict[str, Any],
    user_settings: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    extra_path: list[str] | None = None,
) -> Iterator[CodeServer]:
    """A started code-server with the .vsix installed; stopped (with its whole session) afterwards.
    `extra_env` and `extra_path` (folders put first on PATH) reach VS Code and the extension host."""
    server = CodeServer(root, workspace, machine_settings, user_settings or {}, extra_env, extra_path)
    server.install()
    try:
        server.start()
        yield server
    except BaseException:
        # what the window showed when it failed, and the extension's log, for whoever reads the failure
        with contextlib.suppress(Exception):
            server.page.screenshot(path=str(root / "failure.png"))
        print(f"code-server window at the failure: {root / 'failure.png'}")
        print(f"extension log:\n{server.extension_log()[-4000:]}")
        raise
    finally:
        server.stop()


# --- the tests ---------------------------------------------------------------------------------------------


def _vsix_manifest(vsix: Path) -> dict[str, Any]:
    with zipfile.ZipFile(vsix) as archive:
        manifest: dict[str, Any] = json.loads(archive.read("extension/package.json"))
        names = archive.namelist()
    manifest["_files"] = names
    return manifest


def test_the_vsix_is_small_and_holds_the_bundle() -> None:
    env = editors_env()
    vsix = Path(env["vsix"])
    assert vsix.stat().st_size < VSIX_LIMIT, f"{vsix} is {vsix.stat().st_size} bytes (goal: under 1 MB)"
    manifest = _vsix_manifest(vsix)
    files = manifest["_files"]
    assert "extension/dist/extension.js" in files and "extension/readme.md" in files
    # only the bundle: no sources, no node_modules
    assert not [f for f in files if "node_modules/" in f or f.endswith(".ts") or "/src/" in f], files
    assert manifest["main"] == "./dist/extension.js"
    assert manifest["engines"]["vscode"] == "^1.97.0"  # DocumentPasteEditProvider is stable from 1.97


def test_every_contributed_setting_is_one_the_server_knows() -> None:
    """The settings the server gets are its own (lsp_server/settings.py), camelCase: viscodex.maxIters is
    max_iters. serverPath and trace.server are the extension's own."""
    manifest = _vsix_manifest(Path(editors_env()["vsix"]))
    properties = manifest["contributes"]["configuration"]["properties"]
    own = {"viscodex.serverPath", "viscodex.trace.server"}
    camel = [key.removeprefix("viscodex.") for key in properties if key not in own]
    server_names = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower() for key in camel}
    assert server_names == {"model_url", "model_name", "max_iters", "candidates", "time_budget_s", "stack"}
    assert server_names <= set(LspSettings.model_fields)
    fields = LspSettings.model_fields
    assert properties["viscodex.maxIters"]["default"] == fields["max_iters"].default
    assert properties["viscodex.candidates"]["default"] == fields["candidates"].default
    assert properties["viscodex.timeBudgetS"]["default"] == fields["time_budget_s"].default
    assert properties["viscodex.stack"]["enum"] == ["html", "tailwind", "react"]
    commands = {c["command"]: c["title"] for c in manifest["contributes"]["commands"]}
    assert commands["viscodex.fromImage"] == "Image to Code"


def test_the_extensions_unit_tests_pass(tmp_path: Path) -> None:
    """The pure modules' tests (settings, server path, errors and their actions, clipboard tools, paste
    decisions), built and run by node's own test runner."""
    env = editors_env()
    node_bin = str(Path(env["node"]).parent)
    shell_env = {**os.environ, "PATH": f"{node_bin}{os.pathsep}{os.environ['PATH']}"}
    command = ["npm", "run", "--silent", "test:unit"]
    proc = subprocess.run(command, cwd=EXTENSION, env=shell_env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    passed = re.search(r"^ℹ pass (\d+)$", output, re.MULTILINE)
    failed = re.search(r"^ℹ fail (\d+)$", output, re.MULTILINE)
    assert proc.returncode == 0 and passed and failed, output[-4000:]
    assert int(failed.group(1)) == 0 and int(passed.group(1)) >= 20, output[-4000:]


def test_activation_starts_the_language_server(tmp_path: Path) -> None:
    """The extension activates at start-up and its language client starts viscodex-lsp (found through
    viscodex.serverPath); activation itself takes milliseconds (the server starts in the background).
    Without a graphical session (no DISPLAY or WAYLAND_DISPLAY, as here) "Image in the clipboard" says there
    is no clipboard to read and what to do instead."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "note.md").write_text("# Notes\n")
    lsp = str(Path(sys.executable).parent / "viscodex-lsp")
    with code_server(tmp_path / "cs", workspace, {"viscodex.serverPath": lsp}) as vscode:
        activated = vscode.wait_for_log(r"activated in ([\d.]+) ms")
        vscode.wait_for_log(r"language server ready in \d+ ms")
        assert vscode.server_pids(), "no viscodex-lsp process in code-server's session"
        vscode.run_command("VisCodex: Image to Code")
        vscode.page.locator(".quick-input-list .monaco-list-row", has_text="Image in the clipboard").first.click()
        toast = vscode.notification("no graphical session here").inner_text()
        assert "Paste the image into the editor instead, or pick a file" in toast
    assert float(activated.group(1)) < 100, activated.group(0)


def test_a_missing_server_says_how_to_fix_it(tmp_path: Path) -> None:
    """viscodex.serverPath names nothing: the error says where it looked and what to install, and its
    "Open settings" button opens the setting."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "page.html").write_text("<p>hi</p>\n")
    missing = tmp_path / "nowhere" / "viscodex-lsp"
    with code_server(tmp_path / "cs", workspace, {"viscodex.serverPath": str(missing)}) as vscode:
        toast = vscode.notification("cannot find the language server")
        text = toast.inner_text()
        assert str(missing) in text and "viscodex.serverPath" in text and "bootstrap.sh" in text
        toast.locator(".monaco-button", has_text="Open settings").first.click()
        search = vscode.page.locator(".settings-editor .suggest-input-container .monaco-editor").first
        search.wait_for()
        vscode.page.locator(".settings-editor .setting-item-contents", has_text="Server Path").first.wait_for()
        assert "viscodex.serverPath" in vscode.page.locator(".settings-editor .settings-header").inner_text()
