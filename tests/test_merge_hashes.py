"""Input digests for the merge's model card: hub blob names, the stat-keyed cache, and re-hashing
whenever a file may have changed."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from viscodex.training.merge import hashes
from viscodex.training.merge.hashes import DigestCache, file_sha256, hub_blob_sha256


def old_file(path: Path, data: bytes) -> Path:
    """A file whose mtime is an hour old (its ctime is now: no call can set it)."""
    path.write_bytes(data)
    past = time.time() - 3600
    os.utime(path, (past, past))
    return path


def test_hub_cache_symlink_names_its_sha256(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"weights").hexdigest()
    blobs = tmp_path / "models--org--m" / "blobs"
    snapshot = tmp_path / "models--org--m" / "snapshots" / "abc"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (blobs / digest).write_bytes(b"weights")
    (snapshot / "model.safetensors").symlink_to(blobs / digest)
    (blobs / ("1" * 40)).write_text("{}")  # a non-LFS file: named by its git sha1, not a sha256
    (snapshot / "config.json").symlink_to(blobs / ("1" * 40))
    assert hub_blob_sha256(snapshot / "model.safetensors") == digest
    assert hub_blob_sha256(snapshot / "config.json") is None
    got = file_sha256(snapshot / "model.safetensors", None)
    assert (got.sha256, got.source) == (digest, "hub")
    config = file_sha256(snapshot / "config.json", None)
    assert (config.sha256, config.source) == (hashlib.sha256(b"{}").hexdigest(), "hashed")


def test_cache_hit_after_one_hash_and_miss_after_any_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashes, "RACY_S", 0.0)  # utime() just set ctime to now; trust it for this test
    cache_file = tmp_path / "cache" / "sha256.json"
    path = old_file(tmp_path / "w.safetensors", b"a" * 1000)
    first = file_sha256(path, DigestCache(cache_file))
    assert first.source == "hashed"  # nothing cached, and the cache was not saved
    cache = DigestCache(cache_file)
    assert file_sha256(path, cache).source == "hashed"
    cache.save()
    again = file_sha256(path, DigestCache(cache_file))
    assert (again.sha256, again.source) == (first.sha256, "cache")

    # same size, same mtime, different bytes: ctime still changes, so it is hashed again
    stat = path.stat()
    time.sleep(0.1)  # past the file system's timestamp granularity (RACY_S covers this outside tests)
    with path.open("r+b") as fh:
        fh.write(b"b")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = file_sha256(path, DigestCache(cache_file))
    assert changed.source == "hashed"
    assert changed.sha256 == hashlib.sha256(b"b" + b"a" * 999).hexdigest()


def test_recently_changed_files_are_not_cached(tmp_path: Path) -> None:
    cache_file = tmp_path / "sha256.json"
    path = tmp_path / "fresh.bin"
    path.write_bytes(b"x")
    cache = DigestCache(cache_file)
    file_sha256(path, cache)
    cache.save()
    assert file_sha256(path, DigestCache(cache_file)).source == "hashed"


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"/x": "y"}'])
def test_a_broken_cache_file_only_costs_a_rehash(tmp_path: Path, content: str) -> None:
    cache_file = tmp_path / "sha256.json"
    cache_file.write_text(content)
    path = old_file(tmp_path / "w.bin", b"data")
    got = file_sha256(path, DigestCache(cache_file))
    assert (got.sha256, got.source) == (hashlib.sha256(b"data").hexdigest(), "hashed")


@pytest.mark.parametrize("size", [0, 1, hashes.MAP_WINDOW - 1, hashes.MAP_WINDOW, 2 * hashes.MAP_WINDOW + 12345])
def test_sha256_through_map_windows_equals_hashlib(tmp_path: Path, size: int) -> None:
    path = tmp_path / "blob.bin"
    data = (b"viscodex" * (size // 8 + 1))[:size]
    path.write_bytes(data)
    assert hashes.sha256_of(path) == hashlib.sha256(data).hexdigest()
