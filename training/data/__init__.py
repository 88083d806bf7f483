"""Training data for VisCodex: loaders for every layout we read (the MCD release, ShareGPT / LLaVA /
ms-swift JSON, a folder of triples, hub datasets), ``data check``'s report and ``data export`` for
LLaMA-Factory and ms-swift. Everything meets at `Record` (``records.py``), which the trainer consumes.

This module is the public face; import from here, not from the modules behind it.
"""

from .loaders import IMAGE_SUFFIXES, LAYOUTS, REJECT_KINDS, DataError, Layout, load_records
from .records import IMAGE_PLACEHOLDER, Message, Record, Rejected, Role

__all__ = [
    "IMAGE_PLACEHOLDER",
    "IMAGE_SUFFIXES",
    "LAYOUTS",
    "REJECT_KINDS",
    "DataError",
    "Layout",
    "Message",
    "Record",
    "Rejected",
    "Role",
    "load_records",
]
