"""Benchmark growth paths: forecast every firm of a synthetic panel at its last fiscal year.

Usage: python benchmarks/bench_growth.py [--firms 20000,100000]
Each size runs in its own process (peak memory per size). The measured step is the whole
``growth_paths`` call: features of the history, the rolling calibration over every earlier origin,
the pooled quantile models and the forecasts for all firms filing in the last year.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure, print_rows, run_child


def child(firms: int) -> None:
    from jumpup.pipelines import growth, synth
    from jumpup.settings import load_settings

    overrides = {"synth": {"firms": firms, "applicants": 10}, "ingest": {"max_fiscal_year": 2024}}
    settings = load_settings(overrides=overrides)
    with tempfile.TemporaryDirectory() as directory:
        synth.run(settings, Path(directory), settings.seed, fmt="parquet")
        history = Path(directory) / "history"
        result = measure(lambda: growth.growth_paths(history, 2024, settings)[0]["firm_id"].nunique())
    print(json.dumps({"size": firms, **result}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", default="20000,100000")
    parser.add_argument("--child", nargs=1, type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child[0])
        return
    results = [run_child(__file__, str(size)) for size in map(int, args.firms.split(","))]
    print_rows("growth paths at the last fiscal year (rows = firms forecast)", results)


if __name__ == "__main__":
    main()
