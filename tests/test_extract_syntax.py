"""Picking code out of model answers, and checking its syntax before a sandbox run is spent on it."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import get_args

import pytest

from viscodex.agent import syntax
from viscodex.agent.extract import (
    CodeLanguage,
    ExtractionError,
    extract_code,
    extract_json,
    fenced_blocks,
    strip_reasoning,
)
from viscodex.agent.syntax import (
    PARSE_DEADLINE_S,
    SYNTAX_LANGUAGES,
    SyntaxReport,
    check_syntax,
    normalize_language,
)

# --- extract_code ----------------------------------------------------------------------------------


def test_fenced_block_is_taken_without_the_prose() -> None:
    answer = "Here is the page:\n\n```html\n<!doctype html>\n<p>Hi</p>\n```\n\nIt shows a greeting."
    got = extract_code(answer, "html")
    assert got.code == "<!doctype html>\n<p>Hi</p>\n"
    assert got.source == "fenced"
    assert got.language == "html"
    assert got.notes == []


def test_block_tagged_with_the_language_wins_over_longer_ones() -> None:
    answer = (
        "Install:\n```bash\npip install numpy matplotlib pandas scipy seaborn requests rich\n```\n"
        "Code:\n```py\nprint(1)\n```\nOutput:\n```\n1\n```\n"
    )
    got = extract_code(answer, "python")
    assert got.code == "print(1)\n"
    assert got.source == "fenced"


@pytest.mark.parametrize(
    ("info", "language"),
    [
        ("html", "html"),
        ("HTM", "html"),
        ("python", "python"),
        ("py", "python"),
        ("python3", "python"),
        ("js", "javascript"),
        ("javascript", "javascript"),
        ("jsx", "javascript"),
        ("diff", "diff"),
        ("patch", "diff"),
        ("udiff", "diff"),
        ("json", "json"),
        ("python title=main.py", "python"),
        ("python:main.py", "python"),
    ],
)
def test_aliases_match(info: str, language: CodeLanguage) -> None:
    answer = f"```text\n{'x' * 200}\n```\n```{info}\nTHE CODE\n```\n"
    got = extract_code(answer, language)
    assert got.code == "THE CODE\n"
    assert got.notes == []


def test_several_matching_blocks_take_the_longest_and_say_so() -> None:
    answer = "```python\nx = 1\n```\nFull program:\n```python\nimport sys\nprint(sys.argv)\n```\n"
    got = extract_code(answer, "python")
    assert got.code == "import sys\nprint(sys.argv)\n"
    assert any("2 ```python blocks" in note for note in got.notes)


def test_no_matching_block_takes_the_longest_fenced_block() -> None:
    answer = "```\nshort\n```\n```text\na much longer block\nof two lines\n```\n"
    got = extract_code(answer, "python")
    assert got.code == "a much longer block\nof two lines\n"
    assert got.source == "fenced"
    assert any("no ```python block" in note for note in got.notes)


def test_unterminated_final_fence_takes_the_rest_with_a_note() -> None:
    answer = "Sure.\n```python\nimport math\n\nfor i in range(3):\n    print(math.sqrt(i))"
    got = extract_code(answer, "python")
    assert got.code == "import math\n\nfor i in range(3):\n    print(math.sqrt(i))\n"
    assert got.source == "fenced"
    assert any("never closed" in note for note in got.notes)


def test_closing_fence_on_the_last_code_line() -> None:
    got = extract_code("```html\n<p>x</p>\n</html>```\nDone.", "html")
    assert got.code == "<p>x</p>\n</html>\n"
    assert got.notes == []


def test_indented_fence_in_a_list_is_dedented() -> None:
    answer = "1. Save this:\n   ```python\n   def f():\n       return 1\n   ```\n"
    assert extract_code(answer, "python").code == "def f():\n    return 1\n"


def test_longer_fence_keeps_inner_fences() -> None:
    answer = '````python\ndoc = """\n```\nnot a fence\n```\n"""\n````\n'
    assert extract_code(answer, "python").code == 'doc = """\n```\nnot a fence\n```\n"""\n'


def test_indented_fence_inside_the_code_does_not_close_the_block() -> None:
    answer = '```python\ndef f():\n    """Example:\n\n    ```\n    f()\n    ```\n    """\n```\n'
    expected = 'def f():\n    """Example:\n\n    ```\n    f()\n    ```\n    """\n'
    assert extract_code(answer, "python").code == expected


def test_tilde_fences() -> None:
    assert extract_code("~~~js\nconsole.log(1)\n~~~", "javascript").code == "console.log(1)\n"


def test_unfenced_html_document_is_cut_from_doctype_to_end_tag() -> None:
    answer = "Here you go: <!DOCTYPE html>\n<html><body><p>x</p></body></html>\nHope it helps!"
    got = extract_code(answer, "html")
    assert got.code == "<!DOCTYPE html>\n<html><body><p>x</p></body></html>\n"
    assert got.source == "unfenced"


def test_unfenced_html_without_end_tag_takes_the_rest() -> None:
    got = extract_code("Page:\n<html lang=en><body><p>cut off", "html")
    assert got.code == "<html lang=en><body><p>cut off\n"
    assert got.source == "unfenced"
    assert any("</html>" in note for note in got.notes)


def test_unfenced_diff_starts_at_its_header() -> None:
    answer = "The fix:\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n\nThat's all."
    got = extract_code(answer, "diff")
    assert got.code == "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
    assert got.source == "unfenced"


def test_diff_keeps_a_trailing_context_line_of_one_space() -> None:
    answer = "```diff\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+b\n \n```"
    got = extract_code(answer, "diff")
    assert got.code.endswith("+b\n \n")
    assert check_syntax(got.code, "diff").ok


def test_unfenced_json_value_in_prose() -> None:
    got = extract_code('The config is {"a": [1, 2]} as asked.', "json")
    assert got.code == '{"a": [1, 2]}\n'
    assert got.source == "unfenced"


def test_whole_answer_when_nothing_is_recognisable() -> None:
    got = extract_code("\n  print('hi')  \n\n", "python")
    assert got.code == "print('hi')\n"
    assert got.source == "whole"


def test_empty_answer() -> None:
    got = extract_code("", "javascript")
    assert got.code == ""
    assert got.source == "whole"
    assert got.notes == ["the answer is empty"]


def test_think_sections_are_dropped_first() -> None:
    answer = (
        "<think>Maybe:\n```python\nprint('draft, a much longer draft than the answer')\n```\n</think>\n"
        "```python\nprint('final')\n```"
    )
    got = extract_code(answer, "python")
    assert got.code == "print('final')\n"
    assert any("<think>" in note for note in got.notes)


def test_reasoning_with_only_a_closing_tag() -> None:
    text, notes = strip_reasoning("the template opened it... ```python\nx\n```</think>\nanswer")
    assert text == "\nanswer"
    assert notes


def test_unclosed_think_leaves_nothing() -> None:
    got = extract_code("<think>let me consider ```python\nprint(1)", "python")
    assert got.code == ""
    assert any("never closed" in note for note in got.notes)


def test_crlf_answers() -> None:
    assert extract_code("```python\r\nx = 1\r\ny = 2\r\n```\r\n", "python").code == "x = 1\ny = 2\n"


def test_fenced_blocks_lists_all_blocks_in_order() -> None:
    blocks = fenced_blocks("a\n```css\nb{}\n```\n```js\nc\n")
    got = [(b.info, b.code, b.line, b.closed) for b in blocks]
    assert got == [("css", "b{}", 2, True), ("js", "c\n", 5, False)]


def test_unknown_language_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        extract_code("x", "cobol")  # type: ignore[arg-type]


# --- extract_json ----------------------------------------------------------------------------------


def test_json_from_a_fenced_block() -> None:
    assert extract_json('Result:\n```json\n{"ok": true, "n": [1, 2]}\n```') == {"ok": True, "n": [1, 2]}


def test_json_bare_answer_and_scalars() -> None:
    assert extract_json('  {"a": 1}  ') == {"a": 1}
    assert extract_json("42") == 42


def test_json_first_balanced_value_in_prose() -> None:
    answer = 'I think the answer is {"score": 0.8, "why": "close {enough}"} and that is all.'
    assert extract_json(answer) == {"score": 0.8, "why": "close {enough}"}


def test_json_skips_brackets_that_do_not_parse() -> None:
    assert extract_json("Use f(x) {not json} then [1, 2, 3].") == [1, 2, 3]


def test_json_after_reasoning() -> None:
    assert extract_json('<think>{"draft": 1}</think>{"final": 2}') == {"final": 2}


def test_json_failure_is_a_clear_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="no JSON value"):
        extract_json("I cannot answer that.")
    assert issubclass(ExtractionError, ValueError)


def test_json_failure_reports_the_broken_json_block() -> None:
    with pytest.raises(ExtractionError, match=r"```json block at line 1 does not parse.*line 1 column 9"):
        extract_json('```json\n{"a": 1,,}\n```')


def test_json_deep_nesting_does_not_crash() -> None:
    with pytest.raises(ExtractionError):
        extract_json("[" * 100_000)


# --- check_syntax: python --------------------------------------------------------------------------


def issues(report: SyntaxReport) -> list[tuple[int, int, str]]:
    return [(issue.line, issue.column, issue.message) for issue in report.errors]


def test_valid_python_is_ok() -> None:
    report = check_syntax("import os\n\n\ndef f(x: int) -> int:\n    return x * 2\n", "python")
    assert report.ok
    assert report.errors == []
    assert report.feedback() == ""


def test_python_error_at_the_right_line() -> None:
    report = check_syntax("import os\n\n\ndef f(:\n    pass\n", "python")
    assert not report.ok
    first = report.errors[0]
    assert (first.line, first.column) == (4, 7)
    assert first.snippet == "def f(:"
    assert "missing `)`" in [issue.message for issue in report.errors]
    assert "line 4, column 7" in report.feedback()


def test_python_missing_paren() -> None:
    report = check_syntax("x = 1\ntotal = max(1, 2\nprint(total)\n", "python")
    assert not report.ok
    assert report.errors[0].line == 2
    assert "never closed" in report.errors[0].message


def test_python_error_column_counts_characters() -> None:
    report = check_syntax("s = 'héllo wörld' + )\n", "python")
    assert (report.errors[0].line, report.errors[0].column) == (1, 21)


def test_python2_print_is_caught_though_tree_sitter_accepts_it() -> None:
    report = check_syntax("print 'hello'\n", "python")
    assert not report.ok
    assert "print(...)" in report.errors[0].message


def test_cpython_has_the_last_word_over_tree_sitter(monkeypatch: pytest.MonkeyPatch) -> None:
    # Should tree-sitter's grammar ever reject valid Python, CPython's acceptance wins.
    monkeypatch.setattr(syntax.python, "tree_issues", lambda *args, **kwargs: [(0, "syntax error near `x`")])
    assert check_syntax("x = 1\n", "python").ok
    report = check_syntax("x = (\n", "python")  # tree-sitter's issue on CPython's line is dropped as an echo
    assert [issue.message for issue in report.errors] == ["'(' was never closed"]


def test_python_aliases() -> None:
    assert check_syntax("x = 1\n", "py").ok
    assert normalize_language("Python3") == "python"
    with pytest.raises(ValueError, match="no syntax check"):
        check_syntax("x", "cobol")


def test_errors_are_limited() -> None:
    code = "".join(f"def f{i}(:\n    pass\n" for i in range(40))
    report = check_syntax(code, "python")
    assert len(report.errors) == 10
    assert report.truncated
    assert check_syntax(code, "python", max_errors=3).errors == report.errors[:3]


def test_1000_line_python_file_is_ok_and_fast() -> None:
    block = [
        "class Point{n}:",
        "    def __init__(self, x: float, y: float) -> None:",
        "        self.x, self.y = x, y",
        "",
        "    def norm(self) -> float:",
        "        total = 0.0",
        "        for v in (self.x, self.y):",
        "            if v < 0:",
        "                v = -v",
        "            total += v * v",
        "        return total ** 0.5",
        "",
        "",
        "def make{n}(n: int) -> list[Point{n}]:",
        '    """Points on a line."""',
        "    return [Point{n}(i, 2 * i) for i in range(n) if i % 3]",
        "",
        "",
        "RESULT{n} = {{k: v for k, v in enumerate(make{n}(10))}}",
        "",
    ]
    lines: list[str] = []
    n = 0
    while len(lines) < 1000:
        lines.extend(line.format(n=n) for line in block)
        n += 1
    code = "\n".join(lines[:1000]) + "\n"
    assert check_syntax(code, "python").ok
    times = []
    for _ in range(5):
        start = time.perf_counter()
        check_syntax(code, "python")
        times.append(time.perf_counter() - start)
    assert min(times) < 0.1  # generous: a few ms on a quiet machine; this guards against a blow-up


# --- check_syntax: javascript, typescript, css -----------------------------------------------------


def test_valid_javascript_and_jsx() -> None:
    assert check_syntax("const a = x?.y ?? 1;\nclass A { #p = 1 }\nawait fetch('/');\n", "javascript").ok
    assert check_syntax("const el = <div className='a'>{x}</div>;\n", "jsx").ok


def test_javascript_error() -> None:
    report = check_syntax("const a = 1;\nlet x = (1 + 2;\n", "javascript")
    assert issues(report) == [(2, 15, "missing `)`")]


def test_typescript_and_tsx() -> None:
    assert check_syntax("function f<T>(x: T): T { return x }\n", "typescript").ok
    assert check_syntax("const A = <T,>(p: { x: T }) => <b>{p.x as any}</b>;\n", "tsx").ok
    assert not check_syntax("let x: number = ;\n", "ts").ok


def test_valid_modern_css() -> None:
    css = (
        "@layer base { a { color: red } }\n"
        "@container (min-width: 400px) { .a { display: grid } }\n"
        ".a { color: rgb(0 0 0 / 50%); width: clamp(1rem, 2vw, 3rem); &:hover { color: blue } }\n"
        "@media (width >= 600px) { body { background: #000 } }\n"
        ":root { --gap: 8px; --empty: ; }\n"
        "@keyframes spin { from { transform: rotate(0) } to { transform: rotate(360deg) } }\n"
    )
    report = check_syntax(css, "css")
    assert report.ok, report.feedback()


def test_css_errors() -> None:
    assert issues(check_syntax("a { color red; }\n", "css")) == [(1, 5, "syntax error near `color red;`")]
    assert issues(check_syntax("a {\n  color: ;\n}\n", "css")) == [(2, 9, "missing value")]
    assert issues(check_syntax("a { color: red\nb { }", "css"))[0][2] == "missing `}`"


# --- check_syntax: html ----------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Pricing</title>
  <link rel="stylesheet" href="x.css">
  <style>
    .card { padding: 1rem; }
  </style>
</head>
<body>
  <ul><li>One<li>Two</ul>
  <table><tr><td>1<td>2</table>
  <p>First<p>Second
  <img src="a.png" alt=""><br><input type="text" disabled>
  <svg viewBox="0 0 10 10"><path d="M0 0L10 10"/></svg>
  <script type="module">
    const total = [1, 2].reduce((a, b) => a + b, 0);
  </script>
</body>
</html>
"""


