"""Text from users written to files people open in a spreadsheet: never a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula
by Excel and LibreOffice (CSV or formula injection, OWASP). Such text cells get a leading
apostrophe, which spreadsheets show as plain text; numbers are left alone.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which every text cell that a spreadsheet would run starts with ``'``.

    Only object and string columns are touched, and only cells that are ``str``; the shape, index
    and every other cell are unchanged.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if not _is_text(values):
            continue
        risky = _cells(values, lambda v: v.startswith(FORMULA_STARTS), lambda s: s.str.startswith(FORMULA_STARTS))
        if risky.any():
            quoted = values.astype(object).to_numpy(copy=True)
            quoted[risky] = ["'" + v for v in quoted[risky]]
            out[column] = pd.Series(quoted, index=values.index, dtype=object)
    return out


def _is_text(values: pd.Series) -> bool:
    return values.dtype == object or pd.api.types.is_string_dtype(values.dtype)


def _cells(values: pd.Series, test, vectorised) -> np.ndarray:
    """Boolean mask (one per cell) of the ``str`` cells passing ``test``; string columns test in bulk."""
    if values.dtype != object:  # a string dtype: every non-missing cell is a str
        return vectorised(values).fillna(False).to_numpy(dtype=bool)
    return np.fromiter((isinstance(v, str) and test(v) for v in values.to_numpy()), dtype=bool, count=len(values))


def unguard_formulas(values: pd.Series) -> pd.Series:
    """Undo ``guard_formulas`` on a column read back from a file this project wrote (e.g. ids)."""
    return values.map(
        lambda v: v[1:] if isinstance(v, str) and v.startswith("'") and v[1:].startswith(FORMULA_STARTS) else v
    )


def write_csv(frame: pd.DataFrame, path: Path, **to_csv) -> Path:
    """Write ``frame`` as a CSV people may open in a spreadsheet: ``guard_formulas``, no index.

    Python's csv writer leaves a field with a bare carriage return unquoted, which splits the row
    for every reader; when a text cell holds one, every text cell is quoted (``QUOTE_NONNUMERIC``).
    The policy and the files it covers are in docs/trust_model.md.
    """
    safe = guard_formulas(frame)
    if any(_holds(safe.iloc[:, i], "\r") for i in range(safe.shape[1])):
        to_csv = {**to_csv, "quoting": csv.QUOTE_NONNUMERIC}
    safe.to_csv(path, index=False, **to_csv)
    return Path(path)


def _holds(values: pd.Series, character: str) -> bool:
    if not _is_text(values):
        return False
    return bool(_cells(values, lambda v: character in v, lambda s: s.str.contains(character, regex=False)).any())
