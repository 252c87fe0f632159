"""The transparent challenger: a binned weight-of-evidence logistic scorecard.

Each feature is cut into quantile bins on the training data (missing values get a bin of their
own), each bin is replaced by its weight of evidence ln(share of events / share of non-events)
with additive smoothing so an empty bin is finite, features are chosen by information value, and
a logistic regression on the WoE values gives the probability. ``points_table`` shows every bin's
contribution, which is the point of a scorecard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

MISSING_BIN = -1


class WoEScorecard(ClassifierMixin, BaseEstimator):
    """Quantile-binned WoE logistic regression. ``X`` is a DataFrame of numeric features."""

    def __init__(self, n_bins: int = 5, C: float = 0.5, max_features: int = 15, smoothing: float = 0.5):
        self.n_bins = n_bins
        self.C = C
        self.max_features = max_features
        self.smoothing = smoothing

    def _bin(self, column: pd.Series, edges: np.ndarray) -> np.ndarray:
        values = column.to_numpy(dtype="float64")
        bins = np.searchsorted(edges, values, side="right")
        bins[np.isnan(values)] = MISSING_BIN
        return bins

    def fit(self, X: pd.DataFrame, y) -> WoEScorecard:
        y = np.asarray(y, dtype="float64")
        if set(np.unique(y)) - {0.0, 1.0}:
            raise ValueError(f"WoEScorecard needs a 0/1 target, got values {sorted(set(np.unique(y)))[:5]}")
        events, non_events = y.sum(), (1 - y).sum()
        self.edges_, self.woe_, self.information_value_ = {}, {}, {}
        for name in X.columns:
            values = X[name].to_numpy(dtype="float64")
            present = values[~np.isnan(values)]
            if len(np.unique(present)) < 2:
                continue
            edges = np.unique(np.quantile(present, np.linspace(0, 1, self.n_bins + 1)[1:-1]))
            bins = self._bin(X[name], edges)
            table = pd.DataFrame({"bin": bins, "y": y}).groupby("bin")["y"].agg(["sum", "count"])
            event_share = (table["sum"] + self.smoothing) / (events + self.smoothing * len(table))
            non_event_share = (table["count"] - table["sum"] + self.smoothing) / (
                non_events + self.smoothing * len(table)
            )
            woe = np.log(event_share / non_event_share)
            self.edges_[name] = edges
            self.woe_[name] = woe.to_dict()
            self.information_value_[name] = float(((event_share - non_event_share) * woe).sum())
        ranked = sorted(self.information_value_, key=lambda n: (-self.information_value_[n], n))
        self.features_ = ranked[: self.max_features]
        self.logistic_ = LogisticRegression(C=self.C, max_iter=1000).fit(self._woe_matrix(X), y)
        self.classes_ = np.array([0, 1])
        return self

    def _woe_matrix(self, X: pd.DataFrame) -> np.ndarray:
        columns = []
        for name in self.features_:
            bins = self._bin(X[name], self.edges_[name])
            mapping = self.woe_[name]
            # A bin unseen in training (e.g. missing values at scoring only) carries no evidence.
            columns.append(pd.Series(bins).map(mapping).fillna(0.0).to_numpy(dtype="float64"))
        return np.column_stack(columns)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "logistic_")
        return self.logistic_.predict_proba(self._woe_matrix(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def points_table(self, factor: float) -> pd.DataFrame:
        """Points of every bin: coefficient x WoE x factor (factor = PDO / ln 2)."""
        check_is_fitted(self, "logistic_")
        rows = []
        for coefficient, name in zip(self.logistic_.coef_[0], self.features_, strict=True):
            edges = self.edges_[name]
            for b, woe in sorted(self.woe_[name].items()):
                if b == MISSING_BIN:
                    label = "missing"
                else:
                    low = "-inf" if b == 0 else f"{edges[b - 1]:.4g}"
                    high = "inf" if b == len(edges) else f"{edges[b]:.4g}"
                    label = f"[{low}, {high})"
                rows.append(
                    {
                        "feature": name,
                        "bin": label,
                        "woe": woe,
                        "points": coefficient * woe * factor,
                        "information_value": self.information_value_[name],
                    }
                )
        return pd.DataFrame(rows)
