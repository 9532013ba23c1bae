"""The shared.losses specs with PyTorch ops; autograd supplies the gradients.

Each returned function maps ``(pred, target, quantile)``, pred and target
``(batch, *out)``, to a 0-d tensor of ``pred``'s dtype. ``quantile`` is the model's
``(1,)`` tensor holding the curriculum's q (filled in place, so compiled code reads the
new value without recompiling); only ``PercentileCurriculum`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from shared.losses import (
    L1,
    MSE,
    BinaryCrossEntropy,
    Huber,
    Loss,
    PercentileCurriculum,
    Ratio,
    RewardShaped,
    SoftmaxCrossEntropy,
)

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(spec: Loss) -> LossFn:
    if isinstance(spec, MSE):
        return _mse
    if isinstance(spec, L1):
        return _l1
    if isinstance(spec, Ratio):
        return _ratio
    if isinstance(spec, PercentileCurriculum):
        return _percentile_curriculum
    if isinstance(spec, RewardShaped):
        return _reward_shaped(spec)
    if isinstance(spec, BinaryCrossEntropy):
        return _binary_cross_entropy(spec.eps)
    if isinstance(spec, Huber):
        return _huber(spec.delta)
    if isinstance(spec, SoftmaxCrossEntropy):
        return _softmax_cross_entropy
    raise TypeError(f"unknown loss {spec!r}")


def _mse(pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor) -> torch.Tensor:
    diff = pred - target
    return torch.mean(diff * diff)


def _l1(pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.abs(pred - target))


def _ratio(pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor) -> torch.Tensor:
    return torch.mean(torch.abs((pred - target) / (1 + torch.abs(target))))


def _percentile_curriculum(
    pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor
) -> torch.Tensor:
    """Mean ``|r|`` of the examples at or below the batch's q-th quantile (shared.losses)."""
    batch = pred.shape[0]
    ratio = (pred - target) / (1 + torch.abs(target))
    abs_r = torch.abs(ratio.reshape(batch, -1).mean(dim=1))  # (batch,)
    a = abs_r.detach()  # the threshold and the mask are constants for the gradient
    s = torch.sort(a).values
    pos = quantile * (batch - 1)  # (1,), in the model's dtype
    lo_float = torch.floor(pos)
    lo = lo_float.long()
    hi = torch.clamp(lo + 1, max=batch - 1)
    threshold = s[lo] + (pos - lo_float) * (s[hi] - s[lo])
    kept = (a <= threshold).to(pred.dtype)
    return torch.sum(abs_r * kept) / torch.sum(kept)


def _reward_shaped(spec: RewardShaped) -> LossFn:
    scale, temperature = spec.scale, spec.temperature
    coef, threshold = spec.penalty_coef, spec.penalty_threshold

    def reward_of(error: torch.Tensor) -> torch.Tensor:
        # error / -T is exactly -error / T (IEEE division is sign-symmetric), one op less.
        reward = torch.exp(error / -temperature) if spec.reward == "exp" else 1 - error
        return reward if scale == 1 else scale * reward  # 1 * r is exactly r

    def loss(pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor) -> torch.Tensor:
        error = torch.abs(pred - target)  # d|d|/dd = sign(d), 0 at 0, as in the reference
        if coef == 0:
            return torch.mean(-reward_of(error))  # the penalty term is exactly zero
        penalty = torch.where(error > threshold, coef * error, 0.0)
        return torch.mean(penalty - reward_of(error))

    return loss


def _binary_cross_entropy(eps: float) -> LossFn:
    def loss(pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor) -> torch.Tensor:
        # clamp passes the gradient only inside [eps, 1 - eps], bounds included, like the
        # reference (torch.nn.functional.binary_cross_entropy clamps the log instead).
        p = torch.clamp(pred, eps, 1 - eps)
        return -torch.mean(target * torch.log(p) + (1 - target) * torch.log(1 - p))

    return loss


def _huber(delta: float) -> LossFn:
    def loss(pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor) -> torch.Tensor:
        # F.huber_loss is the spec's function itself (0.5 * e**2 inside delta, then
        # delta * (|e| - delta / 2)). smooth_l1_loss(beta=delta) * delta is the same
        # function only up to rounding: it divides by beta, then multiplies by delta.
        return F.huber_loss(pred, target, reduction="mean", delta=delta)

    return loss


def _softmax_cross_entropy(
    pred: torch.Tensor, target: torch.Tensor, quantile: torch.Tensor
) -> torch.Tensor:
    # With probability targets (same shape as pred), F.cross_entropy is
    # -sum(target * log_softmax(pred), dim=1) per example and "mean" divides by the
    # batch size: the spec. Its gradient, through log_softmax's backward, is
    # (softmax * sum(target) - target) / batch, for any targets.
    return F.cross_entropy(pred, target, reduction="mean")
