"""The language server's parts that need no client: the edits a result becomes (diff hunks located in the
current text, an HTML page as a fragment, names that never overwrite), the code context read with
tree-sitter, settings names, and that the server starts without the heavy layers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from lsprotocol import types

from viscodex.lsp_server import edits
from viscodex.lsp_server.context import code_context, document_language
from viscodex.lsp_server.settings import LspSettings, merged

DIFF = """--- a/calc.py
+++ b/calc.py
@@ -4,2 +4,2 @@
 def add(a, b):
-    return a - b
+    return a + b
--- /dev/null
+++ b/new.py
@@ -0,0 +1,2 @@
+def new():
+    return 1
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-x = 1
"""


def test_diff_becomes_edits_at_the_hunks_current_lines(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("import os\n\n\ndef add(a, b):\n    return a - b\n")
    (tmp_path / "old.py").write_text("x = 1\n")
    buffer = "# two lines added in the unsaved buffer\n#\nimport os\n\n\ndef add(a, b):\n    return a - b\n"
    calc_uri = (tmp_path / "calc.py").as_uri()

    def source_of(path: Path) -> tuple[str, int | None] | None:
        return (buffer, 7) if path.name == "calc.py" else None

    edit = edits.diff_edit(DIFF, tmp_path, source_of)
    changes = edit.document_changes or []
    calc, create, fill, delete = changes
    assert isinstance(calc, types.TextDocumentEdit) and calc.text_document.uri == calc_uri
    assert calc.text_document.version == 7
    (hunk,) = calc.edits
    assert isinstance(hunk, types.TextEdit)
    assert (hunk.range.start.line, hunk.range.end.line) == (5, 7)  # found 2 lines below where the diff said
    assert hunk.new_text == "def add(a, b):\n    return a + b\n"
    assert isinstance(create, types.CreateFile) and create.uri.endswith("/new.py")
    assert isinstance(fill, types.TextDocumentEdit) and fill.edits[0].new_text == "def new():\n    return 1\n"
    assert isinstance(delete, types.DeleteFile) and delete.uri.endswith("/old.py")


def test_a_diff_that_no_longer_fits_or_leaves_the_workspace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a * b\n")
    with pytest.raises(ValueError, match="does not match"):
        edits.diff_edit(DIFF.split("--- /dev/null")[0], tmp_path, lambda _: None)
    escape = "--- a/../x.py\n+++ b/../x.py\n@@ -1 +1 @@\n-a\n+b\n"
    with pytest.raises(ValueError, match="outside the workspace"):
        edits.diff_edit(escape, tmp_path, lambda _: None)


PAGE = (
    "<!DOCTYPE html><html><head><title>t</title><style>.a{color:red}</style></head>"
    '<body>\n<div class="a">Hi</div>\n</body></html>'
)


def test_an_html_page_lands_as_a_fragment_in_a_page_and_whole_elsewhere() -> None:
    assert edits.html_fragment(PAGE, "<html><body>\n<main></main>\n</body></html>") == (
        '<style>.a{color:red}</style>\n<div class="a">Hi</div>\n'
    )
    assert edits.html_fragment(PAGE, "<template><div></div></template>") == PAGE


def test_fragment_edit_inserts_or_replaces() -> None:
    at = types.Position(line=2, character=0)
    insert = edits.fragment_edit("file:///a.py", 3, types.Range(start=at, end=at), "x = 1")
    (change,) = insert.document_changes or []
    assert isinstance(change, types.TextDocumentEdit) and change.edits[0].new_text == "x = 1\n"
    wide = types.Range(start=at, end=types.Position(line=4, character=0))
    replace = edits.fragment_edit("file:///a.py", 3, wide, "x = 1")
    (change,) = replace.document_changes or []
    assert isinstance(change, types.TextDocumentEdit) and change.edits[0].range == wide


def test_free_path_never_overwrites(tmp_path: Path) -> None:
    assert edits.free_path(tmp_path, "hero", ".html") == tmp_path / "hero.html"
    (tmp_path / "hero.html").write_text("")
    (tmp_path / "hero-2.html").write_text("")
    assert edits.free_path(tmp_path, "hero", ".html") == tmp_path / "hero-3.html"


SOURCE = """import os
from pathlib import Path


class Chart:
    def draw(self):
        x = 1

        return x


def other():
    pass
