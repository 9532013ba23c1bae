"""Checks specific to the JAX backend: lazy device start, thread pools, no recompiles,
dtypes kept, and the contract's error cases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from shared import registry
from shared.params import init_params
from shared.protocol import NotSupported
from shared.specs import Conv2D, Dense, Flatten, Network
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


def test_conv_layers_are_not_supported_yet() -> None:
    network = Network((1, 4, 4), (Conv2D(2, 3), Flatten(), Dense(1)))
    case = cases()["copynet-supervised"]
    with pytest.raises(NotSupported, match="Conv2D"):
        registry.load("jax").build_model(
            network, init_params(network, case.init, 0), case.loss, case.optimizer, "float64", "jit"
        )
