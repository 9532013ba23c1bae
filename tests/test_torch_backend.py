"""Checks specific to the PyTorch backend: thread settings, no recompiles in compile mode,
rates and weights that compiled code really reads, dtypes kept, the contract's errors,
and the same for the DQN agent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests import test_dqn_parity as dqn
from tests.parity import assert_params_close, build, cases

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[1]


def _case_model(case_name: str, dtype: str, mode: str):
    case = cases()[case_name]
    return case, build("torch", case, dtype, mode)


@pytest.mark.parametrize("threads", [1, 2])
def test_configure_sets_both_thread_pools(threads: int) -> None:
    code = (
        "import torch\n"
        "from backends.torch import model\n"
        f"model.configure({threads}, 0)\n"
        f"model.configure({threads}, 0)\n"  # a second call with the same count is fine
        "print(torch.get_num_threads(), torch.get_num_interop_threads())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    assert result.stdout.split() == [str(threads), str(threads)]


def test_compiled_model_never_recompiles_after_its_first_step() -> None:
    case, model = _case_model("copynet-reward", "float64", "compile")
    batches = model.prepare(case.xs, case.ys)
    model.train_epoch(batches)
    model.loss_and_grads(case.xs[0], case.ys[0])
    # Raises on any new compilation: another epoch, a new rate, the per-step API,
    # fresh data, and a second model of the same configuration.
    with torch.compiler.set_stance("fail_on_recompile"):
        model.train_epoch(batches)
        model.set_learning_rate(0.003)
        model.train_epoch(model.prepare(case.xs[::-1], case.ys[::-1]))
        model.train_step(case.xs[0], case.ys[0])
        model.loss_and_grads(case.xs[1], case.ys[1])
        twin = build("torch", case, "float64", "compile")
        twin.train_epoch(twin.prepare(case.xs, case.ys))


@pytest.mark.parametrize("case_name", ["copynet-reward", "mlp-adam-clip-decay"])
def test_compiled_epoch_follows_rate_changes_like_eager(case_name: str) -> None:
    trained = {}
    for mode in ("eager", "compile"):
        case, model = _case_model(case_name, "float64", mode)
        batches = model.prepare(case.xs, case.ys)
        for lr in (case.optimizer.lr, case.optimizer.lr / 4):
            model.set_learning_rate(lr)
            model.train_epoch(batches)
        trained[mode] = model.get_params()
    assert_params_close(trained["compile"], trained["eager"], "float64", "compile vs eager")


@pytest.mark.parametrize("mode", ["eager", "compile"])
def test_set_params_reaches_the_training_step(mode: str) -> None:
    case, model = _case_model("copynet-supervised", "float64", mode)  # SGD, no momentum
    start = model.get_params()
    first = model.train_step(case.xs[0], case.ys[0])
    model.set_params(start)
    assert model.train_step(case.xs[0], case.ys[0]) == pytest.approx(first, rel=1e-12)


@pytest.mark.parametrize("mode", ["eager", "compile"])
def test_float32_stays_float32(mode: str) -> None:
    case, model = _case_model("xor-momentum", "float32", mode)
    model.train_epoch(model.prepare(case.xs, case.ys))
    assert model.predict(case.xs[0]).dtype == np.float32
    assert all(value.dtype == np.float32 for value in model.get_params().values())
    _, grads = model.loss_and_grads(case.xs[0], case.ys[0])
    assert all(value.dtype == np.float32 for value in grads.values())


def test_get_params_returns_fresh_canonical_copies() -> None:
    _, model = _case_model("xor-momentum", "float64", "eager")
    params = model.get_params()
    assert params["layer0.kernel"].shape == (2, 2) and params["layer0.kernel"].flags.c_contiguous
    params["layer0.kernel"][...] = 0.0
    assert not np.all(model.get_params()["layer0.kernel"] == 0.0)


def test_unknown_mode_raises_value_error() -> None:
    with pytest.raises(ValueError, match="no mode"):
        build("torch", cases()["copynet-reward"], "float64", "jit")


def test_unknown_agent_mode_raises_value_error() -> None:
    with pytest.raises(ValueError, match="no agent mode"):
        dqn.build_agent("torch", dqn.CASES["sgd"], "float64", "jit")


def test_compiled_agent_never_recompiles_after_its_first_step() -> None:
    agent = dqn.build_agent("torch", dqn.CASES["adam-clip"], "float32", "compile")
    first, *rest = dqn.batches()
    agent.td_step(first)
    agent.td_loss_and_grads(first)
    # Raises on any new compilation: fresh batches, a target sync, new online weights,
    # and a second agent of the same configuration.
    with torch.compiler.set_stance("fail_on_recompile"):
        for batch in rest:
            agent.td_step(batch)
        agent.sync_target()
        agent.set_params(dqn.start_params("float32"))
        agent.td_step(first)
        agent.td_loss_and_grads(rest[0])
        twin = dqn.build_agent("torch", dqn.CASES["adam-clip"], "float32", "compile")
        twin.td_step(first)


@pytest.mark.parametrize("mode", ["eager", "compile"])
def test_sync_and_set_params_reach_the_td_step(mode: str) -> None:
    agent = dqn.build_agent("torch", dqn.CASES["sgd"], "float64", mode)
    start, batch = agent.get_params(), dqn.batches()[0]
    first = agent.td_step(batch)
    agent.set_params(start)  # the target still holds start: the same loss again
    assert agent.td_step(batch) == pytest.approx(first, rel=1e-12)
    agent.sync_target()  # bootstrapping from the moved weights changes the loss
    assert_params_close(agent.get_target_params(), agent.get_params(), "float64", "synced")
    agent.set_params(start)
    assert agent.td_step(batch) != pytest.approx(first, rel=1e-9)
