"""The Dask client that liqwidget's parallel work runs on: one place that decides which.

``None`` starts a :class:`distributed.LocalCluster` on this machine (one single-threaded
worker process per core, listening on 127.0.0.1 only) for the duration of the work; an
address (``tcp://host:8786``) joins a running ``dask scheduler``; a
:class:`distributed.Client` is used as it is. Dask is an optional dependency
(``pip install 'liqwidget[scale]'``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Dask's nannies start workers with glibc's MALLOC_TRIM_THRESHOLD_=65536 by default. That
#: fixes malloc's mmap threshold, so every large numpy temporary is a fresh mmap with its
#: page faults: the model ran 2-3x slower in such a worker than in a plain process.
TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"

#: Times a task is retried after it raised; a task whose worker died is re-run by the
#: scheduler on its own (up to ``distributed.scheduler.allowed-failures`` times).
RETRIES = 2


class ClusterError(RuntimeError):
    """Dask is missing or the scheduler cannot be reached; the message says which."""


def _distributed():
    try:
        import dask  # noqa: F401
        import distributed
    except ImportError as exc:
        raise ClusterError(
            "parallel work needs Dask: pip install 'liqwidget[scale]' (dask[distributed])"
        ) from exc
    return distributed


@contextmanager
def dask_client(
    scheduler: Any = None, *, n_workers: int | None = None, timeout: float = 30.0
) -> Iterator[Any]:
    """A :class:`distributed.Client` for ``scheduler`` (see the module docstring); a cluster
    or connection this opened is closed afterwards."""
    distributed = _distributed()
    import dask

    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is None:
        workers = n_workers or os.cpu_count() or 1
        with (
            dask.config.set({TRIM_SETTING: None}),
            distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                scheduler_port=0,
                # The scheduler's HTTP server always listens (health routes); keep it on a
                # random loopback port, without the dashboard.
                dashboard_address="127.0.0.1:0",
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    address = str(scheduler)
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
            "`dask scheduler` and workers with `dask worker ADDRESS`"
        ) from None
    with client:
        yield client


@dataclass
class Loopback:
    """A scheduler and workers started as separate processes on this machine."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]


@contextmanager
def loopback_cluster(n_workers: int = 2, *, timeout: float = 90.0) -> Iterator[Loopback]:
    """``dask scheduler`` and ``n_workers`` single-threaded ``dask worker`` processes on
    127.0.0.1 (random ports, no dashboards, no nannies: a killed worker stays dead), as a
    team would run them on several machines. For tests and benchmarks of the remote path;
    the processes are stopped afterwards."""
    _distributed()
    folder = Path(tempfile.mkdtemp(prefix="liqwidget-dask-"))
    info = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    env = {k: v for k, v in os.environ.items() if k != TRIM_VARIABLE}  # see TRIM_SETTING
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs: list[subprocess.Popen] = []
    try:
        scheduler = subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(info)],
            **quiet,
        )  # fmt: skip
        procs.append(scheduler)
        deadline = time.monotonic() + timeout
        address = None
        while address is None:
            if scheduler.poll() is not None or time.monotonic() > deadline:
                raise ClusterError("the dask scheduler did not start")
            time.sleep(0.1)
            try:
                address = json.loads(info.read_text())["address"]
            except (OSError, ValueError, KeyError):
                continue  # not written yet
        workers = [
            subprocess.Popen(
                [
                    *dask,
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--name",
                    f"worker-{i}",
                ],
                **quiet,
            )
            for i in range(n_workers)
        ]
        procs.extend(workers)
        import distributed

        with distributed.Client(address, timeout=timeout) as client:
            client.wait_for_workers(n_workers, timeout=timeout)
        yield Loopback(address, scheduler, workers)
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
