"""The contract every backend implements (``backends/<fw>/model.py``).

A backend module exposes two functions::

    configure(threads: int, seed: int) -> None
        Apply thread counts and framework seeds. Called once per process, right after
        the framework is imported and before anything is built.

    build_model(spec: ModelSpec) -> Model
        A model holding ``spec.params`` (canonical layout, copied), ready to train with
        ``spec.optimizer`` on ``spec.loss`` in ``spec.dtype`` ("float32" | "float64"),
        executing in ``spec.mode`` (one of the modes the registry lists for that backend).

    build_agent(spec: AgentSpec) -> QAgent
        A DQN agent (``QAgent``): an online network holding ``spec.params`` and a target
        network holding the same copy, trained by the TD step of ``shared.td`` with
        ``spec.loss`` (a ``shared.losses.Huber``), ``spec.optimizer`` and ``spec.td``.
        ``spec.network`` maps ``(C, H, W)`` frames to one value per action. A backend that
        cannot run a mode for DQN raises ``NotSupported``.

Everything that crosses the boundary is NumPy or a Python float. Returning a host
value makes the framework finish its work, so the harness's clock is honest.

Batches: ``prepare(xs, ys)`` takes arrays of shape ``(steps, batch, *features)`` and
returns the framework's own representation (device arrays, tensors) of one epoch, so
that conversion is paid once and timed apart from training. ``train_epoch`` then runs
``steps`` optimizer steps in order and returns the mean of their losses, each loss
being the one computed before that step's update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shared.losses import Loss
from shared.optim import Optimizer
from shared.params import Params
from shared.specs import Network
from shared.td import TDBatch, TDSpec


@dataclass(frozen=True)
class ModelSpec:
    """What a backend builds a model from: every number pinned, nothing left to a
    framework default."""

    network: Network
    params: Params  # the starting weights, canonical layout; the backend copies them
    loss: Loss
    optimizer: Optimizer
    dtype: str  # "float32" | "float64"
    mode: str  # one of the modes the registry lists for the backend


@dataclass(frozen=True)
class AgentSpec(ModelSpec):
    """What a backend builds a DQN agent from: a model's spec and the TD step's."""

    td: TDSpec


class Model(Protocol):
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Network output for ``x`` of shape ``(batch, *input_shape)``: ``(batch, *output)``."""

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        """Loss at the current parameters and its gradient per canonical parameter.

        No update is made; the gradients are in the canonical layout."""

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One optimizer step on one batch; returns the loss before the update."""

    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> Any:
        """One epoch of batches, ``(steps, batch, *features)``, in the framework's form."""

    def train_epoch(self, batches: Any) -> float:
        """Run every step of ``batches`` (from ``prepare``); mean of the step losses."""

    def get_params(self) -> Params:
        """A copy of the current parameters in the canonical layout and names."""

    def set_params(self, params: Params) -> None:
        """Replace the weights (canonical layout); optimizer state is kept."""

    def set_learning_rate(self, lr: float) -> None:
        """Learning rate of the following steps (no retracing or recompiling)."""

    def set_loss_quantile(self, q: float) -> None:
        """The percentile curriculum's quantile for the following steps (no retracing or
        recompiling); a freshly built model holds ``shared.losses.initial_quantile``.
        Losses without a curriculum never read it."""


class QAgent(Protocol):
    """The DQN's view of a backend (shared.td states the step). Frames are uint8."""

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Online network's values, ``(batch, C, H, W)`` uint8 -> ``(batch, n_actions)``."""

    def td_loss_and_grads(self, batch: TDBatch) -> tuple[float, Params]:
        """TD loss at the current weights and its gradient per canonical parameter of the
        online network; no update is made."""

    def td_step(self, batch: TDBatch) -> float:
        """One optimizer step on ``batch``; returns the TD loss before the update."""

    def sync_target(self) -> None:
        """Copy the online weights into the target network."""

    def get_params(self) -> Params:
        """A copy of the online weights (canonical layout)."""

    def get_target_params(self) -> Params:
        """A copy of the target network's weights (canonical layout)."""

    def set_params(self, params: Params) -> None:
        """Replace the online weights; the target network and optimizer state are kept."""


class BackendModule(Protocol):
    def configure(self, threads: int, seed: int) -> None: ...

    def build_model(self, spec: ModelSpec) -> Model: ...

    def build_agent(self, spec: AgentSpec) -> QAgent: ...


class NotSupported(Exception):
    """Raised by build_model for a spec the backend declares it cannot run."""
