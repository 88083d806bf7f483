"""One place that turns expected failures into a one-line message and an exit code, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from viscodex.sandbox import SandboxError, SandboxUnavailable

from .exit_codes import ExitCode


class UsageError(Exception):
    """Bad input from the user: the CLI exits 2 with this message."""


def fail(message: str, code: ExitCode) -> typer.Exit:
    print(f"viscodex-agent: {message}", file=sys.stderr)
    return typer.Exit(int(code))


@contextmanager
def expected_failures() -> Iterator[None]:
    try:
        yield
    except UsageError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except SandboxUnavailable as exc:
        raise fail(str(exc), ExitCode.UNAVAILABLE) from None
    except SandboxError as exc:
        raise fail(f"sandbox error: {exc}", ExitCode.FAILED) from None
    except KeyboardInterrupt:
        raise fail("interrupted", ExitCode.FAILED) from None