def test_valid_html_with_void_and_optional_end_tags() -> None:
    report = check_syntax(PAGE, "html")
    assert report.ok, report.feedback()


def test_html_unclosed_div() -> None:
    report = check_syntax("<body>\n  <div class='a'>\n    <p>text\n</body>\n", "html")
    assert issues(report) == [(2, 3, "unclosed <div> opened at line 2")]


def test_html_stray_end_tag() -> None:
    report = check_syntax("<div>\n  <p>hi</span>\n</div>\n", "html")
    assert issues(report) == [(2, 8, "stray end tag </span>: no open <span> to close")]


def test_html_li_without_end_tag_is_fine() -> None:
    assert check_syntax("<ul>\n<li>a\n<li>b\n</ul>\n", "html").ok


def test_html_self_closed_div_is_reported() -> None:
    report = check_syntax('<div class="x"/>\n<span>after</span>\n', "html")
    assert [issue.message for issue in report.errors] == ["<div/> does not close in HTML; write <div></div>"]


def test_html_script_syntax_error_at_the_page_line() -> None:
    page = "<!doctype html>\n<html>\n<body>\n<script>\nconst a = 1;\nlet b = (a + 2;\n</script>\n"
    page += "</body>\n</html>\n"
    assert issues(check_syntax(page, "html")) == [(6, 15, "missing `)`")]


