"""Per-sample loss and its derivative d loss / d output, on floats (see shared.losses)."""

from __future__ import annotations

import math

from shared.losses import MSE, Loss, RewardShaped
from shared.protocol import NotSupported


def sample_loss(loss: Loss, pred: float, target: float) -> tuple[float, float]:
    """``(loss, d loss / d pred)`` of one sample; the batch loss is their mean."""
    diff = pred - target
    if isinstance(loss, MSE):
        return diff * diff, 2.0 * diff
    if isinstance(loss, RewardShaped):
        error = abs(diff)
        if loss.reward == "exp":
            reward = loss.scale * math.exp(-error / loss.temperature)
            d_reward = -reward / loss.temperature
        else:
            reward = loss.scale * (1.0 - error)
            d_reward = -loss.scale
        coef = loss.penalty_coef if error > loss.penalty_threshold else 0.0
        sign = (diff > 0) - (diff < 0)
        return coef * error - reward, (coef - d_reward) * sign
    raise NotSupported(f"python backend has no loss {type(loss).__name__}")
