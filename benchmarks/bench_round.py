"""Benchmark ``jumpup round`` end to end on synthetic application rounds.

Usage: python benchmarks/bench_round.py [--applicants 1000,10000,100000] [--reports] [--repeat N]
A setup child trains one model on the default synthetic history (not timed). Each round size
then runs in its own process: ingest with quarantine, features, scores with reasons, growth
paths, STEP 1 decisions and the round summary. Per-firm reports are off unless ``--reports``
is given (then HTML and PDF for every firm), and the Excel workbook unless ``--workbook`` is.
For each stage it prints seconds and the process's peak memory at the end of the stage, and the
ratio of the end-to-end time to a bare LightGBM ``predict`` on the same feature matrix.
Eligibility, growth paths, the writing of scores.csv, quarantine.csv and growth_paths.csv, and
one share of the STEP 2 dossiers run in a side branch (a second process from
``growth_paths.process_min_firms`` firms on, ``pipelines/branches.py``) beside the features,
scoring, the field audit, STEP 1, the reports and the other share, so the stage
times add up to more than the end-to-end time: ``side: <task>`` is a task's time from submission
to result (``side: start`` the process's own start-up), ``growth_paths_wait`` and
``side_branch_wait`` how long the main flow then waited. ``ingest`` counts both intake steps: the
panel before the features, the field-audit file after them. CPU seconds and peak memory count the
side process too: CPU is the sum of both processes, peak memory the round's own plus the side
process's, sampled together every 0.1 s (``TreeMemory``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import run_child


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _children_cpu() -> float:
    """CPU seconds of this process's finished child processes (the side branch; Chromium too with --reports)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class TreeMemory:
    """Peak resident memory of this process plus its child processes, sampled every ``interval`` s.

    ``ru_maxrss`` of the children cannot serve: a child started by fork and exec keeps the parent's
    resident size at the fork as its high-water mark. For the same reason a child counts with its
    unique set size (pages no other process maps): a child sampled between its fork and its exec
    (the side process at its start, ``fc-match`` for the report fonts) shares every page of this
    process, and its resident size would count them twice.
    """

    def __init__(self, interval: float = 0.1):
        import threading

        import psutil

        self.me, self.interval, self.peak_mb, self.side_peak_mb = psutil.Process(), interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            side = 0
            for child in self.me.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # ended between listing and reading
                    side += child.memory_full_info().uss
            own = self.me.memory_info().rss
            self.side_peak_mb = max(self.side_peak_mb, round(side / 2**20))
            self.peak_mb = max(self.peak_mb, round((own + side) / 2**20))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def setup(directory: str) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(directory) / 'mlflow.db'}"
    from jumpup.pipelines import synth
    from jumpup.pipelines.train import train_panel
    from jumpup.settings import load_settings

    settings = load_settings()
    synth.run(settings, Path(directory) / "model_data", settings.seed)
    train_panel(Path(directory) / "model_data" / "history", Path(directory) / "model", settings, register=False)
    print(json.dumps({"bundle": str(Path(directory) / "model" / "bundle")}))


