"""Provenance for every output: input hashes, code version, params and counts.

Each stage writes a small manifest so a round's decisions can be traced to exactly the files,
code and settings that produced them. Timings are kept apart from the hashed content so that two
identical runs still give identical outputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from jumpup import __version__
from jumpup.settings import PROJECT_ROOT


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """Order-sensitive hash of a DataFrame's values and column names."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus git commit (and '+dirty' with uncommitted changes) when in a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if commit.returncode != 0:
            return __version__
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        suffix = "+dirty" if dirty.stdout.strip() else ""
        return f"{__version__}+g{commit.stdout.strip()}{suffix}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Stable JSON: sorted keys and a trailing newline, so equal content gives equal bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def output_timestamp() -> dt.datetime:
    """The creation date written into documents (workbook properties, PDF dates), in UTC.

    ``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds convention) when set, else
    1980-01-01 00:00 UTC, the earliest date a ZIP entry can hold: never the wall clock, so a rerun
    on the same inputs gives byte-identical files. Raises ``ValueError`` for a non-integer value.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return dt.datetime(1980, 1, 1, tzinfo=dt.UTC)
    if not raw.isdigit():
        raise ValueError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {raw!r}")
    return max(dt.datetime.fromtimestamp(int(raw), tz=dt.UTC), dt.datetime(1980, 1, 1, tzinfo=dt.UTC))


def skipped_firms(firms: pd.DataFrame, financials: pd.DataFrame, done: pd.Series, as_of: int) -> pd.DataFrame:
    """Every firm of ``firms`` not in ``done``, with the reason: the accounting of a stage's output.

    ``financials``: the panel's statements (``firm_id``, ``fiscal_year``); ``done``: the firm ids
    the stage produced a result for. Returns columns ``firm_id``, ``reason`` (a code),
    ``latest_fiscal_year`` (the latest statement up to ``as_of``, empty when none) and
    ``message``; ``len(firms) == done firms + skipped`` always holds.
    """
    ids = firms["firm_id"].drop_duplicates()
    missing = ids[~ids.isin(set(done))]
    years = financials.loc[financials["fiscal_year"] <= as_of].groupby("firm_id")["fiscal_year"].max()
    latest = missing.map(years)
    has_year = missing.isin(set(financials.loc[financials["fiscal_year"] == as_of, "firm_id"]))
    reason = pd.Series("no_statements_for_as_of_year", index=missing.index, dtype="object")
    reason[latest.isna()] = "no_statements_up_to_as_of_year"
    reason[has_year] = "not_computable"
    message = [
        (
            f"no FY{as_of} statements (latest: FY{int(y)})"
            if r == "no_statements_for_as_of_year"
            else f"no statements up to FY{as_of}"
            if r == "no_statements_up_to_as_of_year"
            else f"FY{as_of} statements present but no result (revenue missing or no peers)"
        )
        for r, y in zip(reason, latest, strict=True)
    ]
    return pd.DataFrame(
        {
            "firm_id": missing.to_numpy(),
            "reason": reason.to_numpy(),
            "latest_fiscal_year": latest.astype("Int64").to_numpy(),
            "message": message,
        }
    ).reset_index(drop=True)
