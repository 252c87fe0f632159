"""LightGBM growth classifier with monotone constraints that are checked, not trusted.

LightGBM's monotone constraints are not always honoured by its "intermediate" and "advanced"
methods (LightGBM issues #5358, #6155), so the "basic" method, which over-constrains but holds,
is the default (``model.monotone_method``), and after training ``check_monotone`` sweeps each
constrained feature over its observed range for a sample of firms and reports every violation.
Training is deterministic (fixed seed, one thread layout, ``deterministic=True``) so two runs on
the same data give the same trees.
"""

from __future__ import annotations

import itertools

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.utils.validation import check_is_fitted

# Threads for predictions: 0 is OpenMP's default (every core). LightGBM predicts each row on its
# own, so the thread count never changes a prediction or a contribution (tests/models pins this).
PREDICT_THREADS = 0


class GrowthGBM(ClassifierMixin, BaseEstimator):
    """Binary LightGBM classifier on a DataFrame of numeric features (NaN allowed)."""

    def __init__(
        self,
        n_estimators=300,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=40,
        subsample=0.8,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        monotone=None,
        monotone_method="basic",
        random_state=0,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.monotone = monotone
        self.monotone_method = monotone_method
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> GrowthGBM:
        self.feature_names_in_ = np.array(X.columns)
        monotone = self.monotone or {}
        unknown = sorted(set(monotone) - set(X.columns))
        if unknown:
            raise ValueError(f"monotone constraints name features that are not in X: {unknown}")
        constraints = [int(monotone.get(name, 0)) for name in X.columns]
        model = lgb.LGBMClassifier(
            n_estimators=int(self.n_estimators),
            learning_rate=self.learning_rate,
            num_leaves=int(self.num_leaves),
            min_child_samples=int(self.min_child_samples),
            subsample=self.subsample,
            subsample_freq=1,
            colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda,
            monotone_constraints=constraints,
            monotone_constraints_method=self.monotone_method,
            random_state=self.random_state,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
            verbose=-1,
        )
        model.fit(X.to_numpy(dtype="float64"), np.asarray(y, dtype=int))
        # Only the booster is kept: it is what a saved bundle stores (LightGBM's text model format).
        self.booster_ = model.booster_
        self.classes_ = np.array([0, 1])
        return self

    @classmethod
    def from_booster(cls, params: dict, feature_names: list[str], booster: lgb.Booster) -> GrowthGBM:
        """A fitted classifier from its parameters, feature order and a booster (e.g. read from text)."""
        model = cls(**params)
        model.feature_names_in_ = np.array(feature_names, dtype=object)
        model.booster_ = booster
        model.classes_ = np.array([0, 1])
        return model

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return X[list(self.feature_names_in_)].to_numpy(dtype="float64")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "booster_")
        probability = self.booster_.predict(self._matrix(X), num_threads=PREDICT_THREADS)
        return np.vstack((1.0 - probability, probability)).transpose()

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return self.booster_.predict(self._matrix(X), raw_score=True, num_threads=PREDICT_THREADS)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Exact per-feature contributions in log-odds (TreeSHAP); the last column is the bias."""
        check_is_fitted(self, "booster_")
        values = self.booster_.predict(self._matrix(X), pred_contrib=True, num_threads=PREDICT_THREADS)
        return pd.DataFrame(values, columns=[*self.feature_names_in_, "_bias"], index=X.index)


def check_monotone(model: GrowthGBM, X: pd.DataFrame, sample: int = 200, grid: int = 25, seed: int = 0) -> dict:
    """Sweep each constrained feature over its 1st-99th percentile range for sampled rows.

    Returns {feature: {"direction": d, "violating_rows": n, "max_violation": v}} in log-odds.
    """
    report = {}
    rng = np.random.default_rng(seed)
    rows = X.iloc[rng.choice(len(X), size=min(sample, len(X)), replace=False)]
    for name, direction in (model.monotone or {}).items():
        values = X[name].dropna().to_numpy(dtype="float64")
        if len(values) == 0:
            report[name] = {"direction": direction, "violating_rows": 0, "max_violation": 0.0, "checked": False}
            continue
        points = np.unique(np.quantile(values, np.linspace(0.01, 0.99, grid)))
        repeated = rows.loc[rows.index.repeat(len(points))].copy()
        repeated[name] = np.tile(points, len(rows))
        scores = model.raw_score(repeated).reshape(len(rows), len(points))
        steps = np.diff(scores, axis=1) * direction
        worst = -steps.min(axis=1) if steps.size else np.zeros(len(rows))
        report[name] = {
            "direction": int(direction),
            "violating_rows": int((worst > 1e-9).sum()),
            "max_violation": float(max(worst.max(), 0.0)) if steps.size else 0.0,
            "checked": True,
        }
    return report


def tune(
    X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, base: dict, grid: dict, folds: int, seed: int
) -> tuple[dict, list]:
    """Pick hyperparameters by firm-grouped inner cross-validation on the training data only."""
    names = sorted(grid)
    results = []
    splitter = GroupKFold(n_splits=folds)
    for values in itertools.product(*(grid[n] for n in names)):
        params = {**base, **dict(zip(names, values, strict=True))}
        scores = []
        for train_index, test_index in splitter.split(X, y, groups):
            if len(np.unique(y[test_index])) < 2:
                continue
            model = GrowthGBM(**params, random_state=seed).fit(X.iloc[train_index], y[train_index])
            scores.append(roc_auc_score(y[test_index], model.predict_proba(X.iloc[test_index])[:, 1]))
        results.append({"params": dict(zip(names, values, strict=True)), "inner_auc": float(np.mean(scores))})
    best = max(results, key=lambda r: (r["inner_auc"], -r["params"].get("num_leaves", 0)))
    return {**base, **best["params"]}, results
