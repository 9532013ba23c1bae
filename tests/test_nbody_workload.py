"""The N-body workload: networks, presets, batches and metrics (framework-free)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads import get_workload
from shared import cache
from shared.losses import PercentileCurriculum, Ratio
from shared.optim import learning_rates

NBODY = get_workload("nbody")


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path))


def test_networks_and_presets_are_the_sources() -> None:
    breen = NBODY.config("breen", "full")
    assert breen.network.n_params == 149_636  # Breen et al.'s 3 -> 128 x 10 -> 4
    assert breen.network.train_step_flops(breen.batch_size) == pytest.approx(4.45e9, rel=0.01)
    assert breen.epochs == 10_000 and breen.batch_size == 5000
    two = NBODY.config("two-body", "full")
    assert two.network.input_shape == (8,) and two.network.output_shape == (8,)
    assert two.steps_per_epoch * two.batch_size == 50_000 * 1_000
    rates = learning_rates(two.schedule, two.optimizer.lr, two.epochs)
    assert rates[0] == 3e-3 and rates[-1] * two.schedule.gamma == pytest.approx(2e-6)
    quick = NBODY.config("two-body", "quick")
    assert (quick.batch_size, quick.steps_per_epoch, quick.epochs) == (5000, 10, 50)
    assert isinstance(quick.loss, Ratio)
    assert isinstance(NBODY.config("two-body-curriculum", "quick").loss, PercentileCurriculum)
    assert NBODY.config("three-body", "quick").network.input_shape == (12,)
    assert NBODY.default_variants("quick") == ("two-body",)


@pytest.mark.parametrize("variant", ["two-body", "breen"])
def test_batches_cover_the_training_samples_once(variant: str) -> None:
    config = NBODY.config(variant, "smoke")
    data = NBODY.data(variant, "smoke", 0)
    inputs = config.network.input_shape[0]
    assert data.xs.shape == (config.steps_per_epoch, config.batch_size, inputs)
    assert data.ys.shape[:2] == data.xs.shape[:2]
    rows = data.xs.reshape(-1, inputs)
    assert len(np.unique(rows, axis=0)) == len(rows)  # shuffled, nothing repeated
    again = NBODY.data(variant, "smoke", 0)
    np.testing.assert_array_equal(again.xs, data.xs)


def test_metrics_of_known_predictors() -> None:
    losses = [1.0, 0.5]
    unchanged = NBODY.metrics("two-body", "smoke", 0, lambda x: np.array(x), losses)
    assert unchanged["one_step_error_vs_persistence"] == pytest.approx(1.0)
    assert unchanged["rollout_energy_drift"] == 0.0  # the start, kept forever
    assert unchanged["rollout_position_error"] > 0  # the bodies did move
    assert unchanged["rollout_vs_no_motion"] == pytest.approx(1.0)  # it is no motion
    assert unchanged["simulator_energy_drift"] < 1e-3  # the screening tolerance
    perfect = NBODY.metrics("identity", "smoke", 0, lambda x: np.array(x), losses)
    assert perfect["val_loss"] == 0 and perfect["one_step_rel_error"] == 0
    assert perfect["rollout_position_error"] == 0 and perfect["rollout_energy_drift"] == 0
    assert perfect["rollout_vs_no_motion"] is None  # nothing moves: no baseline
    example = perfect["rollout_example"]
    assert np.shape(example["true"]) == np.shape(example["pred"]) == (33, 2, 2)
    breen = NBODY.metrics("breen", "smoke", 0, lambda x: np.zeros((len(x), 4)), losses)
    assert breen["rollout_steps"] == 31 and breen["rollout_position_error"] > 0
    assert breen["val_loss"] > 0 and np.isfinite(breen["rollout_energy_drift"])
