"""Checks specific to the JAX backend: lazy device start, thread pools, no recompiles,
dtypes kept, the contract's error cases, and the DQN agent's donation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared import registry
from shared.protocol import AgentSpec, NotSupported
from tests import test_dqn_parity as dqn
from tests.parity import build, cases

jax = pytest.importorskip("jax")
ROOT = Path(__file__).resolve().parents[1]
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"


def _run_python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("NPROC", "XLA_FLAGS")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def test_import_starts_no_device() -> None:
    code = (
        "import backends.jax.model\n"
        "from jax._src import xla_bridge\n"
        "print(xla_bridge.backends_are_initialized())"
    )
    assert _run_python(code) == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc thread names")
@pytest.mark.parametrize("threads", [1, 2])
def test_configure_sizes_the_xla_cpu_pool(threads: int) -> None:
    code = (
        "import os\n"
        "from backends.jax import model\n"
        f"model.configure({threads}, 0)\n"
        "import jax.numpy as jnp\n"
        "(jnp.ones((64, 64)) @ jnp.ones((64, 64))).block_until_ready()\n"
        "names = [open(f'/proc/self/task/{t}/comm').read().strip()\n"
        "         for t in os.listdir('/proc/self/task')]\n"
        "print(sum(name.endswith('XLAEigen') for name in names))"
    )
    assert _run_python(code) == str(threads)


class _EventCounter:
    """Counts JAX's trace and backend-compile events while active."""

    def __init__(self) -> None:
        self.counts = {COMPILE_EVENT: 0, TRACE_EVENT: 0}

    def __call__(self, event: str, duration: float, **kwargs) -> None:
        if event in self.counts:
            self.counts[event] += 1

    def __enter__(self) -> _EventCounter:
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc) -> None:
        jax.monitoring.unregister_event_duration_listener(self)


@pytest.mark.parametrize("mode", ["jit", "scan"])
def test_no_retrace_across_epochs_and_rate_changes(mode: str) -> None:
    case = cases()["mlp-sgd-momentum-decay"]
    model = build("jax", case, "float32", mode)
    batches = model.prepare(case.xs, case.ys)
    model.train_epoch(batches)  # compiles
    model.train_step(case.xs[0], case.ys[0])
    with _EventCounter() as events:
        model.train_epoch(batches)
        model.set_learning_rate(0.01)
        model.train_epoch(model.prepare(case.xs, case.ys))
        model.train_step(case.xs[0], case.ys[0])
        model.set_params(case.params("float64"))
        model.train_epoch(batches)
    assert events.counts == {COMPILE_EVENT: 0, TRACE_EVENT: 0}


@pytest.mark.parametrize("mode", ["jit", "scan"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_everywhere(mode: str, dtype: str) -> None:
    case = cases()["mlp-adam-clip-decay"]
    model = build("jax", case, dtype, mode)
    model.train_epoch(model.prepare(case.xs, case.ys))
    assert model.predict(case.xs[0]).dtype == np.dtype(dtype)
    assert {p.dtype for p in model.get_params().values()} == {np.dtype(dtype)}
    floating = [
        leaf
        for leaf in jax.tree.leaves((model.params, model.opt_state))
        if np.issubdtype(leaf.dtype, np.floating)
    ]
    assert {leaf.dtype for leaf in floating} == {np.dtype(dtype)}


def test_get_params_returns_independent_copies() -> None:
    case = cases()["copynet-supervised"]
    model = build("jax", case, "float64", "jit")
    params = model.get_params()
    params["layer0.kernel"][...] = 123.0
    assert not np.any(model.get_params()["layer0.kernel"] == 123.0)


def test_unknown_mode_raises() -> None:
    case = cases()["copynet-supervised"]
    with pytest.raises(ValueError, match="no mode"):
        build("jax", case, "float64", "eager")


def _agent(dtype: str = "float32", mode: str = "jit", params=None):
    case = dqn.CASES["adam-clip"]
    params = dqn.start_params(dtype) if params is None else params
    module = registry.load("jax")
    return module.build_agent(
        AgentSpec(dqn.Q_NETWORK, params, dqn.LOSS, case.optimizer, dtype, mode, dqn.TD)
    )


def test_agent_runs_only_in_jit_mode() -> None:
    with pytest.raises(NotSupported, match="scan"):
        _agent(mode="scan")


def test_td_step_never_retraces() -> None:
    agent = _agent()
    first, second = dqn.batches()[:2]
    agent.td_step(first)  # compiles
    agent.q_values(first.obs)
    with _EventCounter() as events:
        agent.td_step(second)
        agent.sync_target()
        agent.set_params(dqn.start_params("float32"))
        agent.td_step(first)
        agent.q_values(second.obs)
    assert events.counts == {COMPILE_EVENT: 0, TRACE_EVENT: 0}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_donation_leaves_the_callers_and_target_weights_alone(dtype: str) -> None:
    # The online weights are donated to every td_step: neither the caller's arrays nor
    # the target network may share their buffers.
    params = dqn.start_params(dtype)
    start = {name: value.copy() for name, value in params.items()}
    agent = _agent(dtype, params=params)
    for batch in dqn.batches():
        agent.td_step(batch)
    agent.set_params(params)
    agent.td_step(dqn.batches()[0])
    for name, value in start.items():
        np.testing.assert_array_equal(params[name], value, err_msg=name)
        np.testing.assert_array_equal(agent.get_target_params()[name], value, err_msg=name)
