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
