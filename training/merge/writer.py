"""Write safetensors shards tensor by tensor, row block by row block, without holding a shard in memory.

``safetensors.torch.save_file`` needs every tensor of a file in memory at once; a merge knows every
output shape and dtype before it computes anything, so the header can be written first and the data
streamed after it. Peak memory then stays at a block, not a shard.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from .checkpoint import tensor_nbytes
from .kernels import STORAGE

SYNC_EVERY_BYTES = 256 << 20
"""Start writing the shard back to disk each time this much more is written: the final fsync then
waits for the last stretch only, instead of for the whole shard after the compute is done."""


@dataclass(frozen=True)
class OutTensor:
    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.shape, self.dtype)


def plan_shards(tensors: Sequence[OutTensor], max_bytes: int) -> list[list[OutTensor]]:
    """Consecutive groups of at most ``max_bytes`` (a larger tensor gets a shard of its own)."""
    shards: list[list[OutTensor]] = [[]]
    size = 0
    for tensor in tensors:
        if shards[-1] and size + tensor.nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(tensor)
        size += tensor.nbytes
    return [s for s in shards if s]


def shard_names(count: int) -> list[str]:
    if count == 1:
        return ["model.safetensors"]
    return [f"model-{i + 1:05d}-of-{count:05d}.safetensors" for i in range(count)]


class ShardWriter:
    """Writes one shard: header first, then each tensor's bytes in header order, in any number of blocks."""

    def __init__(self, path: Path, tensors: Sequence[OutTensor]) -> None:
        self.path = path
        self._order = list(tensors)
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for tensor in tensors:
            header[tensor.name] = {
                "dtype": tensor.dtype,
                "shape": list(tensor.shape),
                "data_offsets": [offset, offset + tensor.nbytes],
            }
            offset += tensor.nbytes
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # data starts 8-byte aligned, as safetensors writes it
        self._fh: BinaryIO = path.open("wb")
        self._fh.write(struct.pack("<Q", len(raw)) + raw)
        self._index = 0
        self._written = 0
        self._unsynced = 0
        self._syncer: threading.Thread | None = None

    def write(self, name: str, block: npt.NDArray[np.generic]) -> None:
        """Append the next rows of tensor ``name`` (blocks must come in order and add up exactly), as
        the numpy dtype of its safetensors dtype (``kernels.STORAGE``)."""
        expected = self._order[self._index]
        if name != expected.name or block.dtype != STORAGE[expected.dtype]:
            raise RuntimeError(f"shard writer expected {expected.name} ({expected.dtype}), got {name} ({block.dtype})")
        if block.size:
            # as bytes: the buffer protocol has no code for ml_dtypes' bfloat16
            self._fh.write(np.ascontiguousarray(block).reshape(-1).view(np.uint8).data)
            self._unsynced += block.nbytes
            if self._unsynced >= SYNC_EVERY_BYTES and (self._syncer is None or not self._syncer.is_alive()):
                self._start_sync()
        self._written += block.nbytes
        if self._written > expected.nbytes:
            raise RuntimeError(f"too many bytes for {name}")
        if self._written == expected.nbytes:
            self._index += 1
            self._written = 0

    def _start_sync(self) -> None:
        """Start writing back what is written so far, in a thread, while the merge goes on."""
        self._fh.flush()
        self._unsynced = 0
        self._syncer = threading.Thread(target=os.fdatasync, args=(self._fh.fileno(),), daemon=True)
        self._syncer.start()

    def _join_sync(self) -> None:
        if self._syncer is not None:
            self._syncer.join()
            self._syncer = None

    def close(self) -> None:
        if self._index != len(self._order):
            missing = self._order[self._index].name
            self._join_sync()
            self._fh.close()
            raise RuntimeError(f"shard {self.path.name} closed before {missing} was written")
        self._fh.flush()
        self._join_sync()
        os.fsync(self._fh.fileno())
        self._fh.close()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._join_sync()
            self._fh.close()
