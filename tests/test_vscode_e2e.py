"""The VS Code extension end to end in a REAL VS Code: the packaged .vsix installed into code-server (VS Code
1.139 for the browser), driven by Playwright with Debian's chromium as a user drives it (command palette, file
dialog, lightbulb, notification buttons), with the real `viscodex-lsp` and the real Docker sandbox.

The model is the scripted OpenAI-compatible server of the agent tests (a TEST DOUBLE, see scripted_model.py):
each test says what it answers, so the code that lands can be checked exactly.

Covered: "VisCodex: Image to Code" from an image file (VS Code's file dialog) into the open Python file at the
cursor, and "Show run" opening the run's report; from the explorer's context menu; from the clipboard image
(wl-paste, a TEST DOUBLE in a Wayland session); the Markdown image reference's code action from the lightbulb
creating and opening the page next to the image; a settings change reaching the running server (the progress
counts the new iterations); Cancel in the progress notification stopping the server's run and its sandbox
container; a pasted screenshot offered beside Markdown's normal paste, and offered (not run) in a Python file;
a model URL that does not answer, shown once with the buttons that fix it. After the window closes, none of
the server's sandbox containers is left.

Screenshots of the flow go to the test's tmp folder, and to editors/vscode/images with
VSCODE_UPDATE_SCREENSHOTS=1 (the README shows them)."""

from __future__ import annotations

import base64
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import busy_containers, free_port
from lsp_client import png_bytes
from scripted_model import ScriptedModel, serve
from test_vscode_codeserver import CodeServer, code_server

from viscodex.sandbox.owners import LABEL, LABEL_PID

pytestmark = pytest.mark.slow

TESTS_JSON = '```json\n{"tests": [{"input": "2 3\\n", "output": "5\\n"}, {"input": "10 -4\\n", "output": "6\\n"}]}\n```'
RIGHT_CODE = "a, b = map(int, input().split())\nprint(a + b)\n"
SLOW = "```python\nimport time\ntime.sleep(120)\n```"
PAGE = "<!DOCTYPE html>\n<html>\n<body>\n<p>Buy now</p>\n</body>\n</html>\n"
MACHINE = {"viscodex.maxIters": 1}


