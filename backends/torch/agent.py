"""PyTorch DQN agent (the TD step of shared/td.py): eager autograd ("eager") or one
torch.compile'd TD step ("compile").

Frames stay uint8 up to the network: ``torch.from_numpy`` shares the batch's memory
(no copy per step), and the scaling by 1/255 is the first op of the forward pass.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call, grad_and_value

from backends.common import check_mode, check_spec
from backends.torch.layers import (
    DTYPES,
    allow_distinct_models,
    build_network,
    canonical_parameters,
    get_canonical,
    set_canonical_,
    to_canonical,
)
from backends.torch.losses import make_loss
from backends.torch.optim import LearningRate, clip_grads_, make_optimizer, torch_optimizer
from shared.losses import initial_quantile
from shared.params import Params, cast_params, check_params
from shared.protocol import AgentSpec
from shared.td import TDBatch, check_frames, pixel_scale

# (obs, actions, rewards, next_obs, dones): (B, C, H, W) uint8, (B,) int64, (B,) float32,
# (B, C, H, W) uint8, (B,) float32, sharing the TDBatch's memory.
TDTensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class TorchAgent:
    """What both modes share: the online and target networks, the TD target, q_values,
    get/set and sync.

    Subclasses provide ``_loss_and_grads(*tensors) -> (loss, grads)``, grads in the order
    of ``self.params`` (canonical order, PyTorch layout), and ``_step(*tensors) -> loss``.
    """

    def __init__(self, spec: AgentSpec):
        check_spec(spec)
        network, dtype = spec.network, spec.dtype
        self.network, self.dtype_name, self.dtype = network, dtype, DTYPES[dtype]
        self.online = build_network(network, self.dtype)
        self.target = build_network(network, self.dtype)
        self.named = canonical_parameters(self.online)
        self.target_named = canonical_parameters(self.target)
        self.params = list(self.named.values())
        self.target_params = list(self.target_named.values())
        for p in self.target_params:
            p.requires_grad_(False)  # only read, and written by sync_target
        start = cast_params(spec.params, dtype)
        set_canonical_(self.named, start)
        set_canonical_(self.target_named, start)
        self.loss_fn = make_loss(spec.loss)
        # The loss functions' curriculum argument; Huber never reads it.
        self.quantile = torch.tensor([initial_quantile(spec.loss)], dtype=self.dtype)
        self.discount = spec.td.discount
        self.optimizer_spec = spec.optimizer
        self.pixel_scale = torch.tensor(pixel_scale(dtype))

    def _loss_and_grads(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    def _step(self, *tensors: torch.Tensor) -> torch.Tensor:
        """One update on a batch (``TDTensors``); returns the loss before the update."""
        raise NotImplementedError

    def _scaled(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames -> the model's dtype in [0, 1]: times ``shared.td.pixel_scale``,
        held as a tensor of the model's dtype (a Python float constant could be folded
        in double precision by compiled code)."""
        # In place on the fresh copy: one batch-sized buffer less to allocate and fill.
        return frames.to(self.dtype, copy=True).mul_(self.pixel_scale)

    def _td_target(
        self, rewards: torch.Tensor, next_obs: torch.Tensor, dones: torch.Tensor
    ) -> torch.Tensor:
        """``y = r + discount * (1 - done) * max_a' Q_target(x', a')``, ``(B,)``, a constant."""
        with torch.no_grad():
            q_next = self.target(self._scaled(next_obs)).amax(dim=1)  # (B,)
            not_done = 1 - dones.to(self.dtype)
            return rewards.to(self.dtype) + self.discount * not_done * q_next

    def _td_loss(self, q_all: torch.Tensor, actions: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of the taken actions' values ``q_all`` ``(B, n_actions)`` against ``y``."""
        q = q_all.gather(1, actions.unsqueeze(1)).squeeze(1)  # (B,)
        return self.loss_fn(q, y, self.quantile)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        check_frames(obs)
        with torch.inference_mode():  # the acting path: no autograd bookkeeping at all
            return self.online(self._scaled(torch.from_numpy(obs))).numpy()

    def td_loss_and_grads(self, batch: TDBatch) -> tuple[float, Params]:
        loss, grads = self._loss_and_grads(*_tensors(batch))
        pairs = zip(self.named, grads, strict=True)
        return loss.item(), {name: to_canonical(name, g) for name, g in pairs}

    def td_step(self, batch: TDBatch) -> float:
        return self._step(*_tensors(batch)).item()

    def sync_target(self) -> None:
        with torch.no_grad():  # in place: compiled code holds the target's tensors
            torch._foreach_copy_(self.target_params, self.params)

    def get_params(self) -> Params:
        return get_canonical(self.named)

    def get_target_params(self) -> Params:
        return get_canonical(self.target_named)

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)
        set_canonical_(self.named, cast_params(params, self.dtype_name))


