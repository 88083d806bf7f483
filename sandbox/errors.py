"""Errors the sandbox raises; each carries a message a user can act on."""

from __future__ import annotations


class SandboxError(Exception):
    """The sandbox could not do what was asked (a broken container, a malformed reply)."""


class SandboxUnavailable(SandboxError):
    """A required service is missing: no Docker daemon, or no sandbox image. The CLI exits 3."""


class RenderError(SandboxError):
    """The code ran but produced no picture; ``result`` says why (stderr, timeout, OOM)."""

    def __init__(self, message: str, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result


class RunCancelled(Exception):
    """The caller cancelled the run; its container has been destroyed."""
