"""Run one measured job per child process, so each size gets its own peak-memory reading."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable


def measure(job: Callable[[], int]) -> dict:
    """Run ``job`` (returns the rows it produced) and report seconds, CPU seconds, rows/s and peak RSS.

    CPU seconds (user + system of this process, all threads) are the figure to compare on a
    shared machine, where wall time depends on the other jobs running.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = job()
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "rows_per_second": round(rows / seconds),
        "peak_mb": round(peak_mb),
    }


def run_child(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_rows(title: str, results: list[dict]) -> None:
    print(title)
    print(f"{'size':>12} {'rows':>12} {'seconds':>9} {'rows/s':>12} {'peak MB':>9}")
    for r in results:
        print(f"{r['size']:>12,} {r['rows']:>12,} {r['seconds']:>9.2f} {r['rows_per_second']:>12,} {r['peak_mb']:>9,}")
