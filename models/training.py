"""Training and validation as pure steps: feature table + targets in, fitted bundle + report out.

Splits are by firm and by time. The newest labelled origin years are out-of-time; the rest is
split by firm into training and out-of-sample firms; a further share of training firms is held
apart to fit the probability calibration. Hyperparameters are tuned by firm-grouped inner folds
on the training firms only, never on the evaluation splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from jumpup.features.builder import FeatureBuilder
from jumpup.models.bundle import GrowthModelBundle, model_feature_names, model_matrix
from jumpup.models.gbm import GrowthGBM, check_monotone, tune
from jumpup.models.grading import MasterScale
from jumpup.models.metrics import bootstrap_intervals, discrimination, evaluate_split, paired_auc_difference, psi
from jumpup.models.scorecard import WoEScorecard
from jumpup.models.targets import TARGET_ORIENTATION
from jumpup.settings import Settings


@dataclass
class Splits:
    fit: np.ndarray
    calibration: np.ndarray
    oos: np.ndarray
    oot: np.ndarray
    oot_years: list[int]


def labelled_table(features: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """Feature rows joined one-to-one to their target on (firm_id, fiscal_year); unlabelled rows dropped.

    Sorted by year and firm. Raises pandas' MergeError when a key repeats in either table.
    """
    table = features.merge(
        targets[["firm_id", "fiscal_year", "target", "label_status"]],
        on=["firm_id", "fiscal_year"],
        how="inner",
        validate="one_to_one",
    )
    return table[table["target"].notna()].sort_values(["fiscal_year", "firm_id"]).reset_index(drop=True)


def make_splits(table: pd.DataFrame, settings: Settings, seed: int) -> Splits:
    """Row positions of the fit, calibration, out-of-sample and out-of-time splits of ``table``.

    The last ``validation.oot_years`` years are out-of-time; the earlier rows are split by firm
    (``validation.oos_share`` of firms out-of-sample), then ``model.calibration_share`` of the
    training firms is kept for calibration. A firm never sits in two of fit, calibration and
    out-of-sample. Same ``seed``, same splits.
    """
    years = np.sort(table["fiscal_year"].unique())
    n_oot = settings.validation.oot_years
    oot_years = years[-n_oot:] if 0 < n_oot < len(years) else years[:0]
    in_time = np.flatnonzero(~table["fiscal_year"].isin(oot_years).to_numpy())
    oot = np.flatnonzero(table["fiscal_year"].isin(oot_years).to_numpy())
    firms = table["firm_id"].to_numpy()
    outer = GroupShuffleSplit(n_splits=1, test_size=settings.validation.oos_share, random_state=seed)
    train_part, oos_part = next(outer.split(in_time, groups=firms[in_time]))
    train, oos = in_time[train_part], in_time[oos_part]
    inner = GroupShuffleSplit(n_splits=1, test_size=settings.model.calibration_share, random_state=seed + 1)
    fit_part, calibration_part = next(inner.split(train, groups=firms[train]))
    return Splits(train[fit_part], train[calibration_part], oos, oot, [int(y) for y in oot_years])


def _base_params(settings: Settings) -> dict:
    m = settings.model
    orientation = TARGET_ORIENTATION[settings.targets.name]
    return {
        "n_estimators": m.n_estimators,
        "learning_rate": m.learning_rate,
        "num_leaves": m.num_leaves,
        "min_child_samples": m.min_child_samples,
        "subsample": m.subsample,
        "colsample_bytree": m.colsample_bytree,
        "reg_lambda": m.reg_lambda,
        # Directions are written for good outcomes; a distress model reads them reversed.
        "monotone": {name: direction * orientation for name, direction in m.monotone.items()},
    }


def select_features(X: pd.DataFrame, y: np.ndarray, settings: Settings) -> list[str]:
    """Keep the ``model.max_features`` features of highest information value on this training data.

    Run inside each training fold, so selection never sees evaluation rows. Constrained features
    are kept when informative at all, so their checked direction stays in the model.
    """
    card = WoEScorecard(settings.scorecard.bins, settings.scorecard.C, max_features=1).fit(X, y)
    ranked = sorted(card.information_value_, key=lambda n: (-card.information_value_[n], n))
    chosen = ranked[: settings.model.max_features]
    chosen += [n for n in settings.model.monotone if n in card.information_value_ and n not in chosen]
    return [n for n in X.columns if n in chosen]


def _constrained(params: dict, names: list[str]) -> dict:
    return {**params, "monotone": {k: v for k, v in params["monotone"].items() if k in names}}


class _RawProbability(ClassifierMixin, BaseEstimator):
    """The classifier's raw P(event), passed in as the single column of ``X``, as a classifier.

    Lets ``CalibratedClassifierCV`` fit its calibration map on scores the model has already
    produced, so the bundle keeps one classifier and applies the map to its raw probabilities.
    """

    def fit(self, X, y=None) -> _RawProbability:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X) -> np.ndarray:
        raw = np.asarray(X, dtype="float64")[:, 0]
        return np.column_stack([1.0 - raw, raw])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class ProbabilityCalibrator(BaseEstimator):
    """Map a classifier's raw P(event) to a calibrated one with scikit-learn's ``CalibratedClassifierCV``.

    ``method`` is ``"sigmoid"`` (Platt scaling) or ``"isotonic"``. The map is fitted once on held-out
    calibration rows (the classifier is frozen, never refitted) and applied by ``predict``.
    """

    def __init__(self, method: str = "sigmoid") -> None:
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> ProbabilityCalibrator:
        """Fit on raw probabilities, shape (n,), in [0, 1], and outcomes ``y`` in {0, 1}, shape (n,).

        Raises ValueError for an unknown method, a single-class ``y`` or shapes that differ.
        """
        if self.method not in ("sigmoid", "isotonic"):
            raise ValueError(f"calibration method must be 'sigmoid' or 'isotonic', got {self.method!r}")
        column, y = np.asarray(raw, dtype="float64").reshape(-1, 1), np.asarray(y, dtype=int)
        if len(column) != len(y):
            raise ValueError(f"calibration needs one outcome per probability, got {len(column)} and {len(y)}")
        if len(np.unique(y)) < 2:
            raise ValueError("calibration rows hold a single outcome class; cannot fit a calibration map")
        frozen = FrozenEstimator(_RawProbability().fit(column))
        self.calibrated_ = CalibratedClassifierCV(frozen, method=self.method).fit(column, y)
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated P(event), shape (n,), in [0, 1], for raw probabilities of shape (n,)."""
        column = np.asarray(raw, dtype="float64").reshape(-1, 1)
        return self.calibrated_.predict_proba(column)[:, 1]


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str) -> ProbabilityCalibrator:
    """A ``ProbabilityCalibrator`` fitted on raw probabilities (shape (n,)) and outcomes (shape (n,)).

    ``method`` is ``"sigmoid"`` (Platt) or ``"isotonic"`` (``model.calibration`` in params.yaml);
    an unknown method or a single-class ``y`` raises ValueError.
    """
    return ProbabilityCalibrator(method).fit(raw, y)


