"""Parity cases whose outputs sit exactly on a kink of the loss or of an activation.

A kink is where a function's derivative jumps: the bounds of BCE's clip, ``|e|`` at 0,
the reward-shaped penalty's threshold, ``relu`` at 0, tied maxima in a pooling
window. Frameworks pick different
one-sided (or averaged) derivatives there (``jnp.clip`` halves the gradient at its
bounds, ``jnp.abs`` has derivative 1 at 0), so shared/losses.py and shared/specs.py
state the rule and these cases check it in every backend and both dtypes. Each case
starts from exact parameters (``Case.start``) that put the first step's outputs on
the kink; where the spec's gradient at the kink is 0, the outputs stay there for every
step, and a backend with another derivative moves them off.

BCE's clip on a linear output runs in every mode (compilers may rewrite a clip); the
other kinks are in loss and layer code that every mode of a backend shares, so they run
in each backend's default mode (``Case.every_mode``), step by step: a compile per case
and mode would cost seconds. The DQN agents compute their TD loss with the same
``make_loss`` as the models, so ``kink-huber`` covers the TD error on Huber's delta.
"""

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
)
from shared.optim import SGD, Optimizer
from shared.params import InitScheme
from shared.specs import Conv2D, Dense, Flatten, MaxPool2D, Network
from shared.tolerances import PARITY_STEPS

EPS = 1e-7  # BCE's clip (Keras's epsilon)
# In float32, sigmoid(z) rounds to exactly 1 - EPS (0.99999988, the float32 nearest to
# it) for every z in about (15.72, 16.23): a saturated output lands on the clip's upper
# bound. In float64 the same z gives 1 - 1.24e-7, inside the bounds.
SATURATED_LOGIT = 15.9
BATCH = 4


def _case(name, network, start, loss: Loss, optimizer: Optimizer, xs, ys, **extra):
    # Imported here: tests.parity imports this module to build its case list.
    from tests.parity import Case

    return Case(
        f"kink-{name}",
        "synthetic",
        network,
        InitScheme("glorot_uniform"),  # unused: ``start`` sets every parameter
        loss,
        optimizer,
        np.asarray(xs, dtype=np.float64),
        np.asarray(ys, dtype=np.float64),
        start=tuple((key, tuple(np.atleast_1d(value).tolist())) for key, value in start),
        **extra,
    )


def _inputs(seed: int, features: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(PARITY_STEPS, BATCH, features))


def _bce_cases() -> list:
    """Outputs exactly on ``eps`` and on ``1 - eps`` (linear output), and a float32
    saturated sigmoid on ``1 - eps``; the spec passes the gradient at both bounds."""
    linear = Network((2,), (Dense(2, "linear"),))
    ys = np.broadcast_to([1.0, 0.0], (PARITY_STEPS, BATCH, 2))  # both pull inward
    sigmoid = Network((2,), (Dense(1, "sigmoid"),))
    return [
        _case(
            "bce-clip-bounds",
            linear,
            (("layer0.kernel", 0.0), ("layer0.bias", (EPS, 1 - EPS))),
            BinaryCrossEntropy(eps=EPS),
            # dL/dp at a bound is about 1/eps: a tiny rate keeps the first step sane
            SGD(lr=1e-8),
            _inputs(31),
            ys,
        ),
        _case(
            "bce-saturated-sigmoid",
            sigmoid,
            (("layer0.kernel", 0.0), ("layer0.bias", SATURATED_LOGIT)),
            BinaryCrossEntropy(eps=EPS),
            # one step leaves saturation (z ~ 6), where float32 rounding is harmless
            SGD(lr=10.0),
            _inputs(32),
            np.zeros((PARITY_STEPS, BATCH, 1)),
            dtypes=("float32",),  # float64's sigmoid(15.9) is inside the bounds
            every_mode=False,
        ),
    ]


def _error_targets(seed: int) -> np.ndarray:
    """Targets for zero-initialised linear outputs (pred = 0 at the start): column 0
    all 0 (the error stays exactly 0 while its gradient is 0), column 1 from
    ``{0, +-0.25, +-0.5, +-1}`` (errors on 0, on the reward penalty's threshold 0.25 and
    on Huber's delta 0.5), column 2 continuous; the first example of each batch all 0."""
    rng = np.random.default_rng(seed)
    ys = np.zeros((PARITY_STEPS, BATCH, 3))
    ys[..., 1] = rng.choice([0.0, 0.25, -0.25, 0.5, -0.5, 1.0, -1.0], size=(PARITY_STEPS, BATCH))
    ys[..., 2] = rng.normal(size=(PARITY_STEPS, BATCH))
    ys[:, 0] = 0.0  # every column: |r| = 0 for the curriculum, kept as the smallest
    return ys


def _error_cases() -> list:
    """``|e|`` at 0 (L1, Ratio, the reward-shaped losses, the curriculum's ``|r|``), the
    penalty's strict threshold and Huber's delta, on a zero-initialised linear layer."""
    network = Network((2,), (Dense(3, "linear"),))
    zero = (("layer0.kernel", 0.0), ("layer0.bias", 0.0))
    losses = {
        "l1": L1(),
        "ratio": Ratio(),
        "reward-linear-penalty": RewardShaped("linear", penalty_coef=0.5, penalty_threshold=0.25),
        "curriculum": PercentileCurriculum(),
        "huber": Huber(delta=0.5),
    }
    # The curriculum keeps the 3 smallest |r| of 4 (q = 0.7): the r = 0 example and two
    # that move the weights.
    quantiles = {"curriculum": (0.7,) * PARITY_STEPS}
    return [
        _case(
            name,
            network,
            zero,
            loss,
            SGD(lr=0.1),
            _inputs(40 + i),
            _error_targets(40 + i),
            quantiles=quantiles.get(name),
            every_mode=False,
        )
        for i, (name, loss) in enumerate(losses.items())
    ]


def _relu_pool_case():
    """A 1x1 convolution whose filter 0 sums two channels that the input builds so that
    each 2x2 pooling window holds two tied maxima (at its top-right and bottom-left,
    from different channels): the gradient goes to the first, row-major; filter 1 is
    exactly 0 everywhere, where relu'(0) = 0 keeps it."""
    network = Network(
        (2, 4, 4),
        (Conv2D(2, 1, activation="relu"), MaxPool2D(2), Flatten(), Dense(1, "linear")),
    )
    start = (
        ("layer0.kernel", (1.0, 0.0, 1.0, 0.0)),  # (1, 1, in 2, out 2): filter 0 = x0 + x1
        ("layer0.bias", 0.0),
        ("layer3.kernel", 0.5),
        ("layer3.bias", 0.0),
    )
    window = np.zeros((2, 2, 2))  # (channel, row, column) of one window
    window[0, 0] = (0.5, 1.0)  # filter 0 reads 0.5, 1.0 on the top row
    window[1, 1] = (1.0, 0.5)  # and 1.0, 0.5 on the bottom row: 1.0 twice
    image = np.tile(window, (1, 2, 2))  # (2, 4, 4): four such windows
    rng = np.random.default_rng(50)
    scales = rng.uniform(0.5, 2.0, size=(PARITY_STEPS, BATCH, 1, 1, 1))  # keep the ties
    ys = rng.normal(size=(PARITY_STEPS, BATCH, 1))
    return _case(
        "relu-pool-ties", network, start, MSE(), SGD(lr=0.05), image * scales, ys, every_mode=False
    )


def boundary_cases() -> list:
    return [*_bce_cases(), *_error_cases(), _relu_pool_case()]
