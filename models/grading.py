"""Probability -> points -> grade on a fixed master scale, and reasons worded for evaluators.

Points follow the scorecard convention: points = base + (PDO / ln 2) * ln(odds / base_odds), so
every PDO points doubles the odds of the event. Grades come from absolute probability cut-points
stored in the model, so a grade means the same thing in every round (no re-ranking). Reasons
aggregate per-feature log-odds contributions to indicators and the indicators to their families,
convert them to points with the same factor, and name the indicator that mattered most in each
family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jumpup.features.registry import BY_NAME, FAMILIES
from jumpup.settings import GradeScaleSettings

PROFILE = {"ko": "기업 개요", "en": "firm profile"}
PROFILE_FEATURES = {
    "log_revenue": ("매출 규모", "revenue size"),
    "firm_age": ("업력", "firm age"),
    "years_listed": ("상장 경과연수", "years since listing"),
    "size_class_rank": ("기업 규모 구분", "size class"),
}


@dataclass(frozen=True)
class MasterScale:
    """Grade labels (best first) and the probability cut-points between them, fixed at training."""

    labels: tuple[str, ...]
    cutpoints: tuple[float, ...]
    base_points: float
    base_odds: float
    pdo: float
    reference_grade: str

    @classmethod
    def from_settings(cls, settings: GradeScaleSettings) -> MasterScale:
        return cls(
            tuple(settings.labels),
            tuple(settings.probability_cutpoints),
            settings.base_points,
            settings.base_odds,
            settings.pdo,
            settings.reference_grade,
        )

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    def points(self, probability: np.ndarray) -> np.ndarray:
        p = np.clip(np.asarray(probability, dtype="float64"), 1e-6, 1 - 1e-6)
        return self.base_points + self.factor * np.log((p / (1 - p)) / self.base_odds)

    def grade_index(self, probability: np.ndarray) -> np.ndarray:
        """0 for the best grade; a probability exactly at a cut-point gets the better grade."""
        cuts = np.asarray(self.cutpoints)  # descending
        return np.searchsorted(-cuts, -np.asarray(probability, dtype="float64"), side="left")

    def grades(self, probability: np.ndarray) -> np.ndarray:
        return np.asarray(self.labels, dtype=object)[self.grade_index(probability)]

    def table(self) -> pd.DataFrame:
        """Each grade's probability band and points band, for reports."""
        upper = (1.0, *self.cutpoints)
        lower = (*self.cutpoints, 0.0)
        return pd.DataFrame(
            {
                "grade": self.labels,
                "probability_from": lower,
                "probability_to": upper,
                "points_from": [float(self.points(np.array([max(v, 1e-6)]))[0]) for v in lower],
                "points_to": [float(self.points(np.array([min(v, 1 - 1e-6)]))[0]) for v in upper],
            }
        )

    def at_or_above(self, grades: pd.Series, reference: str | None = None) -> pd.Series:
        """True where a grade is ``reference`` (default: the reference grade) or better; missing is False."""
        # -1: missing or not a grade (pandas 3 deprecates building a Categorical from values outside its categories)
        rank = pd.Index(list(self.labels)).get_indexer(grades.astype("object"))
        limit = self.labels.index(reference or self.reference_grade)
        return pd.Series((rank >= 0) & (rank <= limit), index=grades.index)


def feature_family(name: str) -> str:
    if name.startswith("family_score_"):
        return name.removeprefix("family_score_")
    if name in BY_NAME:
        return BY_NAME[name].family
    return "profile"


def feature_label(name: str, language: str = "ko") -> str:
    if name.startswith("peer_pct_"):
        base = BY_NAME[name.removeprefix("peer_pct_")]
        return f"{base.ko} (유사그룹 대비)" if language == "ko" else f"{base.en} (against peers)"
    if name in BY_NAME:
        return BY_NAME[name].ko if language == "ko" else BY_NAME[name].en
    if name.startswith("family_score_"):
        family = FAMILIES[name.removeprefix("family_score_")]
        return f"{family['ko']} 종합점수" if language == "ko" else f"{family['en']} sub-score"
    ko, en = PROFILE_FEATURES.get(name, (name, name))
    return ko if language == "ko" else en


def family_label(family: str, language: str = "ko") -> str:
    names = FAMILIES.get(family, PROFILE)
    return names["ko"] if language == "ko" else names["en"]


