"""Errors of the model layer. Each names what failed and what the user can do about it."""

from __future__ import annotations


class ModelError(Exception):
    """Base class: the model could not answer."""


class ModelUnavailable(ModelError):
    """No backend can be reached or loaded: the server is down, or no local model exists. CLI exit 3."""


class ModelNotFound(ModelUnavailable):
    """The server answers but does not serve the requested model name."""


class ModelHTTPError(ModelError):
    """The server answered with an HTTP error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ModelTimeout(ModelError):
    """The call passed its deadline: no answer, or a stream that stalled."""


class ModelProtocolError(ModelError):
    """The server answered with something that is not a usable chat completion (junk, no content)."""


class ModelStreamError(ModelError):
    """The stream stopped midway. ``partial`` holds the text received before it broke."""

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        self.partial = partial


class ImagesNotSupported(ModelError):
    """The server refused image input: the model it serves takes text only."""
