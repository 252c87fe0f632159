"""Benchmark ``jumpup synth``: firms x 10 years, generated and written as CSV.

Usage: python benchmarks/bench_synth.py [--sizes 10000,1000000] [--years 10]
Prints firm-year rows per second and peak memory for each size (one child process per size).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import measure, print_rows, run_child


def child(size: int, years: int) -> None:
    from jumpup.pipelines import synth
    from jumpup.settings import load_settings

    settings = load_settings(overrides={"synth": {"firms": size, "years": years, "applicants": min(size, 1000)}})
    with tempfile.TemporaryDirectory() as out:
        result = measure(lambda: synth.run(settings, Path(out), settings.seed)["firm_years"])
    print(json.dumps({"size": size, **result}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--child", nargs=2, type=int)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    results = [run_child(__file__, str(size), str(args.years)) for size in map(int, args.sizes.split(","))]
    print_rows(f"jumpup synth, {args.years} fiscal years, CSV output", results)


if __name__ == "__main__":
    main()
