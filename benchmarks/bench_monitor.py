"""Benchmark the crisis monitor's scoring engines on synthetic firm-years.

Usage: python benchmarks/bench_monitor.py [--firms 100000] [--years 10] [--spark-master local[2]]

A setup child trains and registers a crisis model on a small synthetic panel in a temporary
MLflow store (not timed). Then each engine runs in its own child process on ``firms`` x ``years``
synthetic firm-years (generated in the child, not timed): indicators for every firm-year and the
registered crisis model's scores with reasons (read as data), through ``jumpup.monitor.engines`` (pandas, then Spark
with ``--spark-master``). A third child times a bare LightGBM ``predict`` on the same indicator
matrix. For each: wall seconds of the timed part, rows/s, CPU seconds of the whole child (start-up,
data generation and model loading included; ``CPU s`` counts the processes it waited for, ``tree
CPU s`` also Spark's JVM, sampled every 0.2 s) and the peak resident memory of the process tree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil


def _panel(firms: int, years: int):
    from jumpup.intake.imported_panel import FIRM_ATTRIBUTES
    from jumpup.synthetic.crisis_panel import crisis_panel

    table, financials = crisis_panel(firms, years, seed=99)
    return financials.merge(table[["firm_id", *FIRM_ATTRIBUTES]], on="firm_id")


def setup(directory: Path) -> str:
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{directory / 'mlflow.db'}"
    from jumpup.pipelines.train_crisis import run
    from jumpup.settings import load_settings
    from jumpup.synthetic.crisis_panel import crisis_panel

    firms, financials = crisis_panel(3000, 12, seed=5)
    panel = directory / "train_panel"
    panel.mkdir(parents=True, exist_ok=True)
    firms.to_csv(panel / "firms.csv", index=False)
    financials.to_csv(panel / "financials.csv", index=False)
    settings = load_settings(overrides={"crisis": {"bootstrap": 50, "registered_model": "bench-crisis"}})
    return run(panel, directory / "train", settings)["model_uri"]


def child(part: str, uri: str, firms: int, years: int, master: str) -> dict:
    from jumpup.features.crisis_signals import FEATURES
    from jumpup.monitor import engines
    from jumpup.pipelines.monitor import load_crisis_model
    from jumpup.settings import load_settings

    rows = _panel(firms, years)
    scored_years = tuple(sorted(rows["fiscal_year"].unique()))
    model, _, _ = load_crisis_model(uri, load_settings())
    if part == "pandas":
        started = time.perf_counter()
        out = engines.score_pandas(model, rows, scored_years)
    elif part == "spark":
        spark = engines.spark_session(master, partitions=8)
        started = time.perf_counter()
        out = engines.score_spark(spark, model, rows, scored_years)
    else:  # bare LightGBM predict on the indicator matrix (indicators built before the clock starts)
        features = engines.features_for(rows, scored_years)
        booster = model.classifier.booster_
        matrix = features[list(FEATURES)].to_numpy(dtype="float64")
        started = time.perf_counter()
        booster.predict(matrix)
        out = features
    seconds = time.perf_counter() - started
    return {"part": part, "rows": len(out), "seconds": round(seconds, 2)}


def _tree_rss(process: psutil.Process, cpu: dict[int, float]) -> int:
    """Resident memory of the process tree now; records each process's CPU seconds in ``cpu``."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
            times = p.cpu_times()
            cpu[p.pid] = max(cpu.get(p.pid, 0.0), times.user + times.system)
    return total


def run_part(part: str, uri: str, args, env: dict) -> dict:
    command = [sys.executable, __file__, "--child", part, "--uri", uri, "--firms", str(args.firms)]
    command += ["--years", str(args.years), "--spark-master", args.spark_master]
    before = os.times()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    watched = psutil.Process(process.pid)
    peak = [0]
    cpu: dict[int, float] = {}

    def sample() -> None:
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], _tree_rss(watched, cpu))
            except psutil.Error:
                break
            time.sleep(0.2)

    thread = threading.Thread(target=sample)
    thread.start()
    stdout, _ = process.communicate()
    thread.join()
    after = os.times()
    if process.returncode != 0:
        raise SystemExit(f"{part} child failed with exit code {process.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["cpu_seconds_child_total"] = round(
        (after.children_user - before.children_user) + (after.children_system - before.children_system), 1
    )
    # processes the child did not wait for (Spark's JVM) are counted from the samples
    sampled = sum(v for pid, v in cpu.items() if pid != process.pid)
    result["cpu_seconds_sampled_tree"] = round(cpu.get(process.pid, 0.0) + sampled, 1)
    result["peak_tree_mb"] = round(peak[0] / 2**20)
    result["rows_per_second"] = round(result["rows"] / max(result["seconds"], 1e-9))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--firms", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--engines", default="pandas,spark", help="engines to time besides the bare predict")
    parser.add_argument("--child")
    parser.add_argument("--uri")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.uri, args.firms, args.years, args.spark_master)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        directory = Path(tmp)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{directory / 'mlflow.db'}"}
        os.environ.update(env)
        uri = setup(directory)
        results = [run_part(part, uri, args, env) for part in ("predict", *args.engines.split(","))]
    bare = results[0]["seconds"]
    print(f"{args.firms:,} firms x {args.years} years, machine cores: {os.cpu_count()}")
    header = ("engine", "rows", "seconds", "rows/s", "x predict", "CPU s", "tree CPU s", "peak MB")
    print(f"{header[0]:<8} " + " ".join(f"{h:>10}" for h in header[1:]))
    for r in results:
        ratio = r["seconds"] / bare if bare else float("nan")
        print(
            f"{r['part']:<8} {r['rows']:>10,} {r['seconds']:>10.2f} {r['rows_per_second']:>10,} {ratio:>10.1f} "
            f"{r['cpu_seconds_child_total']:>10.1f} {r['cpu_seconds_sampled_tree']:>10.1f} {r['peak_tree_mb']:>10,}"
        )
    print(json.dumps({"firms": args.firms, "years": args.years, "results": results}))


if __name__ == "__main__":
    main()