class Session:
    def __init__(self, vscode: CodeServer, model: ScriptedModel, workspace: Path, shots: Path, docker: Any) -> None:
        self.root = workspace.parent
        self.vscode = vscode
        self.model = model
        self.workspace = workspace
        self.shots = shots
        self.docker = docker
        self.server_pids: set[int] = set()

    def answer(self, *answers: str) -> None:
        """What the scripted model answers next, in order; its record starts afresh."""
        self.model.answers[:] = list(answers)
        self.model.requests.clear()

    def wait_file(self, path: Path, expected: str, timeout: float = 30) -> str:
        """The file's text once it is `expected` (autosave writes it a moment after the edit)."""
        deadline = time.monotonic() + timeout
        while True:
            text = path.read_text() if path.exists() else None
            if text == expected or time.monotonic() > deadline:
                return text if text is not None else f"<{path} does not exist>"
            time.sleep(0.2)

    def busy_containers(self) -> list[str]:
        """The server's sandbox containers that are running a job."""
        self.server_pids |= self.vscode.server_pids()
        return busy_containers(self.docker, self.server_pids)

    def containers(self) -> list[str]:
        found = []
        for pid in self.server_pids:
            filters = {"label": [LABEL, f"{LABEL_PID}={pid}"]}
            found += [c.id for c in self.docker.containers.list(all=True, sparse=True, filters=filters)]
        return found

    def pick_image_file(self, image: Path) -> None:
        """ "VisCodex: Image to Code", "Image file...", the path typed into VS Code's file dialog, its button."""
        page = self.vscode.page
        self.vscode.run_command("VisCodex: Image to Code")
        page.locator(".quick-input-list .monaco-list-row", has_text="Image file...").first.click()
        accept = page.locator(".quick-input-widget .monaco-button", has_text="Generate code").first
        accept.wait_for()
        box = page.locator(".quick-input-widget .quick-input-box input").first
        # the dialog fills in the folder it starts in; typed over once it has
        page.wait_for_function(
            "() => document.querySelector('.quick-input-widget .quick-input-box input')?.value.endsWith('/')"
        )
        box.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(image))
        # it lists the typed file once it has read the folder; then its button takes the typed path
        page.locator(".quick-input-list .monaco-list-row", has_text=image.name).first.wait_for()
        assert box.input_value() == str(image)
        accept.click()
        accept.wait_for(state="hidden")

    def image_to_code_from_explorer(self, folder: str, image: str) -> None:
        """The explorer's context menu on an image file: "Image to Code"."""
        page = self.vscode.page
        rows = page.locator(".explorer-folders-view .monaco-list-row")
        row = rows.filter(has_text=image).first
        if not row.is_visible():
            rows.filter(has_text=folder).first.click()
        row.click(button="right")
        item = page.locator(".monaco-menu .action-item", has_text="Image to Code").first
        item.hover()
        # a menu ignores a click that comes right after it opened (the right button's own release)
        page.wait_for_timeout(300)
        item.click()
        with contextlib.suppress(Exception):
            item.wait_for(state="hidden", timeout=2000)
        if item.is_visible():  # the click still fell in that window: the item has the focus, Enter runs it
            page.keyboard.press("Enter")
            item.wait_for(state="hidden")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, docker_client: Any, sandbox_image: str) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("vscode-e2e")
    workspace = root / "ws"
    (workspace / "img").mkdir(parents=True)
    (workspace / "img" / "hero.png").write_bytes(png_bytes())
    (workspace / "solution.py").write_text("# solution\n\n")
    (workspace / "slow.py").write_text("# slow\n\n")
    (workspace / "note.md").write_text("# Landing page\n\n![hero](img/hero.png)\n")
    (workspace / "paste.md").write_text("# Pasted\n\n")
    (workspace / "pasted.py").write_text("# pasted\n\n")
    (workspace / "down.py").write_text("# down\n\n")
    (workspace / "clip.py").write_text("# clip\n\n")
    shots = root / "screenshots"
    shots.mkdir()
    # a TEST DOUBLE of wl-paste (Wayland's clipboard tool) holding a screenshot, and a Wayland session for it
    tools = root / "tools"
    tools.mkdir()
    (root / "clipboard.png").write_bytes(png_bytes(text="Clipboard"))
    fake = tools / "wl-paste"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {root / "wl-paste.calls"}\n'
        'if [ "$1" = --list-types ]; then printf "image/png\\ntext/plain\\n"; exit 0; fi\n'
        f"exec cat {root / 'clipboard.png'}\n"
    )
    fake.chmod(0o755)
    lsp = str(Path(sys.executable).parent / "viscodex-lsp")
    with serve(ScriptedModel([])) as model:
        machine = {"viscodex.serverPath": lsp, "viscodex.modelUrl": model.url, **MACHINE}
        wayland = {"WAYLAND_DISPLAY": "wayland-viscodex-test"}
        with code_server(root / "cs", workspace, machine, extra_env=wayland, extra_path=[str(tools)]) as vscode:
            vscode.wait_for_log(r"language server ready in \d+ ms")
            state = Session(vscode, model, workspace, shots, docker_client)
            state.server_pids = vscode.server_pids()
            yield state
            state.server_pids |= vscode.server_pids()
    # the window closed and code-server stopped: none of the server's containers is left
    deadline = time.monotonic() + 20
    while state.containers() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert state.containers() == [], "sandbox containers outlived the VS Code window"


@pytest.fixture(autouse=True)
def show_failures(request: pytest.FixtureRequest, session: Session) -> Iterator[None]:
    """On a failure: the window's screenshot and the extension's log, for whoever reads it."""
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        path = session.shots / f"failure-{request.node.name}.png"
        with contextlib.suppress(Exception):
            session.vscode.page.screenshot(path=str(path))
        print(f"window at the failure: {path}\nextension log:\n{session.vscode.extension_log()[-5000:]}")


