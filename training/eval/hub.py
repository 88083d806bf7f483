"""Benchmarks from the Hugging Face hub: ``--data hub:OWNER/NAME``.

Each benchmark publishes its data on the hub in its own shape, and the loaders read the published
layout from a folder; this module turns a hub name into that folder, through the hub's own cache
(``huggingface_hub``: downloaded once, resumable, and, with ``HF_HUB_OFFLINE=1``, read from the cache
alone):

- ChartMimic (``hub:ChartMimic/ChartMimic``): the release archive its README downloads,
  ``dataset-iclr.tar.gz``, unpacked once beside the run (``dataset/ori_500/`` and the other tasks);
- MMCode (``hub:likaixin/MMCode``): the repository's ``.jsonl`` / ``.jsonl.gz`` files;
- Design2Code (``hub:SALT-NLP/Design2Code-hf``): a ``datasets`` dataset, read by its own loader
  (``design2code.load``), which takes the name.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from .errors import DataError

PREFIX = "hub:"
CHARTMIMIC_ARCHIVE = "dataset-iclr.tar.gz"
"""The archive ChartMimic's README downloads and unpacks into ``dataset/``."""


def hub_name(data: Path | str) -> str | None:
    """``OWNER/NAME`` when ``data`` is ``hub:OWNER/NAME``, else None. (A Path collapses ``//``, so the
    string is read as given.)"""
    text = str(data)
    if not text.startswith(PREFIX):
        return None
    name = text[len(PREFIX) :]
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise DataError(f"{text} is not a hub dataset name (hub:OWNER/NAME)")
    return name


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def download(name: str, filename: str) -> Path:
    """One file of a hub dataset repository, from the hub's cache or downloaded into it."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(hf_hub_download(repo_id=name, filename=filename, repo_type="dataset"))
    except (HfHubHTTPError, OSError, ValueError) as exc:  # offline, missing, no access: one line says which
        raise DataError(
            f"cannot get {filename} of the hub dataset {name} ({_describe(exc)}); with HF_HUB_OFFLINE=1 it must"
            " be in the hub cache already, or give --data a local folder"
        ) from None


def snapshot(name: str, patterns: list[str]) -> Path:
    """The files of a hub dataset repository that match ``patterns``, as a folder of the hub's cache."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(repo_id=name, repo_type="dataset", allow_patterns=patterns))
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise DataError(
            f"cannot get the hub dataset {name} ({_describe(exc)}); with HF_HUB_OFFLINE=1 it must be in the hub"
            " cache already, or give --data a local folder"
        ) from None


def chartmimic_folder(name: str, cache: Path) -> Path:
    """ChartMimic's release archive unpacked under ``cache`` (once per archive: its digest names the
    folder), as the folder its loader reads."""
    archive = download(name, CHARTMIMIC_ARCHIVE)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:16]
    target = cache / f"chartmimic-{digest}"
    done = target / ".unpacked"
    if not done.is_file():
        target.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(target / "dataset", filter="data")  # no links out, no absolute paths
        except (tarfile.TarError, OSError) as exc:
            raise DataError(f"cannot unpack {archive} ({_describe(exc)})") from None
        done.write_text(CHARTMIMIC_ARCHIVE + "\n", encoding="utf-8")
    return target


def mmcode_folder(name: str) -> Path:
    """The folder of the hub cache that holds MMCode's ``.jsonl[.gz]`` files."""
    root = snapshot(name, ["*.jsonl", "*.jsonl.gz", "**/*.jsonl", "**/*.jsonl.gz"])
    files = sorted([*root.rglob("*.jsonl"), *root.rglob("*.jsonl.gz")])
    if not files:
        raise DataError(f"the hub dataset {name} has no .jsonl or .jsonl.gz files (MMCode's published layout)")
    folders = {file.parent for file in files}
    return files[0].parent if len(folders) == 1 else root
