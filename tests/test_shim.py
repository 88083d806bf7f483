"""The in-container supervisor's own logic, run on the host: caps, timeouts, stdin, exit codes.

The same file runs as PID 1 in every container; testing it here is fast and pins its behaviour
independently of Docker (the Docker tests then show it holds inside the container too).
"""

from __future__ import annotations

import sys
import time

from conftest import LOAD_MARGIN_S

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