def test_image_to_code_inserts_the_code_at_the_cursor(session: Session) -> None:
    """solution.py open, cursor on line 3, "VisCodex: Image to Code" with img/hero.png picked in the file
    dialog. Scripted model: the sample tests it read off the picture, then a right solution."""
    vscode, page = session.vscode, session.vscode.page
    session.answer(TESTS_JSON, f"Here you go:\n```python\n{RIGHT_CODE}```")
    vscode.clear_notifications()
    vscode.open_file("solution.py")
    vscode.go_to_line(3)
    session.pick_image_file(session.workspace / "img" / "hero.png")
    toast = vscode.notification("VisCodex: algorithm verified, score 1.00 after 1 iteration", timeout=120)
    expected = "# solution\n\n" + RIGHT_CODE
    assert session.wait_file(session.workspace / "solution.py", expected) == expected
    assert "print(a + b)" in vscode.editor_text()
    vscode.screenshot("vscode-image-to-code.png", session.shots)
    # the picture went to the model, in the workspace by URI: the server read the file itself
    assert len(session.model.requests) == 2 and session.model.image_count(0) >= 1
    # "Show run": the run folder's report
    toast.locator(".monaco-button", has_text="Show run").first.click()
    page.locator(".tabs-container .tab.active", has_text="report.json").first.wait_for()
    reports = sorted((session.workspace / ".viscodex" / "runs").glob("*-algorithm-*/report.json"))
    assert reports, "no run folder in the workspace"
    assert '"verified": true' in reports[-1].read_text()
    assert '"verified": true' in vscode.editor_text()


def test_the_markdown_code_action_creates_the_page_next_to_the_image(session: Session) -> None:
    """note.md holds ![hero](img/hero.png); the lightbulb on that line offers the server's "Generate code from
    image (hero.png)". Scripted model: asked what the picture is (the action leaves the kind to the agent),
    "ui"; then one HTML page. The page is created next to the image and opened."""
    vscode, page = session.vscode, session.vscode.page
    session.answer("ui", f"```html\n{PAGE}```")
    vscode.clear_notifications()
    vscode.open_file("note.md")
    vscode.go_to_line(3)
    title = "Generate code from image (hero.png)"
    menu_item = page.locator(".action-widget .monaco-list-row", has_text=title).first
    bulb = page.locator(".editor-instance .lightBulbWidget").first
    for _ in range(10):  # the code actions arrive once the server has the document: the lightbulb then shows
        try:
            bulb.wait_for(timeout=3000)
            bulb.click()
            menu_item.wait_for(timeout=3000)
            break
        except Exception:
            page.keyboard.press("Escape")
            vscode.go_to_line(3)
    else:
        raise AssertionError("the lightbulb never offered the server's code action")
    vscode.screenshot("vscode-code-action.png", session.shots)
    menu_item.click()
    vscode.notification("VisCodex: ui", timeout=120)
    created = session.workspace / "img" / "hero.html"
    assert session.wait_file(created, PAGE) == PAGE
    page.locator(".tabs-container .tab.active", has_text="hero.html").first.wait_for()  # window/showDocument
    assert "Buy now" in vscode.editor_text()
    assert (session.workspace / "note.md").read_text() == "# Landing page\n\n![hero](img/hero.png)\n"


