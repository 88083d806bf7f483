"""Merge methods as small registered classes, each a pure function of float32 tensors.

Every method sees one block of rows of one tensor at a time: the base's, and each model's (VLM first,
then code), with one weight per model. Methods that need a whole tensor (TIES: its magnitude threshold
is per tensor) say so and get whole tensors.

Methods that are a fixed weighted sum of their inputs (task arithmetic, linear) also say so with
``linear_terms``; the engine then computes them with the numpy kernels and never imports torch. Their
torch ``merge`` stays as the readable definition the kernels are tested against.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final, Literal, get_args

if TYPE_CHECKING:
    import torch

    from .recipe import MergeParameters

MethodName = Literal["task_arithmetic", "linear", "ties", "dare"]
"""The registered methods' names, in ``METHODS``' order: the recipe's ``method`` and the CLI's
``--method`` choices are this type. Written out for the type checker; the registry is checked against it
when this module is imported. (Light on purpose: the CLI imports it to build its choices.)"""
METHOD_NAMES: Final[tuple[MethodName, ...]] = get_args(MethodName)


@dataclass(frozen=True)
class BlockContext:
    """Where a block sits, for methods that draw random numbers (DARE): same place, same draw."""

    tensor: str
    row_start: int
    seed: int

    def generator(self, model_index: int) -> torch.Generator:
        import torch

        key = f"{self.seed}:{self.tensor}:{self.row_start}:{model_index}".encode()
        return torch.Generator().manual_seed(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))


class MergeMethod(ABC):
    name: ClassVar[MethodName]
    whole_tensors: ClassVar[bool] = False

    def __init__(self, params: MergeParameters) -> None:
        self.params = params

    def needs_base(self, weights: Sequence[float]) -> bool:
        """Whether ``merge`` uses the base at all for these weights (if not, it is not read)."""
        return True

    def linear_terms(self, weights: Sequence[float]) -> tuple[tuple[float, ...], float] | None:
        """(a coefficient per model, the base's coefficient) when ``merge`` is exactly
        ``sum_i c_i model_i + c_base base`` summed in that order; None for anything else."""
        return None

    @abstractmethod
    def merge(
        self, base: torch.Tensor, models: Sequence[torch.Tensor], weights: Sequence[float], ctx: BlockContext
    ) -> torch.Tensor: ...


METHODS: dict[MethodName, type[MergeMethod]] = {}


def register(cls: type[MergeMethod]) -> type[MergeMethod]:
    METHODS[cls.name] = cls
    return cls


@register
class TaskArithmetic(MergeMethod):
    """theta = base + sum_i w_i (theta_i - base); with weights (lam, 1 - lam) the VisCodex rule
    theta_base + lam (theta_vlm - theta_base) + (1 - lam) (theta_code - theta_base).

    Computed in the expanded form sum_i w_i theta_i + (1 - sum_i w_i) base, which is the same sum but
    exact at the ends: lam = 1 gives the VLM's tensor bit for bit (1 * vlm + 0 * code), where
    base + (vlm - base) would round. The unexpanded form agrees to float32 rounding (tested). When the
    weights sum to 1 the base term is zero and skipped (so an inf in the base no longer turns into NaN).
    """

    name = "task_arithmetic"

    def needs_base(self, weights: Sequence[float]) -> bool:
        return 1.0 - sum(weights) != 0.0

    def linear_terms(self, weights: Sequence[float]) -> tuple[tuple[float, ...], float] | None:
        return tuple(weights), 1.0 - sum(weights)

    def merge(
        self, base: torch.Tensor, models: Sequence[torch.Tensor], weights: Sequence[float], ctx: BlockContext
    ) -> torch.Tensor:
        out = models[0] * weights[0]
        for model, weight in zip(models[1:], weights[1:], strict=True):
            out.add_(model * weight)
        rest = 1.0 - sum(weights)
        if rest != 0.0:  # (lam, 1 - lam) sums to 1: the base drops out and is not even read
            out.add_(base * rest)
        return out


@register
class Linear(MergeMethod):
    """theta = sum_i w_i theta_i / sum_i w_i: a weighted average that ignores the base."""

    name = "linear"

    def needs_base(self, weights: Sequence[float]) -> bool:
        return False

    def linear_terms(self, weights: Sequence[float]) -> tuple[tuple[float, ...], float] | None:
        total = sum(weights)
        if total == 0:
            raise ValueError("linear merge weights sum to zero")
        return tuple(weight / total for weight in weights), 0.0

    def merge(
        self, base: torch.Tensor, models: Sequence[torch.Tensor], weights: Sequence[float], ctx: BlockContext
    ) -> torch.Tensor:
        total = sum(weights)
        if total == 0:
            raise ValueError("linear merge weights sum to zero")
        out = models[0] * (weights[0] / total)
        for model, weight in zip(models[1:], weights[1:], strict=True):
            out += model * (weight / total)
        return out


def _trim(delta: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the ``density`` fraction of entries with the largest magnitude (TIES' trim step)."""
    import torch

    if density >= 1.0:
        return delta
    k = int(delta.numel() * density)
    if k <= 0:
        return torch.zeros_like(delta)
    threshold = delta.abs().flatten().kthvalue(delta.numel() - k + 1).values
    return torch.where(delta.abs() >= threshold, delta, torch.zeros_like(delta))


def _sign_consensus(deltas: list[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """TIES' disjoint merge: average only the entries whose sign agrees with the elected sign."""
    import torch

    weighted = [w * d for d, w in zip(deltas, weights, strict=True)]
    elected = torch.sign(torch.stack(weighted).sum(dim=0))
    agree = [(torch.sign(d) == elected) & (d != 0) for d in deltas]
    numerator = sum((w * d * a for w, d, a in zip(weights, deltas, agree, strict=True)), torch.zeros_like(deltas[0]))
    denominator = sum((w * a.float() for w, a in zip(weights, agree, strict=True)), torch.zeros_like(deltas[0]))
    return torch.where(denominator != 0, numerator / denominator.clamp_min(1e-12), torch.zeros_like(numerator))


@register
class Ties(MergeMethod):
    """TIES-merging (Yadav et al. 2023): trim each task vector to ``density``, elect a sign per entry,
    average the agreeing entries, scale by ``scale``. Needs whole tensors for the magnitude threshold."""

    name = "ties"
    whole_tensors = True

    def merge(
        self, base: torch.Tensor, models: Sequence[torch.Tensor], weights: Sequence[float], ctx: BlockContext
    ) -> torch.Tensor:
        deltas = [_trim(model - base, self.params.density) for model in models]
        return base + self.params.scale * _sign_consensus(deltas, weights)


@register
class Dare(MergeMethod):
    """DARE (Yu et al. 2024): drop each task-vector entry with probability 1 - ``density`` (seeded, so a
    recipe is reproducible), rescale the rest by 1 / density, then add them as task arithmetic, or with
    TIES' sign consensus when ``sign_consensus`` is set (dare_ties)."""

    name = "dare"

    def merge(
        self, base: torch.Tensor, models: Sequence[torch.Tensor], weights: Sequence[float], ctx: BlockContext
    ) -> torch.Tensor:
        import torch

        density = self.params.density
        deltas = []
        for index, model in enumerate(models):
            delta = model - base
            if density < 1.0:
                keep = torch.rand(delta.shape, generator=ctx.generator(index)) < density
                delta = torch.where(keep, delta / density, torch.zeros_like(delta))
            deltas.append(delta)
        if self.params.sign_consensus:
            return base + self.params.scale * _sign_consensus(deltas, weights)
        out = base.clone()
        for delta, weight in zip(deltas, weights, strict=True):
            out += weight * delta
        return out


if tuple(METHODS) != METHOD_NAMES:
    raise RuntimeError(f"merge methods registered {tuple(METHODS)} but MethodName lists {METHOD_NAMES}")