def _tensors(batch: TDBatch) -> TDTensors:
    """The batch as tensors that share its NumPy memory (no copy, no cast)."""
    arrays = (batch.obs, batch.actions, batch.rewards, batch.next_obs, batch.dones)
    return tuple(torch.from_numpy(array) for array in arrays)


class EagerAgent(TorchAgent):
    """The loop a PyTorch user writes: the target under ``no_grad``, then ``zero_grad``,
    forward, ``backward``, clip, ``step`` with ``torch.optim``'s own optimizer."""

    def __init__(self, spec: AgentSpec):
        super().__init__(spec)
        # fused: the update is a fifth of a step with foreach on this network (optim.py).
        self.torch_optimizer = torch_optimizer(self.optimizer_spec, self.params, fused=True)
        self.clip = self.optimizer_spec.clip_global_norm

    def _loss(self, obs, actions, rewards, next_obs, dones) -> torch.Tensor:
        y = self._td_target(rewards, next_obs, dones)
        return self._td_loss(self.online(self._scaled(obs)), actions, y)

    def _loss_and_grads(self, *tensors):
        loss = self._loss(*tensors)
        return loss, list(torch.autograd.grad(loss, self.params))

    def _step(self, *tensors):
        self.torch_optimizer.zero_grad(set_to_none=True)
        loss = self._loss(*tensors)
        loss.backward()
        clip_grads_(self.params, self.clip)
        self.torch_optimizer.step()
        return loss


class CompiledAgent(TorchAgent):
    """What is compiled: ``_step`` (target forward, online forward and backward via
    ``torch.func.grad_and_value``, clipping and the optimizer update) as one fullgraph
    inductor graph, and ``_loss_and_grads`` alone for ``td_loss_and_grads``.
    ``q_values`` stays eager.

    As in model.CompiledModel: the parameters are plain tensors (no ``requires_grad``)
    that ``functional_call`` feeds to the online network, since dynamo cannot trace
    ``torch.autograd.grad``; ``dynamic=False``, so a new batch size compiles once more.
    """

    def __init__(self, spec: AgentSpec):
        super().__init__(spec)
        self.optimizer = make_optimizer(self.optimizer_spec, self.params)
        for p in self.params:
            p.requires_grad_(False)
        self.by_torch_name = dict(self.online.named_parameters())
        # A (1,) tensor, not a Python float, as in CompiledModel (see there).
        self.lr: LearningRate = torch.tensor([self.optimizer_spec.lr], dtype=self.dtype)
        allow_distinct_models()
        self._step = torch.compile(self._step, fullgraph=True, dynamic=False)
        self._loss_and_grads = torch.compile(self._loss_and_grads, fullgraph=True, dynamic=False)

    def _online_loss(self, params: dict[str, torch.Tensor], obs, actions, y) -> torch.Tensor:
        q_all = functional_call(self.online, params, (self._scaled(obs),))
        return self._td_loss(q_all, actions, y)

    def _loss_and_grads(self, obs, actions, rewards, next_obs, dones):
        y = self._td_target(rewards, next_obs, dones)  # outside the transform: a constant
        grads, loss = grad_and_value(self._online_loss)(self.by_torch_name, obs, actions, y)
        return loss, list(grads.values())

    def _step(self, *tensors):
        loss, grads = self._loss_and_grads(*tensors)
        with torch.no_grad():
            self.optimizer.apply(self.params, grads, self.lr)
        return loss


AGENTS = {"eager": EagerAgent, "compile": CompiledAgent}


def build_agent(spec: AgentSpec) -> TorchAgent:
    check_mode("torch", spec.mode, AGENTS, what="agent mode")
    return AGENTS[spec.mode](spec)
