"""The DQN agent (shared/td.py) in JAX: Flax online and target networks, Optax updates.

Mode ``jit`` only: the TD step is one jitted program (the target network's forward pass,
the online network's forward and backward pass, the optimizer's update) with the online
parameters and optimizer state donated, so XLA updates them in place. The target
parameters are an argument of that program like the batch, so ``sync_target`` is a
buffer copy, never a retrace. Frames cross into the programs as uint8 and become the
model's dtype inside.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from backends.common import check_spec
from backends.jax.layers import FlaxParams, SpecNetwork, build_module, to_canonical, to_flax
from backends.jax.losses import LossFn, make_loss
from backends.jax.optim import make_optimizer
from shared.params import Params, check_params
from shared.protocol import AgentSpec, NotSupported
from shared.td import TDBatch, check_frames, pixel_scale

MODES = ("jit",)
# The arrays of a TDBatch, in the order the jitted functions take them.
Transitions = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def td_functions(
    module: SpecNetwork, loss_fn: LossFn, discount: float, dtype: str
) -> tuple[Callable, Callable]:
    """``q_values(params, obs)`` and ``td_loss(params, target_params, *transitions)``,
    as shared.td states them; ``obs`` and ``next_obs`` are ``(B, C, H, W)`` uint8."""
    scale = pixel_scale(dtype)  # a constant of the program

    def q_values(params: FlaxParams, obs: jax.Array) -> jax.Array:
        return module.apply({"params": params}, obs.astype(dtype) * scale)  # (B, n_actions)

    def td_loss(params, target_params, obs, actions, rewards, next_obs, dones) -> jax.Array:
        # y depends on the target parameters only, never differentiated: a constant.
        q_next = jnp.max(q_values(target_params, next_obs), axis=1)  # (B,)
        y = rewards.astype(dtype) + discount * (1 - dones.astype(dtype)) * q_next
        q = jnp.take_along_axis(q_values(params, obs), actions[:, None], axis=1)[:, 0]  # (B,)
        return loss_fn(q, y, None)

    return q_values, td_loss


def td_step_function(td_loss: Callable, tx: optax.GradientTransformation) -> Callable:
    """``(params, opt_state, target_params, *transitions) -> (params, opt_state, loss
    before the update)``."""
    value_and_grad = jax.value_and_grad(td_loss)

    def step(params, opt_state, target_params, *transitions):
        loss, grads = value_and_grad(params, target_params, *transitions)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def transitions(batch: TDBatch) -> Transitions:
    """The batch's host arrays as they are: jit transfers them, uint8 frames included."""
    return batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.dones


class JitAgent:
    """Online and target parameters on the device, and the jitted TD pieces."""

    def __init__(self, spec: AgentSpec):
        check_spec(spec)
        network, dtype = spec.network, spec.dtype
        self.network = network
        self.names = list(network.param_shapes())
        self.dtype = np.dtype(dtype)
        tx = make_optimizer(spec.optimizer, dtype)
        self.params = to_flax(spec.params, dtype)
        self.target_params = self._copy(self.params)  # its own buffers: params are donated
        self.opt_state = tx.init(self.params)
        q_values, td_loss = td_functions(
            build_module(network, dtype), make_loss(spec.loss), spec.td.discount, dtype
        )
        self._q_values = jax.jit(q_values)
        self._td_loss_and_grads = jax.jit(jax.value_and_grad(td_loss))
        self._td_step = jax.jit(td_step_function(td_loss, tx), donate_argnums=(0, 1))

    @staticmethod
    def _copy(tree: FlaxParams) -> FlaxParams:
        return jax.tree.map(jnp.copy, tree)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """``(B, C, H, W)`` uint8 -> ``(B, n_actions)`` of the model's dtype."""
        check_frames(obs)
        return np.array(self._q_values(self.params, obs))  # a fresh, writable copy

    def td_loss_and_grads(self, batch: TDBatch) -> tuple[float, Params]:
        loss, grads = self._td_loss_and_grads(self.params, self.target_params, *transitions(batch))
        return float(loss), to_canonical(grads, self.names)

    def td_step(self, batch: TDBatch) -> float:
        self.params, self.opt_state, loss = self._td_step(
            self.params, self.opt_state, self.target_params, *transitions(batch)
        )
        return float(loss)

    def sync_target(self) -> None:
        self.target_params = self._copy(self.params)

    def get_params(self) -> Params:
        return to_canonical(self.params, self.names)

    def get_target_params(self) -> Params:
        return to_canonical(self.target_params, self.names)

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)  # jit would retrace for a new shape, silently
        self.params = to_flax({name: params[name] for name in self.names}, self.dtype.name)


def build_agent(spec: AgentSpec) -> JitAgent:
    if spec.mode not in MODES:  # scan, a mode of the backend: nothing to fuse in DQN
        raise NotSupported(
            f"jax backend: no agent in mode {spec.mode!r}; valid: {', '.join(MODES)}"
        )
    return JitAgent(spec)
