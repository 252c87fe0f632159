"""The round's side branch: tasks run in order, errors reach the round, a process and a thread agree."""

from __future__ import annotations

import pandas as pd
import pytest

from jumpup.pipelines.branches import SideBranch, SideProcessError, side_branch
from jumpup.safe_text import write_csv
from jumpup.settings import GrowthPathSettings


@pytest.mark.parametrize("in_process", [False, True])
def test_side_branch_writes_files_and_raises_a_task_error(tmp_path, in_process):
    frame = pd.DataFrame({"firm_id": ["F1", "F2"], "note": ["=HYPERLINK(1)", "plain"]})
    with SideBranch(in_process) as side:
        side.submit("a.csv", write_csv, frame, tmp_path / "a.csv", encoding="utf-8")
        side.submit("bad", int, "not a number")
        with pytest.raises(ValueError, match="not a number"):
            side.finish()
    # A process starts with the branch (its start-up timed as 'start'), not at the first task.
    assert set(side.seconds) == {"a.csv", "bad"} | ({"start"} if in_process else set())
    written = pd.read_csv(tmp_path / "a.csv", dtype=str)
    assert written["note"].tolist() == ["'=HYPERLINK(1)", "plain"]  # the same formula guard as on the main flow


def test_side_branch_is_a_process_from_the_configured_size_on():
    settings = GrowthPathSettings(process_min_firms=100)
    assert side_branch(100, settings).in_process
    assert not side_branch(99, settings).in_process


def test_a_side_process_that_dies_is_one_clear_error():
    import os

    with SideBranch(in_process=True) as side:
        side.submit("dies", os._exit, 3)
        with pytest.raises(SideProcessError, match=r"side process .* ended without a result"):
            side.finish()


def test_an_error_in_the_round_stops_a_busy_side_process_at_once():
    import time

    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), SideBranch(in_process=True) as side:
        side.submit("sleeps", time.sleep, 60)
        time.sleep(3)  # the worker has started and is busy
        raise KeyboardInterrupt
    assert time.perf_counter() - started < 30  # not the 60 s the task would take


def test_a_task_handed_to_a_dead_side_process_is_one_clear_error():
    import os
    import time

    with SideBranch(in_process=True) as side:
        side.submit("dies", os._exit, 3)
        time.sleep(3)  # the worker is gone before the next hand-over
        with pytest.raises(SideProcessError, match="ended without a result"):  # at the hand-over or the wait
            side.submit("next", len, "x")
            side.finish()


def _report_interrupt_handler(queue) -> None:
    import signal

    queue.put("ignored" if signal.getsignal(signal.SIGINT) == signal.SIG_IGN else "handled")


def test_a_side_process_is_started_deaf_to_ctrl_c_so_its_imports_never_print_a_traceback():
    import multiprocessing
    import signal

    from jumpup.pipelines.branches import _interrupts_ignored

    before = signal.getsignal(signal.SIGINT)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    with _interrupts_ignored():
        child = context.Process(target=_report_interrupt_handler, args=(queue,))  # no initializer of its own
        child.start()
    assert signal.getsignal(signal.SIGINT) == before  # the round answers Ctrl-C again at once
    assert queue.get(timeout=120) == "ignored"
    child.join(timeout=60)


def _orphaned_side_process(started, ended) -> None:
    """A round stand-in: starts a side branch, says its worker's pid, then dies at once (a kill -9)."""
    import os

    side = SideBranch(in_process=True).__enter__()
    side.result(side.submit("start", os.getpid))
    pid = side.result(side.submit("pid", os.getpid))
    started.put(pid)
    ended.wait(60)
    os._exit(9)  # no cleanup of any kind, as after kill -9 or the out-of-memory killer


def test_the_side_process_never_outlives_a_round_killed_outright():
    import multiprocessing
    import os
    import time

    context = multiprocessing.get_context("spawn")
    started, ended = context.Queue(), context.Event()
    round_process = context.Process(target=_orphaned_side_process, args=(started, ended))
    round_process.start()
    side_pid = started.get(timeout=120)
    ended.set()
    round_process.join(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(side_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(side_pid, 9)
        pytest.fail("the side process kept running after its round died")
