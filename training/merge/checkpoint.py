"""A lazy view of a safetensors checkpoint: names, shapes and dtypes from the headers, tensors read on
demand with ``pread``. Nothing is loaded until asked for, one tensor (or row block) at a time, as numpy
arrays (``kernels.STORAGE``: bfloat16 from ml_dtypes), so reading needs no torch.
"""

from __future__ import annotations

import json
import math
import os
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from .kernels import STORAGE

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
DTYPE_BYTES = {name: dtype.itemsize for name, dtype in STORAGE.items()}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read: missing files, a corrupt shard, an index that lies."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    """safetensors' dtype name (F32, BF16, ...)."""
    file: Path

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.shape, self.dtype)


def tensor_nbytes(shape: tuple[int, ...], dtype: str) -> int:
    """Bytes of a tensor of this shape and safetensors dtype (a 0-d tensor holds one element)."""
    return math.prod(shape) * DTYPE_BYTES[dtype]


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, checked against the file's size (catches truncation)."""
    return _read_header(path)[0]


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The header and where the data starts (8-byte length prefix plus the header itself)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise CheckpointError(f"{path} is not a safetensors file (shorter than 8 bytes)")
            (size,) = struct.unpack("<Q", raw)
            if size > 100_000_000:
                raise CheckpointError(f"{path} is not a safetensors file (header length {size})")
            header: dict[str, Any] = json.loads(fh.read(size))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read the safetensors header of {path}: {exc}") from None
    data_len = path.stat().st_size - 8 - size
    ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    if ends and max(ends) > data_len:
        raise CheckpointError(
            f"{path} is truncated or corrupt: its header needs {max(ends)} data bytes, the file has {data_len}"
        )
    return header, 8 + size


class Checkpoint:
    """Open with ``with Checkpoint(path) as ckpt:``; reads row blocks with ``pread`` into a reused buffer.

    Not a memory map: mapped pages a merge has touched count towards its resident memory until the
    map is closed, so mapping three 15 GB checkpoints makes a streaming merge look (and, under memory
    pressure, behave) like one that loads them. ``pread`` leaves the pages in the page cache, shared
    and reclaimable, and keeps resident memory at one block per input.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise CheckpointError(f"no checkpoint folder at {self.path}")
        self.tensors: dict[str, TensorInfo] = {}
        self._offsets: dict[str, int] = {}
        for file in self._files():
            header, data_start = _read_header(file)
            for name, meta in header.items():
                if name == "__metadata__":
                    continue
                if meta["dtype"] not in DTYPE_BYTES:
                    raise CheckpointError(f"{file}: tensor {name} has unsupported dtype {meta['dtype']}")
                if name in self.tensors:
                    raise CheckpointError(f"tensor {name} appears in two shards of {self.path}")
                self.tensors[name] = TensorInfo(name, tuple(meta["shape"]), meta["dtype"], file)
                self._offsets[name] = data_start + int(meta["data_offsets"][0])
        self._fds: dict[Path, int] = {}
        self._fd_lock = threading.Lock()
        self._local = threading.local()
        """Each thread reads into a buffer of its own, so merge workers can read in parallel."""

    def _files(self) -> list[Path]:
        index = self.path / INDEX
        if index.is_file():
            try:
                weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
            except (ValueError, KeyError) as exc:
                raise CheckpointError(f"{index} is not a safetensors index: {exc}") from None
            files = sorted({self.path / f for f in weight_map.values()})
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise CheckpointError(f"{self.path} is missing shards named in its index: {missing}")
            return files
        if (self.path / SINGLE).is_file():
            return [self.path / SINGLE]
        found = sorted(self.path.glob("*.safetensors"))
        if not found:
            raise CheckpointError(f"no safetensors weights in {self.path}")
        return found

    def config(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.path / "config.json").read_text())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"cannot read {self.path / 'config.json'}: {exc}") from None
        return data

    def _fd(self, file: Path) -> int:
        fd = self._fds.get(file)
        if fd is None:
            with self._fd_lock:
                fd = self._fds.get(file)
                if fd is None:
                    try:
                        fd = os.open(file, os.O_RDONLY)
                    except OSError as exc:
                        raise CheckpointError(f"cannot open {file}: {exc}") from None
                    self._fds[file] = fd
        return fd

    def rows(self, name: str, start: int, stop: int) -> npt.NDArray[np.generic]:
        """Rows ``start:stop`` of a tensor (the whole of a 0-d tensor), read into this thread's buffer
        of this checkpoint: valid until this thread's next read from it, so use or copy it before that."""
        info = self.tensors[name]
        row_elems = math.prod(info.shape[1:]) if info.shape else 1
        width = DTYPE_BYTES[info.dtype]
        if not info.shape:
            start, stop = 0, 1
        nbytes = (stop - start) * row_elems * width
        buffer: bytearray = getattr(self._local, "buffer", bytearray())
        if len(buffer) < nbytes:
            buffer = self._local.buffer = bytearray(nbytes)
        view = memoryview(buffer)[:nbytes]
        offset = self._offsets[name] + start * row_elems * width
        got = os.preadv(self._fd(info.file), [view], offset) if nbytes else 0
        if got != nbytes:
            raise CheckpointError(f"{info.file} ended early while reading {name}")
        flat = np.frombuffer(view, dtype=STORAGE[info.dtype])
        shape = (stop - start, *info.shape[1:]) if info.shape else ()
        return flat.reshape(shape)

    def get(self, name: str) -> npt.NDArray[np.generic]:
        """The whole tensor (same buffer rules as ``rows``)."""
        info = self.tensors[name]
        return self.rows(name, 0, info.shape[0] if info.shape else 1)

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
