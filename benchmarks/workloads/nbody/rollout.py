"""Rollouts of a trained N-body model on the validation systems, against the simulator
and against predicting no motion at all; and a supervised cell that also rolls its model
out every few epochs while it trains (the ``long`` preset's error against training time).

No motion is the baseline a rollout must beat: every body held at its start. Its error
grows with the step like the rollout's, so the two are compared at the same step (the
last one in the metrics, every kept step in the error curve).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.drivers import train
from benchmarks.progress import EpochReporter
from benchmarks.records import Cell
from benchmarks.workloads.base import Outcome, Predict
from benchmarks.workloads.kinds import SupervisedRun, SupervisedWorkload
from benchmarks.workloads.nbody import data as nbody_data
from benchmarks.workloads.nbody import simulator as nbody
from benchmarks.workloads.nbody.data import BreenDataset, Dataset, StepDataset

EXAMPLE_POINTS = 101  # points of the rollout example kept in the record
# what each periodic evaluation keeps of the rollout metrics (``rollout_evaluations``)
TRACKED = (
    "rollout_position_error",
    "rollout_position_error_mean",
    "no_motion_position_error",
    "rollout_vs_no_motion",
    "rollout_energy_drift",
)


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """RMS over bodies of the distance between positions ``(systems, times, bodies, 2)``:
    ``(systems, times)``."""
    return np.sqrt(np.mean(np.sum((a - b) ** 2, axis=-1), axis=-1))


def _rollout_summary(
    true_pos: np.ndarray,
    pred_pos: np.ndarray,
    true_energy: np.ndarray,
    pred_energy: np.ndarray,
) -> dict[str, Any]:
    """Errors of rolled-out trajectories ``(systems, times, bodies, 2)`` and their
    energies ``(systems, times)``; drifts are relative to the true initial energy.
    ``rollout_vs_no_motion`` is None where nothing moves (the identity variant)."""
    distance = _distance(pred_pos, true_pos)
    still = _distance(true_pos[:, :1], true_pos)  # every body held at its start
    start = np.abs(true_energy[:, :1])
    pred_drift = np.abs(pred_energy - true_energy[:, :1]) / start
    true_drift = np.abs(true_energy - true_energy[:, :1]) / start
    points = np.unique(np.linspace(0, true_pos.shape[1] - 1, EXAMPLE_POINTS).astype(int))
    error, no_motion = float(np.mean(distance[:, -1])), float(np.mean(still[:, -1]))
    return {
        "rollout_steps": int(true_pos.shape[1] - 1),
        "rollout_position_error": error,
        "rollout_position_error_mean": float(np.mean(distance)),
        "no_motion_position_error": no_motion,
        # below 1: the rollout's last step beats holding every body where it started
        "rollout_vs_no_motion": error / no_motion if no_motion > 0 else None,
        "rollout_energy_drift": float(np.median(pred_drift[:, -1])),
        "simulator_energy_drift": float(np.median(true_drift[:, -1])),
        "rollout_error_curve": {
            "step": points.tolist(),
            "median_position_error": np.median(distance[:, points], axis=0).tolist(),
            "median_no_motion_error": np.median(still[:, points], axis=0).tolist(),
        },
        "rollout_example": {  # validation system 0, (points, bodies, 2)
            "step": points.tolist(),
            "true": true_pos[0, points].tolist(),
            "pred": pred_pos[0, points].tolist(),
        },
    }


def step_rollout(spec: StepDataset, data: dict[str, np.ndarray], predict: Predict) -> dict:
    """Each validation system from its first state, the model fed its own predictions for
    every step of the trajectory; the truth is the simulator's (the start, for identity)."""
    masses, eps = np.asarray(spec.masses), spec.softening
    true = nbody_data.states(data["positions"], data["velocities"])  # (systems, T + 1, F)
    if spec.identity:
        true = np.broadcast_to(true[:, :1], true.shape)
    state, rolled = true[:, 0], [true[:, 0]]
    for _ in range(true.shape[1] - 1):
        state = np.asarray(predict(state), dtype=np.float64)
        rolled.append(state)
    pred = np.stack(rolled, axis=1)
    energies = []
    for trajectory in (true, pred):
        pos, vel = nbody_data.split_state(trajectory, spec.bodies)
        flat = (pos.reshape(-1, spec.bodies, 2), vel.reshape(-1, spec.bodies, 2))
        with np.errstate(all="ignore"):  # a diverged rollout has inf states: NaN energy
            energies.append(nbody.total_energy(*flat, masses, eps).reshape(pos.shape[:2]))
    true_pos = nbody_data.split_state(true, spec.bodies)[0]
    pred_pos = nbody_data.split_state(pred, spec.bodies)[0]
    return _rollout_summary(true_pos, pred_pos, *energies)


