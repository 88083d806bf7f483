"""The language server asks Linux for a short time slice (prompt wake-ups beside busy runs); its run
worker gives it back. Read back from /proc/PID/sched (``se.slice``), which the kernel writes, not the
code under test."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import kernel_takes_slices, slice_ns

SHORT_NS = 100_000  # the kernel's lower bound for a slice: 0.1 ms


def _sched(pid: str | int) -> str:
    try:
        return Path(f"/proc/{pid}/sched").read_text(encoding="ascii")
    except OSError:
        return ""


def _slice(text: str) -> int:
    found = slice_ns(text)
    assert found is not None, text
    return found


needs_slices = pytest.mark.skipif(
    not (kernel_takes_slices() and "se.slice" in _sched("self")), reason="Linux >= 6.12 sets SCHED_OTHER slices"
)

PROBE = """
import json, os, sys, threading
from pathlib import Path
from viscodex.lsp_server.scheduling import request_short_slice, restore_default_slice
def sched(tid):
    return Path(f"/proc/self/task/{tid}/sched").read_text()
before = sched(threading.get_native_id())
took = request_short_slice()
after = sched(threading.get_native_id())
seen = {}
t = threading.Thread(target=lambda: seen.update(text=sched(threading.get_native_id())))
t.start(); t.join()
child = os.popen(sys.executable + " -c 'print(open(\\"/proc/self/sched\\").read())'").read()
nice = os.nice(0)
restored = restore_default_slice()
back = sched(threading.get_native_id())
print(json.dumps([took, restored, nice, before, after, seen["text"], child, back]))
"""


@needs_slices
def test_short_slice_is_taken_inherited_and_given_back_keeping_nice() -> None:
    out = subprocess.run(
        ["nice", "-n", "5", sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    took, restored, nice, before, after, thread, child, back = json.loads(out)
    assert took is True and restored is True
    assert _slice(before) > SHORT_NS
    assert _slice(after) == SHORT_NS
    assert _slice(thread) == SHORT_NS, "a thread started afterwards inherits the slice"
    assert _slice(child) == SHORT_NS, "a child process inherits it (the run worker must give it back)"
    assert _slice(back) == _slice(before)
    assert nice == 5, "the nice value the process was started with is kept"


@needs_slices
def test_the_language_server_runs_with_a_short_slice() -> None:
    """The real `viscodex-lsp` on stdio, its stdin held open: its main thread's slice once it serves."""
    lsp = Path(sys.executable).with_name("viscodex-lsp")
    proc = subprocess.Popen([str(lsp)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        seen = 0
        while time.monotonic() < deadline and proc.poll() is None:
            seen = slice_ns(_sched(proc.pid)) or 0
            if seen == SHORT_NS:
                break
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait(10)
    assert seen == SHORT_NS


def test_without_kernel_support_nothing_changes_and_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """On another platform the calls are a no-op that returns False (the server starts all the same)."""
    from viscodex.lsp_server import scheduling

    monkeypatch.setattr(sys, "platform", "darwin")
    assert scheduling.request_short_slice() is False
    assert scheduling.restore_default_slice() is False
