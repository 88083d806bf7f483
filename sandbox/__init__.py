"""Runs untrusted, model-written code in fresh, hardened Docker containers; renders HTML and charts.

A leaf of the package: it knows nothing of models, agents or editors.
"""

from .api import UI_STACKS, Sandbox, UiStack
from .errors import RenderError, RunCancelled, SandboxError, SandboxUnavailable
from .image import ImageRecipe, ensure_image, image_versions
from .languages import (
    LANGUAGE_NAMES,
    LANGUAGE_SPECS,
    LANGUAGES,
    SYNTAX_LANGUAGES,
    Language,
    LanguageName,
    LanguageSpec,
    Runner,
    SyntaxLanguage,
    language_for_path,
    language_spec,
    language_spec_for_path,
)
from .limits import Limits, SandboxPolicy
from .package_sets import DEFAULT_SET, PackageSet, available_sets, load_set
from .results import DomBlock, DomWord, HtmlRender, PageFonts, RunResult, Viewport
from .versions import ImageVersions, version_hint

__all__ = [
    "DEFAULT_SET",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LANGUAGE_SPECS",
    "SYNTAX_LANGUAGES",
    "UI_STACKS",
    "DomBlock",
    "DomWord",
    "HtmlRender",
    "ImageRecipe",
    "ImageVersions",
    "Language",
    "LanguageName",
    "LanguageSpec",
    "Limits",
    "PackageSet",
    "PageFonts",
    "RenderError",
    "RunCancelled",
    "RunResult",
    "Runner",
    "Sandbox",
    "SandboxError",
    "SandboxPolicy",
    "SandboxUnavailable",
    "SyntaxLanguage",
    "UiStack",
    "Viewport",
    "available_sets",
    "ensure_image",
    "image_versions",
    "language_for_path",
    "language_spec",
    "language_spec_for_path",
    "load_set",
    "version_hint",
]
