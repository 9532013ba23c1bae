"""PyTorch model: eager autograd ("eager") or one torch.compile'd training step ("compile").

Importing this module imports torch and defines classes; nothing is computed until
``configure`` and ``build_model`` (or ``build_agent``, the DQN agent of agent.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call, grad_and_value

from backends.common import check_mode, check_spec, torch_threads
from backends.torch.agent import build_agent
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
from shared.losses import check_targets, initial_quantile
from shared.params import Params, cast_params, check_params
from shared.protocol import ModelSpec

__all__ = ["build_agent", "build_model", "configure"]

Batches = list[tuple[torch.Tensor, torch.Tensor]]  # one (x, y) pair per step


def configure(threads: int, seed: int) -> None:
    torch_threads(torch, threads)
    torch.manual_seed(seed)


def _accumulator() -> torch.Tensor:
    """A float64 loss sum of shape ``(1,)``: a float32 sum of 1,000 losses would lose
    digits, and torch.compile 2.13 silently drops in-place updates of 0-d float64 tensors."""
    return torch.zeros(1, dtype=torch.float64)


class TorchModel:
    """What both modes share: parameters, conversion, predict, get/set, the epoch loop.

    Subclasses provide ``_step`` and ``_loss_and_grads(x, y) -> (loss, grads)``, grads
    in the order of ``self.params`` (canonical order, PyTorch layout).
    """

    def __init__(self, spec: ModelSpec):
        check_spec(spec)
        self.network, self.dtype_name, self.dtype = spec.network, spec.dtype, DTYPES[spec.dtype]
        self.module = build_network(spec.network, self.dtype)
        self.named = canonical_parameters(self.module)
        self.params = list(self.named.values())
        self.set_params(spec.params)
        self.loss_spec, self.loss_fn = spec.loss, make_loss(spec.loss)
        # A (1,) tensor filled in place, like the compiled mode's learning rate.
        self.quantile = torch.tensor([initial_quantile(spec.loss)], dtype=self.dtype)
        self.optimizer_spec = spec.optimizer

    def _loss_and_grads(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    def _step(self, x: torch.Tensor, y: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        """One update on ``x`` ``(batch, in)``, ``y`` ``(batch, out)``; adds the loss
        before the update to ``total`` (see ``_accumulator``) and returns it."""
        raise NotImplementedError

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.ascontiguousarray(array), dtype=self.dtype)  # always a copy

    def predict(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.module(self._tensor(x)).numpy()

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, Params]:
        check_targets(self.loss_spec, y)
        loss, grads = self._loss_and_grads(self._tensor(x), self._tensor(y))
        pairs = zip(self.named, grads, strict=True)
        return loss.item(), {name: to_canonical(name, g) for name, g in pairs}

    def train_step(self, x: np.ndarray, y: np.ndarray) -> float:
        check_targets(self.loss_spec, y)
        return self._step(self._tensor(x), self._tensor(y), _accumulator()).item()

    def prepare(self, xs: np.ndarray, ys: np.ndarray) -> Batches:
        check_targets(self.loss_spec, ys)
        # unbind once here, not per step: indexing a tensor in the loop costs a dispatch.
        return list(zip(self._tensor(xs).unbind(0), self._tensor(ys).unbind(0), strict=True))

    def train_epoch(self, batches: Batches) -> float:
        total = _accumulator()  # summed on the framework side: one sync, at .item()
        step = self._step
        for x, y in batches:
            step(x, y, total)
        return total.item() / len(batches)

    def get_params(self) -> Params:
        return get_canonical(self.named)

    def set_loss_quantile(self, q: float) -> None:
        self.quantile.fill_(q)

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)
        set_canonical_(self.named, cast_params(params, self.dtype_name))


class EagerModel(TorchModel):
    """The loop a PyTorch user writes: ``zero_grad``, forward, ``backward``, ``step``
    with ``torch.optim``'s own optimizer."""

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.torch_optimizer = torch_optimizer(self.optimizer_spec, self.params)
        self.clip = self.optimizer_spec.clip_global_norm

    def _loss_and_grads(self, x, y):
        loss = self.loss_fn(self.module(x), y, self.quantile)
        return loss, list(torch.autograd.grad(loss, self.params))

    def _step(self, x: torch.Tensor, y: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        self.torch_optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.module(x), y, self.quantile)
        loss.backward()
        clip_grads_(self.params, self.clip)
        self.torch_optimizer.step()
        total.add_(loss.detach())
        return loss

    def set_learning_rate(self, lr: float) -> None:
        for group in self.torch_optimizer.param_groups:
            group["lr"] = float(lr)


class CompiledModel(TorchModel):
    """What is compiled: ``_step`` (forward, loss, backward via ``torch.func.grad_and_value``,
    clipping, optimizer update and loss accumulation) as one fullgraph inductor graph,
    and ``_loss_and_grads`` alone for ``loss_and_grads`` (inlined where ``_step`` calls
    it). ``predict`` stays eager.

    Dynamo cannot trace ``torch.autograd.grad``; ``torch.func`` transforms it can, so
    the parameters are plain tensors (no ``requires_grad``) that ``functional_call``
    feeds to the module. ``dynamic=False``: every step of an epoch has one shape; a
    new batch shape compiles once more and is cached beside the first.
    """

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        self.optimizer = make_optimizer(self.optimizer_spec, self.params)
        for p in self.params:
            p.requires_grad_(False)
        self.by_torch_name = dict(self.module.named_parameters())
        # A tensor input, not a Python float constant: set_learning_rate fills it in place.
        # Shape (1,): dynamo treats a 0-d float64 tensor as a Python float (a guard that
        # reads it every call) and drops in-place updates of one.
        self.lr: LearningRate = torch.tensor([self.optimizer_spec.lr], dtype=self.dtype)
        allow_distinct_models()
        self._step = torch.compile(self._step, fullgraph=True, dynamic=False)
        self._loss_and_grads = torch.compile(self._loss_and_grads, fullgraph=True, dynamic=False)

    def _loss_of(self, params: dict[str, torch.Tensor], x, y) -> torch.Tensor:
        return self.loss_fn(functional_call(self.module, params, (x,)), y, self.quantile)

    def _loss_and_grads(self, x, y):
        grads, loss = grad_and_value(self._loss_of)(self.by_torch_name, x, y)
        return loss, list(grads.values())

    def _step(self, x: torch.Tensor, y: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
        loss, grads = self._loss_and_grads(x, y)
        with torch.no_grad():
            self.optimizer.apply(self.params, grads, self.lr)
            total.add_(loss)
        return loss

    def set_learning_rate(self, lr: float) -> None:
        self.lr.fill_(lr)


MODELS = {"eager": EagerModel, "compile": CompiledModel}


def build_model(spec: ModelSpec) -> TorchModel:
    check_mode("torch", spec.mode, MODELS)
    return MODELS[spec.mode](spec)