def child(directory: str, applicants: int, with_reports: bool, with_workbook: bool) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(directory) / 'mlflow.db'}"
    import pandas as pd

    from jumpup.models.bundle import model_matrix
    from jumpup.models.grading import reason_codes
    from jumpup.pipelines import synth
    from jumpup.pipelines.round import run_round
    from jumpup.pipelines.score import load_bundle
    from jumpup.settings import load_settings

    settings = load_settings(overrides={"synth": {"applicants": applicants, "firms": 200}})
    root = Path(directory) / f"round_{applicants}"
    shutil.rmtree(root / "out", ignore_errors=True)  # every run starts afresh: a benchmark never resumes
    synth.run(settings, root / "data", settings.seed + applicants)
    bundle_path = str(Path(directory) / "model" / "bundle")
    stage_peaks: dict[str, int] = {}
    current = {"stage": None}

    def progress(stage: str) -> None:
        if current["stage"] is not None:
            stage_peaks[current["stage"]] = _peak_mb()
        current["stage"] = stage

    started, cpu_started = time.perf_counter(), time.process_time()
    side_cpu_started = _children_cpu()
    with TreeMemory() as memory:
        manifest = run_round(
            root / "data" / "round",
            root / "out",
            settings,
            bundle_path,
            with_reports=with_reports,
            with_workbook=with_workbook,
            progress=progress,
            log_path=root / "decisions.jsonl",
        )
    total = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # every thread of the process: above wall time when both cores work
    side_cpu = _children_cpu() - side_cpu_started
    stage_peaks[current["stage"]] = _peak_mb()
    features = pd.read_parquet(root / "out" / ".stages" / "score.features.parquet")
    bundle, _ = load_bundle(bundle_path, settings)
    matrix = model_matrix(features, bundle.feature_names)
    predict_started = time.perf_counter()
    bundle.classifier.predict_proba(matrix)
    bare = time.perf_counter() - predict_started
    reasons_started = time.perf_counter()  # what the reasons cost on top of the prediction
    reason_codes(bundle.classifier.contributions(matrix), bundle.scale.factor, bundle.top_k, "ko")
    reasons = time.perf_counter() - reasons_started
    stage_names = {"growth paths": "growth_paths", "STEP 1": "step1"}  # notify() names -> timing keys
    peaks = {stage_names.get(k, k): v for k, v in stage_peaks.items() if not k.startswith("reports")}
    peaks["reports"] = _peak_mb()
    print(
        json.dumps(
            {
                "applicants": manifest["counts"]["applicants"],
                "scored": manifest["counts"]["scored"],
                "seconds": round(total, 2),
                "cpu_seconds": round(cpu + side_cpu, 2),
                "side_cpu_seconds": round(side_cpu, 2),
                "side_peak_mb": memory.side_peak_mb,
                "stages": {
                    s: {"seconds": manifest["timings_seconds"].get(s), "peak_mb": peaks.get(s)}
                    for s in manifest["timings_seconds"]
                },
                "peak_mb": max(memory.peak_mb, _peak_mb()),
                "round_peak_mb": _peak_mb(),
                "bare_predict_seconds": round(bare, 4),
                "ratio_to_bare_predict": round(total / bare),
                "reason_codes_seconds": round(reasons, 3),
                "pdfs": manifest.get("reports", {}).get("pdfs", 0),
                "report_steps": manifest.get("reports", {}).get("seconds", {}),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applicants", default="1000,10000,100000")
    parser.add_argument("--reports", action="store_true", help="also write every per-firm report (HTML and PDF)")
    parser.add_argument("--setup", nargs=1)
    parser.add_argument("--workbook", action="store_true", help="also write the Excel workbook")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (each afresh); prints their median")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.setup:
        setup(args.setup[0])
        return
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2] == "1", args.child[3] == "1")
        return
    with tempfile.TemporaryDirectory() as directory:
        subprocess_out = run_child_setup(directory)
        print(f"model: {subprocess_out['bundle']} (trained on the default synthetic history; not timed)")
        print(f"reports: {'HTML + PDF per firm' if args.reports else 'off (round summary only)'}")
        print(f"workbook: {'on' if args.workbook else 'off'}")
        walls: dict[int, list[float]] = {}
        for size in [int(n) for n in args.applicants.split(",") for _ in range(args.repeat)]:
            r = run_child(__file__, directory, str(size), "1" if args.reports else "0", "1" if args.workbook else "0")
            walls.setdefault(r["applicants"], []).append(r["seconds"])
            print(
                f"\n{r['applicants']:,} applicants ({r['scored']:,} scored): {r['seconds']:.1f} s end to end "
                f"({r['cpu_seconds']:.1f} CPU s, {r['side_cpu_seconds']:.1f} of them in the side process), "
                f"peak {r['peak_mb']:,} MB together (round alone {r['round_peak_mb']:,}, side process "
                f"{r['side_peak_mb']:,}), "
                f"{r['applicants'] / r['seconds']:,.0f} applicants/s; "
                f"bare LightGBM predict {r['bare_predict_seconds']:.3f} s -> ratio {r['ratio_to_bare_predict']:,}x; "
                f"reason codes (exact contributions + wording) {r['reason_codes_seconds']:.2f} s"
                + (f"; {r['pdfs']:,} PDFs" if args.reports else "")
            )
            print(f"  {'stage':<22} {'seconds':>9} {'peak MB':>9}")
            for stage, s in r["stages"].items():
                seconds = "-" if s["seconds"] is None else f"{s['seconds']:.2f}"
                peak = "-" if s["peak_mb"] is None else f"{s['peak_mb']:,}"
                print(f"  {stage:<22} {seconds:>9} {peak:>9}")
            if r["report_steps"]:
                print("  reports by step: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["report_steps"].items()))
        for applicants, runs in walls.items():
            if len(runs) > 1:
                listed = ", ".join(f"{t:.1f}" for t in runs)
                print(
                    f"\n{applicants:,} applicants, {len(runs)} runs: median {statistics.median(runs):.1f} s ({listed})"
                )


def run_child_setup(directory: str) -> dict:
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--setup", directory], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