def test_html_script_error_on_the_tag_line_is_offset_by_column() -> None:
    report = check_syntax("<p>x</p><script>let b = (1 + 2;</script>", "html")
    assert issues(report) == [(1, 31, "missing `)`")]


def test_html_style_error() -> None:
    page = "<html><head>\n<style>\n  a { color: red }\n  b { color ; }\n</style></head></html>"
    report = check_syntax(page, "html")
    assert [(issue.line, issue.message) for issue in report.errors] == [(4, "syntax error near `color ;`")]


def test_html_non_js_scripts_are_not_parsed_as_js() -> None:
    page = '<script type="text/x-template"><div>{{ x }}</div></script>'
    page += '<script type="application/json">[1]</script>'
    assert check_syntax(page, "html").ok
    bad = check_syntax('<script type="application/json">{"a": 1,}</script>', "html")
    assert [issue.message for issue in bad.errors] == ["Expecting property name enclosed in double quotes"]


def test_html_end_tag_of_an_implicitly_closed_p() -> None:
    report = check_syntax("<p>\n<div>x</div>\n</p>\n", "html")
    assert issues(report) == [(3, 1, "unexpected end tag `</p>`")]


def test_html_script_error_column_counts_characters() -> None:
    report = check_syntax("<p>héllo wörld</p><script>let b = (1 + 2;</script>", "html")
    assert issues(report) == [(1, 41, "missing `)`")]


