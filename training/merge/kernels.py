"""The arithmetic of linear merges in numpy: widen each input block to float32, combine, round back.

Task arithmetic and linear merges are weighted sums, and a merge spends nearly all its time on them.
Doing them in numpy rather than torch keeps ``viscodex-train merge`` from importing torch at all (seconds
of start-up, as long as the whole merge loop of a small model: ``bench/RESULTS.md``); torch is imported only for
the methods that need it (TIES, DARE). The results are bit-identical to torch's: the same float32
products and sums in the same order, and the same round-to-nearest-even back to bfloat16 (tested).

numpy has no bfloat16 of its own; ``ml_dtypes`` (JAX's) adds one with vectorised casts, well under a
nanosecond an element; the same casts written as numpy integer shifts (round to nearest even by hand)
made the whole weighted sum several times slower (measured: ``bench/RESULTS.md``, merge).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ml_dtypes
import numpy as np
import numpy.typing as npt

STORAGE: dict[str, np.dtype[np.generic]] = {
    "F64": np.dtype(np.float64),
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype(np.int64),
    "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16),
    "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8),
}
"""safetensors dtype name -> the numpy dtype of its bytes."""

F32Array = npt.NDArray[np.float32]


def to_f32(raw: npt.NDArray[np.generic], out: F32Array) -> F32Array:
    """``raw`` as float32 in ``out`` (same element count): exact from bfloat16 and float16."""
    np.copyto(out, raw.reshape(-1), casting="unsafe")
    return out


def from_f32(acc: F32Array, out: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """``acc`` narrowed to ``out``'s dtype, rounding to nearest even (as torch's ``Tensor.to``)."""
    np.copyto(out, acc, casting="unsafe")
    return out


class LinearKernel:
    """Reusable float32 work buffers for ``sum_i c_i x_i`` over blocks of up to ``capacity`` elements."""

    def __init__(self, capacity: int) -> None:
        self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        self.capacity = capacity
        self._acc: F32Array = np.empty(capacity, np.float32)
        self._term: F32Array = np.empty(capacity, np.float32)

    def combine(
        self,
        blocks: Iterable[npt.NDArray[np.generic]],
        coefficients: Sequence[float],
        out: npt.NDArray[np.generic],
    ) -> npt.NDArray[np.generic]:
        """``sum_i coefficients[i] * blocks[i]`` in float32, in this order (as torch's ``out = x0 * c0;
        out.add_(x1 * c1)``), rounded into ``out`` (flat; its dtype is the output's). ``blocks`` may be
        lazy: each is widened before the next is taken, so they may share a read buffer."""
        if out.size > self.capacity:
            self._grow(out.size)
        acc, term = self._acc[: out.size], self._term[: out.size]
        with np.errstate(all="ignore"):  # inf * 0 and the like: NaN, as in torch, without a warning
            for index, (raw, coefficient) in enumerate(zip(blocks, coefficients, strict=True)):
                target = acc if index == 0 else term
                to_f32(raw, target)
                np.multiply(target, np.float32(coefficient), out=target)
                if index:
                    np.add(acc, term, out=acc)
            return from_f32(acc, out)

    def convert(self, raw: npt.NDArray[np.generic], out: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """``raw`` re-stored in ``out``'s dtype through float32 (as torch's ``Tensor.to``)."""
        if out.size > self.capacity:
            self._grow(out.size)
        with np.errstate(all="ignore"):
            return from_f32(to_f32(raw, self._acc[: out.size]), out)
