"""NumPy DQN agent: the reference implementation of shared.td's TD step."""

from __future__ import annotations

import numpy as np

from backends.common import check_mode, check_spec
from backends.numpy.layers import backward, build_layers, forward
from backends.numpy.losses import loss_and_output_grad
from backends.numpy.optim import make_optimizer
from shared.params import Params, cast_params, check_params
from shared.protocol import AgentSpec
from shared.td import TDBatch, check_frames, scale_frames

MODES = ("eager",)


class NumpyAgent:
    """Online and target networks sharing one set of layer objects: only the online
    forward keeps state for the backward pass."""

    def __init__(self, spec: AgentSpec):
        check_spec(spec)
        self.network = spec.network
        self.dtype = np.dtype(spec.dtype)
        self.loss = spec.loss
        self.discount = self.dtype.type(spec.td.discount)
        self.layers = build_layers(spec.network)
        self.params = cast_params(spec.params, spec.dtype)
        self.target_params = self._copy(self.params)
        self.optimizer = make_optimizer(spec.optimizer, self.params)

    def _frames(self, obs: np.ndarray) -> np.ndarray:
        """uint8 frames -> the model's dtype in [0, 1], dividing in that dtype."""
        return scale_frames(obs, self.dtype.name)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        check_frames(obs)
        return forward(self.layers, self.params, self._frames(obs), keep=False)

    def td_loss_and_grads(self, batch: TDBatch) -> tuple[float, Params]:
        # the target first: it keeps no state, and the online pass's state is what
        # backward reads
        q_next = forward(self.layers, self.target_params, self._frames(batch.next_obs), keep=False)
        rewards = batch.rewards.astype(self.dtype, copy=False)
        not_done = 1 - batch.dones.astype(self.dtype, copy=False)
        y = rewards + self.discount * not_done * q_next.max(axis=1)  # (B,), a constant
        values = forward(self.layers, self.params, self._frames(batch.obs))  # (B, n_actions)
        rows = np.arange(len(batch))
        loss, d_q = loss_and_output_grad(self.loss, values[rows, batch.actions], y)
        d_values = np.zeros_like(values)  # only the taken action's value has a gradient
        d_values[rows, batch.actions] = d_q
        return float(loss), backward(self.layers, self.params, d_values)

    def td_step(self, batch: TDBatch) -> float:
        loss, grads = self.td_loss_and_grads(batch)
        self.optimizer.apply(self.params, grads)
        return loss

    def sync_target(self) -> None:
        for name, value in self.params.items():
            self.target_params[name][...] = value

    def get_params(self) -> Params:
        return self._copy(self.params)

    def get_target_params(self) -> Params:
        return self._copy(self.target_params)

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)  # assignment would broadcast a wrong shape
        for name, value in cast_params(params, self.dtype.name).items():
            self.params[name][...] = value  # in place: the optimizer holds no copies

    @staticmethod
    def _copy(params: Params) -> Params:
        return {name: value.copy() for name, value in params.items()}


def build_agent(spec: AgentSpec) -> NumpyAgent:
    check_mode("numpy", spec.mode, MODES)
    return NumpyAgent(spec)