def test_html_unclosed_script() -> None:
    report = check_syntax("<p>x</p>\n<script>let a = 1;\n", "html")
    assert [(issue.line, issue.message) for issue in report.errors] == [
        (2, "unclosed <script>: no </script> before the end")
    ]


# --- check_syntax: diff and json -------------------------------------------------------------------

DIFF = """diff --git a/app.py b/app.py
index 83db48f..bf269f4 100644
--- a/app.py
+++ b/app.py
@@ -1,4 +1,5 @@
 import os
-x = 1
+x = 2
+y = 3

 print(x)
@@ -10,2 +11,2 @@ def main():
-    return 0
+    return 1
     # end
\\ No newline at end of file
"""


def test_valid_diff_is_ok() -> None:
    report = check_syntax(DIFF, "diff")
    assert report.ok, report.feedback()


def test_new_file_diff() -> None:
    assert check_syntax("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+a\n+b\n", "patch").ok


def test_diff_hunk_counts_too_small_and_too_large() -> None:
    short = DIFF.replace("@@ -1,4 +1,5 @@", "@@ -1,5 +1,6 @@")
    report = check_syntax(short, "diff")
    assert issues(report) == [(5, 1, "hunk header says -1,5 +1,6 but the hunk has 4 old and 5 new lines")]
    long = DIFF.replace("@@ -1,4 +1,5 @@", "@@ -1,3 +1,4 @@")
    report = check_syntax(long, "diff")
    assert issues(report) == [(5, 1, "hunk header says -1,3 +1,4 but the hunk has 4 old and 5 new lines")]


