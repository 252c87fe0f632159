"""Table helpers every layer may use (imports nothing of jumpup)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc


def is_known(values: pd.Series, known: pd.Series | pd.Index | set | list) -> pd.Series:
    """``values.isin(known)`` for text ids: a bool Series on ``values``' index, found in one Arrow hash lookup.

    pandas' Arrow-backed text dtype boxes every known value in turn (about 1 s for 100,000 ids);
    Arrow's ``is_in`` takes them as one array. A missing value is never known; a known value that
    is not text matches nothing, as with ``isin`` on text. Columns that are not all text (or
    missing) fall back to ``Series.isin``.
    """
    items = known.tolist() if isinstance(known, pd.Series | pd.Index) else list(known)
    try:
        array = pyarrow.array(values, type=pyarrow.large_string(), from_pandas=True)
    except (pyarrow.ArrowInvalid, pyarrow.ArrowTypeError):
        return values.isin(items)
    wanted = pyarrow.array([v for v in items if isinstance(v, str)], type=pyarrow.large_string())
    found = pc.is_in(array, value_set=wanted)
    return pd.Series(np.asarray(found.fill_null(False), dtype=bool), index=values.index)