def reason_indicator(name: str) -> str:
    """The indicator a model feature measures: ``peer_pct_<x>`` (x's rank among peers) measures ``x``."""
    base = name.removeprefix("peer_pct_")
    return base if base != name and base in BY_NAME else name


def reason_family(name: str) -> str:
    """The family a feature's contribution counts towards in the reasons: that of its indicator.

    An indicator enters the model twice, as its level and as its rank among peers (``peer_pct_``,
    in the 유사그룹대조 family for the family scores). Counting both towards the indicator's own
    family keeps one indicator in one reason: otherwise its two encodings could head two families
    with opposite signs ("기술성 -16점: 연구개발비" beside "유사그룹대조 +21점: 연구개발비").
    The 유사그룹대조 family keeps its sub-score (``family_score_peer``).
    """
    return feature_family(reason_indicator(name))


def reason_codes(contributions: pd.DataFrame, factor: float, top_k: int, language: str = "ko") -> pd.DataFrame:
    """Top ``top_k`` families pushing the score up and down, in points, with the main indicator of each.

    ``contributions``: per-feature log-odds contributions (a ``_bias`` column is ignored). A
    feature counts towards its indicator (``reason_indicator``) and the indicator's family
    (``reason_family``), so every indicator is named by at most one reason, with the net of its
    level and its peer rank. Returns columns reason_up_1..k, reason_down_1..k (text),
    reason_feature_up_1..k and reason_feature_down_1..k (the named indicator's column, "" where no
    reason) and family_points_<family> (numbers).
    """
    features = [c for c in contributions.columns if c != "_bias"]
    indicators = sorted({reason_indicator(f) for f in features})
    raw = contributions[features].to_numpy(dtype="float64") * factor
    indicator_index = {name: k for k, name in enumerate(indicators)}
    columns = np.array([indicator_index[reason_indicator(f)] for f in features])
    values = np.zeros((len(contributions), len(indicators)))
    for k in range(len(indicators)):
        values[:, k] = raw[:, columns == k].sum(axis=1)
    families = sorted({reason_family(f) for f in indicators})
    family_of = np.array([reason_family(f) for f in indicators])
    out = pd.DataFrame(index=contributions.index)
    family_points = np.column_stack([values[:, family_of == fam].sum(axis=1) for fam in families])
    for j, fam in enumerate(families):
        out[f"family_points_{fam}"] = np.round(family_points[:, j], 2)
    main_feature = []
    for j, fam in enumerate(families):
        members = np.flatnonzero(family_of == fam)
        block = values[:, members]
        sign = np.sign(family_points[:, j])[:, None]
        strongest = members[np.argmax(block * np.where(sign == 0, 1, sign), axis=1)]
        main_feature.append(np.array(indicators, dtype=object)[strongest])
    main_feature = np.column_stack(main_feature)
    order = np.argsort(-family_points, axis=1, kind="stable")
    template_up = "{family} {points:+.0f}점: {feature}" if language == "ko" else "{family} {points:+.0f} pts: {feature}"
    # Each distinct (family, indicator, whole points) is worded once: rounding to whole points first
    # (np.rint, half to even) gives the text that formatting the unrounded points would.
    names, codes = np.unique(main_feature.astype(str), return_inverse=True)
    codes = codes.reshape(main_feature.shape)
    rows = np.arange(len(out))
    for rank in range(top_k):
        for direction, picks in (("up", order[:, rank]), ("down", order[:, -(rank + 1)])):
            pts = family_points[rows, picks]
            keep = pts > 0.5 if direction == "up" else pts < -0.5
            feature = codes[rows, picks]
            texts = np.full(len(out), "", dtype=object)
            named = np.full(len(out), "", dtype=object)
            if keep.any():
                key = np.column_stack([picks[keep], feature[keep], np.rint(pts[keep])])
                distinct, inverse = np.unique(key, axis=0, return_inverse=True)
                worded = np.array(
                    [
                        template_up.format(
                            family=family_label(families[int(p)], language),
                            points=v,
                            feature=feature_label(str(names[int(f)]), language),
                        )
                        for p, f, v in distinct
                    ],
                    dtype=object,
                )
                texts[keep] = worded[inverse.ravel()]
                named[keep] = names[feature[keep]]
            out[f"reason_{direction}_{rank + 1}"] = texts.tolist()
            out[f"reason_feature_{direction}_{rank + 1}"] = [str(v) for v in named]
    return out
