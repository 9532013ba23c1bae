"""Fan a run's cells out on Dask distributed: ``run --local-cluster N`` starts a
``LocalCluster`` of N worker processes on this machine, ``run --scheduler ADDRESS``
connects to an existing cluster (``tcp://`` or ``tls://``).

The ``run`` process stays the driver: it plans, holds the run folder's lock, writes
every record (``benchmarks.cluster_run``); each worker has one ``bench_cell`` resource
and each cell's task takes it, so a worker runs one cell at a time, in a fresh process
(``benchmarks.cluster_task``). Before anything runs, every worker is checked: one whose
package versions differ from the driver's, or that lacks the resource, is refused (no
task goes to it), and the run is refused (exit 2) when no worker is left.

A Dask scheduler runs whatever its clients send it: a local cluster listens on the
loopback address only; see the README before exposing one.

Nothing here imports Dask at module level: ``run`` without these options never loads it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.options import BadInput, check_count, path_option, usable_cpus

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 10.0  # for a --scheduler to answer
WORKER_WAIT_S = 60.0  # for a first worker to join an existing cluster
REFRESH_S = 5.0  # how often the driver looks for workers that joined or left
MEASURE_TIMEOUT_S = 300.0  # for a host's GEMM ceiling: a lost worker must not stall the run
ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}", re.ASCII)
TLS_OPTIONS = ("tls_ca_file", "tls_cert", "tls_key")


def add_options(run: argparse.ArgumentParser) -> None:
    """The run command's cluster options."""
    run.add_argument(
        "--local-cluster",
        type=int,
        metavar="N",
        help="run the cells on a Dask LocalCluster of N worker processes on this machine "
        "(loopback only; the records say the host was shared: timings not comparable)",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the cells on the Dask cluster of this scheduler: tcp://HOST:PORT or "
        "tls://HOST:PORT (see the README's security note)",
    )
    for option, what in (
        ("--tls-ca-file", "the certificate authority"),
        ("--tls-cert", "this client's certificate"),
        ("--tls-key", "this client's private key"),
    ):
        run.add_argument(option, type=path_option, help=f"with --scheduler tls://: {what} (PEM)")


def check_options(args: argparse.Namespace) -> None:
    """BadInput, in one line, for cluster options that cannot work; nothing is started."""
    local, scheduler = args.local_cluster, args.scheduler
    tls = [getattr(args, name) for name in TLS_OPTIONS]
    if local is not None and scheduler is not None:
        raise BadInput("--local-cluster and --scheduler exclude each other: give one of them")
    if any(tls) and not (scheduler or "").startswith("tls://"):
        raise BadInput("--tls-ca-file, --tls-cert and --tls-key go with --scheduler tls://...")
    if local is None and scheduler is None:
        return
    if local is not None:
        check_count(local, "--local-cluster", usable_cpus())
    if scheduler is not None and not ADDRESS.fullmatch(scheduler):
        raise BadInput(
            f"--scheduler must look like tcp://HOST:PORT or tls://HOST:PORT, got {scheduler!r}"
        )
    if any(tls) and not all(tls):
        raise BadInput("--tls-ca-file, --tls-cert and --tls-key go together: give all three")
    for path in filter(None, tls):
        if not Path(path).is_file():
            raise BadInput(f"TLS file {path} is not a readable file")
    if args.repeats > 1:
        raise BadInput("--repeats is not supported on a cluster yet: run without one")
    if importlib.util.find_spec("distributed") is None:
        raise BadInput(
            "--local-cluster and --scheduler need Dask distributed: install the "
            "frameworks extra (pip install -e '.[frameworks]')"
        )


