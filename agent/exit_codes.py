"""Exit codes of every VisCodex command (`viscodex-agent`, `viscodex-train`, `viscodex-lsp`, the scripts):
a contract that scripts and editors rely on."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The work ran but did not succeed: a failing program, a result not verified, an unexpected error."""
    USAGE = 2
    """Bad usage or bad input (a missing file, an unknown language, a picture that cannot be used)."""
    UNAVAILABLE = 3
    """A required service is unavailable (Docker, the sandbox image, the model, the model hub)."""
