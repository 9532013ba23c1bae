"""Numeric options of every subcommand: NaN, infinities, zero, negatives, out-of-range
counts and malformed seed lists exit with status 2 and one line before any work; a
repeated name runs its cells once; a cell records the threads each framework reports."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest
import torch

from benchmarks import cli, options
from benchmarks.cell import main as cell_main
from benchmarks.records import Cell
from shared.metadata import REPO_ROOT
from tests.cli_inprocess import assert_one_error_line, cli_main, forbid_work, write_checkpoint

SMALL_RUN = ("run", "--workload", "xor", "--variant", "momentum", "--backend", "numpy")
SMALL_RUN += ("--preset", "smoke")
TOO_MANY_CPUS = str(len(os.sched_getaffinity(0)) + 1)


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (("--timeout", "nan"), "--timeout must be a finite number above 0"),
        (("--timeout", "inf"), "--timeout must be a finite number above 0"),
        (("--threads", TOO_MANY_CPUS), "the CPUs this process may use"),
        (("--threads", "10000"), "the CPUs this process may use"),
        (("--repeats", "1000000"), "--repeats must be between 1 and"),
        (("--seeds", "5-2"), "descending range"),
        (("--seeds", "0-"), "has no end"),
        (("--seeds", "0-10000"), "10,001 seeds; at most 10,000"),
        (("--seeds", "4294967296"), "seeds must be between 0 and 2147483647"),
        # the Atari emulator's reset takes signed 32-bit seeds only
        (("--seeds", "2147483648"), "seeds must be between 0 and 2147483647"),
    ],
)
def test_run_refuses_bad_numbers_before_any_work(options, phrase, tmp_path, monkeypatch, capsys):
    forbid_work(monkeypatch)
    code, stderr = cli_main(capsys, *SMALL_RUN, "--out", tmp_path / "run", *options)
    assert code == 2
    assert_one_error_line(stderr, phrase)


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (("--threads", "0"), "--threads must be between 1 and"),
        (("--threads", TOO_MANY_CPUS), "the CPUs this process may use"),
        (("--epsilon", "nan"), "--epsilon must be a number in [0, 1]"),
        (("--episodes", "1000000000"), "--episodes must be between 1 and"),
        (("--seed", "-1"), "--seed must be between 0 and"),
        (("--seed", "2147483648"), "--seed must be between 0 and 2147483647"),
    ],
)
def test_evaluate_refuses_bad_numbers_before_playing(
    options, phrase, tmp_path, monkeypatch, capsys
):
    checkpoint = write_checkpoint(tmp_path / "agent.ckpt.npz")
    forbid_work(monkeypatch)
    code, stderr = cli_main(capsys, "evaluate", checkpoint, "--episodes", "1", *options)
    assert code == 2
    assert_one_error_line(stderr, phrase)


@pytest.mark.parametrize("threshold", ["nan", "inf", "0", "-0.1"])
def test_compare_refuses_a_threshold_that_is_not_a_finite_positive_number(
    threshold, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("benchmarks.compare.compare_runs", lambda *a, **k: pytest.fail("ran"))
    code, stderr = cli_main(capsys, "compare", tmp_path, tmp_path, "--threshold", threshold)
    assert code == 2
    assert_one_error_line(stderr, "--threshold must be a finite number above 0")


@pytest.mark.parametrize(
    ("text", "phrase"),
    [("-3", "'-3' is not a non-negative seed"), ("a", "'a' is not a seed"), ("1,,2", "''")],
)
def test_malformed_seed_lists_name_the_bad_part(text, phrase):
    with pytest.raises(options.BadInput, match=phrase):
        options.parse_seeds(text)


def test_seed_lists_are_sorted_and_each_seed_once():
    assert options.parse_seeds("7,0-3,2-4") == [0, 1, 2, 3, 4, 7]


def test_a_billion_seeds_are_refused_before_any_list_is_built():
    """Under a 2 GiB address-space limit: a list of 10^9 seeds would need ~36 GB."""
    probe = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
        "from benchmarks.options import BadInput, parse_seeds\n"
        "try:\n    parse_seeds('0-999999999')\nexcept BadInput as error:\n    print(error)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1,000,000,000 seeds; at most 10,000" in result.stdout


def test_repeated_names_run_each_cell_once():
    args = argparse.Namespace(
        workload="copynet,copynet",
        variant="supervised,supervised",
        backend="numpy,numpy",
        mode="eager,eager",
        dtype="float32,float32",
        seeds="0,0-1,1",
        preset="smoke",
    )
    cells, _ = cli.plan(args)
    assert [(c.backend, c.mode, c.dtype, c.seed) for c in cells] == [
        ("numpy", "eager", "float32", 0),
        ("numpy", "eager", "float32", 1),
    ]


def test_a_cell_records_the_threads_each_loaded_framework_reports(tmp_path):
    """``threads`` is what was asked; ``threads_in_effect`` is read back from BLAS (and
    from every framework the process imported: torch here, as a torch cell would)."""
    out = tmp_path / "cell.json"
    cell = Cell("xor", "momentum", "numpy", "eager", "float32", 0, "smoke")
    args = ("--cell", json.dumps(cell.to_dict()), "--out", out, "--threads", 1)
    code = cell_main([*map(str, args), "--backend-module", "backends.numpy.model"])
    assert code == 0
    effect = json.loads(out.read_text())["environment"]["threads_in_effect"]
    pools = {pool["library"]: pool["threads"] for pool in effect["native_pools"]}
    assert pools.get("openblas", 0) >= 1
    assert effect["frameworks"]["torch"] == {
        "intra_op": torch.get_num_threads(),
        "inter_op": torch.get_num_interop_threads(),
    }


def test_the_largest_seed_accepted_starts_every_seeded_game():
    """The Atari emulator takes signed 32-bit seeds: the largest seed the command line
    accepts must reset the DQN game (a larger one crashed every DQN cell)."""
    from benchmarks.options import MAX_SEED
    from benchmarks.workloads import get_workload
    from benchmarks.workloads.dqn.atari import AtariGame

    game = AtariGame(get_workload("dqn").dqn_config("space-invaders", "smoke").atari, MAX_SEED)
    try:
        assert game.reset().ndim == 2
    finally:
        game.close()