def test_diff_malformed_structure() -> None:
    assert [i.message for i in check_syntax("@@ -1 +1 @@\n-a\n+b\n", "diff").errors] == [
        "hunk before any `--- `/`+++ ` file header"
    ]
    report = check_syntax("--- a/x\n+++ b/x\n@@ one @@\n-a\n", "diff")
    assert issues(report)[0] == (3, 1, "malformed hunk header; expected `@@ -start,count +start,count @@`")
    assert not check_syntax("just prose, no diff\n", "diff").ok
    assert not check_syntax("", "diff").ok


def test_diff_removed_sql_comment_is_not_a_file_header() -> None:
    assert check_syntax("--- a/q.sql\n+++ b/q.sql\n@@ -1,2 +1,1 @@\n--- old comment\n select 1;\n", "diff").ok


def test_json_check() -> None:
    assert check_syntax('{"a": [1, 2]}', "json").ok
    assert issues(check_syntax('{\n  "a": 1\n  "b": 2\n}', "json")) == [(3, 3, "Expecting ',' delimiter")]


# --- nothing raises --------------------------------------------------------------------------------

SAMPLES = [
    PAGE,
    DIFF,
    "def f(:\n    pass\n",
    "let x = (1 + 2;\n",
    "a { color: ; }",
    '```json\n{"a": 1}\n```',
    "<think>x</think>```python\nprint(1)\n```",
    "print 'hi'\n\0\ud800 é 日本",
    "@@ -1,2 +1 @@\n-a\n",
    "",
]


