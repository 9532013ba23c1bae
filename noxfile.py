"""Sessions: ``nox -s bench`` (the benchmark), ``nox -s tests``, ``nox -s lint``,
``nox -s microbench`` (pytest-benchmark on single training steps).

bench and tests share one virtual environment, ``.nox/suite``, holding every
framework (and Stable-Baselines3, the DQN peer) at the versions pinned in
pyproject.toml. It is created on first use and reinstalled only when pyproject.toml
changes, never on every run.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
ROOT = Path(__file__).resolve().parent
SUITE_ENV = ROOT / ".nox" / "suite"
# sb3: the DQN peer (`python -m benchmarks dqn-peer`), 2 MB; its test runs in `tests`.
# browser: Playwright, which drives the system's chromium for `check-report` and its test.
SUITE_EXTRAS = ".[frameworks,sb3,dev,browser]"


def suite_python(session: nox.Session) -> str:
    """The shared environment's interpreter, installing the pins first if they changed."""
    python = SUITE_ENV / "bin" / "python"
    stamp = SUITE_ENV / "pins.sha256"
    pins = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not python.exists():
        session.run_install(sys.executable, "-m", "venv", str(SUITE_ENV), external=True)
    if not stamp.exists() or stamp.read_text() != pins:
        session.log("installing the pinned frameworks into .nox/suite (once per pin change)")
        # run_install, not run: `nox --install-only` (prebuilding the environment, e.g.
        # in a container image) must create it too.
        # pip byte-compiles the ~18,000 modules one after another (~110 s on the 2-core
        # machine); compileall does the same work on every core (~65 s). A file that
        # does not compile (a package's Python 2 fixtures) is left as pip leaves it.
        session.run_install(
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--editable",
            SUITE_EXTRAS,
            external=True,
        )
        session.run_install(
            str(python),
            "-m",
            "compileall",
            "-qq",
            "-j",
            "0",
            str(SUITE_ENV),
            external=True,
            success_codes=[0, 1],
        )
        stamp.write_text(pins)
    else:
        session.log("pins unchanged: reusing .nox/suite")
    return str(python)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Run the benchmark matrix and write results/<run>/report.md: by default the brief
    preset, every workload on every backend in its default mode (minutes).

    Every framework runs with as many threads as the CPUs this process may use (its
    affinity mask), unless ``--threads`` says otherwise. Arguments after ``--`` go to
    ``python -m benchmarks run``, e.g. ``nox -s bench -- --preset smoke --backend
    numpy,torch``, ``nox -s bench -- --preset quick`` for the larger matrix that sweeps
    every mode (hours), or ``nox -s bench -- --threads 1,2`` to run every cell at 1 and at 2
    threads and chart the scaling. Then ``check-report`` opens the run's report.html in
    headless Chromium and keeps a screenshot of its first screen in the run folder.
    """
    python = suite_python(session)
    before = set((ROOT / "results").glob("*/report.html"))
    try:
        session.run(python, "-m", "benchmarks", "run", *session.posargs, external=True)
    except Exception:
        # nox's CommandFailed: a cell failed or timed out (exit 1), and the run's report
        # was written all the same: it is checked too. (Ctrl-C is no Exception: nothing
        # more runs then.)
        _check_report(session, python, before)
        raise
    _check_report(session, python, before)


def _check_report(session: nox.Session, python: str, before: set[Path]) -> None:
    """The run's report opened in headless Chromium, its first screen kept beside it
    (report-first-screen.png); nothing where the run wrote no report (``before``: the
    reports under results/ before it). A missing browser (exit 2) or a chart that did
    not draw (exit 1) is said, not fatal: the run's results stand without it."""
    run_dir = _run_folder(session.posargs, before)
    if run_dir is not None:
        session.run(
            python,
            "-m",
            "benchmarks",
            "check-report",
            str(run_dir),
            external=True,
            success_codes=[0, 1, 2],
        )


def _run_folder(posargs: list[str], before: set[Path]) -> Path | None:
    """The folder the run wrote its report into: ``--out``'s, else the one new report
    under results/; None when there is none (``--dry-run``, ``--help``)."""
    out = _out_option(posargs)
    if out is not None:
        folder = Path(out)
        return folder if (folder / "report.html").is_file() else None
    new = set((ROOT / "results").glob("*/report.html")) - before
    return max(new, key=lambda path: path.stat().st_mtime).parent if new else None


def _out_option(posargs: list[str]) -> str | None:
    """``--out``'s value as argparse reads it, ``--out DIR`` or ``--out=DIR``, the last
    one winning; None without one."""
    out = None
    for index, arg in enumerate(posargs):
        if arg == "--out" and index + 1 < len(posargs):
            out = posargs[index + 1]
        elif arg.startswith("--out="):
            out = arg.removeprefix("--out=")
    return out


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Run the test suite (parity, specs, harness). Arguments after ``--`` go to pytest.

    By default on one pytest-xdist worker per core (at most 4: each worker loads every
    framework, about 3 GB): the tests are single-threaded, and on the project's 2-core
    machine this halves the run."""
    python = suite_python(session)
    workers = str(min(os.cpu_count() or 1, 4))
    session.run(python, "-m", "pytest", *(session.posargs or ["-q", "-n", workers]), external=True)


@nox.session(venv_backend="none")
def microbench(session: nox.Session) -> None:
    """pytest-benchmark on one training step per network, backend and mode.

    One pytest process per group of backends that can share a process (Keras's
    backend is fixed per process); each saves pytest-benchmark's JSON to
    results/microbench-<time>-<group>.json. Arguments after ``--`` go to pytest (e.g.
    ``-k torch``)."""
    python = suite_python(session)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (ROOT / "results").mkdir(exist_ok=True)
    count = session.run(
        python,
        "-c",
        "from benchmarks.microbench import env_groups; print(len(env_groups()))",
        external=True,
        silent=True,
    )
    for group in range(int(count.strip())):
        session.run(
            python,
            "-m",
            "pytest",
            "benchmarks/microbench.py",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json=results/microbench-{stamp}-{group}.json",
            "--benchmark-warmup=on",
            *session.posargs,
            external=True,
            env={
                "OMP_NUM_THREADS": "1",
                "BENCH_THREADS": "1",
                "BENCH_MICROBENCH_GROUP": str(group),
            },
            success_codes=[0, 5],  # 5: -k selected nothing in this group
        )


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff: lint and format check of the whole tree."""
    python = suite_python(session)
    session.run(python, "-m", "ruff", "check", ".", external=True)
    session.run(python, "-m", "ruff", "format", "--check", ".", external=True)
