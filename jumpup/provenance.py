"""Provenance for every output: input hashes, code version, params and counts.

Each stage writes a small manifest so a round's decisions can be traced to exactly the files,
code and settings that produced them. Timings are kept apart from the hashed content so that two
identical runs still give identical outputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

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
def checkout_version() -> str:
    """Package version plus git commit when in a checkout: '+dirty' with uncommitted changes,
    '+status-unknown' when git cannot tell. Only reads the repository (never takes its index lock)."""
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
        # --no-optional-locks: git status would otherwise refresh the checkout's index, writing
        # .git/index.lock, outside any --out, and clash with the user's own git commands
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        suffix = "+dirty" if dirty.stdout.strip() else "" if dirty.returncode == 0 else "+status-unknown"
        return f"{__version__}+g{commit.stdout.strip()}{suffix}"
    except (OSError, subprocess.SubprocessError):
        return __version__


_STAGE_CODE_VERSION: ContextVar[str | None] = ContextVar("stage_code_version", default=None)


def code_version() -> str:
    """The code version recorded in every output.

    Inside ``stage_code_version`` (a DVC stage): the content hash of the code that stage depends
    on, so an output changes only when that code does. Elsewhere: ``checkout_version()``.
    """
    return _STAGE_CODE_VERSION.get() or checkout_version()


def source_sha256(paths: Iterable[Path], root: Path = PROJECT_ROOT) -> str:
    """SHA-256 over every file under ``paths`` (files or folders), in sorted order of their path.

    Each file adds its path relative to ``root`` (POSIX form) and the SHA-256 of its bytes, so a
    renamed, added, removed or edited file changes the hash and nothing else does. Byte-code
    (``__pycache__``, ``*.pyc``) is skipped. Raises ``FileNotFoundError`` for a missing path.
    """
    files: set[Path] = set()
    for path in paths:
        path = Path(path) if Path(path).is_absolute() else root / path
        if path.is_dir():
            files.update(f for f in path.rglob("*") if f.is_file())
        elif path.is_file():
            files.add(path)
        else:
            raise FileNotFoundError(f"{path}: code path of a stage does not exist")
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.relative_to(root).as_posix()):
        if "__pycache__" in f.parts or f.suffix == ".pyc":
            continue
        digest.update(f"{f.relative_to(root).as_posix()}\0{file_sha256(f)}\n".encode())
    return digest.hexdigest()


def stage_code_paths(stage: str, dvc_file: Path | None = None) -> list[str]:
    """The code a DVC stage depends on: its ``deps`` in ``dvc.yaml`` that are not under ``data/``.

    Raises ``KeyError`` for a stage ``dvc.yaml`` does not define.
    """
    dvc_file = dvc_file or PROJECT_ROOT / "dvc.yaml"
    stages = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))["stages"]
    if stage not in stages:
        raise KeyError(f"{dvc_file}: no stage {stage!r} (stages: {', '.join(stages)})")
    deps = [next(iter(d)) if isinstance(d, dict) else d for d in stages[stage].get("deps", [])]
    return [d for d in deps if not Path(d).parts or Path(d).parts[0] != "data"]


@contextmanager
def stage_code_version(stage: str, root: Path = PROJECT_ROOT) -> Iterator[str]:
    """Within the block, ``code_version()`` is ``<version>+src.<hash>`` of the stage's code.

    The hash covers exactly the code ``dvc.yaml`` lists for the stage (``stage_code_paths``), the
    files DVC itself watches: the outputs of ``dvc repro`` then depend on the stage's code and
    inputs only, never on the commit, so a fresh clone reproduces the committed ``dvc.lock``.
    """
    version = f"{__version__}+src.{source_sha256(stage_code_paths(stage, root / 'dvc.yaml'), root)[:12]}"
    token = _STAGE_CODE_VERSION.set(version)
    try:
        yield version
    finally:
        _STAGE_CODE_VERSION.reset(token)


def shown_path(path: Path | str) -> str:
    """A path as recorded in an output: relative to the project (POSIX form) when inside it.

    So outputs of the same inputs do not differ between checkouts in different folders; a path
    outside the project is kept as given.
    """
    path = Path(path)
    try:
        return path.resolve().relative_to(PROJECT_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (NumPy's included) replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Stable JSON: sorted keys and a trailing newline, so equal content gives equal bytes.

    Strict JSON (RFC 8259), which has no NaN or infinity: a figure that could not be computed is
    written as ``null``. Anything else ``json`` cannot write is written as its ``str``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(payload), ensure_ascii=False, indent=2, sort_keys=True, default=str, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


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
