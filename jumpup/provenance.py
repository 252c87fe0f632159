"""Provenance for every output: input hashes, code version, params and counts.

Each stage writes a small manifest so a round's decisions can be traced to exactly the files,
code and settings that produced them. Timings are kept apart from the hashed content so that two
identical runs still give identical outputs.
"""

from __future__ import annotations

import hashlib
import json
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