def breen_rollout(spec: BreenDataset, data: dict[str, np.ndarray], pred: np.ndarray) -> dict:
    """Breen's network predicts a whole trajectory from (t, x2(0)): the predictions on the
    time grid are its rollout. Velocities for the energy come from central differences
    of the positions, in the truth as in the prediction (so the truth's drift shows
    the differencing error)."""
    true_pos = data["positions"]  # (systems, times, 3, 2)
    two = pred.reshape(true_pos.shape[0], true_pos.shape[1], 2, 2)
    pred_pos = np.concatenate([two, -two.sum(axis=2, keepdims=True)], axis=2)  # x3 = -x1 - x2
    energies = []
    for pos in (true_pos, pred_pos):
        vel = np.gradient(pos, spec.interval, axis=1)
        flat = (pos.reshape(-1, 3, 2), vel.reshape(-1, 3, 2))
        with np.errstate(all="ignore"):
            energy = nbody.total_energy(*flat, np.ones(3), spec.softening)
        energies.append(energy.reshape(pos.shape[:2]))
    return _rollout_summary(true_pos, pred_pos, *energies)


def rollout(spec: Dataset, data: dict[str, np.ndarray], predict: Predict) -> dict:
    """The rollout metrics of ``predict`` on the validation trajectories ``data``."""
    if isinstance(spec, StepDataset):
        return step_rollout(spec, data, predict)
    x, _ = nbody_data.samples(spec, data)
    return breen_rollout(spec, data, np.asarray(predict(x), dtype=np.float64))


class RolloutTrackedRun(SupervisedRun):
    """A supervised cell that also rolls its model out on the validation systems after
    every ``every`` epochs and after the last, between epochs, so outside the timed
    epochs. The record gets ``rollout_evaluations``: one row per evaluation with its
    epoch, optimizer steps, ``train_s`` (the epochs' seconds so far, the first epoch
    included, evaluations excluded), ``wall_s`` (seconds since the first epoch began,
    evaluations included), ``eval_s`` and the ``TRACKED`` metrics; and the timing field
    ``rollout_evaluations_s``, their total seconds."""

    def __init__(self, workload: SupervisedWorkload, cell: Cell, validation: Dataset, every: int):
        super().__init__(workload, cell)
        self.validation, self.every = validation, every
        self.evaluations: list[dict[str, Any]] = []

    def run(self, progress: Path | None, timing: dict[str, Any]) -> None:
        data = nbody_data.trajectories(self.validation, self.cell.seed, "validation")
        reporter = EpochReporter(progress, self.config.epochs)
        start = time.perf_counter()

        def on_epoch(epoch: int, loss: float) -> None:
            reporter(epoch, loss)
            if epoch % self.every == 0 or epoch == self.config.epochs:
                began = time.perf_counter()
                metrics = rollout(self.validation, data, self.model.predict)
                row = {key: metrics[key] for key in TRACKED}
                row.update(
                    epoch=epoch,
                    optimizer_steps=epoch * self.config.steps_per_epoch,
                    wall_s=began - start,
                    eval_s=time.perf_counter() - began,
                )
                self.evaluations.append(row)

        self.history = train(self.model, self.config, self.batches, on_epoch=on_epoch)

    def outcome(self, timing: dict[str, Any]) -> Outcome:
        trained = np.cumsum(self.history.seconds)
        for row in self.evaluations:
            row["train_s"] = float(trained[row["epoch"] - 1])
        timing["rollout_evaluations_s"] = sum(row["eval_s"] for row in self.evaluations)
        outcome = super().outcome(timing)
        outcome.fields["rollout_evaluations"] = self.evaluations
        return outcome
