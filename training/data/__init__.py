"""Training data for VisCodex: loaders for every layout we read (the MCD release, ShareGPT / LLaVA /
ms-swift JSON, a folder of triples, hub datasets), ``data check``'s report and ``data export`` for
LLaMA-Factory and ms-swift. Everything meets at `Record` (``records.py``), which the trainer consumes.

This module is the public face; import from here, not from the modules behind it. The check and the
export load numpy, Pillow and tree-sitter only when first used.
"""

import importlib
import typing

from .loaders import IMAGE_SUFFIXES, LAYOUTS, REJECT_KINDS, DataError, Layout, load_records
from .records import IMAGE_PLACEHOLDER, Message, Record, Rejected, Role

if typing.TYPE_CHECKING:
    from .check import CHECK_KINDS, CheckConfig, CheckReport, Issue, TokenCounter, check_records
    from .export import EXPORT_FORMATS, EXPORT_SKIPS, ExportReport, export_records

_LAZY: dict[str, str] = {
    **dict.fromkeys(["CHECK_KINDS", "CheckConfig", "CheckReport", "Issue", "TokenCounter", "check_records"], ".check"),
    **dict.fromkeys(["EXPORT_FORMATS", "EXPORT_SKIPS", "ExportReport", "export_records"], ".export"),
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "CHECK_KINDS",
    "EXPORT_FORMATS",
    "EXPORT_SKIPS",
    "IMAGE_PLACEHOLDER",
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "REJECT_KINDS",
    "CheckConfig",
    "CheckReport",
    "DataError",
    "ExportReport",
    "Issue",
    "Layout",
    "Message",
    "Record",
    "Rejected",
    "Role",
    "TokenCounter",
    "check_records",
    "export_records",
    "load_records",
]
