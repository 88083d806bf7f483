"""A lazy view of a safetensors checkpoint: names, shapes and dtypes from the headers, tensors read on
demand from memory-mapped shards. Nothing is loaded until asked for, one tensor (or row block) at a time.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import torch
from safetensors import safe_open

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1}
TORCH_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
}


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
        count = 1
        for dim in self.shape:
            count *= dim
        return count * DTYPE_BYTES[self.dtype]


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file, checked against the file's size (catches truncation)."""
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
    return header


class Checkpoint:
    """Open with ``with Checkpoint(path) as ckpt:``; shards stay memory-mapped until the block ends."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise CheckpointError(f"no checkpoint folder at {self.path}")
        self.tensors: dict[str, TensorInfo] = {}
        for file in self._files():
            for name, meta in read_header(file).items():
                if name == "__metadata__":
                    continue
                if meta["dtype"] not in DTYPE_BYTES:
                    raise CheckpointError(f"{file}: tensor {name} has unsupported dtype {meta['dtype']}")
                if name in self.tensors:
                    raise CheckpointError(f"tensor {name} appears in two shards of {self.path}")
                self.tensors[name] = TensorInfo(name, tuple(meta["shape"]), meta["dtype"], file)
        self._stack = ExitStack()
        self._handles: dict[Path, Any] = {}

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

    def _handle(self, file: Path) -> Any:
        handle = self._handles.get(file)
        if handle is None:
            try:
                handle = self._stack.enter_context(safe_open(str(file), framework="pt"))
            except Exception as exc:  # noqa: BLE001 - safetensors raises its own untyped errors
                raise CheckpointError(f"cannot open {file}: {exc}") from None
            self._handles[file] = handle
        return handle

    def get(self, name: str) -> torch.Tensor:
        """The whole tensor, a view of the memory map (no copy until it is converted)."""
        return self._handle(self.tensors[name].file).get_tensor(name)  # type: ignore[no-any-return]

    def rows(self, name: str, start: int, stop: int) -> torch.Tensor:
        """Rows ``start:stop`` of a tensor: a row block of a large tensor without reading the rest."""
        info = self.tensors[name]
        if not info.shape:
            return self.get(name)
        return self._handle(info.file).get_slice(name)[start:stop]  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()
        self._handles.clear()
