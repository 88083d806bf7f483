"""Ask Linux to wake the language server's threads promptly while runs keep the CPU busy.

Why: the server's requests are short (a code action is about a millisecond of CPU) but arrive while runs
render, OCR and score on every core. Lowering the runs' priority (``run_worker``'s ``nice``) decides who
gets the larger share, not who runs first when the server wakes up: a request can wait out the current
task's time slice. Since Linux 6.12 the EEVDF scheduler takes a per-thread slice length for ordinary
(``SCHED_OTHER``) threads in ``sched_attr.sched_runtime``; a thread asking for a short slice gets an
earlier deadline and may preempt the running task when it wakes (``PREEMPT_SHORT``), without any
privilege and without a larger share of the CPU. The server asks for one before it starts any thread
(threads and children inherit it), and its run worker gives it back (``restore_default_slice``): the
worker's work is long, and a short slice would only preempt the server's.

glibc has no wrapper for ``sched_setattr``, so this calls the system call through ``ctypes``. Anywhere
else (another OS, an older kernel, an architecture whose call numbers are not listed here, a seccomp
filter) nothing changes and the functions say so by returning False.
"""

from __future__ import annotations

import ctypes
import platform
import struct
import sys

SHORT_SLICE_NS = 100_000
"""The shortest slice the kernel accepts (0.1 ms): a request's work runs in a few of them."""
_CALLS = {"x86_64": (314, 315), "aarch64": (274, 275)}
"""(sched_setattr, sched_getattr) numbers by machine."""
_ATTR = struct.Struct("IIQiIQQQII")
"""struct sched_attr, SCHED_ATTR_SIZE_VER1: size, policy, flags, nice, priority, runtime, deadline, period,
util_min, util_max."""
_RUNTIME = 5
_FAIR_POLICIES = (0, 3)
"""SCHED_OTHER and SCHED_BATCH: the policies whose slice ``sched_runtime`` sets."""


def _calls() -> tuple[int, int] | None:
    if not sys.platform.startswith("linux"):
        return None
    return _CALLS.get(platform.machine())


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _get_attr(get_call: int) -> list[int] | None:
    buf = ctypes.create_string_buffer(_ATTR.size)
    if _libc().syscall(get_call, 0, buf, _ATTR.size, 0) != 0:
        return None
    return list(_ATTR.unpack(buf.raw))


def _set_slice(slice_ns: int) -> bool:
    """Set the calling thread's slice (0: the kernel's default), keeping its policy and nice value."""
    calls = _calls()
    if calls is None:
        return False
    set_call, get_call = calls
    try:
        attr = _get_attr(get_call)
        if attr is None or attr[1] not in _FAIR_POLICIES:
            return False
        attr[0], attr[2], attr[_RUNTIME] = _ATTR.size, 0, slice_ns
        if _libc().syscall(set_call, 0, ctypes.create_string_buffer(_ATTR.pack(*attr)), 0) != 0:
            return False
        after = _get_attr(get_call)
    except (OSError, AttributeError, struct.error):
        return False
    # A kernel before 6.12 accepts the call and ignores the runtime of a fair thread.
    return after is not None and (slice_ns == 0 or after[_RUNTIME] == slice_ns)


def request_short_slice(slice_ns: int = SHORT_SLICE_NS) -> bool:
    """Ask for a short slice for the calling thread and all threads and processes it starts later.
    True when the kernel took it."""
    return _set_slice(slice_ns)


def restore_default_slice() -> bool:
    """Give the calling thread the kernel's default slice again (what a process that inherited a short
    one and does long work should do). True when the kernel took it."""
    return _set_slice(0)
