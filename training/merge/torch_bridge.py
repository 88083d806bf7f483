"""numpy storage arrays <-> float32 torch tensors, for the merge methods written in torch (TIES, DARE).

Kept apart so that only those methods import torch: the weighted-sum methods never load it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt
import torch

from .kernels import STORAGE

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


def to_torch_f32(raw: npt.NDArray[np.generic], dtype: str) -> torch.Tensor:
    """A float32 copy of ``raw`` (storage of safetensors ``dtype``): the copy outlives the read buffer."""
    if dtype == "BF16":  # torch does not know ml_dtypes' bfloat16: go through its bits
        tensor = torch.from_numpy(np.ascontiguousarray(raw).view(np.int16)).view(torch.bfloat16)
    else:
        tensor = torch.from_numpy(np.ascontiguousarray(raw))
    return tensor.to(torch.float32, copy=True)


def from_torch_f32(tensor: torch.Tensor, dtype: str) -> npt.NDArray[np.generic]:
    """``tensor`` rounded to safetensors ``dtype`` (torch's rounding), as that dtype's numpy storage."""
    narrowed = tensor.to(TORCH_DTYPES[dtype]).contiguous()
    if dtype == "BF16":
        return narrowed.view(torch.int16).numpy().view(STORAGE[dtype])
    return narrowed.numpy()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread: on 1 MiB blocks more threads only add synchronisation (see
    bench/RESULTS.md, merge), and the other core hashes the inputs alongside."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
