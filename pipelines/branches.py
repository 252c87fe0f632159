"""The round's side branch: growth paths and the writing of finished tables, beside the main flow.

The growth paths depend only on the feature table and the model, and nothing before the STEP 2
dossiers reads them (``docs/architecture.md``); ``scores.csv``, ``quarantine.csv`` and
``growth_paths.csv`` are written from tables that the main flow keeps in memory and never reads
back. That work therefore runs in a side branch while the main flow scores, audits, decides and
writes the STEP 1 files, one task after another in submission order. The paths come back before
their file is written; the side branch then writes the STEP 2 dossiers and ``growth_paths.csv``
while the main flow writes the workbook and reports.

Python threads share one interpreter lock, and the growth engine's own work (peer queries, quantile
models) and CSV formatting hold it most of the time; from ``growth_paths.process_min_firms`` query
firms on, the branch therefore runs in a separate process (``spawn``: the child starts clean and
never inherits the parent's OpenMP or Arrow thread pools, which LightGBM documents as unsafe after
``fork``); smaller rounds use a thread and skip the child's start-up. Inputs and results cross the
process boundary pickled in memory, between this program's own processes only; nothing a user
supplies is unpickled. The functions are the same either way, so the files are the same bytes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pandas as pd

from jumpup.models.growth_engine import GrowthPathModel, growth_path_table
from jumpup.schemas import GROWTH_PATHS
from jumpup.settings import GrowthPathSettings, Settings


def checked_growth_paths(
    history: pd.DataFrame,
    queries: pd.DataFrame,
    as_of: int,
    settings: Settings,
    model: GrowthPathModel | None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Growth paths of ``queries`` (``growth_path_table``: one row per firm and future year), checked
    against ``GROWTH_PATHS``. ``workers``: the forecast's threads (``SideBranch.workers``; the
    model's own count when None). The round writes the table in a following side task, so the
    dossiers and reports get it without waiting for the CSV.

    Raises ``pandera.errors.SchemaError`` when the table breaks its contract.
    """
    paths = growth_path_table(history, queries, as_of, settings, model, workers)
    if len(paths):
        GROWTH_PATHS.validate(paths)
    return paths


class SideProcessError(RuntimeError):
    """The side process ended without returning (killed by a signal, or out of memory)."""


DIED = (
    "the round's side process (growth paths, score files) ended without a result, killed or out of "
    "memory; run the round again, or set growth_paths.process_min_firms above the round's size to keep "
    "the round in one process"
)


def _started() -> None:
    """The side process's first task: none. Its start-up (a new interpreter importing the growth
    engine, LightGBM and scikit-learn) then runs while the main flow builds the features."""


@contextlib.contextmanager
def _interrupts_ignored():
    """Ctrl-C ignored in this process while a child process is started (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends


def _ignore_interrupt(round_pid: int | None = None) -> None:
    """The side process leaves Ctrl-C to the round, which stops it (``SideBranch.__exit__``).

    On Linux it also asks the kernel for SIGTERM when the round's process ends in any way, a
    ``kill -9`` or the out-of-memory killer included, so it never outlives the round.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if round_pid is not None and os.getppid() != round_pid:  # the round ended before the request took effect
            os._exit(1)


class SideBranch:
    """A one-worker executor beside the main flow; a context manager.

    ``submit`` queues a task and returns its ``Future``; ``seconds[name]`` is a task's wall time from
    submission to result (queueing, and in a process its start-up, included). Leaving the ``with``
    block waits for every task, so no process outlives the round; after an error or Ctrl-C in the
    round, the side process is stopped first (the round's folder is then removed or resumed as a
    whole). ``finish`` also raises the first task's error.
    """

    def __init__(self, in_process: bool):
        self.in_process = in_process
        # A side process shares the machine with the main flow: each takes half the cores for its
        # threaded work, so neither's OpenMP threads wait on the other's. A thread keeps the task's own count.
        self.workers: int | None = max(1, (os.cpu_count() or 2) // 2) if in_process else None
        self.seconds: dict[str, float] = {}
        self._executor: Executor | None = None
        self._futures: list[Future] = []

    def __enter__(self) -> SideBranch:
        if self.in_process:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=_ignore_interrupt, initargs=(os.getpid(),)
            )
            # The process starts now, not at the first real task. It is started with Ctrl-C ignored,
            # which a new interpreter keeps: a Ctrl-C while it imports reaches the round alone.
            with _interrupts_ignored():
                self.submit("start", _started)
        else:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="side-branch")
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None and self.in_process:
            # The round failed or was interrupted: stop the side process now instead of letting it
            # finish a forecast nobody will read (it ignores Ctrl-C; the round answers for both).
            # ProcessPoolExecutor names its workers only in ``_processes`` before Python 3.14.
            for process in list((getattr(self._executor, "_processes", None) or {}).values()):
                process.terminate()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, name: str, function, *args, **kwargs) -> Future:
        started = time.perf_counter()
        try:
            future = self._executor.submit(function, *args, **kwargs)
        except BrokenProcessPool:
            raise SideProcessError(DIED) from None

        def finished(_: Future) -> None:
            self.seconds[name] = time.perf_counter() - started

        future.add_done_callback(finished)
        self._futures.append(future)
        return future

    def result(self, future: Future):
        """A task's result; its own error as raised, ``SideProcessError`` if the side process died."""
        try:
            return future.result()
        except BrokenProcessPool:
            raise SideProcessError(DIED) from None

    def finish(self) -> None:
        """Wait for every task; raise the first error among them (``result``)."""
        for future in self._futures:
            self.result(future)


def side_branch(query_firms: int, settings: GrowthPathSettings) -> SideBranch:
    """The side branch of a round of ``query_firms`` firms: a process from ``settings.process_min_firms`` on."""
    return SideBranch(in_process=query_firms >= settings.process_min_firms)
