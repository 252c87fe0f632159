"""The graded growth model as one self-contained object: raw panel rows in, graded scores out.

It carries the fitted FeatureBuilder (and so the reference population), the model features, the
LightGBM classifier, its calibrator, the master scale and the reason settings. Scoring a round
needs this object and the round's rows, nothing else; the MLflow pyfunc wraps exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jumpup.features.builder import FeatureBuilder
from jumpup.features.ratios import OPTIONAL_INPUTS
from jumpup.features.registry import FAMILIES, INDICATORS, PEER_COMPARED
from jumpup.models.gbm import GrowthGBM
from jumpup.models.grading import MasterScale, reason_codes
from jumpup.models.targets import SIZE_RANK

# Facts that travel with every score, for STEP 1 eligibility, hard flags and the reports.
SCORE_CONTEXT = (
    "revenue",
    "ksic_division",
    "size_class",
    "size_rule",
    "focus_field",
    "focus_field_ko",
    "eligible",
    "ineligible_reason",
    "firm_age",
    "negative_equity",
    "administrative_issue",
    "peer_level",
    "peer_group_size",
)
CONTEXT_FEATURES = ("log_revenue", "firm_age", "years_listed", "size_class_rank")


def model_feature_names() -> list[str]:
    """Every numeric feature the models may use, in a fixed order."""
    indicators = [i.name for i in INDICATORS]
    peers = [f"peer_pct_{n}" for n in PEER_COMPARED]
    scores = [f"family_score_{f}" for f in FAMILIES]
    return [*CONTEXT_FEATURES, *indicators, *peers, *scores]


def model_matrix(features: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    """The numeric matrix the models read, from the feature table."""
    frame = features.copy()
    revenue = frame["revenue"].astype("float64")
    frame["log_revenue"] = np.log(revenue.where(revenue > 0))
    frame["size_class_rank"] = frame["size_class"].map(SIZE_RANK).astype("float64")
    columns = names or model_feature_names()
    return frame[columns].astype("float64")


def missing_features(matrix: pd.DataFrame) -> pd.DataFrame:
    """Which of the model's inputs (features) each scored row lacks: ``missing_features`` (names
    joined by ';', empty when none) and ``missing_feature_count``. The model reads a missing feature
    as missing, so a firm graded on fewer facts is visible next to its grade."""
    missing = matrix.isna().to_numpy()
    names = np.asarray(matrix.columns)
    return pd.DataFrame(
        {
            "missing_features": [";".join(names[row]) for row in missing],
            "missing_feature_count": missing.sum(axis=1).astype("int64"),
        },
        index=matrix.index,
    )


def missing_inputs(rows: pd.DataFrame, firm_ids: pd.Series, as_of: pd.Series) -> pd.Series:
    """Optional panel inputs (``OPTIONAL_INPUTS``) blank or absent for each firm in its scored year,
    joined by ';' (empty when none): an absent column counts as missing for every firm."""
    at = rows.merge(pd.DataFrame({"firm_id": firm_ids, "fiscal_year": as_of}), on=["firm_id", "fiscal_year"])
    at = at.drop_duplicates("firm_id").set_index("firm_id").reindex(firm_ids.to_numpy())
    lacking = pd.DataFrame({name: at[name].isna() if name in at else True for name in OPTIONAL_INPUTS})
    names = np.asarray(OPTIONAL_INPUTS)
    return pd.Series([";".join(names[row]) for row in lacking.to_numpy(dtype=bool)], index=firm_ids.index)


def attach_missing_inputs(scores: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with ``missing_inputs`` (from the raw panel ``rows``) before ``missing_features``."""
    scores = scores.copy()
    scores.insert(scores.columns.get_loc("missing_features"), "missing_inputs", "")
    scores["missing_inputs"] = missing_inputs(rows, scores["firm_id"], scores["as_of"])
    return scores


@dataclass
class GrowthModelBundle:
    builder: FeatureBuilder
    classifier: GrowthGBM
    calibrator: object
    scale: MasterScale
    feature_names: list[str]
    target: dict
    top_k: int = 3
    metadata: dict = field(default_factory=dict)
    # Training firm-years with their realised outcomes: the peer pool for growth paths.
    history: pd.DataFrame | None = None
    # The growth-path engine fitted on ``history`` (a GrowthPathModel), reused by every round it serves.
    growth_model: object | None = None

    def probability(self, matrix: pd.DataFrame) -> np.ndarray:
        raw = self.classifier.predict_proba(matrix)[:, 1]
        return np.clip(self.calibrator.predict(raw), 0.0, 1.0)

    def score_features(self, features: pd.DataFrame, language: str = "ko", with_reasons: bool = True) -> pd.DataFrame:
        """Scores for rows of an already built feature table."""
        matrix = model_matrix(features, self.feature_names)
        probability = self.probability(matrix)
        published = np.round(probability, 6)
        out = pd.DataFrame(
            {
                "firm_id": features["firm_id"].to_numpy(),
                "as_of": features["fiscal_year"].to_numpy(),
                "probability": published,
                "score": np.round(self.scale.points(probability), 1),
                # graded on the probability as published, so a reader (and STEP 1's check) regrading
                # it gets the same grade even within 5e-7 of a cut-point
                "grade": self.scale.grades(published),
            }
        )
        context = features[[c for c in SCORE_CONTEXT if c in features]].reset_index(drop=True)
        out = pd.concat([out, context, missing_features(matrix).reset_index(drop=True)], axis=1)
        if with_reasons:
            reasons = reason_codes(self.classifier.contributions(matrix), self.scale.factor, self.top_k, language)
            out = pd.concat([out, reasons.reset_index(drop=True)], axis=1)
        return out

    def score_rows(
        self, rows: pd.DataFrame, as_of: int | None = None, language: str = "ko", with_reasons: bool = True
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Raw panel rows -> (scores for the as-of year, feature table). Only data up to as-of is used."""
        if as_of is not None:
            rows = rows[rows["fiscal_year"] <= as_of]
        features = self.builder.transform_latest(rows)
        if as_of is not None:
            features = features[features["fiscal_year"] == as_of].reset_index(drop=True)
        return attach_missing_inputs(self.score_features(features, language, with_reasons), rows), features
