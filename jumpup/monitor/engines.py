"""Scoring engines of the crisis monitor: pandas (default, one process) and Spark (scale-out).

Both score with the same crisis model (``jumpup.models.crisis.CrisisModel``, read as data from the
registered model's ``crisis_model`` directory; the pyfunc's logged code is never run) through the
pyfunc's own output function (``jumpup.models.crisis_pyfunc.crisis_scores``) on the same indicators
(``jumpup.features.crisis_signals``), so they give the same probabilities and grades:

- ``pandas``: indicators for the whole panel in one table, then ``crisis_scores``;
- ``spark``: panel rows become a Spark DataFrame partitioned by a hash of the firm id; indicators are
  computed per bucket of firms with ``groupBy(bucket).applyInPandas`` (every indicator reads only
  the firm's own earlier years, so a firm never needs another bucket) and scored in the same
  function, the model shipped to the executors with the function (they use this environment).
  Spark is imported only here, only when asked for.
"""

from __future__ import annotations

import os
import sys

import pandas as pd

from jumpup.features.crisis_signals import FEATURES, ITEMS, crisis_signals
from jumpup.models.crisis import CrisisModel
from jumpup.models.crisis_pyfunc import crisis_scores, output_columns

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


def score_pandas(model: CrisisModel, rows: pd.DataFrame, years: tuple[int, ...]) -> pd.DataFrame:
    """Scores (``crisis_scores``: probability, grade, reasons) for every firm with a row in one of ``years``."""
    features = features_for(rows, years)
    scores = crisis_scores(model, features[["firm_id", "fiscal_year", *FEATURES]])
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


def score_spark(spark, model: CrisisModel, rows: pd.DataFrame, years: tuple[int, ...]) -> pd.DataFrame:
    """Scores for the firm-years in ``years`` computed in Spark; returns a pandas table in
    ``crisis_scores``'s columns, sorted like ``score_pandas``."""
    from pyspark.sql import functions as F

    last = max(years)
    panel = panel_columns(rows[rows["fiscal_year"] <= last])
    frame = spark.createDataFrame(panel)
    output = output_columns(model.top_k)

    def per_bucket(part: pd.DataFrame) -> pd.DataFrame:
        features = crisis_signals(part.drop(columns="_bucket").sort_values(["firm_id", "fiscal_year"], kind="stable"))
        features = features[features["fiscal_year"].isin(years)]
        if features.empty:
            return pd.DataFrame({name: pd.Series(dtype=object) for name, _ in output})
        return crisis_scores(model, features[["firm_id", "fiscal_year", *FEATURES]].reset_index(drop=True))

    # Firms are hashed into as many buckets as shuffle partitions: every firm's rows meet in one
    # bucket, and the indicators and the model run once per bucket of many firms, not once per firm.
    buckets = int(spark.conf.get("spark.sql.shuffle.partitions"))
    frame = frame.withColumn("_bucket", F.pmod(F.hash("firm_id"), F.lit(buckets)))
    schema = ", ".join(f"{name} {kind}" for name, kind in output)
    out = frame.repartition(buckets, "_bucket").groupBy("_bucket").applyInPandas(per_bucket, schema).toPandas()
    out["as_of"] = out["as_of"].astype("int64")
    out["flagged"] = out["flagged"].astype(bool)
    return out.sort_values(["as_of", "firm_id"]).reset_index(drop=True)
