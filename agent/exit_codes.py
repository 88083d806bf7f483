"""Exit codes of `viscodex-agent`: a contract that scripts and editors rely on."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The work ran but did not succeed (a failing program; later: a result not verified)."""
    USAGE = 2
    """Bad usage or bad input (a missing file, an unknown language)."""
    UNAVAILABLE = 3
    """A required service is unavailable (Docker, the sandbox image, the model)."""
