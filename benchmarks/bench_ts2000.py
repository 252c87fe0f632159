"""Benchmark the TS-2000 path: import every shared export, then build the features.

Usage: python benchmarks/bench_ts2000.py [--source ../shared/data/ts2000_audited]
One child process imports the exports (``jumpup import ts2000``), reads the panel back, runs
FeatureBuilder.fit + transform and the real-item indicators, and reports rows per second and its
peak memory. Target (issue 16): under 60 s and 4 GB on 2 cores. Skips with a message when the
shared data is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure, run_child

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "ts2000_audited"


def child(source: str, directory: str) -> None:
    import pandas as pd

    from jumpup.features.builder import FeatureBuilder, panel_rows
    from jumpup.features.real_items import real_item_indicators
    from jumpup.intake.ts2000 import import_ts2000
    from jumpup.settings import load_settings

    settings = load_settings()
    steps: dict[str, float] = {}

    def job() -> int:
        started = time.perf_counter()
        manifest = import_ts2000(Path(source), Path(directory), settings.sources.ts2000_basis_precedence)
        steps["import"] = round(time.perf_counter() - started, 1)
        steps["rows_read"] = manifest["rows_read"]
        started = time.perf_counter()
        firms = pd.read_csv(Path(directory) / "firms.csv", dtype={"firm_id": str})
        financials = pd.read_csv(Path(directory) / "financials.csv", dtype={"firm_id": str})
        rows = panel_rows(firms, financials)
        builder = FeatureBuilder(settings.features, settings.size_class, settings.program)
        builder.fit(rows)
        features = builder.transform(rows)
        extra = real_item_indicators(financials, settings.features.marginal_firm_years)
        steps["features"] = round(time.perf_counter() - started, 1)
        steps["feature_rows"] = len(features)
        steps["marginal_firm_years"] = int(extra["marginal_firm"].sum())
        return manifest["rows_read"]

    result = measure(job)
    print(json.dumps({**result, **steps}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if not (args.source / "income").is_dir():
        print(f"skipped: {args.source} not found (the shared TS-2000 exports; see shared/data/README.md)")
        return
    with tempfile.TemporaryDirectory() as directory:
        r = run_child(__file__, str(args.source), directory)
    print("ts2000: import + features of the shared TS-2000 exports")
    print(
        f"{'rows read':>10} {'import s':>9} {'features s':>11} {'total s':>8} {'CPU s':>7} {'rows/s':>8} {'peak MB':>8}"
    )
    print(
        f"{r['rows_read']:>10,} {r['import']:>9} {r['features']:>11} {r['seconds']:>8} {r['cpu_seconds']:>7} "
        f"{r['rows_per_second']:>8,} {r['peak_mb']:>8,}"
    )
    print(f"feature rows {r['feature_rows']:,}; 한계기업 firm-years {r['marginal_firm_years']:,}")


if __name__ == "__main__":
    main()
