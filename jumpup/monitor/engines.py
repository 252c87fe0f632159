"""Scoring engines of the crisis monitor: pandas (default, one process) and Spark (scale-out).

Both score through the same registered MLflow pyfunc (``jumpup.models.crisis_pyfunc``) on the same
indicators (``jumpup.features.crisis_signals``), so they give the same probabilities and grades:

- ``pandas``: indicators for the whole panel in one table, then ``pyfunc.predict``;
- ``spark``: panel rows become a Spark DataFrame partitioned by a hash of the firm id; indicators are
  computed per bucket of firms with ``groupBy(bucket).applyInPandas`` (every indicator reads only
  the firm's own earlier years, so a firm never needs another bucket), and the pyfunc runs as a Spark UDF
  (``mlflow.pyfunc.spark_udf``, ``env_manager="local"``: the executors use this environment and
  the model is shipped to them once). Spark is imported only here, only when asked for.
"""

from __future__ import annotations

import os
import sys

import pandas as pd

from jumpup.features.crisis_signals import FEATURES, ITEMS, crisis_signals

TEXT_COLUMNS = ("firm_id", "audit_opinion", "industry_group")


class EngineError(RuntimeError):
    """The Spark engine cannot start (pyspark or Java missing); the message says what to install."""


def panel_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the indicators read, with fixed types (text as str, numbers as float64)."""
    out = pd.DataFrame({"firm_id": rows["firm_id"].astype(str), "fiscal_year": rows["fiscal_year"].astype("int64")})
    for column in ITEMS:
        out[column] = pd.to_numeric(rows[column], errors="coerce").astype("float64") if column in rows else float("nan")
    for column in ("audit_opinion", "industry_group"):
        values = rows[column] if column in rows else pd.Series(None, index=rows.index, dtype=object)
        out[column] = values.astype(object).where(values.notna(), None)
    return out


def features_for(rows: pd.DataFrame, years: tuple[int, ...]) -> pd.DataFrame:
    """Indicators of ``rows`` (up to the last of ``years``) for the firm-years in ``years``."""
    rows = rows[rows["fiscal_year"] <= max(years)]
    features = crisis_signals(panel_columns(rows))
    return features[features["fiscal_year"].isin(years)].reset_index(drop=True)


def score_pandas(model, rows: pd.DataFrame, years: tuple[int, ...]) -> pd.DataFrame:
    """Scores (the pyfunc's output) for every firm with a row in one of ``years``; ``model`` is a
    loaded ``mlflow.pyfunc`` model."""
    features = features_for(rows, years)
    scores = model.predict(features[["firm_id", "fiscal_year", *FEATURES]])
    return scores.sort_values(["as_of", "firm_id"]).reset_index(drop=True)


def spark_session(master: str, partitions: int | None = None):
    """A Spark session on ``master`` (``local[*]``: this machine) for the monitor."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError("--engine spark needs pyspark: pip install 'jumpup[spark]'") from None
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise EngineError("--engine spark needs a Java runtime (17 or newer): install a JRE or set JAVA_HOME")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master)
        .appName("jumpup-monitor")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    return builder.getOrCreate()


def _feature_schema() -> str:
    return ", ".join(["firm_id string", "fiscal_year long", *(f"`{name}` double" for name in FEATURES)])


def score_spark(spark, model_uri: str, rows: pd.DataFrame, years: tuple[int, ...], output: list[tuple[str, str]]):
    """Scores for the firm-years in ``years`` computed in Spark; returns a pandas table in the
    pyfunc's output columns (``output``: (name, Spark type) pairs), sorted like ``score_pandas``."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    last = max(years)
    panel = panel_columns(rows[rows["fiscal_year"] <= last])
    frame = spark.createDataFrame(panel)

    def per_bucket(part: pd.DataFrame) -> pd.DataFrame:
        features = crisis_signals(part.drop(columns="_bucket").sort_values(["firm_id", "fiscal_year"], kind="stable"))
        return features[features["fiscal_year"].isin(years)]

    # Firms are hashed into as many buckets as shuffle partitions: every firm's rows meet in one
    # bucket, and the indicators run once per bucket of many firms, not once per firm.
    buckets = int(spark.conf.get("spark.sql.shuffle.partitions"))
    frame = frame.withColumn("_bucket", F.pmod(F.hash("firm_id"), F.lit(buckets)))
    features = frame.repartition(buckets, "_bucket").groupBy("_bucket").applyInPandas(per_bucket, _feature_schema())
    result_type = ", ".join(f"{name} {kind}" for name, kind in output)
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type, env_manager="local")
    inputs = F.struct(*[F.col(f"`{c}`") for c in ("firm_id", "fiscal_year", *FEATURES)])
    scored = features.withColumn("_score", udf(inputs)).select("_score.*")
    out = scored.toPandas()
    out["as_of"] = out["as_of"].astype("int64")
    out["flagged"] = out["flagged"].astype(bool)
    return out.sort_values(["as_of", "firm_id"]).reset_index(drop=True)
