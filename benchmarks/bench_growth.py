"""Benchmark growth paths: forecast every firm of a synthetic panel at its last fiscal year.

Usage: python benchmarks/bench_growth.py [--firms 20000,100000]
Each size runs in its own process. Three steps are timed apart, because they are paid at
different times:
- ``history features``: indicators of the whole history and its realised outcomes (paid once
  per model, at training; the bundle carries the result);
- ``fit``: the growth-path engine — calibration over the latest earlier origins, pooled quantile
  models, peer pools (paid once per model, at training);
- ``forecast``: growth paths of every firm filing in the last year (paid by every round).
Peak memory is the process peak up to the end of each step.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure, run_child


def child(firms: int) -> None:
    from jumpup.models import growth_engine
    from jumpup.pipelines import growth_paths as growth
    from jumpup.pipelines import synth
    from jumpup.settings import load_settings

    overrides = {"synth": {"firms": firms, "applicants": 10}, "ingest": {"max_fiscal_year": 2024}}
    settings = load_settings(overrides=overrides)
    state: dict = {}
    with tempfile.TemporaryDirectory() as directory:
        synth.run(settings, Path(directory), settings.seed, fmt="parquet")
        history_dir = Path(directory) / "history"

        def history_features() -> int:
            state["history"], _ = growth._history(history_dir, settings)
            return len(state["history"])

        def fit() -> int:
            state["model"] = growth_engine.fit_growth_model(state["history"], settings)
            return len(state["history"])

        def forecast() -> int:
            history, model = state["history"], state["model"]
            queries = history[history["fiscal_year"] == model.as_of_]
            paths, _ = growth_engine.forecast_paths(history, queries, model.as_of_, settings, model=model)
            return int(paths["firm_id"].nunique())

        steps = {"history features": history_features, "fit": fit, "forecast": forecast}
        results = {name: measure(job) for name, job in steps.items()}
    print(json.dumps({"size": firms, "steps": results}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firms", default="20000,100000")
    parser.add_argument("--child", nargs=1, type=int)
    args = parser.parse_args()
    if args.child:
        child(args.child[0])
        return
    print("growth paths (rows: firm-years for the history steps, firms forecast for the forecast step)")
    print(f"{'firms':>9} {'step':>17} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'peak MB':>9}")
    for size in map(int, args.firms.split(",")):
        result = run_child(__file__, str(size))
        for step, r in result["steps"].items():
            print(
                f"{size:>9,} {step:>17} {r['rows']:>10,} {r['seconds']:>9.2f} "
                f"{r['rows_per_second']:>10,} {r['peak_mb']:>9,}"
            )


if __name__ == "__main__":
    main()
