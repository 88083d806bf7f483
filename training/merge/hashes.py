"""sha256 of the merge's input files for the model card, without hashing the same 15 GB twice.

Hashing three 7B checkpoints is 45 GB of sha256, longer than the merge itself on a fast disk, and a
sweep merges the same inputs once per lam. So a digest is taken from, in order:
1. the Hugging Face hub cache: a downloaded LFS file is a symlink to ``blobs/<sha256 of its bytes>``;
2. our own cache (``$VISCODEX_HASH_CACHE``, else ``$XDG_CACHE_HOME/viscodex/sha256.json``), keyed by
   the file's device, inode, size, mtime and ctime (the test git's index uses to skip unchanged files;
   any write changes ctime);
3. hashing the file, which then goes into our cache.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_SHA256 = re.compile(r"[0-9a-f]{64}")
RACY_S = 2.0
"""A file changed this recently is not cached: a write within the timestamps' resolution could hide."""

MAP_WINDOW = 16 << 20
"""Bytes of a file mapped at a time while hashing it (a multiple of the page size)."""

Source = Literal["hub", "cache", "hashed"]


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    source: Source
    """Where the digest came from: the hub cache's blob name, our cache, or hashing the file now."""


def default_cache_path() -> Path:
    if os.environ.get("VISCODEX_HASH_CACHE"):
        return Path(os.environ["VISCODEX_HASH_CACHE"])
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "viscodex" / "sha256.json"


def hub_blob_sha256(path: Path) -> str | None:
    """The sha256 a hub-cache symlink names (``.../blobs/<sha256>``), or None for any other file."""
    if not path.is_symlink():
        return None
    target = Path(os.path.realpath(path))
    if target.parent.name == "blobs" and _SHA256.fullmatch(target.name):
        return target.name
    return None


class DigestCache:
    """The file-stat-keyed digest cache: a small JSON file, read once, written back on ``save``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self._lock = threading.Lock()
        try:
            loaded = json.loads(self.path.read_text())
            self._entries: dict[str, dict[str, object]] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            self._entries = {}
        self._dirty = False

    @staticmethod
    def _key(stat: os.stat_result) -> list[int]:
        return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]

    def get(self, path: Path) -> str | None:
        stat = path.stat()
        with self._lock:
            entry = self._entries.get(str(path.resolve()))
        if entry and entry.get("stat") == self._key(stat) and isinstance(entry.get("sha256"), str):
            return str(entry["sha256"])
        return None

    def put(self, path: Path, stat: os.stat_result, digest: str) -> None:
        if time.time() - stat.st_mtime_ns / 1e9 < RACY_S or time.time() - stat.st_ctime_ns / 1e9 < RACY_S:
            return
        with self._lock:
            self._entries[str(path.resolve())] = {"stat": self._key(stat), "sha256": digest}
            self._dirty = True

    def save(self) -> None:
        """Write the cache atomically; a cache that cannot be written only costs a re-hash later."""
        with self._lock:
            if not self._dirty:
                return
            entries = {k: v for k, v in self._entries.items() if Path(k).exists()}
            self._dirty = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(entries, indent=1, sort_keys=True) + "\n")
            tmp.replace(self.path)
        except OSError:
            pass


def sha256_of(path: Path) -> str:
    """The file's sha256, read through a sliding memory map (``MAP_WINDOW`` at a time): hashing mapped
    page-cache pages skips the copy ``read`` makes, 12-14% of the hashing CPU here, and the window
    keeps the mapped (resident) part small."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        for offset in range(0, size, MAP_WINDOW):
            length = min(MAP_WINDOW, size - offset)
            with mmap.mmap(fh.fileno(), length, offset=offset, access=mmap.ACCESS_READ) as window:
                digest.update(window)
    return digest.hexdigest()


def file_sha256(path: Path, cache: DigestCache | None) -> FileDigest:
    hub = hub_blob_sha256(path)
    if hub is not None:
        return FileDigest(hub, "hub")
    if cache is not None:
        cached = cache.get(path)
        if cached is not None:
            return FileDigest(cached, "cache")
    stat = path.stat()
    digest = sha256_of(path)
    if cache is not None and path.stat() == stat:  # unchanged while it was hashed
        cache.put(path, stat, digest)
    return FileDigest(digest, "hashed")


def folder_sha256(folder: Path, cache: DigestCache | None) -> dict[str, FileDigest]:
    """Every file directly in ``folder`` (weights, config, tokenizer), by name."""
    return folders_sha256({"": folder}, cache, workers=1)[""]


def folders_sha256(
    folders: dict[str, Path], cache: DigestCache | None, workers: int | None = None
) -> dict[str, dict[str, FileDigest]]:
    """Every file directly in each folder, by label and name, hashed by ``workers`` threads (default:
    one per core; hashlib releases the GIL), largest files first so the threads finish together."""
    files = [(label, path) for label, folder in folders.items() for path in sorted(folder.iterdir()) if path.is_file()]
    order = sorted(files, key=lambda item: item[1].stat().st_size, reverse=True)
    count = max(1, min(workers or os.cpu_count() or 1, len(order)))
    with ThreadPoolExecutor(max_workers=count) as pool:
        digests = dict(zip(order, pool.map(lambda item: file_sha256(item[1], cache), order), strict=True))
    return {label: {path.name: digests[(label, path)] for lab, path in files if lab == label} for label in folders}
