"""Keras 3 on JAX and on PyTorch: the ``keras-jax`` and ``keras-torch`` backends.

Keras picks its backend once per process, so each runs in a subprocess of its own with
its registry env applied and ``BENCH_TEST_BACKEND`` naming it. The backend-parametrised
tests select exactly that backend there: parity against NumPy (tests/test_parity.py:
every mode, both dtypes, every case; see its SLOW_MODE_CASES), the DQN agent's TD steps
against NumPy's (tests/test_dqn_parity.py; see DQN_SLOW_MODE_CASES), the Keras checks,
the XOR verdict, parameter transfer with the backends that load beside it, the N-body
training loop, the architecture search's designs and float64 rewards, the checks of
targets, parameters and frames where they enter (tests/test_input_checks.py), and the
memory of the real DQN loop (tests/test_dqn_memory.py), and the protocol members of
what it builds (tests/test_protocol.py). Asserted here:
the subprocess passed and ran every parity test it should have. Also, in small
subprocesses: configure() sizes the framework's thread pools, and TensorFlow (which
``keras.utils.set_random_seed`` would import) stays out.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from benchmarks.workloads import get_workload
from shared import registry
from tests import test_dqn_parity as dqn
from tests.parity import BACKEND_UNDER_TEST
from tests.test_dqn_memory import memory_modes
from tests.test_parity import combos

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("keras-jax", "keras-torch")
SUITE = (
    "tests/test_parity.py",
    "tests/test_keras_backend.py",
    "tests/test_xor_verdict.py",
    "tests/test_param_transfer.py",
    "tests/test_nbody_training.py",
    # The backend-parametrised DQN tests; the NumPy agent's own run in the main process.
    "tests/test_dqn_parity.py::test_td_steps_match_numpy",
    "tests/test_dqn_parity.py::test_q_values_keep_the_model_dtype",
    # The architecture search: the same designs and float64 rewards as NumPy's search.
    "tests/test_search.py::test_same_designs_and_float64_rewards_on_every_backend",
    # Targets, parameters and frames are checked where they enter, as in every backend.
    "tests/test_input_checks.py",
    # The real DQN loop's memory stays flat, in every mode.
    "tests/test_dqn_memory.py::test_dqn_loop_memory_stays_flat",
    # What it builds has every member of shared/protocol.py's protocols, in every mode.
    "tests/test_protocol.py",
)
# Keras's torch.compile mode compiles each agent's train and predict steps anew (~15 s
# an agent here), and Keras on JAX run eagerly takes ~12 s an agent: there the TD-step
# parity runs the benchmark's own optimizer (Adam, clipped) in float32 only; every case
# with BENCH_FULL_PARITY=1, as SLOW_MODE_CASES.
DQN_SLOW_MODE_CASES = {
    ("keras-torch", "compile"): ("float32-adam-clip",),
    ("keras-jax", "eager"): ("float32-adam-clip",),  # ~12 s a case; jit runs them all
}
INPUT_CHECKS = (
    "test_softmax_cross_entropy_takes_only_probability_targets",
    "test_set_params_refuses_wrong_names_shapes_and_dtypes",
    "test_agent_refuses_wrong_params_and_frames",
)
# ``import keras`` itself imports JAX on every backend (its Orbax checkpoint callback).
OTHER_FRAMEWORK = {"keras-jax": ("tensorflow", "torch"), "keras-torch": ("tensorflow",)}


def _env(name: str, **extra: str) -> dict[str, str]:
    """This process's environment without thread settings, plus the backend's own."""
    env = {k: v for k, v in os.environ.items() if k not in ("NPROC", "XLA_FLAGS")}
    env.update(registry.get(name).env, **extra)
    env[BACKEND_UNDER_TEST] = name
    return env


def _skip_if_missing(name: str) -> None:
    if registry.missing_packages(name):
        pytest.skip(f"{name}: {', '.join(registry.missing_packages(name))} not installed")


def _expected_parity_tests(name: str) -> set[str]:
    steps = {f"test_steps_match_numpy[{p.id}]" for p in combos([name])}
    return steps | {f"test_epoch_matches_numpy[{p.id}]" for p in combos([name], True)}


def _dqn_tests(name: str) -> tuple[set[str], set[str]]:
    """``(to run, to deselect)``: test_dqn_parity's TD-step tests of backend ``name``."""
    info = registry.get(name)
    run, deselected = set(), set()
    for mode in info.modes_for(get_workload("dqn")):
        subset = DQN_SLOW_MODE_CASES.get((name, mode))
        for dtype in info.dtypes:
            for case in dqn.CASES:
                test = f"test_td_steps_match_numpy[{name}-{mode}-{dtype}-{case}]"
                slow = subset is not None and f"{dtype}-{case}" not in subset
                if slow and os.environ.get("BENCH_FULL_PARITY") != "1":
                    deselected.add(test)
                else:
                    run.add(test)
    return run, deselected


def _suite_command(name: str, folder: Path) -> list[str]:
    """``name``'s suite as a shell command that leaves its exit status in ``folder/rc``."""
    command = [sys.executable, "-m", "pytest", *SUITE, "-q", "-p", "no:cacheprovider"]
    for test in sorted(_dqn_tests(name)[1]):
        command += ["--deselect", f"tests/test_dqn_parity.py::{test}"]
    command.append(f"--junitxml={folder / 'junit.xml'}")
    return ["sh", "-c", f"{shlex.join(command)}; echo $? > {shlex.quote(str(folder / 'rc'))}"]


