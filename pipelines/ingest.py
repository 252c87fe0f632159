"""DVC stage ``ingest``: validate a raw panel or round directory once and write the ingested tables.

Every later stage reads what this stage wrote (``load_ingested``), never the raw files.
"""

from __future__ import annotations

import time
from pathlib import Path

from jumpup.intake.ingest import ingest_directory, write_outputs


def main(source: Path | None = None, out_dir: Path | None = None, round_mode: bool = False) -> dict:
    """DVC entry point: ingest the synthetic history (or the given directory) with params.yaml."""
    from jumpup.settings import load_settings

    settings = load_settings()
    source = source or settings.paths.resolve(settings.paths.synthetic_dir) / "history"
    out_dir = out_dir or settings.paths.resolve(settings.paths.ingested_dir)
    started = time.perf_counter()
    result = ingest_directory(source, settings.ingest, round_mode=round_mode)
    return write_outputs(result, out_dir, started)


if __name__ == "__main__":
    import sys

    main(*(Path(a) for a in sys.argv[1:3]), round_mode="--round" in sys.argv)
