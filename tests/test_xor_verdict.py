"""A full XOR run (2,001 epochs, float64) reaches the same verdict on every backend."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from benchmarks.drivers import prepare_batches, train
from benchmarks.workloads import get_workload
from shared import registry
from shared.params import init_params
from shared.protocol import ModelSpec
from tests.parity import backends_to_test

BACKENDS = backends_to_test(
    name for name, info in registry.BACKENDS.items() if info.runs(get_workload("xor"))
)
SEEDS = {0: False, 1: True}  # seed -> solved, as the NumPy reference finds


@functools.cache
def full_run(backend: str, seed: int) -> dict:
    workload = get_workload("xor")
    config = workload.config("momentum", "quick")
    assert config.epochs == 2001
    model = registry.load(backend).build_model(
        ModelSpec(
            config.network,
            init_params(config.network, config.init, seed, "float64"),
            config.loss,
            config.optimizer,
            "float64",
            registry.get(backend).default_mode,
        )
    )
    history = train(
        model, config, prepare_batches(model, config, workload.data("momentum", "quick", seed))
    )
    return workload.metrics("momentum", "quick", seed, model.predict, history.losses)


@pytest.mark.parametrize("seed", list(SEEDS))
@pytest.mark.parametrize("backend", BACKENDS)
def test_full_run_verdict_matches_numpy(backend: str, seed: int):
    metrics = full_run(backend, seed)
    assert metrics["solved"] is SEEDS[seed]
    reference = full_run("numpy", seed)
    assert metrics["epochs_to_target"] == reference["epochs_to_target"]
    np.testing.assert_allclose(metrics["outputs"], reference["outputs"], rtol=1e-6, atol=1e-9)