@pytest.fixture(scope="module")
def suite_runs(request, tmp_path_factory) -> Path:
    """The folder holding one subfolder per backend's suite run (``output.txt``,
    ``junit.xml``, and ``rc`` once it has finished).

    The suites mostly run Python (Keras's per-step overhead, dynamo tracing) on tiny
    tensors, so each gets one thread and they all start at once: the slower one sets
    the wall time. They are started once per pytest run, by whichever process gets
    there first: under pytest-xdist every worker sees every test, and the folder and
    its lock file are shared by the workers of one run."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "keras-suites"
    root.mkdir(exist_ok=True)
    try:
        os.close(os.open(root / "started", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return root  # another worker started them
    one_thread = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NPROC": "1"}
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if item.originalname == "test_suite_passes_in_a_process_of_its_own"
    }
    for name in sorted(selected):
        if registry.missing_packages(name):
            continue
        folder = root / name
        folder.mkdir()
        with open(folder / "output.txt", "w") as output:
            subprocess.Popen(
                _suite_command(name, folder),
                cwd=ROOT,
                env=_env(name, **one_thread),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
    return root


def _wait_for(folder: Path, timeout_s: float = 3600.0) -> int:
    """The suite's exit status, once its ``rc`` file appears."""
    deadline = time.monotonic() + timeout_s
    while not (folder / "rc").exists() or not (folder / "rc").read_text().strip():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{folder.name}'s suite did not finish in {timeout_s:.0f} s")
        time.sleep(1.0)
    return int((folder / "rc").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_suite_passes_in_a_process_of_its_own(name: str, suite_runs) -> None:
    _skip_if_missing(name)
    folder = suite_runs / name
    returncode = _wait_for(folder)
    assert returncode == 0, (folder / "output.txt").read_text()[-6000:]
    ran = [
        case
        for case in ElementTree.parse(folder / "junit.xml").getroot().iter("testcase")
        if case.find("skipped") is None
    ]
    parity = {case.get("name") for case in ran if case.get("classname") == "tests.test_parity"}
    assert parity == _expected_parity_tests(name)
    td_steps = {
        case.get("name")
        for case in ran
        if case.get("classname") == "tests.test_dqn_parity"
        and case.get("name").startswith("test_td_steps_match_numpy")
    }
    assert td_steps == _dqn_tests(name)[0]
    keras_checks = [case for case in ran if case.get("classname") == "tests.test_keras_backend"]
    assert len(keras_checks) >= 4, "the Keras checks did not run"
    search = {case.get("name") for case in ran if case.get("classname") == "tests.test_search"}
    assert search == {f"test_same_designs_and_float64_rewards_on_every_backend[{name}]"}
    checks = {
        case.get("name") for case in ran if case.get("classname") == "tests.test_input_checks"
    }
    assert checks == {f"{test}[{name}]" for test in INPUT_CHECKS}
    memory = {case.get("name") for case in ran if case.get("classname") == "tests.test_dqn_memory"}
    modes = memory_modes(name)
    assert modes, "no DQN memory case for this backend"
    assert memory == {f"test_dqn_loop_memory_stays_flat[{name}-{mode}]" for mode in modes}
    protocol = {case.get("name") for case in ran if case.get("classname") == "tests.test_protocol"}
    assert (
        f"test_model_has_every_protocol_member[{name}-{registry.get(name).default_mode}]"
        in protocol
    )


THREADS_PROBE = {
    # XLA:CPU names its intra-op pool's threads "XLAEigen".
    "keras-jax": (
        "import jax.numpy as jnp\n"
        "(jnp.ones((64, 64)) @ jnp.ones((64, 64))).block_until_ready()\n"
        "names = [open(f'/proc/self/task/{t}/comm').read().strip()\n"
        "         for t in os.listdir('/proc/self/task')]\n"
        "print(sum(name.endswith('XLAEigen') for name in names))\n"
    ),
    "keras-torch": (
        "import torch\nprint(torch.get_num_threads(), torch.get_num_interop_threads())\n"
    ),
}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc thread names")
@pytest.mark.parametrize("name", NAMES)
def test_configure_sets_one_thread_and_no_other_framework_loads(name: str) -> None:
    _skip_if_missing(name)
    code = (
        "import os, sys\n"
        "from shared import registry\n"
        f"module = registry.load({name!r})\n"
        "module.configure(1, 0)\n"
        "from tests.parity import build, cases\n"
        "case = cases()['xor-momentum']\n"
        f"model = build({name!r}, case, 'float32')\n"
        "model.train_epoch(model.prepare(case.xs, case.ys))\n"
        f"print(sorted(set({OTHER_FRAMEWORK[name]!r}) & set(sys.modules)))\n"
        f"{THREADS_PROBE[name]}"
    )
    env = {**_env(name), BACKEND_UNDER_TEST: ""}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    others, threads = result.stdout.strip().splitlines()[-2:]
    assert others == "[]"
    assert threads == ("1" if name == "keras-jax" else "1 1")