@dataclass
class Fanout:
    """A connected Dask client and the workers accepted to run cells."""

    client: Any
    scheduler: str  # the scheduler's address
    local: Any | None  # the LocalCluster this run started, or None
    driver: dict[str, str]  # the driver's fingerprint (cluster_task.fingerprint)
    accepted: dict[str, str] = field(default_factory=dict)  # worker address -> host name
    refused: dict[str, str] = field(default_factory=dict)  # worker address -> why
    live: list[str] = field(default_factory=list)  # accepted workers seen at the last look
    looked_at: float = float("-inf")  # time.monotonic() of the last look
    machines: dict[str, dict] = field(default_factory=dict)  # host -> hosts.host_facts there
    # host -> its host block (benchmarks.hosts), measured once per host per run: the
    # records of its cells carry it. Empty until measure_hosts gives the thread counts.
    hosts: dict[str, dict] = field(default_factory=dict)
    threads: list[int] = field(default_factory=list)  # the counts each host is measured at

    def shared_host(self, host: str | None) -> bool:
        """Whether cells on ``host`` shared it with other cells: always on a local
        cluster (the driver and the scheduler are there too), else when more than one
        accepted worker runs there now (a restarted worker has a new address)."""
        hosts = [self.accepted[address] for address in self.live]
        return self.local is not None or hosts.count(host) > 1

    def workers(self, say=print, force: bool = False) -> list[str]:
        """The accepted workers alive now (looked up at most every REFRESH_S unless
        ``force``); a worker seen for the first time is checked first, and refused with
        a warning when its fingerprint or resources do not fit."""
        if not force and time.monotonic() - self.looked_at < REFRESH_S:
            return self.live
        from benchmarks.cluster_task import worker_facts

        facts = self.client.run(worker_facts, on_error="return")
        for address, fact in sorted(facts.items()):
            if address in self.accepted or address in self.refused:
                continue
            if isinstance(fact, OSError):
                continue  # going away (a lost connection): looked at again next time
            why = refusal(fact, self.driver)
            if why:
                self.refused[address] = why
                host = fact["host"] if isinstance(fact, dict) else "?"
                say(f"warning: worker {address} on {host} refused: {why}")
            else:
                self.accepted[address] = fact["host"]
                self.machines.setdefault(fact["host"], fact["machine"])
        self.live = sorted(set(facts) & set(self.accepted))
        self._measure_new_hosts(say)
        self.looked_at = time.monotonic()
        return self.live

    def measure_hosts(self, threads: list[int], known: dict[str, Any] | None = None) -> None:
        """Measure every host of the accepted workers at ``threads`` (and at the CPUs each
        may use), and from now on each host that joins, before its first cell; ``known``:
        a host block measured already (the driver's host's), never measured again."""
        self.threads = list(threads)
        if known is not None:
            self.hosts.setdefault(known["name"], known)
        self.workers(force=True)

    def _measure_new_hosts(self, say) -> None:
        """Measure each live worker's host that has no block yet, all at once, by a task
        on one worker there that takes its cell resource (no cell runs beside it on that
        worker; a host's other workers get no cell before this returns). A host whose
        measurement fails gets its facts with no ceiling, and a warning."""
        from benchmarks.ceiling import measure_host
        from benchmarks.cluster_task import CELL_RESOURCE
        from benchmarks.failures import describe_exception
        from benchmarks.hosts import host_block

        new: dict[str, str] = {}  # host -> the worker that measures it
        for address in self.live if self.threads else []:
            if self.accepted[address] not in self.hosts:
                new.setdefault(self.accepted[address], address)
        if new:
            say(f"measuring the fp32 GEMM ceiling on {', '.join(sorted(new))}")
        futures = {
            host: self.client.submit(
                measure_host,
                self.threads,
                key=f"gemm-ceiling-{host}-{time.monotonic_ns()}",
                pure=False,
                resources={CELL_RESOURCE: 1},
                workers=[address],
                allow_other_workers=False,
            )
            for host, address in new.items()
        }
        for host, future in futures.items():
            try:
                self.hosts[host] = future.result(timeout=MEASURE_TIMEOUT_S)
            except Exception as error:  # lost worker, timeout, a failed measurement
                future.cancel()
                say(
                    f"warning: the GEMM ceiling of {host} was not measured "
                    f"({describe_exception(error)}): its cells get no share of ceiling"
                )
                self.hosts[host] = host_block(self.machines[host], [])

    def close(self) -> None:
        """Close the client, and the local cluster with its workers (their cells die with
        them: ``benchmarks.lifetime``)."""
        with contextlib.suppress(Exception):  # closing must not hide the run's own error
            self.client.close()
        if self.local is not None:
            with contextlib.suppress(Exception):
                self.local.close()


def refusal(fact: dict[str, Any] | BaseException, driver: dict[str, str]) -> str | None:
    """Why a worker (``cluster_task.worker_facts``, or the error it raised) may not run
    cells, or None."""
    from benchmarks.cluster_task import CELL_RESOURCE

    if isinstance(fact, BaseException):
        return (
            f"it could not be checked ({type(fact).__name__}: {fact}): is this suite "
            "installed there, at the driver's commit?"
        )
    theirs = fact["fingerprint"]
    differ = [
        name for name in sorted(set(driver) | set(theirs)) if driver.get(name) != theirs.get(name)
    ]
    if differ:
        return "versions differ from the driver's: " + "; ".join(
            f"{name} {driver.get(name, 'missing')} here, {theirs.get(name, 'missing')} there"
            for name in differ
        )
    if fact["resources"].get(CELL_RESOURCE, 0) < 1:
        return f"it has no {CELL_RESOURCE} resource (start it with --resources {CELL_RESOURCE}=1)"
    return None


