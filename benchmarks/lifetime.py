"""Process lifetime: a runner's children die with it, whatever signal it got.

A cell (or the GEMM-ceiling measurement) left running after its runner died would
write its record into a dead run and load the machine while the next run times its
cells. Two halves:

- the child calls ``die_with_parent()`` first thing: on Linux the kernel sends it
  SIGKILL the moment its parent dies (``prctl(PR_SET_PDEATHSIG)``, which nothing can
  catch or delay, covering ``kill -9`` of the runner); elsewhere a watchdog thread polls
  the parent and kills the child's process group;
- the runner turns SIGTERM and SIGHUP into the same path as Ctrl-C
  (``interrupt_on_signals``): it kills the running cell's process group, keeps every
  finished record and exits non-zero with the resume hint.

The kernel's signal reaches the cell only, not what the cell started (a framework's
compile worker, a data loader): those are in the cell's process group, which the runner
kills on every path it survives. For the path it does not survive (``kill -9``), a cell
the runner started forks a small guardian first thing (``_guard_group``): the kernel
tells the guardian when the cell dies, and the guardian kills the cell's whole group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

PARENT_PID_ENV = "BENCH_RUNNER_PID"  # set by the runner for the children it starts
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_EVERY_S = 0.5
INTERRUPTING = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C's KeyboardInterrupt would be, so that every
    cleanup path of an interrupted run (kill the cell, keep the records) runs."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _linux_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def _kernel_kills_on_parent_death(libc: ctypes.CDLL | None) -> bool:
    try:
        return libc is not None and libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except AttributeError:
        return False


def _kill_self_and_group() -> None:
    # Leader of its own group (the runner starts each child in a new session): the group
    # holds whatever the child started. Otherwise (run by hand) only itself.
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _guard_group(libc: ctypes.CDLL) -> None:
    """Fork a guardian that kills this process's group (SIGKILL) once this process has
    died, however it died. Call it while this process is single-threaded."""
    leader, wake = os.getpid(), {signal.SIGTERM}
    # Blocked before the fork: a SIGTERM that comes before the guardian waits stays pending.
    signal.pthread_sigmask(signal.SIG_BLOCK, wake)
    if os.fork() != 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, wake)
        return
    try:  # the guardian: no Python cleanup of the parent's state may run here
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() == leader:  # else the cell died before the kernel could watch it
            signal.sigwait(wake)  # the cell died (or the group was told to stop)
        os.killpg(leader, signal.SIGKILL)
    finally:
        os._exit(0)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_EVERY_S)
    _kill_self_and_group()


def die_with_parent() -> None:
    """Make this process die with its parent: the runner named by ``$BENCH_RUNNER_PID``
    when set, else whichever process is the parent now. Call it before any work: a
    parent that already died (between our start and this call) kills us here."""
    expected = os.environ.get(PARENT_PID_ENV)
    parent = int(expected) if expected and expected.isdigit() else os.getppid()
    libc = _linux_libc()
    if not _kernel_kills_on_parent_death(libc):
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    elif expected and os.getpgrp() == os.getpid():  # a runner's child, leading its group
        _guard_group(libc)
    if os.getppid() != parent:  # the parent was gone before the kernel could watch it
        _kill_self_and_group()


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise ``Interrupted`` (a KeyboardInterrupt)."""

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in INTERRUPTING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def exit_status(error: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process the signal ended."""
    return 128 + getattr(error, "signum", signal.SIGINT)
