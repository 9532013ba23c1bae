"""Loss values and their gradients with respect to the network output (shared.losses)."""

from __future__ import annotations

import numpy as np

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
    curriculum_threshold,
    huber,
    log_softmax,
)


def loss_and_output_grad(
    loss: Loss, pred: np.ndarray, y: np.ndarray, quantile: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(loss, d loss / d pred)``; the loss is a 0-d array of ``pred``'s dtype.

    ``quantile``: the curriculum's current q (read by ``PercentileCurriculum`` only)."""
    n = pred.size
    if isinstance(loss, MSE):
        diff = pred - y
        return np.mean(diff * diff), (2.0 / n) * diff
    if isinstance(loss, L1):
        diff = pred - y
        return np.mean(np.abs(diff)), np.sign(diff) / n
    if isinstance(loss, Huber):
        diff = pred - y
        # d huber / d e: e inside [-delta, delta], delta * sign(e) outside
        return np.mean(huber(diff, loss.delta)), np.clip(diff, -loss.delta, loss.delta) / n
    if isinstance(loss, SoftmaxCrossEntropy):
        return _softmax_cross_entropy(pred, y)
    if isinstance(loss, Ratio):
        denom = 1 + np.abs(y)
        ratio = (pred - y) / denom
        return np.mean(np.abs(ratio)), np.sign(ratio) / denom / n
    if isinstance(loss, PercentileCurriculum):
        return _percentile_curriculum(pred, y, quantile)
    if isinstance(loss, RewardShaped):
        return _reward_shaped(loss, pred, y)
    if isinstance(loss, BinaryCrossEntropy):
        p = np.clip(pred, loss.eps, 1 - loss.eps)
        value = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
        inside = (pred >= loss.eps) & (pred <= 1 - loss.eps)
        return value, inside * (p - y) / (p * (1 - p)) / n
    raise TypeError(f"unknown loss {loss!r}")


def _softmax_cross_entropy(pred: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the batch of ``-sum_c y_c log_softmax(pred)_c``; its gradient
    ``(softmax(pred) * sum_c y_c - y) / batch`` holds for any targets, not only those
    that sum to 1. The softmax is ``exp`` of the stable log-softmax: it never overflows."""
    batch = pred.shape[0]
    log_p = log_softmax(pred)
    value = np.mean(-np.sum(y * log_p, axis=-1))
    grad = (np.exp(log_p) * np.sum(y, axis=-1, keepdims=True) - y) / batch
    return value, grad


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


def _percentile_curriculum(
    pred: np.ndarray, y: np.ndarray, quantile: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``|r|`` of the examples at or below the batch's quantile (shared.losses)."""
    batch = pred.shape[0]
    denom = (1 + np.abs(y)).reshape(batch, -1)  # d ratio / d pred = 1 / denom
    features = denom.shape[1]
    r = np.mean((pred.reshape(batch, -1) - y.reshape(batch, -1)) / denom, axis=1)  # (batch,)
    abs_r = np.abs(r)
    kept = (abs_r <= curriculum_threshold(abs_r, quantile)).astype(pred.dtype)
    count = np.sum(kept)
    value = np.sum(abs_r * kept) / count
    d_abs_r = kept / count  # the threshold and the mask are constants
    grad = (d_abs_r * np.sign(r))[:, None] / denom / features
    return value, grad.reshape(pred.shape)
