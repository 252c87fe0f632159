"""Text from users written to files people open in a spreadsheet: never a formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula
by Excel and LibreOffice (CSV or formula injection, OWASP). Such text cells get a leading
apostrophe, which spreadsheets show as plain text; numbers are left alone.
"""

from __future__ import annotations

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
