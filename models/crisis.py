"""위기징후 (crisis sign): the target, the early-warning model and its evaluation, as pure steps.

Target (``crisis.*`` in params.yaml): from a fiscal year t at which the firm's interest coverage is
at least ``coverage_threshold`` (or it has no interest expense), coverage falls below the
threshold in each of the next ``horizon`` years (한계기업, the Bank of Korea's definition with
three years) or the firm receives an audit opinion in ``crisis_opinions`` (부적정, 의견거절) in
one of them. Label 1 as soon as either is observed; label 0 needs all ``horizon`` later years on
file and at least one of them with coverage at or above the threshold. A firm that vanishes has
no observed outcome and no label (``label_status`` says why). A missing audit opinion counts as
no crisis opinion.

Design (mirrors the TS-2000 growth evaluation): a seeded ``test_share`` of firms is held out;
the model is fitted on the other firms' origins ``fit_first_origin``..``fit_last_origin`` (their
outcomes end by ``test_origin``), with ``calibration_share`` of those firms kept for the Platt
calibration; hyperparameters are chosen on the fit firms only (fitted on origins before the last
``tuning_origins`` fit origins, judged on the calibration firms at those origins). Tested on the
held-out firms at ``test_origin``. Baselines fitted on the same rows in the same run: plain
LightGBM and logistic regression on the ten plain ratios, and interest coverage alone. AUC
intervals and differences come from the project's one bootstrap: whole firms resampled
(``jumpup.models.metrics.bootstrap_samples``), every model judged on the same draws
(``jumpup.models.ts2000_evaluation.paired_bootstrap``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from jumpup.features.crisis_signals import FEATURE_KO, FEATURES, PLAIN_RATIOS
from jumpup.features.ratios import sort_panel
from jumpup.models.bundle_store import _calibrator_from, _calibrator_state, _Reader, _Writer
from jumpup.models.gbm import GrowthGBM
from jumpup.models.grading import MasterScale
from jumpup.models.metrics import evaluate_split
from jumpup.models.training import fit_calibrator
from jumpup.models.ts2000_evaluation import GBM_PARAMS, paired_bootstrap
from jumpup.settings import CrisisSettings

KIND = "crisis_model"
GRADE_KO = {"severe": "심각", "alert": "경계", "caution": "주의", "watch": "관심", "normal": "정상"}
# Plain LightGBM baseline: fixed hyperparameters, the same as the TS-2000 growth evaluation's.
PLAIN_GBM_PARAMS = GBM_PARAMS


def _lead(panel: pd.DataFrame, column: str, years: int) -> pd.Series:
    """``column`` of the same firm exactly ``years`` fiscal years later (NaN when that year is absent)."""
    later = panel[["firm_id", "fiscal_year", column]].assign(fiscal_year=panel["fiscal_year"] - years)
    merged = panel[["firm_id", "fiscal_year"]].merge(later, on=["firm_id", "fiscal_year"], how="left")
    return pd.Series(merged[column].to_numpy(), index=panel.index)


def _coverage_below(panel: pd.DataFrame, settings: CrisisSettings) -> pd.Series:
    """1.0 where interest coverage is below the threshold, 0.0 where not (or no interest expense), NaN if unknown."""
    coverage = pd.to_numeric(panel.get("interest_coverage", pd.Series(np.nan, index=panel.index)), errors="coerce")
    none = pd.to_numeric(panel.get("no_interest_expense", pd.Series(np.nan, index=panel.index)), errors="coerce") == 1
    below = pd.Series(np.nan, index=panel.index)
    below[coverage.notna()] = (coverage[coverage.notna()] < settings.coverage_threshold).astype(float)
    below[none] = 0.0
    return below


def _crisis_opinion(panel: pd.DataFrame, settings: CrisisSettings) -> pd.Series:
    """1.0 where the year's audit opinion is one of ``crisis_opinions`` (a missing opinion is not)."""
    opinion = panel.get("audit_opinion", pd.Series(None, index=panel.index, dtype=object)).astype(object)
    return opinion.isin(settings.crisis_opinions).astype(float)


