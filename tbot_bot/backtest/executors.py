"""Where sweep combinations run (ARCHITECTURE §9): local processes, Ray or Dask.

An executor maps a picklable module-level function over picklable tasks and returns the results
in task order. `LocalProcessExecutor` (the default) uses `concurrent.futures` with `--workers`
processes started by `spawn` (a clean interpreter per worker: forking a process that runs a
progress-bar thread can deadlock). Ray and Dask are optional extras imported only when chosen:
`pip install ray` or `pip install "dask[distributed]"`. Their workers must see the same runtime
home and data root (a shared filesystem) because each combination writes its own run folder.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from types import ModuleType
from typing import Any, Protocol, TypeVar

from tbot_bot.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")
DoneFn = Callable[[int], None]  # called with the index of each finished task
EXECUTOR_NAMES: tuple[str, ...] = ("local", "ray", "dask")


class Executor(Protocol):
    """Runs `fn` over `tasks`; results come back in task order."""

    name: str
    workers: int

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: DoneFn | None = None
    ) -> list[R]: ...


def _check_workers(workers: int) -> int:
    if workers < 1:
        raise ConfigError(f"--workers {workers}: expected a whole number >= 1")
    return workers


def _optional(module: str, extra: str, executor: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"--executor {executor} needs the optional package {module!r}, which is not "
            f"installed; install it with `pip install {extra}` or use --executor local"
        ) from None


class LocalProcessExecutor:
    """`--executor local`: a process pool of `workers` processes on this machine."""

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = _check_workers(workers)

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: DoneFn | None = None
    ) -> list[R]:
        if not tasks:
            return []
        results: dict[int, R] = {}
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(self.workers, len(tasks)), mp_context=context) as pool:
            futures = {pool.submit(fn, task): index for index, task in enumerate(tasks)}
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                if on_done is not None:
                    on_done(index)
        return [results[index] for index in range(len(tasks))]


class RayExecutor:
    """`--executor ray`: `RAY_ADDRESS` (if set) joins a cluster, else Ray starts locally."""

    name = "ray"

    def __init__(self, workers: int = 1) -> None:
        self.workers = _check_workers(workers)
        self._ray = _optional("ray", "ray", self.name)

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: DoneFn | None = None
    ) -> list[R]:
        ray: Any = self._ray
        if not ray.is_initialized():
            address = os.environ.get("RAY_ADDRESS")
            ray.init(address=address, num_cpus=None if address else self.workers)
        remote = ray.remote(fn)
        refs = [remote.remote(task) for task in tasks]
        index_of = {ref: index for index, ref in enumerate(refs)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            if on_done is not None:
                on_done(index_of[done[0]])
        return list(ray.get(refs))


class DaskExecutor:
    """`--executor dask`: `DASK_SCHEDULER_ADDRESS` (if set) joins a cluster, else a local one."""

    name = "dask"

    def __init__(self, workers: int = 1) -> None:
        self.workers = _check_workers(workers)
        self._distributed = _optional("dask.distributed", '"dask[distributed]"', self.name)

    def map(
        self, fn: Callable[[T], R], tasks: Sequence[T], on_done: DoneFn | None = None
    ) -> list[R]:
        distributed: Any = self._distributed
        address = os.environ.get("DASK_SCHEDULER_ADDRESS")
        cluster = None
        if not address:
            cluster = distributed.LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True
            )
        client = distributed.Client(address or cluster)
        try:
            futures = client.map(fn, list(tasks), pure=False)
            index_of = {future.key: index for index, future in enumerate(futures)}
            for future in distributed.as_completed(futures):
                if on_done is not None:
                    on_done(index_of[future.key])
            return list(client.gather(futures))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(name: str, workers: int) -> Executor:
    """The executor named by `--executor` (local | ray | dask)."""
    if name == "local":
        return LocalProcessExecutor(workers)
    if name == "ray":
        return RayExecutor(workers)
    if name == "dask":
        return DaskExecutor(workers)
    raise ConfigError(f"--executor {name!r}: expected one of {', '.join(EXECUTOR_NAMES)}")
