"""The MLflow pyfunc around GrowthModelBundle: raw panel rows in, graded scores out.

Logged as an MLflow *model from code*: the logged model holds ``pyfunc_model.py`` (two lines that
name this class) and the bundle directory as its one artifact, which is data only (LightGBM text,
JSON, Parquet; see ``jumpup.models.bundle_store``). No cloudpickle is written or read.

Features are built inside, against the reference population the bundle carries, so scoring
needs only the model URI and the rows. ``params={"as_of": YEAR, "language": "ko"|"en",
"reasons": True}`` select the year scored (only data up to it is read) and the reason wording.
Scoring stays a pure function of (model, rows), so MLflow's ``spark_udf`` can run it unchanged.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from jumpup.intake.contracts import FINANCIALS, FIRMS
from jumpup.models.bundle_store import load_bundle_dir


def contract_columns() -> list[str]:
    """Every column of a raw panel row (financials joined with firm attributes)."""
    return list(dict.fromkeys([*FINANCIALS.columns, *(c for c in FIRMS.columns if c != "firm_id")]))


def complete_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Give rows every contract column with the signature's types: numbers as float64 (any may be
    missing), the fiscal year as int64, dates as datetime64, text as objects; absent columns missing."""
    rows = rows.copy()
    numeric = {*FINANCIALS.numeric, *FIRMS.numeric} - {"fiscal_year"}
    dates = {*FINANCIALS.dates, *FIRMS.dates}
    for column in contract_columns():
        if column == "fiscal_year":
            rows[column] = rows[column].astype("int64")
        elif column in numeric:
            rows[column] = pd.to_numeric(rows[column], errors="coerce").astype("float64") if column in rows else np.nan
        elif column in dates:
            rows[column] = pd.to_datetime(rows[column], errors="coerce") if column in rows else pd.NaT
            rows[column] = rows[column].astype("datetime64[ns]")
        elif column not in rows:
            rows[column] = None
    return rows


class GrowthModelPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.bundle = load_bundle_dir(context.artifacts["bundle"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params = params or {}
        as_of = params.get("as_of")
        as_of = None if as_of in (None, 0, -1) else int(as_of)
        scores, _ = self.bundle.score_rows(
            model_input,
            as_of=as_of,
            language=params.get("language", "ko"),
            with_reasons=bool(params.get("reasons", True)),
        )
        return scores