def past_growth_baseline(features: pd.DataFrame, target: str = "high_growth") -> np.ndarray:
    """The naive forecast: past 3-year revenue CAGR, or 1-year growth where that is all there is.

    For distress the sign is turned, so that the baseline expects trouble where revenue fell.
    """
    growth = features["revenue_cagr_3y"].fillna(features["revenue_growth_1y"]).fillna(0.0).to_numpy(dtype="float64")
    return TARGET_ORIENTATION[target] * growth


@dataclass
class TrainingResult:
    bundle: GrowthModelBundle
    challenger: WoEScorecard
    report: dict
    predictions: pd.DataFrame


def train_and_validate(
    features: pd.DataFrame, targets: pd.DataFrame, builder: FeatureBuilder, settings: Settings, seed: int
) -> TrainingResult:
    """Fit LightGBM + calibration and the scorecard challenger; validate both with every test.

    ``features`` is the feature table (contract FEATURES), ``targets`` one target per firm-year.
    Returns the bundle, the challenger, the JSON-ready validation report and one prediction row
    per labelled firm-year with its split. Raises ValueError when the target has a single class.
    """
    table = labelled_table(features, targets)
    if table["target"].nunique() < 2:
        raise ValueError(f"the target '{settings.targets.name}' has a single class in the labelled data; cannot train")
    splits = make_splits(table, settings, seed)
    names = model_feature_names()
    matrix = model_matrix(table, names)
    y = table["target"].to_numpy(dtype=int)
    groups = table["firm_id"].to_numpy()

    selected = select_features(matrix.iloc[splits.fit], y[splits.fit], settings)
    params, tuning = tune(
        matrix.iloc[splits.fit][selected],
        y[splits.fit],
        groups[splits.fit],
        _constrained(_base_params(settings), selected),
        {k: list(v) for k, v in settings.model.tuning_grid.items()},
        settings.model.inner_folds,
        seed,
    )
    classifier = GrowthGBM(**params, random_state=seed).fit(matrix.iloc[splits.fit][selected], y[splits.fit])
    raw_calibration = classifier.predict_proba(matrix.iloc[splits.calibration])[:, 1]
    calibrator = fit_calibrator(raw_calibration, y[splits.calibration], settings.model.calibration)
    scale = MasterScale.from_settings(settings.grade_scale)
    bundle = GrowthModelBundle(
        builder, classifier, calibrator, scale, selected, settings.targets.model_dump(), settings.reasons.top_k
    )
    challenger = WoEScorecard(settings.scorecard.bins, settings.scorecard.C, settings.scorecard.max_features).fit(
        matrix.iloc[splits.fit], y[splits.fit]
    )

    probability = bundle.probability(matrix[selected])
    challenger_probability = challenger.predict_proba(matrix)[:, 1]
    baseline = past_growth_baseline(table, settings.targets.name)
    grades = scale.grades(probability)
    v = settings.validation
    report: dict = {
        "target": settings.targets.model_dump(),
        "tuning": {"chosen": params, "grid": tuning},
        "splits": {},
        "comparison": {},
        "psi": {},
        "scale": scale.table().to_dict("records"),
        "oot_years": splits.oot_years,
    }
    named = {"train": splits.fit, "out_of_sample": splits.oos, "out_of_time": splits.oot}
    for name, index in named.items():
        if len(index) == 0 or len(np.unique(y[index])) < 2:
            report["splits"][name] = {"rows": len(index), "skipped": "fewer than two classes"}
            continue
        report["splits"][name] = evaluate_split(
            y[index],
            probability[index],
            grades[index],
            scale.labels,
            groups[index],
            v.bootstrap,
            v.alpha,
            v.reliability_bins,
            seed,
        )
        report["comparison"][name] = {
            "lightgbm": discrimination(y[index], probability[index]),
            "scorecard": bootstrap_intervals(
                y[index], challenger_probability[index], groups[index], v.bootstrap, v.alpha, seed
            ),
            "past_growth_baseline": bootstrap_intervals(
                y[index], baseline[index], groups[index], v.bootstrap, v.alpha, seed
            ),
        }
    for name in ("out_of_sample", "out_of_time"):
        index = named[name]
        if len(index):
            report["psi"][name] = {
                "score": psi(probability[splits.fit], probability[index], v.psi_bins, v.alpha),
                "features": {
                    f: psi(matrix[f].to_numpy()[splits.fit], matrix[f].to_numpy()[index], v.psi_bins, v.alpha)
                    for f in names
                },
            }
    report["monotone_constraints"] = check_monotone(classifier, matrix.iloc[splits.fit][selected], seed=seed)
    report["selected_features"] = selected
    report["rows"] = {
        "labelled": len(table),
        "fit": len(splits.fit),
        "calibration": len(splits.calibration),
        "out_of_sample": len(splits.oos),
        "out_of_time": len(splits.oot),
    }
    split_name = np.full(len(table), "", dtype=object)
    for name, index in {**named, "calibration": splits.calibration}.items():
        split_name[index] = name
    predictions = pd.DataFrame(
        {
            "firm_id": groups,
            "fiscal_year": table["fiscal_year"].to_numpy(),
            "split": split_name,
            "target": y,
            "probability": probability,
            "grade": grades,
            "challenger_probability": challenger_probability,
            "baseline": baseline,
        }
    )
    return TrainingResult(bundle, challenger, report, predictions)


