"""One place that turns expected failures into a one-line message and an exit code, no traceback."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager

import pydantic
import typer

from viscodex.model.errors import ModelError, ModelUnavailable
from viscodex.model.settings import config_dir
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
    except (pydantic.ValidationError, tomllib.TOMLDecodeError) as exc:
        where = f"flags, VISCODEX_* variables or {config_dir() / 'config.toml'}"
        summary = " ".join(str(exc).split())[:400]
        raise fail(f"bad configuration ({where}): {summary}", ExitCode.USAGE) from None
    except ModelUnavailable as exc:
        raise fail(str(exc), ExitCode.UNAVAILABLE) from None
    except ModelError as exc:
        raise fail(f"model error: {exc}", ExitCode.FAILED) from None
    except SandboxUnavailable as exc:
        raise fail(str(exc), ExitCode.UNAVAILABLE) from None
    except SandboxError as exc:
        raise fail(f"sandbox error: {exc}", ExitCode.FAILED) from None
    except KeyboardInterrupt:
        raise fail("interrupted", ExitCode.FAILED) from None
