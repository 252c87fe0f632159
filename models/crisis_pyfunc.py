"""The MLflow pyfunc around ``CrisisModel``: crisis-indicator rows in, early-warning scores out.

Logged as an MLflow *model from code* (``crisis_pyfunc_model.py`` names this class; the model
directory is its one artifact, data only: LightGBM text and JSON). Input: one row per firm-year
with ``firm_id``, ``fiscal_year`` and the model's features (``jumpup.features.crisis_signals``),
so features can be built anywhere (pandas, or Spark partitions grouped by firm) and scored by the
same pyfunc, e.g. through ``mlflow.pyfunc.spark_udf``. Output: ``OUTPUT_COLUMNS``.
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


class CrisisPyfunc(mlflow.pyfunc.PythonModel):
    def load_context(self, context) -> None:
        self.model = CrisisModel.load(context.artifacts["crisis_model"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        params = params or {}
        scores = self.model.score_features(model_input, with_reasons=bool(params.get("reasons", True)))
        return scores[[name for name, _ in output_columns(self.model.top_k) if name in scores]]
