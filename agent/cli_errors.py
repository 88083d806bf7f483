"""The one place that turns failures into a one-line message and an exit code, never a traceback.

:func:`expected_failures` wraps a command's work: every failure a user can act on (bad input, bad
configuration, a service down) becomes one line on stderr and its exit code (see :class:`ExitCode`).
:func:`describe_failure` is the same mapping as a function, for other faces of the agent (the language
server answers ``InvalidParams`` where the CLI exits 2). :func:`run_app` is the console scripts' last
resort: an exception nothing expected (a bug) still ends in one line and exit 1, with the traceback
shown only when ``VISCODEX_DEBUG`` is set.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

from .exit_codes import ExitCode

if TYPE_CHECKING:
    import pydantic

DEBUG_VARIABLE = "VISCODEX_DEBUG"
"""Set (to anything but empty or 0) to get the traceback of an unexpected error instead of one line."""


class UsageError(Exception):
    """Bad input from the user: the CLI exits 2 with this message."""


def one_line(text: str, limit: int = 600) -> str:
    """``text`` on one line (runs of whitespace, newlines included, become one space), cut to ``limit``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def fail(message: str, code: ExitCode, prog: str = "viscodex-agent") -> typer.Exit:
    """Print ``prog: message`` as one line on stderr; the ``typer.Exit`` to raise with ``code``."""
    print(f"{prog}: {one_line(message)}", file=sys.stderr)
    return typer.Exit(int(code))


def _validation_summary(exc: pydantic.ValidationError) -> str:
    """``field: problem; field: problem`` instead of pydantic's multi-line report."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ())) or exc.title
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = len(exc.errors()) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def describe_failure(exc: BaseException, *, configuring: bool = True) -> tuple[str, ExitCode] | None:
    """The one-line message and exit code for an expected failure, or ``None`` for anything else (a bug).

    ``configuring``: the work reads settings, so a pydantic ``ValidationError`` is bad configuration
    (exit 2). Where settings were read before, one is a bug in our code and gets ``None``.

    The failure types are imported here, not at the top, so ``viscodex-train`` and ``viscodex-lsp``
    can use :func:`run_app` without loading the model and sandbox layers before they fail.
    """
    import pydantic
    import yaml

    from viscodex.model.errors import ImagesNotSupported, ModelError, ModelUnavailable
    from viscodex.model.image_errors import ImageInputError
    from viscodex.model.settings import config_dir
    from viscodex.sandbox import SandboxError, SandboxUnavailable

    from .tasks.fix import RepoError

    if isinstance(exc, UsageError | ImageInputError | RepoError):
        return str(exc), ExitCode.USAGE
    if isinstance(exc, tomllib.TOMLDecodeError | yaml.YAMLError) or (
        configuring and isinstance(exc, pydantic.ValidationError)
    ):
        where = f"flags, VISCODEX_* variables, a --policy/--config file or {config_dir() / 'config.toml'}"
        detail = _validation_summary(exc) if isinstance(exc, pydantic.ValidationError) else str(exc)
        return f"bad configuration ({where}): {one_line(detail, 400)}", ExitCode.USAGE
    if isinstance(exc, ModelUnavailable | ImagesNotSupported | SandboxUnavailable):
        return str(exc), ExitCode.UNAVAILABLE
    if isinstance(exc, ModelError):
        return f"model error: {exc}", ExitCode.FAILED
    if isinstance(exc, SandboxError):
        return f"sandbox error: {exc}", ExitCode.FAILED
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", ExitCode.FAILED
    return None


@contextmanager
def expected_failures(
    on_failure: Callable[[str, ExitCode], None] | None = None, *, configuring: bool = True
) -> Iterator[None]:
    """Run the block; an expected failure (see :func:`describe_failure`) exits with its code and one line.

    ``on_failure`` hears the message and code first (``solve --json`` emits a ``failed`` event with
    them). Anything unexpected propagates to :func:`run_app`.
    """
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        described = describe_failure(exc, configuring=configuring)
        if described is None:
            raise
        message, code = described
        if on_failure is not None:
            on_failure(one_line(message), code)
        raise fail(message, code) from None


LOG_LEVEL_VARIABLE = "VISCODEX_LOG_LEVEL"
"""DEBUG, INFO, WARNING (the default) or ERROR: how much the console scripts log on stderr."""


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM like Ctrl-C so the same clean-up (no container left, servers stopped) runs for both."""
    raise KeyboardInterrupt


def console_main(app: typer.Typer, prog: str) -> None:
    """What every VisCodex console script's ``main`` does: logging on stderr at ``VISCODEX_LOG_LEVEL``,
    SIGTERM handled as Ctrl-C, and :func:`run_app`, so the three tools fail, log and stop alike."""
    level = os.environ.get(LOG_LEVEL_VARIABLE, "WARNING").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else logging.WARNING,
        format=f"{prog} %(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    run_app(app, prog)


def version_option(prog: str) -> Any:
    """The ``--version`` option every console script has: eager, prints ``prog VERSION`` and exits 0.
    Use as ``version: Annotated[bool, version_option(PROG)] = False`` on the app's callback."""

    def show(value: bool) -> None:
        if value:
            from viscodex import __version__

            print(f"{prog} {__version__}")
            raise typer.Exit(0)

    return typer.Option("--version", is_eager=True, callback=show, help="Print the version and exit.")


def run_app(app: typer.Typer, prog: str) -> None:
    """Run a console script's Typer app so that no exception ends in a traceback.

    Click already turns usage errors into its usage message and exit 2. Whatever else escapes the
    commands: an expected failure gets its message and code, an ``OSError`` (disk full, permission
    denied) its message and exit 1, anything else one line naming it as a bug and exit 1. With
    ``VISCODEX_DEBUG=1`` the unexpected ones show their traceback instead.
    """
    try:
        app()
    except (Exception, KeyboardInterrupt) as exc:
        described = describe_failure(exc, configuring=False)
        if described is not None:
            message, code = described
        elif os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        elif isinstance(exc, OSError):
            message, code = str(exc), ExitCode.FAILED
        else:
            message = (
                f"unexpected error {type(exc).__name__}: {exc} (a bug: please report it; "
                f"{DEBUG_VARIABLE}=1 shows the traceback)"
            )
            code = ExitCode.FAILED
        print(f"{prog}: {one_line(message)}", file=sys.stderr)
        sys.exit(int(code))