def in_crisis(financials: pd.DataFrame, settings: CrisisSettings) -> pd.DataFrame:
    """Firm-years already in crisis in that year: the state the crisis target starts from outside.

    A firm-year is in crisis when its interest coverage is below ``coverage_threshold`` (with
    interest expense) or its audit opinion is one of ``crisis_opinions`` (부적정, 의견거절): the
    same two signs as ``crisis_targets``, observed now rather than within the horizon. Such a firm
    is not a candidate for "may enter crisis" and is listed apart by the monitor.

    Shapes: in, panel financials (firm_id, fiscal_year, interest_coverage, no_interest_expense,
    audit_opinion; missing columns count as unknown); out, one row per firm-year with
    ``coverage_below`` and ``crisis_opinion`` (bool), ``in_crisis`` (either) and
    ``crisis_reason`` (Korean text naming the sign(s), empty when not in crisis).
    """
    panel = sort_panel(financials.assign(fiscal_year=financials["fiscal_year"].astype("int64")))
    below = (_coverage_below(panel, settings) == 1).to_numpy()
    opinion = (_crisis_opinion(panel, settings) == 1).to_numpy()
    text = panel.get("audit_opinion", pd.Series(None, index=panel.index, dtype=object)).astype(object).to_numpy()
    coverage = pd.to_numeric(panel.get("interest_coverage", pd.Series(np.nan, index=panel.index)), errors="coerce")
    reasons = []
    for b, o, c, t in zip(below, opinion, coverage.to_numpy(), text, strict=True):
        parts = []
        if b:
            parts.append(f"이자보상배율 {c:.2f} (< {settings.coverage_threshold:g})")
        if o:
            parts.append(f"감사의견 {t} (부적정·의견거절)")
        reasons.append("; ".join(parts))
    return pd.DataFrame(
        {
            "firm_id": panel["firm_id"].astype(str).to_numpy(),
            "fiscal_year": panel["fiscal_year"].to_numpy(),
            "coverage_below": below,
            "crisis_opinion": opinion,
            "in_crisis": below | opinion,
            "crisis_reason": reasons,
        }
    )


def crisis_targets(financials: pd.DataFrame, settings: CrisisSettings) -> pd.DataFrame:
    """One row per firm-year t: ``target`` (1, 0 or NaN), ``label_status`` and ``start_ok``.

    Shapes: in, panel financials with firm_id, fiscal_year, interest_coverage (ratio),
    no_interest_expense (0/1) and audit_opinion (TS-2000 code); out, one row per firm-year,
    sorted by firm and year. Rule source: Bank of Korea 한계기업 (coverage below 1 for three years)
    and the audit opinion codes of ``data/reference/ts2000_audit_opinions.csv``.
    """
    panel = sort_panel(financials.assign(fiscal_year=financials["fiscal_year"].astype("int64")))
    n = len(panel)
    below, bad = _coverage_below(panel, settings), _crisis_opinion(panel, settings)
    work = panel[["firm_id", "fiscal_year"]].assign(_below=below.to_numpy(), _bad=bad.to_numpy(), _on=1.0)
    h = settings.horizon
    future_below = pd.concat([_lead(work, "_below", k) for k in range(1, h + 1)], axis=1).astype("float64")
    future_bad = pd.concat([_lead(work, "_bad", k) for k in range(1, h + 1)], axis=1).astype("float64")
    on_file = pd.concat([_lead(work, "_on", k) for k in range(1, h + 1)], axis=1).notna()
    opinion_event = (future_bad == 1).any(axis=1)
    marginal = (future_below == 1).all(axis=1)
    cleared = (future_below == 0).any(axis=1)
    start_ok = (below == 0).to_numpy()
    target = np.full(n, np.nan)
    target[(opinion_event | marginal).to_numpy()] = 1.0
    zero = (~opinion_event & ~marginal & cleared & on_file.all(axis=1)).to_numpy()
    target[zero] = 0.0
    beyond = (panel["fiscal_year"] + h > int(panel["fiscal_year"].max())).to_numpy()
    status = np.select(
        [below.isna().to_numpy(), ~start_ok, beyond, np.isnan(target) & ~on_file.all(axis=1).to_numpy()],
        ["start_coverage_unknown", "start_coverage_below_threshold", "outcome_after_panel_end", "vanished_or_gap"],
        default="labelled",
    )
    target[status != "labelled"] = np.nan
    status = np.where((status == "labelled") & np.isnan(target), "undetermined", status)
    return pd.DataFrame(
        {
            "firm_id": panel["firm_id"].to_numpy(),
            "fiscal_year": panel["fiscal_year"].to_numpy(),
            "target": target,
            "label_status": status,
            "start_ok": start_ok,
        }
    )


