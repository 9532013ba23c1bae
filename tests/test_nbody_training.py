"""The N-body training loop end to end in every backend (default mode, float64): the
driver's per-epoch learning rate and curriculum quantile reach each framework's epoch
path, so losses and weights stay with the NumPy reference epoch after epoch."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from benchmarks.drivers import TrainingHistory, prepare_batches, train
from benchmarks.workloads import get_workload
from shared import cache, registry
from shared.losses import loss_quantiles
from shared.optim import learning_rates
from shared.params import Params, init_params
from shared.protocol import ModelSpec
from tests.parity import assert_close, assert_params_close, backends_to_test

VARIANT = "two-body-curriculum"  # the exponential decay and the curriculum together
# keras-jax and keras-torch run in processes of their own (tests/test_keras_multibackend.py).
BACKENDS = backends_to_test(
    name for name, info in registry.BACKENDS.items() if info.runs(get_workload("nbody"))
)


@functools.cache
def smoke_run(backend: str) -> tuple[TrainingHistory, Params]:
    workload = get_workload("nbody")
    config = workload.config(VARIANT, "smoke")
    model = registry.load(backend).build_model(
        ModelSpec(
            config.network,
            init_params(config.network, config.init, 0, "float64"),
            config.loss,
            config.optimizer,
            "float64",
            registry.get(backend).default_mode,
        )
    )
    history = train(
        model, config, prepare_batches(model, config, workload.data(VARIANT, "smoke", 0))
    )
    return history, model.get_params()


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path_factory.getbasetemp() / "nbody-cache"))


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_smoke_training_follows_numpy_epoch_by_epoch(backend: str) -> None:
    history, params = smoke_run(backend)
    reference, reference_params = smoke_run("numpy")
    config = get_workload("nbody").config(VARIANT, "smoke")
    assert history.learning_rates == reference.learning_rates
    np.testing.assert_array_equal(
        history.learning_rates, learning_rates(config.schedule, config.optimizer.lr, config.epochs)
    )
    assert history.loss_quantiles == list(loss_quantiles(config.loss, config.epochs))
    for epoch, (loss, expected) in enumerate(zip(history.losses, reference.losses, strict=True)):
        assert_close(loss, expected, "float64", f"mean loss of epoch {epoch + 1}")
    assert_params_close(params, reference_params, "float64", "params after the last epoch")