def mutations(text: str, rng: random.Random, count: int) -> list[str]:
    pieces = ["(", ")", "{", "}", "[", "]", "<", ">", "</", "```", "\n", '"', "'", "@@", "-", "+", "\0", "é"]
    out = [text]
    for _ in range(count):
        s = text
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(s))
            op = rng.random()
            if op < 0.4:
                s = s[:at] + rng.choice(pieces) + s[at:]
            elif op < 0.8:
                s = s[:at] + s[at + rng.randint(1, 5) :]
            else:
                s = s[:at]
        out.append(s)
    return out


@pytest.mark.parametrize("sample", range(len(SAMPLES)))
def test_nothing_raises_on_broken_input(sample: int) -> None:
    rng = random.Random(sample)
    for text in mutations(SAMPLES[sample], rng, 40):
        for language in SYNTAX_LANGUAGES:
            report = check_syntax(text, language)
            assert report.ok == (not report.errors)
            assert len(report.errors) <= 10
            assert all(issue.line >= 1 and issue.column >= 1 for issue in report.errors)
            str(report.feedback())
        for code_language in get_args(CodeLanguage):
            extract_code(text, code_language)
        try:
            extract_json(text)
        except ExtractionError:
            pass


def test_checks_from_many_threads_agree() -> None:
    inputs = [("def f(:\n", "python"), ("let x = (1;", "javascript"), ("<div>", "html"), ("a{b:}", "css")]
    inputs *= 25
    expected = [issues(check_syntax(code, language)) for code, language in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda item: issues(check_syntax(*item)), inputs))
    assert got == expected


def test_degenerate_input_gives_up_at_the_deadline_and_the_parser_recovers() -> None:
    # tree-sitter-html's parse time grows with the square of the nesting depth.
    start = time.perf_counter()
    report = check_syntax("<div>" * 40_000, "html")
    assert time.perf_counter() - start < 10
    assert not report.ok
    assert "gave up" in report.errors[0].message
    assert check_syntax("<p>fine</p>" * 5000, "html").ok  # same thread, same parser: it was reset