def test_cancel_in_the_notification_stops_the_run_and_its_container(session: Session) -> None:
    """A settings change reaches the running server (viscodex.maxIters 1 -> 3: the progress counts three
    iterations). Scripted model: the sample tests, then a solution that sleeps two minutes (each sandbox run
    is stopped by its 10 s limit; without the cancel the next iteration would ask the model again). Cancel in
    the progress notification: the server's run stops, its busy container goes, the model is not asked again,
    the file is untouched."""
    vscode, page = session.vscode, session.vscode.page
    machine = {**_machine_settings(vscode), "viscodex.maxIters": 3}
    vscode.write_settings(machine=machine)
    session.answer(TESTS_JSON, SLOW, SLOW, SLOW)
    try:
        vscode.clear_notifications()
        vscode.open_file("slow.py")
        vscode.go_to_line(3)
        # containers busy before (the earlier runs' warm renderers run chromium) are not this run's
        before = set(session.busy_containers())
        session.image_to_code_from_explorer("img", "hero.png")
        toast = vscode.notification("iteration 1/3", timeout=120)
        deadline = time.monotonic() + 90
        busy: list[str] = []
        while not busy:
            assert time.monotonic() < deadline, "the slow solution never ran in the sandbox"
            if len(session.model.requests) >= 2:
                busy = [c for c in session.busy_containers() if c not in before]
            time.sleep(0.3)
        vscode.screenshot("vscode-progress.png", session.shots)
        toast.locator(".monaco-button", has_text="Cancel").first.click()
        cancelled_at = time.monotonic()
        vscode.notification("VisCodex: cancelled", timeout=30)
        while set(busy) & set(session.busy_containers()) and time.monotonic() - cancelled_at < 10:
            time.sleep(0.2)
        gone_in = time.monotonic() - cancelled_at
        assert not set(busy) & set(session.busy_containers()), f"the run's container still runs {gone_in:.1f} s on"
        vscode.wait_for_log(r"cancelled by the user")
        # past the sandbox's 10 s limit: a run that went on would have asked the model for iteration 2
        time.sleep(max(0.0, 12 - (time.monotonic() - cancelled_at)))
        assert len(session.model.requests) == 2, (
            f"the model was asked again after the cancel: {session.model.requests[2:]}"
        )
        assert (session.workspace / "slow.py").read_text() == "# slow\n\n"
        assert page.locator(".notifications-toasts .notification-list-item", has_text="iteration").count() == 0
    finally:
        vscode.write_settings(machine={**_machine_settings(vscode), **MACHINE})


def _machine_settings(vscode: CodeServer) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads((vscode.user_data / "Machine" / "settings.json").read_text())
    return settings


def paste_image(session: Session) -> None:
    """A screenshot pasted into the focused editor: the paste event a browser sends (an image/png file)."""
    data = base64.b64encode(png_bytes()).decode()
    focused = "() => !!document.activeElement?.closest('.editor-instance .monaco-editor')"
    session.vscode.page.wait_for_function(focused)
    session.vscode.page.evaluate(
        """data => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], 'shot.png', { type: 'image/png' }));
            const event = new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true });
            document.activeElement.dispatchEvent(event);
        }""",
        data,
    )


def test_pasting_a_screenshot_offers_code_beside_the_normal_paste(session: Session) -> None:
    """A screenshot pasted into a Markdown note: the normal paste stays the default (the Markdown extension's
    image link), and the paste widget offers "Generate code from image (VisCodex)". Picking it runs the server
    at the paste point. Scripted model: "ui", then the page; a Markdown note gets it as a new file."""
    vscode, page = session.vscode, session.vscode.page
    session.answer("ui", f"```html\n{PAGE}```")
    vscode.clear_notifications()
    vscode.open_file("paste.md")
    # the Markdown extension is active (the breadcrumbs show its outline of the note): its image link is the
    # normal paste of a picture
    page.locator(".breadcrumbs-control", has_text="# Pasted").first.wait_for()
    vscode.go_to_line(3)
    paste_image(session)
    widget = page.locator(".post-edit-widget .monaco-button").first
    widget.wait_for()
    assert session.wait_file(session.workspace / "paste.md", "# Pasted\n\n![alt text](shot.png)").endswith("(shot.png)")
    assert session.model.requests == []  # nothing runs until the user picks it
    widget.click()
    option = page.locator(".action-widget .monaco-list-row", has_text="Generate code from image (VisCodex)").first
    option.wait_for()
    vscode.screenshot("vscode-paste.png", session.shots)
    option.click()
    vscode.notification("VisCodex: ui", timeout=120)
    # the image link went (our edit inserts nothing); the page is a new file next to the note, opened
    assert session.wait_file(session.workspace / "paste.md", "# Pasted\n\n") == "# Pasted\n\n"
    created = session.workspace / "paste.html"
    assert session.wait_file(created, PAGE) == PAGE
    page.locator(".tabs-container .tab.active", has_text="paste.html").first.wait_for()
    assert session.model.image_count(0) >= 1


