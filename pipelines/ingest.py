"""DVC stages ``ingest`` and ``ingest_round``: validate a raw panel or round once, write the ingested tables.

Every later stage reads what this stage wrote (``load_ingested``), never the raw files. The
outputs are a function of the inputs, params and the stage's code only: the time taken is
printed, not written, so a rerun gives the same bytes.
"""

from __future__ import annotations

import time
from pathlib import Path

from jumpup.intake.ingest import ingest_directory, write_outputs
from jumpup.provenance import stage_code_version


def main(source: Path | None = None, out_dir: Path | None = None, round_mode: bool = False) -> dict:
    """DVC entry point: ingest the synthetic history (or the given directory) with params.yaml."""
    from jumpup.settings import load_settings

    settings = load_settings()
    source = source or settings.paths.resolve(settings.paths.synthetic_dir) / "history"
    out_dir = out_dir or settings.paths.resolve(settings.paths.ingested_dir)
    started = time.perf_counter()
    with stage_code_version("ingest_round" if round_mode else "ingest"):
        result = ingest_directory(source, settings.ingest, round_mode=round_mode)
        report = write_outputs(result, out_dir)
    accepted = sum(f["accepted"] for f in report["files"])
    quarantined = sum(f["quarantined"] for f in report["files"])
    print(f"ingest: {accepted} rows accepted, {quarantined} quarantined in {time.perf_counter() - started:.1f} s")
    return report


if __name__ == "__main__":
    import sys

    main(*(Path(a) for a in sys.argv[1:3]), round_mode="--round" in sys.argv)