@pytest.mark.parametrize(
    ("text", "valid_in"),
    [
        ("(" * 100_000, {"html"}),  # brackets are text in HTML
        ("[" * 50_000, {"html"}),
        ("{" * 50_000, {"html"}),
        ("<div>" * 20_000, set()),  # HTML: the check gives up at its deadline, which is not a pass
        ("\n" * 100_000, set(SYNTAX_LANGUAGES) - {"diff", "json"}),
    ],
    ids=["parens", "brackets", "braces", "divs", "newlines"],
)
def test_pathological_inputs(text: str, valid_in: set[str]) -> None:
    """Each check ends by its deadline (with a margin for a loaded machine) and says the right thing."""
    bound = PARSE_DEADLINE_S * (1 + len(text) / 1e6) + 5.0
    for language in SYNTAX_LANGUAGES:
        start = time.perf_counter()
        report = check_syntax(text, language)
        elapsed = time.perf_counter() - start
        assert elapsed < bound, (language, elapsed)
        assert report.ok == (language in valid_in), (language, report.errors[:1])
        assert report.ok == (not report.errors)


_SESSION_SOURCES = {
    "python": "\n".join(
        f"class Shape{i}:\n    def area(self, k: int = {i}) -> float:\n        return [x * k for x in range({i})]\n"
        f"\ndef f{i}(a, b):\n    '''naïve → ünïcode'''\n    return a + b * {i}\n"
        for i in range(150)  # past 16 KB: the parse reads through a callback
    ),
    "html": "<!doctype html><html><head><style>.a { color: red; } .b { margin: 0 }</style></head><body>\n"
    + "\n".join(f'<div class="a" id="d{i}"><p>Größe {i}</p><span>x</span></div>' for i in range(40))
    + "\n<script>function f(a) { return a.map((x) => x * 2); }\nconst k = 1;</script></body></html>",
    "javascript": "\n".join(
        f"function f{i}(a) {{ const s = `é{{a}}`; return [a, {i}].map((x) => x + 1); }}" for i in range(60)
    ),
}
_SNIPPETS = [
    "(",
    ")",
    "}",
    "{",
    "<div>",
    "</p>",
    ":",
    "é",
    "→",
    "\n",
    "    ",
    "def ",
    "return",
    "'",
    '"',
    "x = 1\n",
    "",
]


@pytest.mark.parametrize("language", sorted(_SESSION_SOURCES))
def test_incremental_session_checks_equal_fresh_checks(language: str) -> None:
    """A session re-parses from the previous tree; its reports must be exactly those of a fresh check,
    for any sequence of edits (random inserts, deletes and replacements, broken code included)."""
    import random

    from viscodex.agent.syntax import SyntaxSession

    rng = random.Random(language)
    session = SyntaxSession()
    code = _SESSION_SOURCES[language]
    for step in range(60):
        if step % 15 == 14:
            code = _SESSION_SOURCES[language]  # back to the start: a big edit
        for _ in range(rng.randint(1, 3)):
            start = rng.randrange(len(code) + 1)
            end = min(len(code), start + rng.choice([0, 0, 1, 5, 40]))
            code = code[:start] + rng.choice(_SNIPPETS) + code[end:]
        fresh = check_syntax(code, language)
        incremental = check_syntax(code, language, session=session)
        assert incremental == fresh, (step, code)


@pytest.mark.parametrize("language", sorted(_SESSION_SOURCES))
@pytest.mark.parametrize("broken", [False, True])
def test_check_after_priming_while_streaming_equals_a_fresh_check(language: str, broken: bool) -> None:
    """The loop parses an answer's code while it streams in (prefixes cut at a line end, as in
    ``Loop._stream``); the check of the whole code must then say exactly what a fresh check says."""
    import random

    from viscodex.agent.syntax import SyntaxSession

    rng = random.Random(f"{language}-{broken}")
    code = _SESSION_SOURCES[language]
    if broken:
        at = code.index("\n", len(code) // 2)
        code = code[:at] + rng.choice(["(", "}", " </div", " ]"]) + code[at:]
    session = SyntaxSession()
    for end in range(0, len(code), rng.randint(300, 900)):
        prefix = code[:end]
        session.prime(prefix[: prefix.rfind("\n") + 1], language)
    assert check_syntax(code, language, session=session) == check_syntax(code, language)
