"""Every registered backend implements ``shared/protocol.py``: its module has every
function of ``BackendModule``, and what it builds has every member of ``Model`` (in each
of its modes) and of ``QAgent`` (in each mode it runs the agent workload in).

A backend whose packages are missing is skipped; nothing else is. The backends that
load in this process are checked here; Keras on JAX and on torch in processes of their
own (tests/test_keras_multibackend.py runs this file with each of them).
"""

from __future__ import annotations

import pytest

from benchmarks.workloads import get_workload
from shared import registry
from shared.losses import MSE, Huber
from shared.optim import SGD
from shared.params import InitScheme, init_params
from shared.protocol import AgentSpec, BackendModule, Model, ModelSpec, QAgent
from shared.specs import Dense, Flatten, Network
from shared.td import TDSpec
from tests.parity import backends_to_test

AGENT_WORKLOAD = get_workload("dqn")  # the workload whose backends build a QAgent
LINEAR = Network((1,), (Dense(1, "linear"),))  # every backend runs it, Python's included
Q_NETWORK = Network((2, 3, 3), (Flatten(), Dense(2, "linear")))
DTYPE = "float64"  # every backend's dtypes include it


def protocol_members(protocol: type) -> list[str]:
    """The methods and attributes a protocol class declares (its own, not ``object``'s)."""
    names = set(vars(protocol).get("__annotations__", {}))
    names |= {name for name in vars(protocol) if not name.startswith("_")}
    return sorted(names)


def missing_members(obj: object, protocol: type) -> list[str]:
    return [name for name in protocol_members(protocol) if not hasattr(obj, name)]


def _skip_if_missing(backend: str) -> None:
    missing = registry.missing_packages(backend)
    if missing:
        pytest.skip(f"{backend}: {', '.join(missing)} not installed")


def _model_cases() -> list:
    return [
        pytest.param(name, mode, id=f"{name}-{mode}")
        for name in backends_to_test(registry.BACKENDS)
        for mode in registry.get(name).modes
    ]


def _agent_cases() -> list:
    return [
        pytest.param(name, mode, id=f"{name}-{mode}")
        for name in backends_to_test(registry.BACKENDS)
        if registry.get(name).runs(AGENT_WORKLOAD)
        for mode in registry.get(name).modes_for(AGENT_WORKLOAD)
    ]


def test_protocol_members_are_found() -> None:
    """The helper reads the protocols (an empty list would make every check pass)."""
    assert {"predict", "train_epoch", "set_loss_quantile"} <= set(protocol_members(Model))
    assert {"q_values", "td_step", "sync_target"} <= set(protocol_members(QAgent))
    assert {"configure", "build_model", "build_agent"} <= set(protocol_members(BackendModule))


@pytest.mark.parametrize("backend", backends_to_test(registry.BACKENDS))
def test_backend_module_has_every_function(backend: str) -> None:
    _skip_if_missing(backend)
    module = registry.load(backend)
    expected = ["configure", "build_model"]
    if registry.get(backend).runs(AGENT_WORKLOAD):
        expected.append("build_agent")
    assert [name for name in expected if not callable(getattr(module, name, None))] == []


@pytest.mark.parametrize(("backend", "mode"), _model_cases())
def test_model_has_every_protocol_member(backend: str, mode: str) -> None:
    _skip_if_missing(backend)
    params = init_params(LINEAR, InitScheme("torch_default"), seed=0, dtype=DTYPE)
    spec = ModelSpec(LINEAR, params, MSE(), SGD(lr=0.1), DTYPE, mode)
    model = registry.load(backend).build_model(spec)
    assert missing_members(model, Model) == []


@pytest.mark.parametrize(("backend", "mode"), _agent_cases())
def test_agent_has_every_protocol_member(backend: str, mode: str) -> None:
    _skip_if_missing(backend)
    params = init_params(Q_NETWORK, InitScheme("torch_default"), seed=0, dtype=DTYPE)
    spec = AgentSpec(Q_NETWORK, params, Huber(), SGD(lr=0.1), DTYPE, mode, TDSpec(discount=0.9))
    agent = registry.load(backend).build_agent(spec)
    assert missing_members(agent, QAgent) == []
