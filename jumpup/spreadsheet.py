"""Text that must not become a spreadsheet formula (CSV / formula injection, OWASP).

A firm name, investor name, evaluator id, quarantined raw value or reason that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return can run as a formula when a CSV is opened in a
spreadsheet. Following the OWASP CSV-injection guidance, every CSV the product writes for people
goes through ``write_csv``: such a text cell gets a leading single quote (``'=1+1``), which
spreadsheets show as text. Numeric columns are never touched, and a text cell that is a plain
number (``-1234``, ``+3.5``) is left alone because a number cannot run. The Excel workbook keeps
the value as it is and stores it as an explicit string cell instead (``jumpup.rendering.workbook``).
The policy, and which files it covers, is in docs/trust_model.md.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


def formula_like(value: object) -> bool:
    """Whether a spreadsheet could read ``value`` as a formula: text starting with a trigger
    character that is not simply a number."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.match(value)


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a single quote before every formula-like text cell; other cells unchanged.

    Only columns that can hold text (object or string dtype) are looked at, so numbers stay numbers.
    Returns ``frame`` itself when nothing needs escaping.
    """
    out = frame
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        risky = values.map(formula_like, na_action="ignore").fillna(False).astype(bool)
        if risky.any():
            if out is frame:
                out = frame.copy()
            escaped = values.astype(object).where(~risky, "'" + values[risky].astype(str))
            out.isetitem(position, escaped)
    return out


def write_csv(frame: pd.DataFrame, path: Path, **to_csv) -> Path:
    """Write ``frame`` as a CSV meant to be opened in a spreadsheet (no index; see the module docs).

    Python's csv writer leaves a field with a bare carriage return unquoted, which splits the row
    for every reader; when a text cell holds one, every text cell is quoted (``QUOTE_NONNUMERIC``).
    """
    safe = spreadsheet_safe(frame)
    if any(_holds(safe.iloc[:, i], "\r") for i in range(safe.shape[1])):
        to_csv = {**to_csv, "quoting": csv.QUOTE_NONNUMERIC}
    safe.to_csv(path, index=False, **to_csv)
    return Path(path)


def _holds(values: pd.Series, character: str) -> bool:
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return False
    return bool(values.map(lambda v: isinstance(v, str) and character in v, na_action="ignore").fillna(False).any())
