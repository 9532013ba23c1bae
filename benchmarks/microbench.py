"""Micro-benchmarks: one training step of each network on each backend and mode, and
the DQN's TD step.

Run with ``nox -s microbench`` (pytest-benchmark; its JSON lands in results/). The
first step, which traces and compiles, runs before the timed rounds. This is not the
harness: backends share a process here, so it suits quick A/B checks of a single step,
and the harness's numbers are the ones to report.

Backends whose registry entry sets an environment (Keras's backend is fixed at its
first import) cannot share a process with each other: ``nox -s microbench`` runs this
file once per group of ``env_groups()``, naming the group in ``BENCH_MICROBENCH_GROUP``.
Without it, every backend that fits this process's environment runs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from benchmarks.workloads import get_workload
from shared import registry
from shared.params import init_params
from shared.protocol import AgentSpec, ModelSpec
from shared.td import TDBatch

# (workload, variant): copy-net full batch and batch 1, XOR full batch, the N-body MLP
# at batch 5,000 (its quick dataset is generated, or read from the cache, once).
NETWORKS = (
    ("copynet", "supervised"),
    ("copynet", "reward"),
    ("xor", "momentum"),
    ("nbody", "two-body"),
)


GROUP_VARIABLE = "BENCH_MICROBENCH_GROUP"


def env_groups() -> list[dict[str, str]]:
    """The registry's distinct backend environments; group 0 is the backends needing none."""
    groups: list[dict[str, str]] = [{}]
    for info in registry.BACKENDS.values():
        if info.env not in groups:
            groups.append(dict(info.env))
    return groups


def _backends() -> list[str]:
    group = os.environ.get(GROUP_VARIABLE)
    if group is None:
        return _same_process_backends()
    env = env_groups()[int(group)]
    return [name for name, info in registry.BACKENDS.items() if info.env == env]


def _same_process_backends() -> list[str]:
    """Backends that can share this process: Keras runs on one backend per process, so
    of the backends setting one variable differently only the first (or the one the
    environment already names) is kept."""
    claimed = dict(os.environ)
    kept = []
    for name, info in registry.BACKENDS.items():
        if all(claimed.setdefault(key, value) == value for key, value in info.env.items()):
            kept.append(name)
    return kept


def _configured(backend: str):
    """The backend's module, configured with BENCH_THREADS, and its first dtype."""
    module = registry.load(backend)
    module.configure(int(os.environ.get("BENCH_THREADS", "1")), 0)
    return module, registry.get(backend).dtypes[0]


def _cases():
    for backend in _backends():
        info = registry.get(backend)
        for workload, variant in NETWORKS:
            if info.runs(workload):
                for mode in info.modes:
                    yield pytest.param(
                        backend,
                        mode,
                        workload,
                        variant,
                        id=f"{workload}-{variant}-{backend}-{mode}",
                    )


@pytest.mark.parametrize(("backend", "mode", "workload", "variant"), list(_cases()))
def test_train_step(benchmark, backend: str, mode: str, workload: str, variant: str) -> None:
    work = get_workload(workload)
    config = work.config(variant, "quick")
    module, dtype = _configured(backend)
    model = module.build_model(
        ModelSpec(
            config.network,
            init_params(config.network, config.init, 0, dtype),
            config.loss,
            config.optimizer,
            dtype,
            mode,
        )
    )
    xs, ys = work.data(variant, "quick", 0).epoch(0)
    x, y = xs[0], ys[0]
    model.train_step(x, y)  # tracing and compiling stay out of the timed rounds
    benchmark.extra_info.update(backend=backend, mode=mode, dtype=dtype, batch=config.batch_size)
    loss = benchmark(model.train_step, x, y)
    assert np.isfinite(loss)


def _agent_cases():
    for backend in _backends():
        info = registry.get(backend)
        if info.runs("dqn"):
            for mode in info.modes_for("dqn"):
                yield pytest.param(backend, mode, id=f"dqn-td-step-{backend}-{mode}")


@pytest.mark.parametrize(("backend", "mode"), list(_agent_cases()))
def test_td_step(benchmark, backend: str, mode: str) -> None:
    """The DQN's TD step on the Nature CNN at batch 32, on random frames (no game)."""
    config = get_workload("dqn").dqn_config("space-invaders", "quick")
    module, dtype = _configured(backend)
    agent = module.build_agent(
        AgentSpec(
            config.network,
            init_params(config.network, config.init, 0, dtype),
            config.loss,
            config.optimizer,
            dtype,
            mode,
            config.td,
        )
    )
    rng = np.random.default_rng(0)
    shape = (config.batch_size, *config.network.input_shape)
    batch = TDBatch(
        obs=rng.integers(0, 256, size=shape, dtype=np.uint8),
        actions=rng.integers(0, config.network.output_shape[0], size=config.batch_size),
        rewards=rng.choice(np.array([-1.0, 0.0, 1.0], dtype=np.float32), size=config.batch_size),
        next_obs=rng.integers(0, 256, size=shape, dtype=np.uint8),
        dones=(rng.random(config.batch_size) < 0.05).astype(np.float32),
    )
    agent.td_step(batch)  # tracing and compiling stay out of the timed rounds
    benchmark.extra_info.update(backend=backend, mode=mode, dtype=dtype, batch=config.batch_size)
    loss = benchmark(agent.td_step, batch)
    assert np.isfinite(loss)
