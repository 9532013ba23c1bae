"""Loss values and their gradients with respect to the network output (shared.losses)."""

from __future__ import annotations

import numpy as np

from shared.losses import MSE, BinaryCrossEntropy, Loss, RewardShaped


def loss_and_output_grad(
    loss: Loss, pred: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(loss, d loss / d pred)``; the loss is a 0-d array of ``pred``'s dtype."""
    n = pred.size
    if isinstance(loss, MSE):
        diff = pred - y
        return np.mean(diff * diff), (2.0 / n) * diff
    if isinstance(loss, RewardShaped):
        return _reward_shaped(loss, pred, y)
    if isinstance(loss, BinaryCrossEntropy):
        p = np.clip(pred, loss.eps, 1 - loss.eps)
        value = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        inside = (pred >= loss.eps) & (pred <= 1 - loss.eps)
        return value, inside * (p - y) / (p * (1 - p)) / n
    raise TypeError(f"unknown loss {loss!r}")


def _reward_shaped(
    loss: RewardShaped, pred: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    diff = pred - y
    error = np.abs(diff)
    if loss.reward == "exp":
        reward = loss.scale * np.exp(-error / loss.temperature)
        d_reward = -reward / loss.temperature  # d reward / d error
    else:
        reward = loss.scale * (1 - error)
        d_reward = np.full_like(error, -loss.scale)
    active = error > loss.penalty_threshold
    penalty = loss.penalty_coef * error * active
    d_error = loss.penalty_coef * active - d_reward
    return np.mean(penalty - reward), d_error * np.sign(diff) / pred.size
