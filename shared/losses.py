"""Loss specs. Every loss reduces by the mean over all output elements of the batch,
except ``SoftmaxCrossEntropy`` (a mean over the examples: it sums over the classes) and
``PercentileCurriculum`` (a mean over the examples it keeps).

- ``MSE``: ``mean((pred - target)**2)``.
- ``RewardShaped`` (copy-net's "reinforcement approach"), with ``e = |pred - target|``::

      reward  = scale * exp(-e / temperature)     (reward="exp")
              = scale * (1 - e)                   (reward="linear")
      penalty = penalty_coef * e  where e > penalty_threshold, else 0
      loss    = mean(penalty - reward)

- ``BinaryCrossEntropy`` on probabilities (the output layer applies the sigmoid)::

      p = clip(pred, eps, 1 - eps)
      loss = mean(-(target * log(p) + (1 - target) * log(1 - p)))

- ``L1``: ``mean(|pred - target|)`` (mean absolute error; Breen et al.'s loss).
- ``Huber`` (DQN's loss), with ``e = pred - target``::

      huber(e) = 0.5 * e**2                      where |e| <= delta
               = delta * (|e| - 0.5 * delta)     elsewhere
      loss = mean(huber(e))

  Keras's ``Huber``, Optax's ``huber_loss`` and PyTorch's ``huber_loss`` compute exactly
  this; PyTorch's ``smooth_l1_loss`` with ``beta = delta`` is ``huber / delta`` (the same
  function at the DQN's delta = 1).
- ``SoftmaxCrossEntropy`` on logits (the output layer is linear): pred are logits
  ``(batch, classes)``, target a probability vector per example (one-hot for labels),
  ``(batch, classes)``::

      log_softmax(z) = z - max(z) - log(sum(exp(z - max(z))))     (per example)
      loss = mean over the batch of -sum_c target_c * log_softmax(pred)_c

  A mean over the ``batch`` examples, not over the ``batch * classes`` elements. Its
  gradient is ``(softmax(pred) * sum_c target_c - target) / batch``, i.e.
  ``(softmax(pred) - target) / batch`` when each target sums to 1. PyTorch's
  ``cross_entropy`` (probability targets, mean reduction), Optax's
  ``softmax_cross_entropy`` (then a mean) and Keras's ``categorical_crossentropy`` with
  ``from_logits=True`` (then Keras's mean over the batch) compute exactly this value.
  Their gradients agree for targets that sum to 1; for other targets TensorFlow's
  fused kernel (Keras on TensorFlow) gives ``softmax(pred) - target`` instead. So the
  targets must be probability vectors: every backend refuses others where they enter
  (``check_targets``: ``prepare``, ``train_step``, ``loss_and_grads``, ``loss_value``).

Kinks: where a loss's derivative jumps, the spec picks it, and every backend follows
(tests/parity_boundaries.py puts outputs exactly on each kink, in both dtypes):

- ``|x|`` (L1, Ratio, the reward-shaped error, the curriculum's ``|r|``): derivative
  ``sign(x)``, 0 at ``x = 0``. (``jnp.abs`` alone has 1 there.)
- BCE's clip passes the whole gradient on the closed interval ``[eps, 1 - eps]``, bounds
  included, and none outside. The bounds are ``eps`` and ``1 - eps`` computed in float64
  and rounded to the model's dtype: in float32, ``1 - 1e-7`` is 0.99999988, which a
  sigmoid reaches for logits from about 15.7 to 16.2. (``jnp.clip`` alone passes half
  the gradient at a bound.)
- The reward-shaped penalty applies where ``e > penalty_threshold`` (strictly): at the
  threshold, neither the penalty nor its derivative.
- Huber at ``|e| = delta``: the quadratic branch; both branches have the derivative
  ``e`` there, so the value and the derivative are continuous.
- The curriculum keeps ties at the threshold (below). The softmax's max shift has no
  kink: its derivative cancels exactly.

The N-body source's family (reference.md section 4), with the relative error
``ratio = (pred - target) / (1 + |target|)`` per element:

- ``Ratio``: ``mean(|ratio|)``.
- ``PercentileCurriculum``: per example ``r = mean of ratio over its features`` (signed,
  as the source takes ``|r|`` after the mean); only the examples whose ``|r|`` is at most
  the batch's q-th quantile count: ``loss = mean(|r|)`` over those. q grows with the
  epoch (``PercentileCurriculum.quantile``); the backend holds the current q as a
  variable (``Model.set_loss_quantile``), so changing it never retraces.

The curriculum's quantile rule, identical in every backend (``curriculum_threshold``
is the NumPy statement of it). With ``a = |r|`` of the ``n`` examples of the batch,
sorted ascending into ``s``, in the model's dtype::

    pos = q * (n - 1) ;  lo = floor(pos) ;  hi = min(lo + 1, n - 1) ;  frac = pos - lo
    threshold = s[lo] + frac * (s[hi] - s[lo])        (linear interpolation, NumPy's
                                                       default method, written out)
    kept = a <= threshold                             (ties at the threshold are kept;
                                                       at q = 1 every example is)
    loss = sum(a * kept) / sum(kept)

``threshold`` and ``kept`` are constants for differentiation: the gradient flows only
through the ``a`` of the kept examples. Since ``s[lo] <= threshold <= s[hi]``, the kept
examples are always the ``lo + 1`` smallest (with any ties of ``s[lo]``, and of
``s[hi]`` when ``frac`` is 1): the interpolation sets the threshold's value, ``floor``
sets who counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from shared.specs import SpecError


@dataclass(frozen=True)
class MSE:
    """Mean squared error."""


@dataclass(frozen=True)
class RewardShaped:
    """Reward-shaped regression loss: minimise penalty - reward (see module docstring)."""

    reward: Literal["exp", "linear"]
    scale: float = 1.0
    temperature: float = 1.0
    penalty_coef: float = 0.0
    penalty_threshold: float = 0.0

    def __post_init__(self) -> None:
        if self.reward not in ("exp", "linear"):
            raise SpecError(f"reward must be 'exp' or 'linear', got {self.reward!r}")
        if not self.temperature > 0:
            raise SpecError(f"temperature must be positive, got {self.temperature}")
        if self.penalty_coef < 0 or self.penalty_threshold < 0:
            raise SpecError("penalty_coef and penalty_threshold must be >= 0")


@dataclass(frozen=True)
class BinaryCrossEntropy:
    """Cross-entropy of probabilities clipped to ``[eps, 1 - eps]`` (Keras's 1e-7)."""

    eps: float = 1e-7

    def __post_init__(self) -> None:
        if not 0 < self.eps < 0.5:
            raise SpecError(f"eps must be in (0, 0.5), got {self.eps}")


@dataclass(frozen=True)
class L1:
    """Mean absolute error."""


@dataclass(frozen=True)
class Huber:
    """Mean Huber loss with threshold ``delta`` (see the module docstring)."""

    delta: float = 1.0

    def __post_init__(self) -> None:
        if not self.delta > 0:
            raise SpecError(f"Huber delta must be positive, got {self.delta}")


@dataclass(frozen=True)
class SoftmaxCrossEntropy:
    """Mean over the batch of the cross-entropy of ``softmax(pred)`` (logits) against
    probability targets (see the module docstring)."""


@dataclass(frozen=True)
class Ratio:
    """The source's ratio loss: ``mean(|pred - target| / (1 + |target|))``."""


@dataclass(frozen=True)
class PercentileCurriculum:
    """The source's percentile curriculum on the ratio (see the module docstring).

    At epoch ``e`` of ``E`` (counted from 0) the kept quantile is
    ``q = min(1, (e / E) / ramp * (1 - start) + start)``: ``start`` at the first epoch,
    1 from ``ramp * E`` on. The source's values are start 0.1 and ramp 0.5, i.e.
    ``q = min(1, 2 * (e / E) * (1 - 0.1) + 0.1)``.
    """

    start: float = 0.1
    ramp: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.start <= 1:
            raise SpecError(f"curriculum start quantile must be in (0, 1], got {self.start}")
        if not 0 < self.ramp <= 1:
            raise SpecError(f"curriculum ramp must be in (0, 1], got {self.ramp}")

    def quantile(self, epoch: int, epochs: int) -> float:
        return min(1.0, (epoch / epochs) / self.ramp * (1 - self.start) + self.start)


Loss = (
    MSE
    | RewardShaped
    | BinaryCrossEntropy
    | L1
    | Huber
    | SoftmaxCrossEntropy
    | Ratio
    | PercentileCurriculum
)


def check_targets(loss: Loss, target: np.ndarray) -> None:
    """Raise SpecError unless ``target`` suits ``loss``; only ``SoftmaxCrossEntropy``
    restricts it: each example's target, the last axis of ``(..., classes)``, must be a
    probability vector (finite, non-negative, summing to 1 within ``classes`` units of
    rounding of its dtype; float64 for integer targets). The message names the first
    bad example's index."""
    if not isinstance(loss, SoftmaxCrossEntropy):
        return
    target = np.asarray(target)
    if target.ndim < 2 or not np.issubdtype(target.dtype, np.number):
        raise SpecError(
            f"softmax cross-entropy targets must be (..., classes) numbers, got "
            f"{target.dtype} {target.shape}"
        )
    dtype = target.dtype if np.issubdtype(target.dtype, np.floating) else np.float64
    classes = target.shape[-1]
    total = np.sum(target, axis=-1, dtype=dtype)
    ok = np.all(target >= 0, axis=-1) & (np.abs(total - 1) <= classes * np.finfo(dtype).eps)
    if not np.all(ok):  # NaN fails both tests
        index = np.unravel_index(np.argmin(ok), ok.shape)
        where = index[0] if len(index) == 1 else tuple(int(i) for i in index)
        raise SpecError(
            "softmax cross-entropy targets must be probability vectors (non-negative, "
            f"summing to 1 per example): example {where} has minimum "
            f"{float(np.min(target[index])):.9g} and sum {float(total[index]):.9g}"
        )


def initial_quantile(loss: Loss) -> float:
    """The curriculum quantile a freshly built model holds: the first epoch's q (1 for a
    loss without a curriculum, where it is never read)."""
    return loss.start if isinstance(loss, PercentileCurriculum) else 1.0


def loss_quantiles(loss: Loss, epochs: int) -> np.ndarray | None:
    """The curriculum quantile of each epoch, ``(epochs,)`` float64, computed once for all
    backends; None for a loss without a curriculum."""
    if not isinstance(loss, PercentileCurriculum):
        return None
    return np.array([loss.quantile(epoch, epochs) for epoch in range(epochs)])


def curriculum_threshold(abs_r: np.ndarray, q: float) -> np.ndarray:
    """The rule of the module docstring in NumPy, in ``abs_r``'s dtype: the threshold
    on ``abs_r`` ``(n,)`` below which (inclusive) examples are kept, as a 0-d array."""
    dtype = abs_r.dtype.type
    s = np.sort(abs_r)
    n = s.shape[0]
    pos = dtype(q) * dtype(n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - dtype(lo)
    return s[lo] + frac * (s[hi] - s[lo])


def huber(error: np.ndarray, delta: float) -> np.ndarray:
    """Elementwise Huber function of ``error`` (the module docstring's rule), same shape."""
    magnitude = np.abs(error)
    return np.where(magnitude <= delta, 0.5 * error * error, delta * (magnitude - 0.5 * delta))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """The module docstring's stable ``log_softmax`` over the last axis, same shape."""
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def loss_value(loss: Loss, pred: np.ndarray, target: np.ndarray, quantile: float = 1.0) -> float:
    """The value of the N-body family's losses (and MSE, L1, Huber, softmax cross-entropy)
    in NumPy, for metrics computed outside any framework (validation losses); the
    curriculum at ``quantile``."""
    if isinstance(loss, SoftmaxCrossEntropy):
        check_targets(loss, target)
        return float(np.mean(-np.sum(target * log_softmax(pred), axis=-1)))
    diff = pred - target
    if isinstance(loss, MSE):
        return float(np.mean(diff * diff))
    if isinstance(loss, L1):
        return float(np.mean(np.abs(diff)))
    if isinstance(loss, Huber):
        return float(np.mean(huber(diff, loss.delta)))
    ratio = diff / (1 + np.abs(target))
    if isinstance(loss, Ratio):
        return float(np.mean(np.abs(ratio)))
    if isinstance(loss, PercentileCurriculum):
        abs_r = np.abs(np.mean(ratio.reshape(ratio.shape[0], -1), axis=1))
        return float(np.mean(abs_r[abs_r <= curriculum_threshold(abs_r, quantile)]))
    raise SpecError(f"no NumPy value for loss {loss!r}")
