"""The default run (``nox -s bench`` with no arguments, ``run`` at its defaults): every
workload's main variants on every backend that runs it, each in its default mode and
dtype, at the brief preset; ``--preset quick`` keeps the larger matrix that sweeps the
modes. Planning only: nothing is imported or run."""

from __future__ import annotations

import ast

from benchmarks import cli
from benchmarks.workloads import BRIEF, get_workload, workloads
from shared import registry
from shared.metadata import REPO_ROOT


def planned(*argv: str):
    args = cli.build_parser().parse_args(["run", *argv])
    cli.check_run_options(args)
    cells, _ = cli.plan(args)
    return cells


def test_the_default_run_covers_every_workload_on_every_backend_in_its_default_mode():
    cells = planned()
    assert {cell.preset for cell in cells} == {BRIEF}
    for cell in cells:
        info = registry.get(cell.backend)
        assert cell.mode == info.modes_for(get_workload(cell.workload))[0], cell
        assert cell.dtype == info.dtypes[0], cell
        assert cell.variant in get_workload(cell.workload).main_variants, cell
    expected = {
        (workload.name, info.name)
        for workload in workloads().values()
        for info in registry.BACKENDS.values()
        if info.runs(workload)
    }
    assert {(cell.workload, cell.backend) for cell in cells} == expected
    # the six framework backends run all five workloads
    for backend in ("numpy", "torch", "jax", "keras", "keras-jax", "keras-torch"):
        assert {c.workload for c in cells if c.backend == backend} == set(workloads())


def test_the_quick_preset_still_sweeps_every_mode_of_the_main_variants():
    brief, quick = planned(), planned("--preset", "quick")
    assert len(quick) > 3 * len(brief)
    torch_dqn = {c.mode for c in quick if (c.workload, c.backend) == ("dqn", "torch")}
    assert torch_dqn == set(registry.get("torch").modes_for(get_workload("dqn")))


def test_nox_bench_passes_no_preset_of_its_own():
    tree = ast.parse((REPO_ROOT / "noxfile.py").read_text())
    bench = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "bench")
    literals = {n.value for n in ast.walk(bench) if isinstance(n, ast.Constant)}
    assert "--preset" not in literals
