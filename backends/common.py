"""What every backend repeats, written once (as Keras 3's ``backend/common/``).

Thread pools, float64 and seeds of the frameworks that more than one backend runs on
(PyTorch: ``torch`` and ``keras-torch``; JAX: ``jax`` and ``keras-jax``), the check of
a build's spec, and the check of a mode. No framework is imported here: a backend
passes in the module it has already imported, so a process only ever imports the
framework it runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import ModuleType

from shared.params import check_dtype, check_params
from shared.protocol import ModelSpec


def check_spec(spec: ModelSpec) -> None:
    """SpecError unless ``spec.params`` fit ``spec.network`` and ``spec.dtype`` is one of
    the suite's dtypes: checked where they enter, before anything is built."""
    check_params(spec.network, spec.params)
    check_dtype(spec.dtype)


def check_mode(backend: str, mode: str, valid: Iterable[str], what: str = "mode") -> None:
    """ValueError unless ``mode`` is one of ``valid`` (``what``: "mode", "DQN mode")."""
    valid = tuple(valid)
    if mode not in valid:
        raise ValueError(f"{backend} backend has no {what} {mode!r}; valid: {', '.join(valid)}")


def blas_threads(threads: int) -> None:
    """NumPy's BLAS reads OMP/OPENBLAS_NUM_THREADS when loaded; the harness sets them
    before the import, so this only fills in what it left unset."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))


def torch_threads(torch: ModuleType, threads: int) -> None:
    """PyTorch's intra-op and inter-op pools. The inter-op count can be set once per
    process, before any inter-op work: a second call with the same count is fine."""
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        if torch.get_num_interop_threads() != threads:
            raise


def xla_cpu_threads(threads: int) -> None:
    """XLA:CPU's pools; must run before JAX's CPU client starts (importing JAX or Keras
    starts none).

    XLA:CPU sizes both its intra-op pool ("XLAEigen") and the PjRt client pool that runs
    computations and transfers (JAX's inter-op level) from ``NPROC`` when set, else from
    the schedulable cores. XLA_FLAGS has no thread-count flag: the often-quoted
    ``intra_op_parallelism_threads=1`` in it is silently ignored. With one thread,
    ``xla_cpu_multi_thread_eigen=false`` also runs dots and convolutions on the calling
    thread.
    """
    os.environ["NPROC"] = str(threads)
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()


def jax_float64(jax: ModuleType) -> None:
    """Let JAX make float64 arrays (``jax_enable_x64``); must run before its first
    computation, and initialises no device. Every array a backend makes carries an
    explicit dtype, so float32 stays float32."""
    jax.config.update("jax_enable_x64", True)
