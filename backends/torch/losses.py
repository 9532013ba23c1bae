"""The shared.losses specs with PyTorch ops; autograd supplies the gradients.

Each returned function maps ``(pred, target)``, both ``(batch, *out)``, to a 0-d tensor
of ``pred``'s dtype, the mean over every output element of the batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from shared.losses import MSE, BinaryCrossEntropy, Loss, RewardShaped

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(spec: Loss) -> LossFn:
    if isinstance(spec, MSE):
        return _mse
    if isinstance(spec, RewardShaped):
        return _reward_shaped(spec)
    if isinstance(spec, BinaryCrossEntropy):
        return _binary_cross_entropy(spec.eps)
    raise TypeError(f"unknown loss {spec!r}")


def _mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    diff = pred - target
    return torch.mean(diff * diff)


def _reward_shaped(spec: RewardShaped) -> LossFn:
    scale, temperature = spec.scale, spec.temperature
    coef, threshold = spec.penalty_coef, spec.penalty_threshold

    def reward_of(error: torch.Tensor) -> torch.Tensor:
        # error / -T is exactly -error / T (IEEE division is sign-symmetric), one op less.
        reward = torch.exp(error / -temperature) if spec.reward == "exp" else 1 - error
        return reward if scale == 1 else scale * reward  # 1 * r is exactly r

    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        error = torch.abs(pred - target)  # d|d|/dd = sign(d), 0 at 0, as in the reference
        if coef == 0:
            return torch.mean(-reward_of(error))  # the penalty term is exactly zero
        penalty = torch.where(error > threshold, coef * error, 0.0)
        return torch.mean(penalty - reward_of(error))

    return loss


def _binary_cross_entropy(eps: float) -> LossFn:
    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # clamp passes the gradient only inside [eps, 1 - eps], bounds included, like the
        # reference (torch.nn.functional.binary_cross_entropy clamps the log instead).
        p = torch.clamp(pred, eps, 1 - eps)
        return -torch.mean(target * torch.log(p) + (1 - target) * torch.log(1 - p))

    return loss
