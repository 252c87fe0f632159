"""The MLflow pyfunc around ``CrisisModel``: crisis-indicator rows in, early-warning scores out.

Logged as an MLflow *model from code* (``crisis_pyfunc_model.py`` names this class; the model
directory is its one artifact, data only: LightGBM text and JSON). Input: one row per firm-year
with ``firm_id``, ``fiscal_year`` and the model's features (``jumpup.features.crisis_signals``),
so features can be built anywhere (pandas, or Spark partitions grouped by firm) and scored by the
same function (``crisis_scores``), which ``jumpup monitor`` calls on the model read as data.
Output: ``output_columns``.
"""

from __future__ import annotations

import mlflow.pyfunc
import pandas as pd

from jumpup.models.crisis import CrisisModel


def output_columns(top_k: int) -> list[tuple[str, str]]:
    """(name, Spark SQL type) of every output column, in order."""
    columns = [
        ("firm_id", "string"),
        ("as_of", "long"),
        ("probability", "double"),
        ("score", "double"),
        ("grade", "string"),
        ("flagged", "boolean"),
    ]
    for k in range(1, top_k + 1):
        columns += [(f"reason_{k}", "string"), (f"reason_feature_{k}", "string")]
    return columns


def crisis_scores(model: CrisisModel, rows: pd.DataFrame, reasons: bool = True) -> pd.DataFrame:
    """The pyfunc's output for indicator rows: ``model.score_features`` in ``output_columns`` order."""
    scores = model.score_features(rows, with_reasons=reasons)
    return scores[[name for name, _ in output_columns(model.top_k) if name in scores]]


class CrisisPyfunc(mlflow.pyfunc.PythonModel):
    """For MLflow's own tools (serving, ``mlflow.pyfunc.load_model``); jumpup itself reads the
    logged ``crisis_model`` directory as data (``pipelines.monitor.load_crisis_model``)."""

    def load_context(self, context) -> None:
        self.model = CrisisModel.load(context.artifacts["crisis_model"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params = params or {}
        return crisis_scores(self.model, model_input, bool(params.get("reasons", True)))
