"""Shared pieces of the cross-framework tests: cases, traces, the NumPy reference.

The tolerances are stated once, in shared/tolerances.py.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from benchmarks.workloads import WORKLOADS
from shared import registry
from shared.losses import (
    L1,
    MSE,
    Huber,
    Loss,
    PercentileCurriculum,
    Ratio,
    SoftmaxCrossEntropy,
)
from shared.optim import SGD, Adam, ExponentialDecay, Optimizer, Schedule, learning_rates
from shared.params import DTYPES, InitScheme, Params, init_params
from shared.protocol import ModelSpec
from shared.specs import Conv2D, Dense, Flatten, MaxPool2D, Network
from shared.tolerances import PARITY_STEPS, TOLERANCES
from tests.parity_boundaries import boundary_cases

OTHER_BACKENDS = tuple(name for name in registry.BACKENDS if name != "numpy")

# Set by tests/test_keras_multibackend.py in a subprocess that has the backend's registry
# env applied: the backend-parametrised tests then select exactly that backend.
BACKEND_UNDER_TEST = "BENCH_TEST_BACKEND"
# What a registry env variable means when unset: Keras's default backend.
ENV_DEFAULTS = {"KERAS_BACKEND": "tensorflow"}


def backend_under_test() -> str | None:
    return os.environ.get(BACKEND_UNDER_TEST) or None


def loads_in_process(backend: str) -> bool:
    """Whether this process can import ``backend``: its registry env must be this
    process's (Keras fixes its backend at first import, so keras-jax and keras-torch
    run in processes of their own, started by test_keras_multibackend.py)."""
    env = registry.get(backend).env
    return all(os.environ.get(key, ENV_DEFAULTS.get(key)) == value for key, value in env.items())


def backends_to_test(candidates: Iterable[str]) -> list[str]:
    """The ``candidates`` this process tests: the backend under test alone when one is
    set, else every candidate that loads in this process."""
    chosen = backend_under_test()
    if chosen is not None:
        return [name for name in candidates if name == chosen]
    return [name for name in candidates if loads_in_process(name)]


@dataclass(frozen=True)
class Case:
    """One network + loss + optimizer + ``PARITY_STEPS`` batches, from a fixed seed."""

    name: str
    workload: str
    network: Network
    init: InitScheme
    loss: Loss
    optimizer: Optimizer
    xs: np.ndarray  # (PARITY_STEPS, batch, *in)
    ys: np.ndarray  # (PARITY_STEPS, batch, *out)
    schedule: Schedule | None = None  # changes the rate before every step when set
    # the curriculum's quantile before each step (None: the loss's initial one throughout)
    quantiles: tuple[float, ...] | None = None
    init_seed: int = 3
    dtypes: tuple[str, ...] = DTYPES  # the dtypes the case is checked in
    # Exact starting values instead of ``init`` (tests/parity_boundaries.py): parameter
    # name -> its values in order, or one value for all; Python floats rounded to the dtype.
    start: tuple[tuple[str, tuple[float, ...]], ...] | None = None
    # False: checked in each backend's default mode only, step by step (a kink of a loss
    # or layer is in code that every mode of the backend shares; compiling costs seconds)
    every_mode: bool = True

    def params(self, dtype: str) -> Params:
        if self.start is None:
            return init_params(self.network, self.init, seed=self.init_seed, dtype=dtype)
        shapes = self.network.param_shapes()
        return {
            name: np.array(np.resize(np.array(values), shapes[name]), dtype=dtype)
            for name, values in self.start
        }

    def learning_rates(self) -> np.ndarray | None:
        if self.schedule is None:
            return None
        return learning_rates(self.schedule, self.optimizer.lr, PARITY_STEPS)


def _workload_case(workload: str, variant: str, init_seed: int = 3) -> Case:
    work = WORKLOADS[workload]
    config = work.config(variant, "quick")
    xs, ys = [], []
    epoch = 0
    while sum(len(x) for x in xs) < PARITY_STEPS:
        x, y = work.data(variant, "quick", seed=0).epoch(epoch)
        xs.append(x)
        ys.append(y)
        epoch += 1
    return Case(
        f"{workload}-{variant}",
        workload,
        config.network,
        config.init,
        config.loss,
        config.optimizer,
        np.concatenate(xs)[:PARITY_STEPS],
        np.concatenate(ys)[:PARITY_STEPS],
        init_seed=init_seed,
    )


def _mlp_clip_case() -> Case:
    """Exercises tanh and relu, Adam with active global-norm clipping, a changing rate."""
    rng = np.random.default_rng(7)
    network = Network((3,), (Dense(5, "tanh"), Dense(4, "relu"), Dense(2, "linear")))
    return Case(
        "mlp-adam-clip-decay",
        "synthetic",
        network,
        InitScheme("torch_default"),
        MSE(),
        Adam(lr=0.05, beta1=0.9, beta2=0.99, eps=1e-8, clip_global_norm=0.1),
        rng.normal(size=(PARITY_STEPS, 8, 3)),
        rng.normal(size=(PARITY_STEPS, 8, 2)),
        schedule=ExponentialDecay(0.7),
    )


def _sgd_decay_case() -> Case:
    """SGD with momentum while the rate changes: pins the PyTorch form of momentum."""
    rng = np.random.default_rng(8)
    network = Network((2,), (Dense(3, "sigmoid"), Dense(1, "linear")))
    return Case(
        "mlp-sgd-momentum-decay",
        "synthetic",
        network,
        InitScheme("glorot_uniform"),
        MSE(),
        SGD(lr=0.3, momentum=0.8, clip_global_norm=0.5),
        rng.normal(size=(PARITY_STEPS, 6, 2)),
        rng.normal(size=(PARITY_STEPS, 6, 1)),
        schedule=ExponentialDecay(0.5),
    )


def _nbody_loss_case(name: str, loss: Loss, quantiles: tuple[float, ...] | None = None) -> Case:
    """One loss of the N-body family on a two-body-state ReLU MLP (8 -> 8), Adam under an
    exponential decay, in float64 (the issue asks these in float64; the workload's own
    cells check float32 on every run)."""
    rng = np.random.default_rng(11)
    network = Network((8,), (Dense(24, "relu"), Dense(24, "relu"), Dense(8, "linear")))
    xs = rng.normal(size=(PARITY_STEPS, 16, 8))
    ys = xs + 0.3 * rng.normal(size=xs.shape)  # states one step later, roughly
    return Case(
        f"nbody-loss-{name}",
        "synthetic",
        network,
        InitScheme("torch_default"),
        loss,
        Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8),
        xs,
        ys,
        schedule=ExponentialDecay.over_decades(2.0, PARITY_STEPS),
        quantiles=quantiles,
        dtypes=("float64",),
    )


def _nbody_loss_cases() -> list[Case]:
    # The curriculum's q moves through interpolated and exact positions (pos = q * 15:
    # 1.5, 3, ... 15) up to 1, where every example counts.
    ramp = tuple(float(q) for q in np.linspace(0.1, 1.0, PARITY_STEPS))
    return [
        _nbody_loss_case("l1", L1()),
        _nbody_loss_case("ratio", Ratio()),
        _nbody_loss_case("curriculum", PercentileCurriculum(), quantiles=ramp),
    ]


def _cnn_cases() -> list[Case]:
    """Conv2D (strided valid, and same), MaxPool2D (tiling, and overlapping windows) and
    Flatten on channels-first images; the second case also pins the Huber loss with
    errors on both sides of delta."""
    rng = np.random.default_rng(12)
    tiling = Network(
        (2, 10, 10),
        (
            Conv2D(3, 3, stride=2, activation="relu"),  # (3, 4, 4)
            Conv2D(4, 3, padding="same", activation="tanh"),  # (4, 4, 4)
            MaxPool2D(2),  # (4, 2, 2)
            Flatten(),
            Dense(5, "sigmoid"),
            Dense(2, "linear"),
        ),
    )
    overlapping = Network(
        (3, 9, 8),
        (
            Conv2D(4, 2, activation="relu"),  # (4, 8, 7)
            MaxPool2D(3, stride=2),  # (4, 3, 3)
            Conv2D(2, 1, activation="linear"),  # (2, 3, 3)
            Flatten(),
            Dense(3, "linear"),
        ),
    )
    return [
        Case(
            "cnn-adam",
            "synthetic",
            tiling,
            InitScheme("torch_default"),
            MSE(),
            Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8),
            rng.normal(size=(PARITY_STEPS, 4, 2, 10, 10)),
            rng.normal(size=(PARITY_STEPS, 4, 2)),
        ),
        Case(
            "cnn-pool-overlap-huber",
            "synthetic",
            overlapping,
            InitScheme("glorot_uniform"),
            Huber(delta=0.5),
            SGD(lr=0.1, momentum=0.5),
            rng.normal(size=(PARITY_STEPS, 5, 3, 9, 8)),
            rng.normal(scale=2.0, size=(PARITY_STEPS, 5, 3)),
        ),
    ]


def _classification_case() -> Case:
    """A small CNN on 8x8 single-channel images with 10 logits, the softmax cross-entropy
    against one-hot labels: the kind of network the digits search workload trains."""
    rng = np.random.default_rng(13)
    network = Network(
        (1, 8, 8),
        (
            Conv2D(4, 3, padding="same", activation="relu"),  # (4, 8, 8)
            MaxPool2D(2),  # (4, 4, 4)
            Conv2D(6, 3, activation="relu"),  # (6, 2, 2)
            Flatten(),
            Dense(8, "relu"),
            Dense(10, "linear"),
        ),
    )
    labels = rng.integers(0, 10, size=(PARITY_STEPS, 6))
    return Case(
        "cnn-digits-ce",
        "synthetic",
        network,
        InitScheme("torch_default"),
        SoftmaxCrossEntropy(),
        Adam(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8),
        rng.uniform(size=(PARITY_STEPS, 6, 1, 8, 8)),
        np.eye(10)[labels],  # one-hot, (PARITY_STEPS, 6, 10)
        # Seed 7: every filter of both convolutions and 7 of the 8 dense units learn
        # (with the default seed 3, 4 of the 6 second-layer filters start dead).
        init_seed=7,
    )


@functools.cache
def cases() -> dict[str, Case]:
    built = [
        _workload_case("copynet", v)
        for v in ("supervised", "reward", "reward-linear", "reward-exp", "reward-exp10")
    ]
    built += [_workload_case("xor", v) for v in ("momentum", "single-layer")]
    # Seed 1: with most seeds the online variant's ReLU output starts dead (all
    # gradients zero), which would make its case compare nothing.
    built.append(_workload_case("xor", "online", init_seed=1))
    built += [_mlp_clip_case(), _sgd_decay_case()]
    built += _nbody_loss_cases()
    built += _cnn_cases()
    built.append(_classification_case())
    built += boundary_cases()
    return {case.name: case for case in built}


def runs_case(backend: str, case: Case) -> bool:
    info = registry.get(backend)
    workload = WORKLOADS.get(case.workload)
    return info.builds is None or (workload is not None and info.runs(workload))


def build(backend: str, case: Case, dtype: str, mode: str | None = None):
    module = registry.load(backend)
    mode = mode or registry.get(backend).default_mode
    return module.build_model(
        ModelSpec(case.network, case.params(dtype), case.loss, case.optimizer, dtype, mode)
    )


@dataclass
class Trace:
    """What a model did on a case: forward, gradients, then PARITY_STEPS steps."""

    outputs: np.ndarray
    loss: float
    grads: Params
    step_losses: list[float]
    step_params: list[Params]


def trace(model, case: Case) -> Trace:
    outputs = np.asarray(model.predict(case.xs[0]))
    loss, grads = model.loss_and_grads(case.xs[0], case.ys[0])
    rates = case.learning_rates()
    step_losses, step_params = [], []
    for step in range(PARITY_STEPS):
        if rates is not None:
            model.set_learning_rate(float(rates[step]))
        if case.quantiles is not None:
            model.set_loss_quantile(case.quantiles[step])
        step_losses.append(model.train_step(case.xs[step], case.ys[step]))
        step_params.append(model.get_params())
    return Trace(outputs, loss, grads, step_losses, step_params)


@functools.cache
def reference_trace(case_name: str, dtype: str) -> Trace:
    case = cases()[case_name]
    return trace(build("numpy", case, dtype), case)


def assert_close(actual, expected, dtype: str, what: str) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        err_msg=what,
        **TOLERANCES[dtype],
    )


def assert_params_close(actual: Params, expected: Params, dtype: str, what: str) -> None:
    assert list(actual) == list(expected), f"{what}: names {list(actual)} != {list(expected)}"
    for name in expected:
        assert actual[name].shape == expected[name].shape, f"{what}: {name} shape"
        assert_close(actual[name], expected[name], dtype, f"{what}: {name}")


def assert_traces_close(actual: Trace, expected: Trace, dtype: str) -> None:
    assert_close(actual.outputs, expected.outputs, dtype, "forward outputs")
    assert_close(actual.loss, expected.loss, dtype, "loss")
    assert_params_close(actual.grads, expected.grads, dtype, "gradients")
    for step in range(PARITY_STEPS):
        assert_close(
            actual.step_losses[step], expected.step_losses[step], dtype, f"loss of step {step + 1}"
        )
        assert_params_close(
            actual.step_params[step],
            expected.step_params[step],
            dtype,
            f"params after step {step + 1}",
        )