def split_firms(firm_ids: pd.Series, share: float, seed: int) -> set:
    """Held-out firms: a seeded ``share`` of the sorted unique ids (reproducible)."""
    ids = np.array(sorted(set(firm_ids)))
    picked = np.random.default_rng(seed).permutation(len(ids))[: round(share * len(ids))]
    return set(ids[picked])


def scale_from(settings: CrisisSettings) -> MasterScale:
    """The early-warning scale as a ``MasterScale``: first label = highest crisis probability."""
    s = settings.scale
    return MasterScale(tuple(s.labels), tuple(s.probability_cutpoints), s.base_points, s.base_odds, s.pdo, s.flag_grade)


def reasons(contributions: pd.DataFrame, factor: float, top_k: int) -> pd.DataFrame:
    """The ``top_k`` features raising the crisis probability most, in points (log-odds × factor).

    Returns ``reason_1..k`` (Korean text, e.g. "3년 최저 이자보상배율 +18점"; empty when the
    feature lowers the risk) and ``reason_feature_1..k`` (the feature's column name).
    """
    names = [c for c in contributions.columns if c != "_bias"]
    values = contributions[names].to_numpy(dtype="float64") * factor
    order = np.argsort(-values, axis=1, kind="stable")
    out = pd.DataFrame(index=contributions.index)
    rows = np.arange(len(values))
    for rank in range(top_k):
        pick = order[:, rank] if rank < len(names) else np.zeros(len(values), dtype=int)
        pts = values[rows, pick]
        keep = pts > 0.5
        out[f"reason_{rank + 1}"] = [
            f"{FEATURE_KO.get(names[p], names[p])} {v:+.0f}점" if k else ""
            for p, v, k in zip(pick, pts, keep, strict=True)
        ]
        out[f"reason_feature_{rank + 1}"] = [names[p] if k else "" for p, k in zip(pick, keep, strict=True)]
    return out