def test_a_screenshot_pasted_into_code_is_offered_not_run(session: Session) -> None:
    """A screenshot pasted into a Python file, where VS Code has no paste for an image: no run starts by
    itself; a notification offers it, and its button runs it at the paste point. Scripted model: the sample
    tests, then a right solution."""
    vscode = session.vscode
    session.answer(TESTS_JSON, f"```python\n{RIGHT_CODE}```")
    vscode.clear_notifications()
    vscode.open_file("pasted.py")
    vscode.go_to_line(3)
    paste_image(session)
    toast = vscode.notification("an image was pasted")
    time.sleep(1)
    assert session.model.requests == []
    toast.locator(".monaco-button", has_text="Generate code from image (VisCodex)").first.click()
    vscode.notification("VisCodex: algorithm verified", timeout=120)
    expected = "# pasted\n\n" + RIGHT_CODE
    assert session.wait_file(session.workspace / "pasted.py", expected) == expected


def test_a_model_server_that_does_not_answer_names_the_fix(session: Session) -> None:
    """viscodex.modelUrl changed (live) to a port where nothing listens: the run fails with the server's own
    message, shown once (not again as the server's window/showMessage), with its fixes as buttons; "Start
    model server" types `viscodex-agent serve --model PATH` of the server's own installation into a terminal,
    for the user to fill in PATH."""
    vscode, page = session.vscode, session.vscode.page
    dead = f"http://127.0.0.1:{free_port()}/v1"
    vscode.write_settings(machine={**_machine_settings(vscode), "viscodex.modelUrl": dead})
    session.answer()
    try:
        vscode.clear_notifications()
        vscode.open_file("down.py")
        vscode.go_to_line(3)
        session.image_to_code_from_explorer("img", "hero.png")
        toast = vscode.notification(f"no model server answers at {dead}", timeout=120)
        page.wait_for_timeout(1000)  # the server's showMessage came too: it must not make a second toast
        toasts = page.locator(".notifications-toasts .notification-list-item", has_text="no model server answers")
        assert toasts.count() == 1
        buttons = toast.locator(".monaco-button").all_inner_texts()
        assert "Start model server" in buttons and "Open settings" in buttons, buttons
        assert session.model.requests == []
        toast.locator(".monaco-button", has_text="Start model server").first.click()
        agent = str(Path(sys.executable).parent / "viscodex-agent")
        rows = page.locator(".terminal-wrapper .xterm-rows").first
        deadline = time.monotonic() + 30
        wanted = "".join(f"{agent} serve --model PATH".split())
        while wanted not in "".join(rows.inner_text().split()):  # a narrow terminal wraps the line
            assert time.monotonic() < deadline, rows.inner_text()
            time.sleep(0.3)
        assert (session.workspace / "down.py").read_text() == "# down\n\n"
    finally:
        vscode.write_settings(machine={**_machine_settings(vscode), "viscodex.modelUrl": session.model.url})


def test_image_to_code_from_the_clipboard_image(session: Session) -> None:
    """ "VisCodex: Image to Code", "Image in the clipboard": in a Wayland session the extension asks wl-paste
    (a TEST DOUBLE holding a screenshot) for the clipboard's types, then for the PNG, and runs it. Scripted
    model: the sample tests, then a right solution."""
    vscode, page = session.vscode, session.vscode.page
    session.answer(TESTS_JSON, f"```python\n{RIGHT_CODE}```")
    vscode.clear_notifications()
    vscode.open_file("clip.py")
    vscode.go_to_line(3)
    vscode.run_command("VisCodex: Image to Code")
    page.locator(".quick-input-list .monaco-list-row", has_text="Image in the clipboard").first.click()
    vscode.notification("VisCodex: algorithm verified", timeout=120)
    expected = "# clip\n\n" + RIGHT_CODE
    assert session.wait_file(session.workspace / "clip.py", expected) == expected
    calls = (session.root / "wl-paste.calls").read_text().splitlines()
    assert calls == ["--list-types", "--no-newline --type image/png"]
    assert session.model.image_count(0) >= 1
