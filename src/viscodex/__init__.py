"""VisCodex: image-to-code, verified by running the code in a sandbox."""

__version__ = "0.1.0"