@dataclass
class CrisisModel:
    """The early-warning model: LightGBM, its Platt calibration, the scale and the reason settings."""

    classifier: GrowthGBM
    calibrator: object
    scale: MasterScale
    feature_names: list[str]
    settings: dict
    top_k: int = 3
    metadata: dict = field(default_factory=dict)

    def probability(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated crisis probability, shape (n,), for a table holding ``feature_names``."""
        matrix = features[self.feature_names].astype("float64")
        raw = self.classifier.predict_proba(matrix)[:, 1]
        return np.clip(self.calibrator.predict(raw), 0.0, 1.0)

    def score_features(self, features: pd.DataFrame, with_reasons: bool = True) -> pd.DataFrame:
        """Per row: firm_id, as_of, probability, score (points), grade, flagged and the reasons."""
        matrix = features[self.feature_names].astype("float64").reset_index(drop=True)
        probability = self.probability(matrix)
        grades = self.scale.grades(probability)
        flagged = self.scale.at_or_above(pd.Series(grades)).to_numpy()
        out = pd.DataFrame(
            {
                "firm_id": features["firm_id"].astype(str).to_numpy(),
                "as_of": features["fiscal_year"].astype("int64").to_numpy(),
                "probability": probability,
                "score": np.round(self.scale.points(probability), 1),
                "grade": grades.astype(str),
                "flagged": flagged.astype(bool),
            }
        )
        if with_reasons:
            contributions = self.classifier.contributions(matrix)
            out = pd.concat([out, reasons(contributions, self.scale.factor, self.top_k)], axis=1)
        return out

    def save(self, directory: Path) -> Path:
        """Write the model as data (LightGBM text, JSON) with a sha256 manifest; returns the directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        writer = _Writer(directory)
        writer.booster("classifier.txt", self.classifier.booster_)
        writer.json(
            "model.json",
            {
                "classifier_params": self.classifier.get_params(),
                "feature_names": self.feature_names,
                "calibrator": _calibrator_state(self.calibrator),
                "scale": {
                    "labels": list(self.scale.labels),
                    "cutpoints": list(self.scale.cutpoints),
                    "base_points": self.scale.base_points,
                    "base_odds": self.scale.base_odds,
                    "pdo": self.scale.pdo,
                    "flag_grade": self.scale.reference_grade,
                },
                "settings": self.settings,
                "top_k": self.top_k,
                "metadata": self.metadata,
            },
        )
        writer.finish(KIND)
        return directory

    @classmethod
    def load(cls, directory: Path) -> CrisisModel:
        """Read a saved model; every file is checked against the manifest (``BundleError`` if not)."""
        reader = _Reader(Path(directory), KIND)
        state = reader.json("model.json")
        s = state["scale"]
        scale = MasterScale(
            tuple(s["labels"]), tuple(s["cutpoints"]), s["base_points"], s["base_odds"], s["pdo"], s["flag_grade"]
        )
        classifier = GrowthGBM.from_booster(
            state["classifier_params"], state["feature_names"], reader.booster("classifier.txt")
        )
        return cls(
            classifier,
            _calibrator_from(state["calibrator"]),
            scale,
            list(state["feature_names"]),
            state["settings"],
            int(state["top_k"]),
            state.get("metadata", {}),
        )


def _logistic(fit: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Logistic regression on ``columns``: clipped at the fit 1st/99th percentiles, median-imputed, standardised."""
    low, high = fit[columns].quantile(0.01), fit[columns].quantile(0.99)
    med = fit[columns].clip(low, high, axis=1).median()

    def prepare(frame):
        return frame[columns].clip(low, high, axis=1).fillna(med).fillna(0.0)

    x_fit = prepare(fit)
    mean, std = x_fit.mean(), x_fit.std().replace(0, 1).fillna(1)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x_fit - mean) / std, fit["target"].astype(int))
    return model.predict_proba((prepare(test) - mean) / std)[:, 1]


def _plain_gbm(fit: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int) -> np.ndarray:
    model = lgb.LGBMClassifier(**PLAIN_GBM_PARAMS, random_state=seed)
    model.fit(fit[columns], fit["target"].astype(int))
    return model.predict_proba(test[columns])[:, 1]


def _params(settings: CrisisSettings) -> dict:
    return settings.model.model_dump()


def tune(
    table: pd.DataFrame, model_firms: np.ndarray, calibration_firms: np.ndarray, settings: CrisisSettings, seed: int
):
    """Pick hyperparameters from ``crisis.tuning_grid`` on the fit firms only.

    Fitted on the model firms' origins before the last ``tuning_origins`` fit origins, judged by
    AUC on the calibration firms at those last origins. Returns (chosen params, grid results).
    """
    last = settings.fit_last_origin - settings.tuning_origins + 1
    fit = table[table["firm_id"].isin(model_firms) & (table["fiscal_year"] < last)]
    check = table[table["firm_id"].isin(calibration_firms) & (table["fiscal_year"] >= last)]
    base = _params(settings)
    grid = settings.tuning_grid
    if not grid or fit["target"].nunique() < 2 or check["target"].nunique() < 2:
        return base, []
    results = []
    keys = sorted(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        params = {**base, **dict(zip(keys, values, strict=True))}
        model = GrowthGBM(**params, random_state=seed).fit(fit[list(FEATURES)], fit["target"].astype(int))
        auc = roc_auc_score(check["target"].astype(int), model.predict_proba(check[list(FEATURES)])[:, 1])
        results.append({"params": dict(zip(keys, values, strict=True)), "auc": float(auc)})
    best = max(results, key=lambda r: (r["auc"], -sum(float(v) for v in r["params"].values())))
    return {**base, **best["params"]}, results


@dataclass
class CrisisTraining:
    model: CrisisModel
    report: dict
    predictions: pd.DataFrame


def train_crisis(features: pd.DataFrame, targets: pd.DataFrame, settings: CrisisSettings, seed: int) -> CrisisTraining:
    """Fit, calibrate and validate the crisis model; evaluate it against the baselines.

    ``features``: ``crisis_signals`` output; ``targets``: ``crisis_targets`` output (same keys).
    Returns the model, a JSON-ready report (design, tuning, the validation pack per split and the
    held-out evaluation with baselines and intervals) and one prediction row per evaluated
    firm-year. Raises ``ValueError`` when a split the design needs is empty or single-class.
    """
    table = features.merge(targets, on=["firm_id", "fiscal_year"], how="inner", validate="one_to_one")
    table = table[table["target"].notna()].sort_values(["fiscal_year", "firm_id"]).reset_index(drop=True)
    test_firms = split_firms(features["firm_id"], settings.test_share, seed)
    is_test = table["firm_id"].isin(test_firms)
    in_fit = table["fiscal_year"].between(settings.fit_first_origin, settings.fit_last_origin)
    fit_all = table[~is_test & in_fit]
    if fit_all["target"].nunique() < 2:
        raise ValueError(
            f"crisis: the fit origins {settings.fit_first_origin}-{settings.fit_last_origin} hold "
            f"{len(fit_all)} labelled rows of a single class; cannot train"
        )
    fit_firms = np.array(sorted(fit_all["firm_id"].unique()))
    splitter = GroupShuffleSplit(n_splits=1, test_size=settings.calibration_share, random_state=seed + 1)
    model_part, check_part = next(splitter.split(fit_firms, groups=fit_firms))
    params, grid = tune(table[~is_test & in_fit], fit_firms[model_part], fit_firms[check_part], settings, seed)
    fit = fit_all
    x_fit, y_fit = fit[list(FEATURES)], fit["target"].to_numpy(dtype=int)
    # Platt calibration on cross-fitted (out-of-fold, firm-grouped) raw probabilities of the fit rows,
    # so the classifier itself is fitted on every fit row.
    raw_oof = np.zeros(len(fit))
    folds = GroupKFold(n_splits=settings.calibration_folds)
    for inner, outer in folds.split(x_fit, y_fit, groups=fit["firm_id"].to_numpy()):
        fold_model = GrowthGBM(**params, random_state=seed).fit(x_fit.iloc[inner], y_fit[inner])
        raw_oof[outer] = fold_model.predict_proba(x_fit.iloc[outer])[:, 1]
    calibrator = fit_calibrator(raw_oof, y_fit, "sigmoid")
    classifier = GrowthGBM(**params, random_state=seed).fit(x_fit, y_fit)
    scale = scale_from(settings)
    model = CrisisModel(classifier, calibrator, scale, list(FEATURES), settings.model_dump(mode="json"), settings.top_k)

    splits = {
        "train": fit,
        "out_of_sample": table[is_test & in_fit],
        "out_of_time": table[is_test & (table["fiscal_year"] == settings.test_origin)],
    }
    report: dict = {
        "target": "crisis",
        "design": settings.model_dump(mode="json"),
        "tuning": {"chosen": params, "grid": grid},
        "scale": scale.table().to_dict("records"),
        "rows": {name: len(part) for name, part in splits.items()},
        "firms": {name: int(part["firm_id"].nunique()) for name, part in splits.items()},
        "test_firms_overlap_fit": len(set(splits["out_of_time"]["firm_id"]) & set(fit_all["firm_id"])),
        "splits": {},
    }
    for name, part in splits.items():
        y = part["target"].to_numpy(dtype=int)
        if len(part) == 0 or len(np.unique(y)) < 2:
            report["splits"][name] = {"rows": len(part), "skipped": "fewer than two classes"}
            continue
        p = model.probability(part)
        report["splits"][name] = evaluate_split(
            y, p, scale.grades(p), list(scale.labels), part["firm_id"].to_numpy(), n_boot=200, seed=seed
        )
    test = splits["out_of_time"]
    if test["target"].nunique() < 2:
        raise ValueError(f"crisis: the held-out firms at origin {settings.test_origin} hold a single class")
    y = test["target"].to_numpy(dtype=int)
    scores = {
        "crisis_model": model.probability(test),
        "plain_lgbm": _plain_gbm(fit, test, list(PLAIN_RATIOS), seed),
        "logistic": _logistic(fit, test, list(PLAIN_RATIOS)),
        "interest_coverage": -test["interest_coverage_clipped"]
        .fillna(fit["interest_coverage_clipped"].median())
        .to_numpy(),
    }
    report["evaluation"] = {
        "origin": settings.test_origin,
        "outcome_years": [settings.test_origin + 1, settings.test_origin + settings.horizon],
        "rows": len(test),
        "base_rate": float(y.mean()),
        "fit_rows": len(fit),
        "fit_base_rate": float(fit["target"].mean()),
        # Firm-clustered, paired draws (every model judged on the same resampled firms): the
        # project's one bootstrap, ``jumpup.models.metrics.bootstrap_samples``.
        "auc": paired_bootstrap(y, scores, test["firm_id"].to_numpy(), settings.bootstrap, seed),
        "grades": report["splits"]["out_of_time"]["grades"],
        "monotone": report["splits"]["out_of_time"]["monotonicity"],
    }
    predictions = test[["firm_id", "fiscal_year", "target"]].assign(**scores).reset_index(drop=True)
    return CrisisTraining(model, report, predictions)


def headline_metrics(report: dict) -> dict[str, float]:
    """Flat metrics for MLflow: per split AUC (with interval), Brier, inversions, the share of grades
    failing the Jeffreys test, the largest grade share; the evaluation's AUCs and the paired AUC gain
    over the plain LightGBM (the promotion gates read these, ``jumpup.pipelines.promote``)."""
    metrics: dict[str, float] = {}
    for name, split in report["splits"].items():
        if "discrimination" not in split:
            continue
        auc = split["discrimination"]["auc"]
        metrics |= {
            f"{name}.auc": auc["value"],
            f"{name}.auc_ci_low": auc["ci_low"],
            f"{name}.auc_ci_high": auc["ci_high"],
        }
        metrics[f"{name}.brier"] = split["calibration"]["brier"]
        metrics[f"{name}.grade_inversions"] = split["monotonicity"]["inversions"]
        metrics[f"{name}.max_grade_share"] = split["concentration"]["max_share"]
        metrics[f"{name}.failed_grade_tests_share"] = split["failed_grade_tests"] / max(
            split["monotonicity"]["grades_populated"], 1
        )
    for name, entry in report["evaluation"]["auc"].items():
        for key, value in entry.items():
            metrics[f"evaluation.{name}.{key}"] = value
    # the held-out evaluation is the out-of-time split: its paired gain over the plain baseline
    gain = report["evaluation"]["auc"].get("crisis_model_minus_plain_lgbm")
    if gain is not None:
        metrics["out_of_time.auc_gain_over_baseline"] = gain["difference"]
        metrics["out_of_time.auc_gain_over_baseline_ci_low"] = gain["ci_low"]
    return {k: round(float(v), 6) for k, v in metrics.items()}
