"""Hand-over contracts between stages: what features, scores, STEP 1 decisions and growth paths hold.

The input files have their own contracts (``jumpup.intake.contracts``). These schemas are checked
where one stage hands its table to the next (``pipelines/``), so a stage that drops a column or
returns an out-of-range probability fails at the seam, naming the column, instead of three stages
later. Extra columns are allowed: a stage may add what a later one does not read.
"""

from __future__ import annotations

import pandera.pandas as pa

_ID = pa.Column(str, nullable=False)
_YEAR = pa.Column(int, pa.Check.in_range(1900, 2200), coerce=True)
_SHARE = pa.Column(float, pa.Check.in_range(0.0, 1.0), nullable=True, coerce=True)

FEATURES = pa.DataFrameSchema(
    {
        "firm_id": _ID,
        "fiscal_year": _YEAR,
        "revenue": pa.Column(float, nullable=True, coerce=True),
        "ksic_division": pa.Column(None, nullable=True),
        "size_class": pa.Column(None, nullable=True),
    },
    unique=["firm_id", "fiscal_year"],
    name="features",
)
"""One row per firm and fiscal year, indicators as of that year (``FeatureBuilder.transform``)."""

SCORES = pa.DataFrameSchema(
    {
        "firm_id": _ID,
        "as_of": _YEAR,
        "probability": pa.Column(float, pa.Check.in_range(0.0, 1.0), coerce=True),
        "score": pa.Column(float, coerce=True),
        "grade": pa.Column(str),
    },
    unique=["firm_id"],
    name="scores",
)
"""One row per scored firm: calibrated probability, master-scale points and grade, reasons."""

DECISIONS = pa.DataFrameSchema(
    {
        "firm_id": _ID,
        "round_id": pa.Column(str),
        "decision": pa.Column(str, pa.Check.isin(["pass", "fail"])),
        "step1_grade": pa.Column(None, nullable=True),
        "step1_points": pa.Column(float, nullable=True, coerce=True),
        "reasons": pa.Column(str),
        "hard_flags": pa.Column(str),
    },
    unique=["firm_id", "round_id"],
    name="step1_decisions",
)
"""One STEP 1 decision per application, with its grade, points and reasons."""

GROWTH_PATHS = pa.DataFrameSchema(
    {
        "firm_id": _ID,
        "as_of": _YEAR,
        "horizon": pa.Column(int, pa.Check.ge(1), coerce=True),
        "year": _YEAR,
        "revenue_q50": pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True),
        "p_high_growth": _SHARE,
        "p_decline": _SHARE,
    },
    unique=["firm_id", "horizon"],
    name="growth_paths",
)
"""One row per firm and future year: revenue quantiles (won) and event probabilities."""
