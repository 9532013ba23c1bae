"""The noxfile's environment set-up under ``nox --install-only``.

``nox -s tests --install-only`` is the usual way to prebuild an environment (a
container image, a cache warm-up): nox then skips ``session.run`` and executes only
``session.run_install``. The shared environment must be created and stamped all the
same. nox itself is not installed in the suite's environment, so a minimal stand-in
module lets the noxfile import, and a fake session plays nox's install-only rules.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_noxfile(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    fake_nox = types.ModuleType("nox")
    fake_nox.options = types.SimpleNamespace(sessions=[])
    fake_nox.Session = object
    fake_nox.session = lambda *args, **kwargs: lambda function: function
    monkeypatch.setitem(sys.modules, "nox", fake_nox)
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class InstallOnlySession:
    """nox's rules with ``--install-only``: ``run`` is skipped, ``run_install`` runs.

    Running here means recording the command and, for ``python -m venv DIR``, making
    the interpreter path exist as venv would."""

    def __init__(self) -> None:
        self.installed: list[tuple[str, ...]] = []
        self.skipped: list[tuple[str, ...]] = []

    def run(self, *args: str, **kwargs: object) -> None:
        self.skipped.append(args)

    def run_install(self, *args: str, **kwargs: object) -> None:
        self.installed.append(args)
        if args[1:3] == ("-m", "venv"):
            python = Path(args[3]) / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.touch()

    def log(self, message: str) -> None:
        pass


def test_install_only_creates_installs_and_stamps_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noxfile = _load_noxfile(monkeypatch)
    env = tmp_path / "suite"
    monkeypatch.setattr(noxfile, "SUITE_ENV", env)
    session = InstallOnlySession()

    python = noxfile.suite_python(session)

    assert python == str(env / "bin" / "python")
    assert any(args[1:3] == ("-m", "venv") for args in session.installed)
    (pip,) = [args for args in session.installed if "pip" in args and "install" in args]
    # pip leaves byte-compiling to compileall, which uses every core
    assert "--no-compile" in pip
    compiled = session.installed.index(pip) + 1
    assert session.installed[compiled][1:3] == ("-m", "compileall")
    assert session.installed[compiled][-1] == str(env)
    assert (env / "pins.sha256").is_file()
    assert session.skipped == []  # nothing the environment needs was left to `run`


def test_second_call_reuses_the_stamped_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    noxfile = _load_noxfile(monkeypatch)
    monkeypatch.setattr(noxfile, "SUITE_ENV", tmp_path / "suite")
    noxfile.suite_python(InstallOnlySession())
    again = InstallOnlySession()
    noxfile.suite_python(again)
    assert again.installed == []


def test_bench_checks_the_report_of_the_run_it_made(monkeypatch, tmp_path) -> None:
    """After the run, the new report (or --out's) goes to check-report; none after a
    dry run."""
    noxfile = _load_noxfile(monkeypatch)
    monkeypatch.setattr(noxfile, "ROOT", tmp_path)
    old = tmp_path / "results" / "old-run"
    old.mkdir(parents=True)
    (old / "report.html").touch()
    before = set((tmp_path / "results").glob("*/report.html"))
    assert noxfile._run_folder(["--dry-run"], before) is None
    new = tmp_path / "results" / "new-run"
    new.mkdir()
    (new / "report.html").touch()
    assert noxfile._run_folder([], before) == new
    out = tmp_path / "elsewhere"
    assert noxfile._run_folder(["--out", str(out)], before) is None  # no report written
    out.mkdir()
    (out / "report.html").touch()
    assert noxfile._run_folder(["--preset", "smoke", "--out", str(out)], before) == out


def test_bench_finds_the_out_folder_written_with_an_equals_sign(monkeypatch, tmp_path) -> None:
    """``nox -s bench -- --out=DIR`` is as good an --out as ``--out DIR`` to argparse: its
    report is checked too (the last --out wins, as in argparse)."""
    noxfile = _load_noxfile(monkeypatch)
    monkeypatch.setattr(noxfile, "ROOT", tmp_path)
    out = tmp_path / "elsewhere"
    out.mkdir()
    (out / "report.html").touch()
    assert noxfile._run_folder([f"--out={out}"], set()) == out
    assert noxfile._run_folder(["--out", str(tmp_path), f"--out={out}"], set()) == out
    assert noxfile._run_folder([f"--out={tmp_path}", "--out", str(out)], set()) == out


class BenchSession:
    """A session whose ``run`` records each command; the benchmark run itself writes a
    report under ``results/`` and then fails as nox does when a cell failed (exit 1)."""

    def __init__(self, results: Path) -> None:
        self.results = results
        self.posargs: list[str] = []
        self.commands: list[tuple[str, ...]] = []

    def run(self, *args: str, **kwargs: object) -> None:
        self.commands.append(args)
        if args[1:4] == ("-m", "benchmarks", "run"):
            (self.results / "new-run").mkdir(parents=True)
            (self.results / "new-run" / "report.html").touch()
            raise RuntimeError("Command ... failed with exit code 1")


def test_bench_checks_the_report_of_a_run_with_a_failed_cell(monkeypatch, tmp_path) -> None:
    """A failed or timed-out cell fails the run (exit 1) but its report is written: it is
    checked all the same, and the session still fails."""
    noxfile = _load_noxfile(monkeypatch)
    monkeypatch.setattr(noxfile, "ROOT", tmp_path)
    monkeypatch.setattr(noxfile, "suite_python", lambda session: "python")
    session = BenchSession(tmp_path / "results")
    with pytest.raises(RuntimeError, match="exit code 1"):
        noxfile.bench(session)
    checked = [args for args in session.commands if "check-report" in args]
    assert checked == [
        ("python", "-m", "benchmarks", "check-report", str(session.results / "new-run"))
    ]
