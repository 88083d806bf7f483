"""The program every sandbox container runs as PID 1, kept in parts with one job each:

- ``supervisor.py``: reads one job, runs it under the time and output limits, reports; the roles;
- ``chart_trace.py``: what a drawn matplotlib figure is made of;
- ``dom_text.py``: the visible text of a rendered page, as laid out.

Inside the container they run as one source (``payload()``) passed to ``python3 -I -c``, so the image
never needs rebuilding when the shim changes. On the host they are ordinary modules, for tests.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PARTS = ("chart_trace.py", "dom_text.py", "supervisor.py")
"""In order: the supervisor last, since it uses the others' names and ends by calling ``main``."""
_FUTURE = "from __future__ import annotations\n"


@cache
def payload() -> str:
    """The parts joined into one program (the ``__future__`` import hoisted to the top, where it must be)."""
    here = Path(__file__).parent
    parts = [(here / name).read_text(encoding="utf-8").replace(_FUTURE, "", 1) for name in PARTS]
    return _FUTURE + "\n\n".join(parts)


__all__ = ["PARTS", "payload"]
