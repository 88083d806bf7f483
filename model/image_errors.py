"""The one error the image input layer raises for a bad image, so callers catch a single type."""

from __future__ import annotations


class ImageInputError(ValueError):
    """An image the model cannot be given: empty, truncated, not an image, too large, bad data URL...

    The message names the problem and, where there is one, what to do about it; the CLI shows it to the
    user as it is (exit code 2, bad input).
    """
