"""The one error of the benchmark loaders, caught by ``viscodex-train eval`` as bad usage (exit 2)."""

from __future__ import annotations


class DataError(ValueError):
    """The benchmark folder, file or dataset is not what the loader expects; the message says what is
    missing."""
