"""Benchmark the feature pipeline: fit the reference population and build features.

Usage: python benchmarks/bench_features.py [--firm-years 1000000]
A setup child writes a synthetic panel of about the requested firm-years as Parquet; a second
child reads it and runs FeatureBuilder.fit + transform (the ``features`` stage's work), printing
rows per second and that child's peak memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure, print_rows, run_child


def setup(directory: str, firm_years: int) -> None:
    from jumpup.settings import load_settings
    from jumpup.synthetic import generator as synth

    # About 9.1 written rows per firm over 10 years (young firms and exits).
    settings = load_settings(overrides={"synth": {"firms": int(firm_years / 9.1), "years": 10, "applicants": 100}})
    data = synth.generate(settings.synth, settings.seed)
    data.history_firms.to_parquet(Path(directory) / "firms.parquet", index=False)
    data.history_financials.to_parquet(Path(directory) / "financials.parquet", index=False)
    print(json.dumps({"rows": len(data.history_financials)}))


def child(directory: str) -> None:
    import pandas as pd

    from jumpup.features.builder import FeatureBuilder, panel_rows
    from jumpup.settings import load_settings

    settings = load_settings()

    def job() -> int:
        firms = pd.read_parquet(Path(directory) / "firms.parquet")
        financials = pd.read_parquet(Path(directory) / "financials.parquet")
        rows = panel_rows(firms, financials)
        builder = FeatureBuilder(settings.features, settings.size_class, settings.program)
        started = time.perf_counter()
        builder.fit(rows)
        features = builder.transform(rows)
        print(f"fit+transform {time.perf_counter() - started:.1f} s", file=sys.stderr)
        return len(features)

    print(
        json.dumps(
            {"size": len(pd.read_parquet(Path(directory) / "financials.parquet", columns=["firm_id"])), **measure(job)}
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--firm-years", type=int, default=1_000_000)
    parser.add_argument("--setup", nargs=2)
    parser.add_argument("--child", nargs=1)
    args = parser.parse_args()
    if args.setup:
        setup(args.setup[0], int(args.setup[1]))
        return
    if args.child:
        child(args.child[0])
        return
    with tempfile.TemporaryDirectory() as directory:
        import subprocess

        subprocess.run(
            [sys.executable, __file__, "--setup", directory, str(args.firm_years)], check=True, capture_output=True
        )
        result = run_child(__file__, directory)
    print_rows("features: FeatureBuilder.fit + transform on synthetic firm-years (Parquet in)", [result])


if __name__ == "__main__":
    main()