"""


def test_code_context_reads_the_enclosing_definition_and_imports() -> None:
    at = SOURCE.index("\n        return x") + 1
    context = code_context(SOURCE, "python", at, at)
    assert context.imports == "import os\nfrom pathlib import Path"
    assert context.enclosing.startswith("def draw(self):") and "return x" in context.enclosing
    assert "<<HERE>>" in context.nearby and context.replaced == ""
    prompt = context.prompt("chart.py")
    assert "chart.py (python)" in prompt and "def draw(self):" in prompt
    start = SOURCE.index("def other")
    replaced = code_context(SOURCE, "python", start, len(SOURCE))
    assert replaced.replaced == "def other():\n    pass\n" and "It replaces:" in replaced.prompt("chart.py")


def test_code_context_of_html_and_unknown_languages() -> None:
    page = "<html><body>\n<main id='m'>\n<p>x</p>\n</main>\n</body></html>"
    at = page.index("<p>")
    context = code_context(page, "html", at, at)
    assert context.enclosing.startswith("<main id='m'>")
    assert code_context("just text", None, 4, 4).enclosing == ""
    assert document_language("typescriptreact", "file:///a.tsx") == "tsx"
    assert document_language(None, "file:///notes/a.md") == "markdown"
    assert document_language("plaintext", "file:///a.txt") is None


def test_settings_take_the_cli_names_in_snake_or_camel_case() -> None:
    base = LspSettings()
    assert base.max_concurrent_runs == 2 and base.max_iters == 3 and base.stack == "html"
    changed = merged(base, {"viscodex": {"modelUrl": "http://x/v1", "max-iters": 5, "maxConcurrentRuns": 4}})
    assert (changed.model_url, changed.max_iters, changed.max_concurrent_runs) == ("http://x/v1", 5, 4)
    assert merged(changed, {"unknown": 1}) == changed
    with pytest.raises(ValueError, match="max_iters"):
        merged(base, {"max_iters": 0})


def test_the_server_starts_without_the_heavy_layers() -> None:
    """Building the server (what `viscodex-lsp` does before `initialize`) loads no model layer, torch,
    Docker, LangChain or tree-sitter: they load on the first run."""
    code = (
        "import sys\n"
        "from viscodex.lsp_server.cli import build_server\n"
        "build_server()\n"
        "heavy = ('torch', 'transformers', 'docker', 'langchain', 'tree_sitter',\n"
        "         'viscodex.model', 'viscodex.sandbox')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


REACT_PAGE = """<!DOCTYPE html><html><body><div id="root"></div>
<script type="text/babel">
const { useState } = React;
function Counter() {
  const [n, setN] = useState(0);
  return <button onClick={() => setN(n + 1)}>Buy now {n}</button>;
}
ReactDOM.createRoot(document.getElementById("root")).render(<Counter />);
</script></body></html>"""


def test_a_react_page_becomes_a_component_for_a_tsx_file() -> None:
    component = edits.react_component(REACT_PAGE)
    assert component == (
        'import { useState } from "react";\n\nfunction Counter() {\n  const [n, setN] = useState(0);\n'
        "  return <button onClick={() => setN(n + 1)}>Buy now {n}</button>;\n}\n"
    )
    assert edits.react_component("<p>no script</p>") is None


MULTI_LINE_MOUNTS = {
    "createRoot then render, over several lines": """const root = ReactDOM.createRoot(
  document.getElementById("root")
);
root.render(
  <React.StrictMode>
    <Pricing plan="pro" />
  </React.StrictMode>
);""",
    "one chained call over several lines": """ReactDOM.createRoot(document.getElementById("root")).render(
  <Pricing
    plan="pro"
  />
);""",
    "the legacy render": """ReactDOM.render(
  <Pricing plan="pro" />,
  document.getElementById("root")
);""",
}


@pytest.mark.parametrize("name", list(MULTI_LINE_MOUNTS))
def test_a_mount_over_several_lines_goes_whole(name: str) -> None:
    page = (
        '<!DOCTYPE html><html><body><div id="root"></div>\n<script type="text/babel">\n'
        "const { useState, useEffect } = React;\n"
        "function Pricing({ plan }) {\n  const [open, setOpen] = useState(false);\n"
        "  return <div className={plan}>{open ? 'Pro' : 'Free'}</div>;\n}\n\n"
        f"{MULTI_LINE_MOUNTS[name]}\n</script></body></html>"
    )
    assert edits.react_component(page) == (
        'import { useEffect, useState } from "react";\n\n'
        "function Pricing({ plan }) {\n  const [open, setOpen] = useState(false);\n"
        "  return <div className={plan}>{open ? 'Pro' : 'Free'}</div>;\n}\n"
    )


class _SlowSandbox:
    """A stand-in for the sandbox that records how many of its calls overlap (the job slots are what is
    under test, not the sandbox)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0

    def run(self, *, cancel: threading.Event) -> str:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.05)
        with self.lock:
            self.inside -= 1
        return "ran"


@pytest.mark.parametrize("limit", [1, 2])
def test_sandbox_job_slots_bound_the_containers_at_work_over_all_runs(limit: int) -> None:
    from viscodex.lsp_server.run_sandbox import JobSlots, RunSandbox

    sandbox, slots = _SlowSandbox(), JobSlots()
    steps: list[str] = []
    views = [RunSandbox(sandbox, threading.Event(), steps.append, slots, limit) for _ in range(4)]  # type: ignore[arg-type]
    threads = [threading.Thread(target=view.run) for view in views for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sandbox.most == limit
    assert steps.count("running") == 8
    assert "waiting for the sandbox" in steps


def test_a_run_waiting_for_a_sandbox_slot_stops_at_its_cancel() -> None:
    from viscodex.lsp_server.run_sandbox import JobSlots, RunSandbox
    from viscodex.sandbox import RunCancelled

    slots, cancel = JobSlots(), threading.Event()
    view = RunSandbox(_SlowSandbox(), cancel, lambda _step: None, slots, 1)  # type: ignore[arg-type]
    errors: list[BaseException] = []

    def waiting_run() -> None:
        try:
            view.run()
        except RunCancelled as exc:
            errors.append(exc)

    with slots.hold(1, threading.Event(), lambda: None):  # another run holds the only slot
        thread = threading.Thread(target=waiting_run)
        thread.start()
        time.sleep(0.2)
        assert thread.is_alive()
        cancel.set()
        thread.join(timeout=2)
        assert not thread.is_alive() and len(errors) == 1
    assert slots.active == 0


def test_the_sandbox_job_default_leaves_the_editor_a_core() -> None:
    import os

    expected = max(1, (os.cpu_count() or 1) - 1)
    assert LspSettings().sandbox_job_limit == expected
    assert merged(LspSettings(), {"sandboxJobs": 3}).sandbox_job_limit == 3
