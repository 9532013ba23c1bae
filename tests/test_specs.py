"""Specs reject what cannot work, with a message naming the problem; sizes are right."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads import TrainingConfig
from shared.losses import BinaryCrossEntropy, RewardShaped
from shared.optim import SGD, Adam, Constant, ExponentialDecay, learning_rates
from shared.params import InitScheme, init_params
from shared.specs import Conv2D, Dense, Flatten, MaxPool2D, Network, SpecError

DQN = Network(
    (4, 84, 84),
    (
        Conv2D(32, 8, 4, activation="relu"),
        Conv2D(64, 4, 2, activation="relu"),
        Conv2D(64, 3, 1, activation="relu"),
        Flatten(),
        Dense(512, "relu"),
        Dense(256, "relu"),
        Dense(6),
    ),
)
NBODY = Network((3,), (*(Dense(128, "relu") for _ in range(10)), Dense(4)))


def test_published_sizes():
    # reference.md: ~1.82 M parameters and 18.95 MFLOP per sample for the DQN net,
    # 149,636 parameters for Breen et al.'s 128x10 MLP.
    assert DQN.layer_shapes()[3] == (3136,)
    assert DQN.n_params == 1_816_998
    assert DQN.forward_flops() == pytest.approx(18.95e6, rel=0.01)
    assert NBODY.n_params == 149_636
    # ~4.45 GFLOP per N-body step at batch 5,000; ~2.22 GFLOP per DQN step at batch 32
    # (online forward and backward plus the target network's forward).
    assert NBODY.train_step_flops(5000) == pytest.approx(4.45e9, rel=0.01)
    dqn_step = DQN.train_step_flops(32) + 32 * DQN.forward_flops()
    assert dqn_step == pytest.approx(2.22e9, rel=0.01)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Network((1, 5, 5), (Conv2D(4, 7), Flatten(), Dense(1))), "larger than its input"),
        (lambda: Network((1, 4, 4), (MaxPool2D(5), Flatten(), Dense(1))), "larger than its input"),
        (lambda: Network((1, 8, 8), (Conv2D(4, 3), Dense(1))), "add Flatten"),
        (lambda: Network((3,), (Flatten(), Dense(1))), "Flatten needs"),
        (lambda: Network((3,), (Dense(2, "gelu"),)), "activation must be one of"),
        (lambda: Network((3,), (Dense(0),)), "positive integer"),
        (lambda: Network((1, 8, 8), (Conv2D(4, 3, 2, "same"), Flatten(), Dense(1))), "same"),
        (lambda: Network((3,), ()), "at least one layer"),
        (lambda: Network((1, 8, 8), (Conv2D(2, 3), Flatten())), "last layer must be Dense"),
        (lambda: SGD(lr=-1.0), "lr must be positive"),
        (lambda: SGD(lr=0.1, momentum=1.0), "momentum"),
        (lambda: Adam(lr=1e-3, beta1=0.9, beta2=1.0, eps=1e-8), "beta2"),
        (lambda: Adam(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, clip_global_norm=0), "clip"),
        (lambda: ExponentialDecay(1.5), "gamma"),
        (lambda: RewardShaped("cubic"), "reward must be"),
        (lambda: BinaryCrossEntropy(eps=0.7), "eps"),
        (lambda: InitScheme("he_normal"), "unknown init"),
        (
            lambda: TrainingConfig(
                NBODY,
                InitScheme("normal"),
                BinaryCrossEntropy(),
                SGD(lr=0.1),
                epochs=0,
                steps_per_epoch=1,
                batch_size=1,
            ),
            "epochs",
        ),
    ],
)
def test_invalid_specs_are_rejected_when_built(build, message):
    with pytest.raises(SpecError, match=message):
        build()


def test_canonical_layout_names_and_shapes():
    assert DQN.param_shapes()["layer0.kernel"] == (8, 8, 4, 32)
    assert DQN.param_shapes()["layer4.kernel"] == (3136, 512)
    assert list(NBODY.param_shapes())[:2] == ["layer0.kernel", "layer0.bias"]


def test_same_padding_keeps_the_size():
    net = Network((3, 8, 8), (Conv2D(4, 3, padding="same"), MaxPool2D(2), Flatten(), Dense(2)))
    assert net.layer_shapes()[:3] == [(4, 8, 8), (4, 4, 4), (64,)]


def test_init_is_deterministic_and_follows_each_scheme():
    net = Network((50,), (Dense(40, "relu"), Dense(3)))
    first = init_params(net, InitScheme("torch_default"), seed=5)
    again = init_params(net, InitScheme("torch_default"), seed=5)
    other = init_params(net, InitScheme("torch_default"), seed=6)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["layer0.kernel"], other["layer0.kernel"])
    bound = 1 / np.sqrt(50)
    assert np.abs(first["layer0.kernel"]).max() <= bound
    assert np.abs(first["layer0.bias"]).max() <= bound and first["layer0.bias"].any()
    glorot = init_params(net, InitScheme("glorot_uniform"), seed=5)
    assert np.abs(glorot["layer0.kernel"]).max() <= np.sqrt(6 / 90)
    assert not glorot["layer0.bias"].any()
    normal = init_params(net, InitScheme("normal", std=0.1), seed=5, dtype="float32")
    assert normal["layer0.kernel"].dtype == np.float32
    assert 0.08 < normal["layer0.kernel"].std() < 0.12


def test_exponential_decay_reaches_its_decades():
    rates = learning_rates(ExponentialDecay.over_decades(3, 100), 1e-2, 101)
    assert rates[0] == 1e-2 and rates[100] == pytest.approx(1e-5)
    np.testing.assert_array_equal(learning_rates(Constant(), 0.5, 4), [0.5] * 4)
