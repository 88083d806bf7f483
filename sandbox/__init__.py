"""Runs untrusted, model-written code in fresh, hardened Docker containers; renders HTML and charts.

A leaf of the package: it knows nothing of models, agents or editors.
"""

from .api import UI_STACKS, Sandbox, UiStack
from .errors import RenderError, RunCancelled, SandboxError, SandboxUnavailable
from .image import ImageRecipe, ensure_image
from .languages import LANGUAGES, Language, language_for_path
from .limits import Limits, SandboxPolicy
from .results import DomBlock, DomWord, HtmlRender, RunResult, Viewport

__all__ = [
    "LANGUAGES",
    "UI_STACKS",
    "DomBlock",
    "DomWord",
    "HtmlRender",
    "ImageRecipe",
    "Language",
    "Limits",
    "RenderError",
    "RunCancelled",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "SandboxPolicy",
    "SandboxUnavailable",
    "UiStack",
    "Viewport",
    "ensure_image",
    "language_for_path",
]
