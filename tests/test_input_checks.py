"""Where data enters a backend it is checked, once, by framework-free code: targets
(``shared.losses.check_targets``), parameters (``shared.params.check_params``) and
frames (``shared.td.check_frames``). Wrong ones raise a SpecError that names the
problem, instead of being cast, broadcast or retraced without a word, and the model
keeps its weights. Every backend that loads in this process; Keras on JAX and on
torch in processes of their own (tests/test_keras_multibackend.py)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads import get_workload
from shared import registry
from shared.losses import MSE, Huber, SoftmaxCrossEntropy
from shared.optim import SGD
from shared.params import InitScheme, init_params
from shared.protocol import AgentSpec, ModelSpec
from shared.specs import Dense, Flatten, Network, SpecError
from shared.td import TDSpec
from tests.parity import assert_close, assert_params_close, backends_to_test

BACKENDS = backends_to_test(registry.BACKENDS)
CLASSES = 3
CE_NETWORK = Network((2,), (Dense(CLASSES, "linear"),))
LINEAR = Network((1,), (Dense(1, "linear"),))  # every backend runs it, Python's included
Q_NETWORK = Network((2, 3, 3), (Flatten(), Dense(2, "linear")))


def _model(backend: str, network: Network, loss, dtype: str = "float64"):
    params = init_params(network, InitScheme("torch_default"), seed=0, dtype=dtype)
    info = registry.get(backend)
    module = registry.load(backend)
    return module.build_model(
        ModelSpec(network, params, loss, SGD(lr=0.1), dtype, info.default_mode)
    )


def _bad_targets() -> dict[str, np.ndarray]:
    return {
        "sum 0.8": np.full((4, CLASSES), 0.8 / CLASSES),
        "negative": np.tile([1.2, -0.2, 0.0], (4, 1)),
        "nan": np.tile([np.nan, 1.0, 0.0], (4, 1)),
    }


@pytest.mark.parametrize(
    "backend", [name for name in BACKENDS if registry.get(name).runs(get_workload("search"))]
)
def test_softmax_cross_entropy_takes_only_probability_targets(backend: str) -> None:
    """Keras on TensorFlow's fused kernel computes another gradient for targets that do
    not sum to 1: every backend refuses them where they enter, and valid soft targets
    train as in NumPy."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2))
    model = _model(backend, CE_NETWORK, SoftmaxCrossEntropy())
    start = model.get_params()
    for what, y in _bad_targets().items():
        for call in (model.train_step, model.loss_and_grads):
            with pytest.raises(SpecError, match="probability vectors"):
                call(x, y)
        with pytest.raises(SpecError, match="probability vectors"):
            model.prepare(x[None], y[None])
        assert_params_close(model.get_params(), start, "float64", f"after refusing {what}")
    soft = rng.dirichlet(np.ones(CLASSES), size=4)  # sums to 1, not one-hot
    reference = _model("numpy", CE_NETWORK, SoftmaxCrossEntropy())
    assert_close(model.train_step(x, soft), reference.train_step(x, soft), "float64", "loss")
    assert_params_close(model.get_params(), reference.get_params(), "float64", "soft targets")


def _wrong_params(good: dict) -> dict[str, dict]:
    kernel, bias = good["layer0.kernel"], good["layer0.bias"]
    return {
        "broadcastable shape": {"layer0.kernel": kernel[None], "layer0.bias": bias},
        "integer dtype": {"layer0.kernel": kernel.astype(np.int64), "layer0.bias": bias},
        "a list": {"layer0.kernel": kernel.tolist(), "layer0.bias": bias},
        "missing name": {"layer0.kernel": kernel},
        "extra name": {**good, "layer1.bias": bias},
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_set_params_refuses_wrong_names_shapes_and_dtypes(backend: str) -> None:
    model = _model(backend, LINEAR, MSE())
    good = model.get_params()
    for what, params in _wrong_params(good).items():
        with pytest.raises(SpecError):
            model.set_params(params)
        assert_params_close(model.get_params(), good, "float64", f"after refusing {what}")
    model.set_params({name: value.astype(np.float32) for name, value in good.items()})


@pytest.mark.parametrize(
    "backend", [name for name in BACKENDS if registry.get(name).runs(get_workload("dqn"))]
)
def test_agent_refuses_wrong_params_and_frames(backend: str) -> None:
    info = registry.get(backend)
    params = init_params(Q_NETWORK, InitScheme("torch_default"), seed=0, dtype="float32")
    agent = registry.load(backend).build_agent(
        AgentSpec(
            Q_NETWORK,
            params,
            Huber(),
            SGD(lr=0.1),
            "float32",
            info.modes_for(get_workload("dqn"))[0],
            TDSpec(),
        )
    )
    frames = np.random.default_rng(0).integers(0, 256, size=(2, 2, 3, 3), dtype=np.uint8)
    for wrong in (frames / 255.0, frames[0]):  # already scaled; no batch axis
        with pytest.raises(SpecError, match="frames"):
            agent.q_values(wrong)
    with pytest.raises(SpecError, match="shape"):
        agent.set_params({**params, "layer1.bias": params["layer1.bias"][:1]})  # broadcasts
    assert_params_close(agent.get_params(), params, "float32", "after refusing")
    assert agent.q_values(frames).shape == (2, 2)
