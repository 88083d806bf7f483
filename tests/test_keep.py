"""The kept-code check: what a file defines, read with tree-sitter, and what an edit dropped of it."""

from __future__ import annotations

from pathlib import Path

from viscodex.agent.keep import KeepReport, definitions, keep_report, with_kept_code
from viscodex.agent.tasks.base import Verification

PY = '''
import math

@dataclass
class Reader:
    """Reads pairs."""

    def pair(self, line):
        def helper(x):  # a local: not a definition of the file
            return int(x)
        return map(helper, line.split())

    @property
    def size(self):
        return 2


def add(a, b):
    return a + b
'''

JS = """
export function render(data) { return data.map((d) => d * 2); }
const LIMIT = 10;
let counter = 0;
class Chart extends Base {
  draw() { return 1; }
  static from(x) { return new Chart(x); }
}
export default class App {}
function* ids() { yield 1; }
if (true) { const inner = 1; }
"""

HTML = """<!doctype html><html><body>
<div id="app"><span id='count'>0</span><p id=plain>x</p></div>
<script>function inc() { counter += 1; } const counter = 0;</script>
<script type="text/babel">function Card() { return <div/>; }</script>
<script type="application/json">{"not": "code"}</script>
</body></html>"""


def test_python_definitions_are_top_level_and_class_level() -> None:
    assert definitions(PY, "python") == {"Reader", "Reader.pair", "Reader.size", "add"}


def test_javascript_definitions() -> None:
    assert definitions(JS, "javascript") == {
        "render",
        "LIMIT",
        "counter",
        "Chart",
        "Chart.draw",
        "Chart.from",
        "App",
        "ids",
    }


def test_html_ids_and_script_definitions() -> None:
    assert definitions(HTML, "html") == {"#app", "#count", "#plain", "inc", "counter", "Card"}


def test_broken_and_unknown_code() -> None:
    assert definitions("def ok():\n    pass\n\ndef (:\n", "python") == {"ok"}, "what parses still counts"
    assert definitions("{}", "json") == set()


def test_keep_report_names_what_an_edit_dropped(tmp_path: Path) -> None:
    original = tmp_path / "solution.py"
    original.write_text(PY)
    kept = PY + "\n\ndef main():\n    print(add(2, 3))\n"
    assert keep_report(original, kept, "python") == KeepReport("solution.py", 4, ())
    dropped = keep_report(original, "def add(a, b):\n    return a + b\n", "python")
    assert dropped is not None
    assert dropped.missing == ("Reader", "Reader.pair", "Reader.size") and dropped.share == 0.25
    assert "drops 3 of the 4 definitions already in solution.py: Reader, Reader.pair, Reader.size" in dropped.critique()
    assert keep_report(original, "x = 1", "html") is None, "a file in another language is not compared"
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert keep_report(empty, "", "python") is None


def test_dropped_code_lowers_the_score_and_blocks_the_verdict(tmp_path: Path) -> None:
    original = tmp_path / "solution.py"
    original.write_text(PY)
    passed = Verification(1.0, True, {"tests": 1.0}, [])
    worse = with_kept_code(passed, (original,), "def add(a, b):\n    return a - b\n", "python")
    assert (worse.score, worse.passed, worse.components["kept"]) == (0.25, False, 0.25)
    assert worse.critique[0].startswith("Your code drops 3 of the 4 definitions")
    same = with_kept_code(passed, (original,), PY, "python")
    assert (same.score, same.passed, same.components["kept"]) == (1.0, True, 1.0)
    assert with_kept_code(passed, (), PY, "python") is passed
