"""Text from users written to files people open in a spreadsheet: never a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula
by Excel and LibreOffice (CSV or formula injection, OWASP). Such text cells get a leading
apostrophe, which spreadsheets show as plain text; numbers are left alone.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which every text cell that a spreadsheet would run starts with ``'``.

    Only object and string columns are touched, and only cells that are ``str``; the shape, index
    and every other cell are unchanged.
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            values = out[column]
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
            if risky.any():
                quoted = values.map(lambda v: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)
                out[column] = quoted.astype(object)
    return out


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
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return False
    return bool(values.map(lambda v: isinstance(v, str) and character in v, na_action="ignore").fillna(False).any())
