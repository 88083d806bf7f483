"""The in-container supervisor's own logic, run on the host: caps, timeouts, stdin, exit codes.

The same file runs as PID 1 in every container; testing it here is fast and pins its behaviour
independently of Docker (the Docker tests then show it holds inside the container too).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from conftest import LOAD_MARGIN_S

from viscodex.sandbox.image import font_slug
from viscodex.sandbox.shim import supervisor as shim


def _run(argv: list[str], stdin: bytes = b"", timeout: float = 5, cap: int = 1 << 20) -> dict:
    import subprocess

    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    import os

    fds = (os.dup(proc.stdin.fileno()), os.dup(proc.stdout.fileno()), os.dup(proc.stderr.fileno()))
    for f in (proc.stdin, proc.stdout, proc.stderr):
        f.close()
    proc.returncode = 0
    return shim._supervise(proc.pid, *fds, stdin, timeout, cap)


def test_exit_code_and_streams() -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"
    result = _run([sys.executable, "-c", code])
    assert (result["exit_code"], result["stdout"], result["stderr"]) == (3, "out\n", "err\n")
    assert not result["timed_out"] and not result["truncated"]


def test_stdin_is_fed_without_deadlock() -> None:
    data = b"z" * (5 << 20)
    result = _run([sys.executable, "-c", "import sys; print(len(sys.stdin.buffer.read()))"], data)
    assert result["stdout"].strip() == str(len(data))


def test_cap_cuts_and_flags() -> None:
    code = "import sys; sys.stdout.write('x' * 100000)"
    result = _run([sys.executable, "-c", code], cap=1000)
    assert len(result["stdout"]) == 1000 and result["truncated"] and result["exit_code"] == 0


def test_timeout_kills_the_group() -> None:
    start = time.monotonic()
    code = "import os, time\nos.fork()\ntime.sleep(30)"
    result = _run([sys.executable, "-c", code], timeout=0.5)
    assert result["timed_out"] and result["exit_code"] is None
    assert time.monotonic() - start < 3 + LOAD_MARGIN_S


def test_signal_death_is_negative() -> None:
    result = _run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    assert result["exit_code"] == -9


def test_web_font_faces_are_the_absolute_addresses() -> None:
    """The faces a page loads from the web, as Google Fonts' CSS declares them; a protocol-relative or
    relative address (which does not load from a page opened from a file) is not one."""
    html = """<style>
    @font-face{font-family:'Open Sans';font-style:normal;font-weight:700;src:url(https://fonts.gstatic.com/a.woff2)format('woff2');unicode-range:U+0000-00FF}
    @font-face { font-family: "Lato"; font-style: italic; src: url('http://fonts.gstatic.com/b.woff') format('woff'); }
    @font-face{font-family:'EB Garamond';font-weight:400;src:url(//fonts.gstatic.com/c.woff2)format('woff2')}
    @font-face{font-family:'open_sansbold';src:url('opensans-bold-webfont.woff2') format('woff2')}
    </style>"""
    assert shim.web_font_faces(html) == {
        "https://fonts.gstatic.com/a.woff2": ("Open Sans", 700, False),
        "http://fonts.gstatic.com/b.woff": ("Lato", 400, True),
    }


def test_web_font_file_picks_the_style_then_the_nearest_weight(tmp_path: Path) -> None:
    """A page's face gets the image's Fontsource file of its family: that style where there is one,
    the nearest weight (the lighter of two as near), nothing for another family or a prefix of one."""
    for name in (
        "barlow-latin-300-normal.woff2",
        "barlow-latin-500-normal.woff2",
        "barlow-latin-700-italic.woff2",
        "barlow-condensed-latin-400-normal.woff2",
        "barlow-latin-400-normal.woff",  # not a woff2: not served
    ):
        (tmp_path / name).write_bytes(b"font")

    def pick(family: str, weight: int, italic: bool) -> str | None:
        found = shim.web_font_file(family, weight, italic, folder=str(tmp_path))
        return None if found is None else Path(found).name

    assert pick("Barlow", 300, False) == "barlow-latin-300-normal.woff2"
    assert pick("Barlow", 400, False) == "barlow-latin-300-normal.woff2"  # 300 and 500 as near: the lighter
    assert pick("Barlow", 600, False) == "barlow-latin-500-normal.woff2"
    assert pick("Barlow", 400, True) == "barlow-latin-700-italic.woff2"  # the only italic
    assert pick("Barlow Condensed", 700, False) == "barlow-condensed-latin-400-normal.woff2"
    assert pick("barlow-condensed", 400, False) == "barlow-condensed-latin-400-normal.woff2"
    assert pick("Barl", 400, False) is None
    assert pick("Effra", 400, False) is None
    assert shim.web_font_file("Barlow", 400, False, folder=str(tmp_path / "absent")) is None


def test_the_shim_names_a_family_as_the_image_build_does() -> None:
    for family in ("Source Sans Pro", "fira-sans", "Love Ya Like A Sister", "IM Fell English", "Exo 2", "  Lora "):
        assert shim.font_slug(family) == font_slug(family)
    assert font_slug("Source Sans Pro") == "source-sans-pro" and font_slug("Exo 2") == "exo-2"