@dataclass
class CrossValidation:
    """A cross-validation summary (JSON-ready) and the out-of-fold predictions behind it."""

    summary: dict
    predictions: pd.DataFrame


def firm_folds(groups: np.ndarray, folds: int, repeat: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Firm-grouped folds: repeat 0 is the plain GroupKFold; later repeats shuffle firms (seed + repeat).

    Every firm is in exactly one test fold per repeat, so each repeat gives one out-of-fold
    prediction per firm; different repeats show how much a figure owes to the particular split.
    """
    splitter = (
        GroupKFold(n_splits=folds)
        if repeat == 0
        else GroupKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
    )
    return list(splitter.split(groups, groups=groups))


def _subsample_firms(train_index: np.ndarray, groups: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Keep ``fraction`` of the training firms (whole firms, fixed seed) for a learning curve."""
    if fraction >= 1.0:
        return train_index
    firms = np.unique(groups[train_index])
    kept = rng.choice(firms, size=max(2, round(fraction * len(firms))), replace=False)
    return train_index[np.isin(groups[train_index], kept)]


def _fit_predict_fold(
    matrix: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    train_index: np.ndarray,
    test_index: np.ndarray,
    settings: Settings,
    seed: int,
) -> tuple[dict[str, np.ndarray], dict]:
    """Choose features and tune on the training firms only, then predict the test firms."""
    X, y_train = matrix.iloc[train_index], y[train_index]
    selected = select_features(X, y_train, settings)
    params, _ = tune(
        X[selected],
        y_train,
        groups[train_index],
        _constrained(_base_params(settings), selected),
        {k: list(v) for k, v in settings.model.tuning_grid.items()},
        settings.model.inner_folds,
        seed,
    )
    model = GrowthGBM(**params, random_state=seed).fit(X[selected], y_train)
    card = WoEScorecard(settings.scorecard.bins, settings.scorecard.C, settings.scorecard.max_features).fit(X, y_train)
    test = matrix.iloc[test_index]
    predictions = {
        "lightgbm": model.predict_proba(test[selected])[:, 1],
        "scorecard": card.predict_proba(test)[:, 1],
    }
    return predictions, {k: v for k, v in params.items() if k in settings.model.tuning_grid}


def _out_of_fold(
    matrix: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    settings: Settings,
    seed: int,
    fraction: float = 1.0,
) -> dict:
    """Out-of-fold predictions of LightGBM and the scorecard over one set of firm folds."""
    oof = {"lightgbm": np.full(len(y), np.nan), "scorecard": np.full(len(y), np.nan)}
    folds, chosen, training_firms = [], [], []
    rng = np.random.default_rng(seed)
    for train_index, test_index in splits:
        train_index = _subsample_firms(train_index, groups, fraction, rng)
        predicted, params = _fit_predict_fold(matrix, y, groups, train_index, test_index, settings, seed)
        for name, p in predicted.items():
            oof[name][test_index] = p
        folds.append({name: discrimination(y[test_index], p)["auc"] for name, p in predicted.items()})
        chosen.append(params)
        training_firms.append(len(np.unique(groups[train_index])))
    return {"oof": oof, "folds": folds, "chosen": chosen, "training_firms": training_firms, "splits": splits}


def _fold_numbers(splits: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    number = np.empty(sum(len(test) for _, test in splits), dtype=int)
    for fold, (_, test_index) in enumerate(splits):
        number[test_index] = fold
    return number


def _fold_spread(folds: list[dict], name: str) -> dict:
    values = np.array([fold[name] for fold in folds], dtype="float64")
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _origin_table(features: pd.DataFrame, targets: pd.DataFrame, origin: int):
    table = labelled_table(features[features["fiscal_year"] == origin], targets)
    if table.empty or table["target"].nunique() < 2:
        raise ValueError(f"origin {origin} has no labelled firms of both classes; pick an origin with known outcomes")
    matrix = model_matrix(table, model_feature_names())
    return table, matrix, table["target"].to_numpy(dtype=int), table["firm_id"].to_numpy()


def cross_validate_origin(
    features: pd.DataFrame,
    targets: pd.DataFrame,
    origin: int,
    settings: Settings,
    seed: int,
    repeats: int = 1,
    learning_curve: tuple[float, ...] = (),
) -> CrossValidation:
    """Firm-grouped K-fold CV at one origin year, tuning nested inside each training fold.

    The headline figures pool the out-of-fold predictions of the plain firm folds (repeat 0):
    LightGBM, the scorecard and the past-growth baseline get firm-bootstrap AUC intervals and the
    LightGBM - other differences paired intervals. Pooling compares firms scored by different
    fold models, so it is stricter than the mean of per-fold AUCs, which is reported beside it.
    Further repeats reshuffle the firms into new folds and report the pooled AUC of each split.
    ``learning_curve`` shares add a learning curve on the plain folds (the full share is this run).
    """
    table, matrix, y, groups = _origin_table(features, targets, origin)
    folds = settings.validation.cv_folds
    first = _out_of_fold(matrix, y, groups, firm_folds(groups, folds, 0, seed), settings, seed)
    oof = {**first["oof"], "past_growth_baseline": past_growth_baseline(table, settings.targets.name)}
    v = settings.validation
    result = {
        "origin": origin,
        "horizon": settings.targets.horizon,
        "firms": len(y),
        "event_rate": float(y.mean()),
        "folds": first["folds"],
        "chosen_params": first["chosen"],
        "pooled": {name: bootstrap_intervals(y, p, groups, v.bootstrap, v.alpha, seed) for name, p in oof.items()},
        "fold_auc": {name: _fold_spread(first["folds"], name) for name in first["oof"]},
    }
    result["lightgbm_minus"] = {
        other: paired_auc_difference(y, oof["lightgbm"], oof[other], groups, v.bootstrap, v.alpha, seed)
        for other in ("scorecard", "past_growth_baseline")
    }
    predictions = pd.DataFrame(
        {"firm_id": groups, "fiscal_year": origin, "target": y, "repeat": 0, "fold": _fold_numbers(first["splits"])}
    )
    for name, p in oof.items():
        predictions[name] = p
    frames, per_repeat = (
        [predictions],
        [{"repeat": 0, **{name: result["pooled"][name]["auc"]["value"] for name in first["oof"]}}],
    )
    for repeat in range(1, repeats):
        splits = firm_folds(groups, folds, repeat, seed)
        run = _out_of_fold(matrix, y, groups, splits, settings, seed)
        per_repeat.append({"repeat": repeat, **{n: discrimination(y, p)["auc"] for n, p in run["oof"].items()}})
        frame = predictions[["firm_id", "fiscal_year", "target"]].assign(repeat=repeat, fold=_fold_numbers(splits))
        for name, p in run["oof"].items():
            frame[name] = p
        frame["past_growth_baseline"] = oof["past_growth_baseline"]
        frames.append(frame)
    if learning_curve:
        result["learning_curve"] = _learning_curve(
            matrix, y, groups, first["splits"], settings, seed, learning_curve, full=first
        )
    if repeats > 1:
        result["repeats"] = {
            "per_repeat": per_repeat,
            "pooled_auc": {
                name: {
                    "mean": float(np.mean([r[name] for r in per_repeat])),
                    "min": float(np.min([r[name] for r in per_repeat])),
                    "max": float(np.max([r[name] for r in per_repeat])),
                }
                for name in first["oof"]
            },
        }
    return CrossValidation(result, pd.concat(frames, ignore_index=True))


def learning_curve_origin(
    features: pd.DataFrame,
    targets: pd.DataFrame,
    origin: int,
    settings: Settings,
    seed: int,
    fractions: tuple[float, ...],
) -> list[dict]:
    """Out-of-fold AUC when each training fold keeps only a share of its firms.

    The test folds stay the same (the plain firm folds), so the rows differ only in how many firms
    the models learn from. A curve still rising at 100% says more firms would help; a flat one
    says the features, not the sample size, limit the figure.
    """
    _, matrix, y, groups = _origin_table(features, targets, origin)
    splits = firm_folds(groups, settings.validation.cv_folds, 0, seed)
    return _learning_curve(matrix, y, groups, splits, settings, seed, fractions)


def _learning_curve(
    matrix: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    settings: Settings,
    seed: int,
    fractions: tuple[float, ...],
    full: dict | None = None,
) -> list[dict]:
    """One row per share of training firms; ``full``, an out-of-fold run on all of them, is reused."""
    v = settings.validation
    rows = []
    for fraction in sorted(fractions):
        if fraction >= 1.0 and full is not None:
            run = full
        else:
            run = _out_of_fold(matrix, y, groups, splits, settings, seed, fraction)
        rows.append(
            {
                "fraction": float(fraction),
                "training_firms": run["training_firms"],
                "pooled": {
                    name: bootstrap_intervals(y, p, groups, v.bootstrap, v.alpha, seed)["auc"]
                    for name, p in run["oof"].items()
                },
                "fold_auc": {name: _fold_spread(run["folds"], name) for name in run["oof"]},
            }
        )
    return rows