@contextlib.contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """SIGINT ignored here (and in the processes started meanwhile), then as it was."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def start_local_cluster(workers: int) -> Fanout:
    """A LocalCluster of ``workers`` processes, one thread and one cell resource each,
    every address on the loopback, no dashboard; a worker lost mid-task fails its task
    at once (``allowed-failures`` 0), for the driver to retry it once and say so."""
    import dask
    from distributed import Client, LocalCluster

    from benchmarks.cluster_task import CELL_RESOURCE, fingerprint

    # Its worker processes ignore Ctrl-C (they inherit the ignoring): the terminal sends
    # it to the whole foreground group, and workers killed by it before the driver
    # closes them print a traceback each and a scheduler error per cell they ran.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), _ctrl_c_ignored():
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host=LOOPBACK,
            scheduler_port=0,
            dashboard_address=None,
            worker_dashboard_address=None,
            resources={CELL_RESOURCE: 1},
            memory_limit=0,  # the cells run in processes of their own, with their own limits
            silence_logs=logging.ERROR,
        )
    client = Client(cluster, set_as_default=False)
    fanout = Fanout(client, cluster.scheduler_address, cluster, fingerprint())
    _check_workers(fanout, f"--local-cluster {workers}")
    return fanout


def connect(address: str, tls: list[Path | None]) -> Fanout:
    """A client of the scheduler at ``address``, with the TLS files given (else Dask's
    configuration's, ``distributed.comm.tls``); BadInput when it does not answer, no
    worker joins within WORKER_WAIT_S or every worker is refused."""
    from distributed import Client
    from distributed.security import Security

    from benchmarks.cluster_task import fingerprint

    security = None
    if address.startswith("tls://") and not all(tls) and not _configured_tls():
        raise BadInput(
            f"--scheduler {address}: no certificates: give --tls-ca-file, --tls-cert and "
            "--tls-key, or set distributed.comm.tls.ca-file and .client.cert and .key in "
            "Dask's configuration"
        )
    if all(tls):
        ca, cert, key = (str(path) for path in tls)
        security = Security(
            tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True
        )
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, security=security, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:  # TypeError: a TLS set-up Dask refused
        raise BadInput(f"--scheduler {address}: no Dask scheduler answered ({error})") from None
    fanout = Fanout(client, address, None, fingerprint())
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        _check_workers(fanout, f"--scheduler {address}")
    except BaseException as error:
        fanout.close()
        if isinstance(error, TimeoutError):
            raise BadInput(
                f"--scheduler {address}: no worker joined within {WORKER_WAIT_S:g} s"
            ) from None
        raise
    return fanout


def _configured_tls() -> bool:
    """Whether Dask's configuration names a CA and a client certificate."""
    import dask

    return bool(
        dask.config.get("distributed.comm.tls.ca-file", None)
        and dask.config.get("distributed.comm.tls.client.cert", None)
    )


def _check_workers(fanout: Fanout, option: str) -> None:
    """BadInput, naming the first refusal, when no worker may run cells."""
    if not fanout.workers(force=True):
        first = next(iter(fanout.refused.items()), ("?", "no worker"))
        fanout.close()
        raise BadInput(f"{option}: every worker was refused ({first[0]}: {first[1]})")


@contextlib.contextmanager
def fanout_for(args: argparse.Namespace) -> Iterator[Fanout | None]:
    """The cluster the run's options ask for (None: run serially), closed at the end."""
    if args.local_cluster is None and args.scheduler is None:
        yield None
        return
    if args.local_cluster is not None:
        print(f"starting a Dask LocalCluster of {args.local_cluster} worker(s)", flush=True)
        fanout = start_local_cluster(args.local_cluster)
    else:
        fanout = connect(args.scheduler, [getattr(args, name) for name in TLS_OPTIONS])
    print(
        f"Dask scheduler {fanout.scheduler}: {len(fanout.live)} worker(s) accepted"
        + (f", {len(fanout.refused)} refused" if fanout.refused else ""),
        flush=True,
    )
    try:
        yield fanout
    finally:
        fanout.close()
