"""The DQN agent (shared/td.py) as a Keras model trained by Keras's own train step.

``TDModel`` holds the online network and the target network (a second built copy,
not trainable). Its ``call`` takes a batch of transitions and returns the online Q of
the taken actions and the bootstrap target; ``compute_loss`` hands the two to the
compiled loss (``SpecLoss``: Keras's Huber), so Keras's own train function runs the
whole TD step (target forward, online forward and backward, the spec optimizer's
update) in the mode's compiled form, one call a step. Acting goes through a second
model over the online network's layers, uint8 frames in, whose Keras predict function
is compiled the same way.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from backends.common import check_spec
from backends.keras.layers import build_network, canonical_variables, read_params, write_params
from backends.keras.losses import SpecLoss
from backends.keras.native import NATIVE, default_float, in_model_float, keras_mode
from backends.keras.optim import make_optimizer
from shared.losses import Huber
from shared.params import Params, check_params
from shared.protocol import AgentSpec
from shared.specs import Network
from shared.td import TDBatch, TDSpec, check_frames, pixel_scale


class ScaleFrames(keras.layers.Layer):
    """uint8 frames -> the layer's dtype in [0, 1]: ``x * pixel_scale(dtype)``."""

    def __init__(self, dtype: str):
        super().__init__(dtype=dtype)
        # A Python float holding the dtype's 1/255 exactly: every framework rounds it
        # to that dtype unchanged.
        self.pixel_scale = float(pixel_scale(dtype))

    def call(self, frames):
        return ops.cast(frames, self.compute_dtype) * self.pixel_scale


class TDModel(keras.Model):
    """``call(batch) -> (q, y)``, both ``(B,)``: the online network's value of each taken
    action, and ``y = r + discount * (1 - done) * max_a' Q_target(x')`` as a constant.

    ``batch`` is the dict of ``td_inputs``: frames uint8 ``(B, C, H, W)``, actions int64,
    rewards and dones float32 ``(B,)``.
    """

    def __init__(self, network: Network, dtype: str, td: TDSpec):
        super().__init__(name="td_model", dtype=dtype)
        self.scale = ScaleFrames(dtype=dtype)
        self.online = build_network(network, dtype)
        self.target = build_network(network, dtype)
        self.target.trainable = False
        self.discount = td.discount

    def call(self, batch, training=False):
        del training  # nothing here behaves differently in training
        q_all = self.online(self.scale(batch["obs"]))  # (B, n_actions)
        q = ops.take_along_axis(q_all, ops.expand_dims(batch["actions"], 1), axis=1)[:, 0]
        # amax, not max: on torch, dynamo breaks the graph inside Keras's ops.max.
        q_next = ops.amax(self.target(self.scale(batch["next_obs"])), axis=1)  # (B,)
        rewards = ops.cast(batch["rewards"], self.compute_dtype)
        not_done = 1.0 - ops.cast(batch["dones"], self.compute_dtype)
        y = rewards + self.discount * not_done * q_next
        return q, ops.stop_gradient(y)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss of ``q`` against ``y`` (``fit``'s ``y`` is unused: ``call``
        computes the target)."""
        q, target = y_pred
        return super().compute_loss(x=x, y=target, y_pred=q, training=training)


def td_inputs(batch: TDBatch) -> dict:
    """The batch as ``TDModel``'s input, tensors of the Keras backend (on torch,
    ``torch.compile`` breaks its graph where Keras converts a NumPy input inside)."""
    arrays = {
        "obs": batch.obs,
        "actions": batch.actions,
        "rewards": batch.rewards,
        "next_obs": batch.next_obs,
        "dones": batch.dones,
    }
    return {name: ops.convert_to_tensor(value) for name, value in arrays.items()}


def empty_batch(network: Network) -> TDBatch:
    """One transition of zeros."""
    frames = np.zeros((1, *network.input_shape), np.uint8)
    zeros = np.zeros(1, np.float32)
    return TDBatch(frames, np.zeros(1, np.int64), zeros, frames, zeros)


class KerasAgent:
    """The QAgent protocol on ``TDModel``; everything in and out is NumPy or a float."""

    def __init__(self, spec: AgentSpec):
        network, dtype = spec.network, spec.dtype
        self.network = network
        self.dtype = dtype
        self.native = NATIVE[keras.backend.backend()]
        compile_args = keras_mode(spec.mode)
        with default_float(dtype):
            self.model = TDModel(network, dtype, spec.td)
            self.loss = SpecLoss(spec.loss, dtype)  # its trace count: tests/test_keras_backend.py
            self.optimizer = make_optimizer(spec.optimizer)
            self.model.compile(optimizer=self.optimizer, loss=self.loss, **compile_args)
            self.optimizer.build(self.model.trainable_variables)
            # Build the model and compile()'s loss wrapper eagerly, as train_on_batch
            # would before its first step: torch.compile fails on lazy builds.
            self.model.compute_loss(y_pred=self.model(td_inputs(empty_batch(network))))
            self.model.make_train_function()
            self.acting = self._acting_model(network, compile_args)
            self._loss_and_grads = self.native.loss_and_grads(self.model, **compile_args)
        self.online = canonical_variables(self.model.online, network)
        self.target = canonical_variables(self.model.target, network)
        # Gradients come in trainable_variables order: it must be the canonical one.
        assert list(map(id, self.online.values())) == list(map(id, self.model.trainable_variables))
        write_params(self.online, spec.params)
        write_params(self.target, spec.params)

    def _acting_model(self, network: Network, compile_args: dict) -> keras.Model:
        """uint8 frames -> the online network's Q-values, compiled as the TD step is."""
        frames = keras.Input(shape=network.input_shape, dtype="uint8")
        acting = keras.Model(frames, self.model.online(self.model.scale(frames)))
        acting.compile(optimizer=None, **compile_args)
        return acting

    @in_model_float
    def q_values(self, obs: np.ndarray) -> np.ndarray:
        check_frames(obs)
        return np.asarray(self.acting.predict_on_batch(ops.convert_to_tensor(obs)))

    @in_model_float
    def td_loss_and_grads(self, batch: TDBatch) -> tuple[float, Params]:
        value, grads = self._loss_and_grads(td_inputs(batch), None)
        return float(value), {
            name: np.array(ops.convert_to_numpy(g))
            for name, g in zip(self.online, grads, strict=True)
        }

    @in_model_float
    def td_step(self, batch: TDBatch) -> float:
        # One step of the model's train function, as native.py runs an epoch's
        # (train_on_batch costs ~1 ms more a step on JAX: it moves the whole model
        # state out and back).
        return float(self.native.run_epoch(self.model, iter([(td_inputs(batch),)])))

    def sync_target(self) -> None:
        # Through NumPy: on JAX, sharing one buffer between the two networks would
        # donate it twice to the jitted step. Once per thousands of steps.
        write_params(self.target, read_params(self.online))

    def get_params(self) -> Params:
        return read_params(self.online)

    def get_target_params(self) -> Params:
        return read_params(self.target)

    def set_params(self, params: Params) -> None:
        check_params(self.network, params)
        write_params(self.online, params)


def build_agent(spec: AgentSpec) -> KerasAgent:
    if not isinstance(spec.loss, Huber):
        raise TypeError(f"the agent's loss is a shared.losses.Huber, got {spec.loss!r}")
    check_spec(spec)
    return KerasAgent(spec)
