"""Out-of-time evaluation on the TS-2000 audited panel: high growth and 3-year growth quantiles.

Design (issue 16): fit on origins up to ``fit_last_origin`` (default 2016, outcomes ≤ 2019) of
the fit firms; test at ``test_origin`` (default 2019, outcomes 2022) on firms never used in
fitting (a seeded split of firm ids). High growth = revenue CAGR over ``horizon`` years above
``cagr_threshold`` with revenue at the origin ≥ ``min_start_revenue_won``; firm-years below that
start revenue are not in the population, and firm-years without revenue ``horizon`` years later
are left out (a vanished firm has no observed outcome).

Models:
- ``logistic``: logistic regression on the ten plain ratios (clipped at fit-sample 1st/99th
  percentiles, median-imputed, standardised);
- ``plain_lgbm``: LightGBM on the same ten ratios;
- ``full_lgbm``: LightGBM on the ten ratios plus growth history (up to five years: CAGR, the
  worst and best year, years above 20%, acceleration, distance from the peak), industry group
  (TS-2000 업종 group) peer statistics (the firm's rank and distance from its group's median in
  that year, the group's past growth and share of high-growth firms), accruals, cost growth, audit
  opinion and interest-coverage signals (``jumpup.features.real_items``);
- ``scorecard_full``: logistic regression (L2 strength from ``SCORECARD_C_GRID``) on the same
  columns as ``full_lgbm``, prepared like ``logistic``;
- ``graded``: the graded model, a calibrated blend ``w · scorecard_full + (1 − w) · full_lgbm`` of
  the two probabilities (``blend_probabilities``); the scorecard's strength and ``w`` (from
  ``BLEND_WEIGHTS``; ``w = 0`` is the LightGBM alone) are chosen on both validations below
  (``choose_blend``), after the LightGBM hyper-parameters;
- ``past_growth``: the past 3-year revenue CAGR as the score.
Every setting (the LightGBM hyper-parameters of each model from ``PARAM_GRID``, the blend) is
chosen on the mean AUC of two validations that use only non-test firms and outcomes known by the
test origin (``validation_splits``, ``validation_auc``), so neither the test origin nor a test firm
ever informs a choice:
- the validation origin (``validation_sets``): fit on origins up to ``validation_fit_last_origin``
  (2013) of one part of the non-test firms, judged at ``validation_origin`` (2016) on the other
  part. Out of time like the test, but its fit rows have at most one year of history, so history
  features cannot prove themselves there;
- the cross-firm validation (``cross_firm_folds``): the non-test firms dealt into ``cv_folds`` (5)
  groups; for each group, fit on origins up to ``cv_fit_last_origin`` (2015) of the other groups,
  judged at ``validation_origin`` (2016) on the group. Its fit rows carry up to three years of
  history like the final fit's; it stops a year before the judged origin so that no fit row shares
  the judged rows' industry-group year. Its AUC is the mean over the folds.
Judged on both validations and not kept, because none lifted the graded model's mean validation
AUC by more than the noise of a paired firm bootstrap (docs/models.md gives the figures): seed
bagging, sample weights favouring recent origins, LightGBM ``extra_trees``, ``path_smooth``,
``linear_tree``, DART, the industry group as a categorical, an auxiliary regressor or an upper
quantile model of the 3-year log growth stacked with the classifier, classifiers at 10% and 30%
CAGR averaged with the 20% one, industry-group momentum (the group's aggregate revenue growth,
its trend, the firm against it, moves in the group's size ranking), history windows of equal
length at every origin, first-time filers, and a spline scorecard in the blend.
AUCs carry firm-clustered bootstrap intervals (``jumpup.models.metrics``); differences use paired
draws.

Growth quantiles come from the growth-path engine's calibrated quantile forecast (its pooled
quantile LightGBM, ``jumpup.models.growth_peers.pooled_quantile_models``, shrunk toward the pooled
forecast and widened by conformal widths with
``jumpup.models.growth_engine.fit_quantile_calibration``, fitted on the validation origin) for the
``horizon``-year log revenue growth, against the pooled forecast (the fit sample's unconditional
quantiles); mean pinball loss over the quantiles, their ratio, and the coverage of the central 50%
and 80% bands on the test firms.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from jumpup.features.builder import FeatureBuilder, panel_rows
from jumpup.features.ratios import growth, lag, safe_ratio, sort_panel
from jumpup.features.real_items import PLAIN_RATIOS, STATEMENT_ITEMS, real_item_indicators
from jumpup.models.growth_engine import (
    GrowthPathModel,
    apply_quantile_calibration,
    fit_quantile_calibration,
    history_table,
    method_quantiles,
)
from jumpup.models.growth_peers import outcome_table, pooled_quantile_models
from jumpup.models.growth_peers import pinball as pinball_rows
from jumpup.models.metrics import bootstrap_samples

EXTRA = (
    "revenue_growth_prev_1y",
    "growth_volatility_3y",
    "operating_margin_change",
    "relative_growth_industry",
    "history_years",
    "industry_code",
    "audit_opinion_not_clean",
    "years_interest_coverage_below_1",
    "marginal_firm",
    "no_interest_expense",
    "year_end_not_december",
)
HISTORY = (
    "revenue_cagr_5y_past",
    "growth_min_5y",
    "growth_max_5y",
    "years_growth_above_20",
    "growth_acceleration",
    "log_revenue_to_peak",
    "gross_profit_growth",
    "sga_growth",
    "pretax_margin",
    "accruals",
    "fiscal_months",
    "operating_margin_change_2y",
)
# Ratios compared with the firm's TS-2000 industry group in the same fiscal year.
GROUP_RELATIVE = (
    "operating_margin",
    "gross_margin",
    "sga_ratio",
    "cash_flow_margin",
    "log_revenue",
    "net_margin",
    "revenue_growth_1y",
)
PEERS = (
    *(f"{c}_group_rank" for c in GROUP_RELATIVE),
    *(f"{c}_vs_group" for c in GROUP_RELATIVE),
    "group_past_cagr_median",
    "group_past_high_growth_share",
    "group_growth_1y_median",
    "group_firms",
)
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
GBM_PARAMS = {
    "n_estimators": 400,
    "learning_rate": 0.03,
    "num_leaves": 31,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "verbose": -1,
    "n_jobs": 1,
}
# Candidates for the validation origin (``choose_params``); each overrides GBM_PARAMS.
PARAM_GRID = (
    {},
    {"num_leaves": 15, "min_child_samples": 200},
    {"num_leaves": 7, "min_child_samples": 300, "learning_rate": 0.02, "n_estimators": 300},
    {"num_leaves": 7, "min_child_samples": 300, "learning_rate": 0.02, "n_estimators": 600},
    {"num_leaves": 4, "min_child_samples": 300, "learning_rate": 0.02, "n_estimators": 1000},
    {"num_leaves": 7, "min_child_samples": 500, "learning_rate": 0.01, "n_estimators": 1200},
)

# Candidates for the graded model's blend (``choose_blend``): the scorecard's inverse L2 strength
# and its weight in the blended probability.
SCORECARD_C_GRID = (0.01, 0.1, 1.0)
BLEND_WEIGHTS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class Design:
    fit_last_origin: int = 2016
    fit_first_origin: int = 2013
    test_origin: int = 2019
    validation_fit_last_origin: int = 2013
    validation_origin: int = 2016
    horizon: int = 3
    cagr_threshold: float = 0.20
    min_start_revenue_won: float = 1e9
    test_share: float = 0.3
    seed: int = 20250901
    n_boot: int = 500
    marginal_years: int = 3
    cv_folds: int = 5
    cv_fit_last_origin: int = 2015


def build_rows(firms: pd.DataFrame, financials: pd.DataFrame, design: Design) -> pd.DataFrame:
    """One row per firm-year: features known at t, the outcome at t + horizon and the label."""
    panel = sort_panel(financials)
    items = STATEMENT_ITEMS
    num = {
        c: pd.to_numeric(panel[c], errors="coerce").astype("float64")
        if c in panel
        else pd.Series(np.nan, index=panel.index)
        for c in items
    }
    revenue = num["revenue"]
    prior = lag(panel.assign(**num), ["revenue", "operating_income"], 1)
    prior2 = lag(panel.assign(revenue=revenue), ["revenue"], 2)
    prior3 = lag(panel.assign(revenue=revenue), ["revenue"], 3)
    out = pd.DataFrame({"firm_id": panel["firm_id"].to_numpy(), "fiscal_year": panel["fiscal_year"].astype(int)})
    out["revenue"] = revenue
    out["revenue_growth_1y"] = growth(revenue, prior["revenue"])
    base = safe_ratio(revenue, prior3["revenue"])
    out["revenue_cagr_3y_past"] = np.power(base.where(base > 0), 1 / 3) - 1
    out["operating_margin"] = safe_ratio(num["operating_income"], revenue)
    out["net_margin"] = safe_ratio(num["net_income"], revenue)
    out["gross_margin"] = safe_ratio(num["gross_profit"], revenue)
    out["sga_ratio"] = safe_ratio(num["sga_expense"], revenue)
    out["cash_flow_margin"] = safe_ratio(num["operating_cash_flow"], revenue)
    coverage = num["interest_coverage"].clip(-50, 50)
    out["interest_coverage_clipped"] = coverage.where(num["no_interest_expense"] != 1, 50.0)
    out["log_revenue"] = np.log(revenue.where(revenue > 0))
    out["operating_income_growth"] = (
        (num["operating_income"] - prior["operating_income"])
        / prior["operating_income"].abs().where(prior["operating_income"] != 0)
    ).clip(-10, 10)
    # Extra features, all from years <= t.
    out["revenue_growth_prev_1y"] = growth(prior["revenue"], prior2["revenue"])
    g2 = growth(prior2["revenue"], prior3["revenue"])
    out["growth_volatility_3y"] = (
        pd.concat([out["revenue_growth_1y"], out["revenue_growth_prev_1y"], g2], axis=1)
        .clip(-1, 5)
        .std(axis=1, skipna=False)
    )
    prior_margin = safe_ratio(prior["operating_income"], prior["revenue"])
    out["operating_margin_change"] = (out["operating_margin"] - prior_margin).clip(-5, 5)
    group = panel["firm_id"].map(firms.set_index("firm_id")["industry_group"])
    out["industry_code"] = pd.Categorical(group).codes.astype(float)
    clipped = out["revenue_growth_1y"].clip(-1, 5)
    median = clipped.groupby([group.to_numpy(), out["fiscal_year"].to_numpy()]).transform("median")
    out["relative_growth_industry"] = clipped - median.to_numpy()
    out["history_years"] = out.groupby("firm_id").cumcount() + 1
    out["year_end_not_december"] = (pd.to_numeric(panel["fiscal_year_end_month"]) != 12).astype(float)
    risk = real_item_indicators(panel, design.marginal_years)
    for name in ("audit_opinion_not_clean", "years_interest_coverage_below_1", "marginal_firm"):
        out[name] = risk[name].to_numpy()
    out["no_interest_expense"] = num["no_interest_expense"]
    extra = history_features(panel, out)
    peers = group_features(out, group, design.min_start_revenue_won, design.cagr_threshold)
    out = pd.concat([out, extra, peers], axis=1)
    # Outcome.
    later = pd.DataFrame(
        {"firm_id": out["firm_id"], "fiscal_year": out["fiscal_year"] - design.horizon, "ahead": revenue}
    )
    ahead = out[["firm_id", "fiscal_year"]].merge(later, on=["firm_id", "fiscal_year"], how="left")["ahead"].to_numpy()
    out["revenue_ahead"] = ahead
    ratio = safe_ratio(pd.Series(ahead, index=out.index), revenue)
    out["log_growth_ahead"] = np.log(ratio.where(ratio > 0))
    cagr = np.power(ratio.where(ratio > 0), 1 / design.horizon) - 1
    out["label"] = (cagr > design.cagr_threshold).astype(float).where(ratio.notna())
    out.loc[ratio.notna() & (ratio <= 0), "label"] = 0.0
    return out


def history_features(panel: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Up to five years of a firm's own history at t: ``HISTORY`` columns, same index as ``rows``.

    ``panel`` is the sorted financials (won) and ``rows`` the frame ``build_rows`` is building, on
    the same rows in the same order. Growth rates are clipped to [-1, 5] and ratios to [-5, 5] so
    a near-zero base cannot dominate; a year missing from the history gives NaN.
    """
    revenue = rows["revenue"]
    lags = {k: lag(panel.assign(revenue=revenue), ["revenue"], k)["revenue"] for k in range(1, 6)}
    out = pd.DataFrame(index=rows.index)
    base = safe_ratio(revenue, lags[5])
    out["revenue_cagr_5y_past"] = np.power(base.where(base > 0), 1 / 5) - 1
    yearly = pd.concat(
        [growth(revenue, lags[1])] + [growth(lags[k], lags[k + 1]) for k in range(1, 5)], axis=1, ignore_index=True
    ).clip(-1, 5)
    out["growth_min_5y"] = yearly.min(axis=1)
    out["growth_max_5y"] = yearly.max(axis=1)
    out["years_growth_above_20"] = (yearly > 0.2).sum(axis=1).where(yearly.notna().any(axis=1))
    out["growth_acceleration"] = yearly[0] - yearly[1]
    peak = pd.concat([revenue, lags[1], lags[2], lags[3]], axis=1).max(axis=1)
    to_peak = safe_ratio(revenue, peak)
    out["log_revenue_to_peak"] = np.log(to_peak.where(to_peak > 0))
    items = ("gross_profit", "sga_expense", "operating_cash_flow", "pretax_income", "net_income")
    num = {c: _numeric(panel, c) for c in items}
    prior = lag(panel.assign(**num), ["gross_profit", "sga_expense"], 1)
    out["gross_profit_growth"] = growth(num["gross_profit"], prior["gross_profit"]).clip(-5, 10)
    out["sga_growth"] = growth(num["sga_expense"], prior["sga_expense"]).clip(-1, 10)
    out["pretax_margin"] = safe_ratio(num["pretax_income"], revenue).clip(-5, 5)
    out["accruals"] = safe_ratio(num["net_income"] - num["operating_cash_flow"], revenue).clip(-5, 5)
    out["fiscal_months"] = _numeric(panel, "fiscal_months")
    margin = rows[["firm_id", "fiscal_year"]].assign(margin=rows["operating_margin"].clip(-5, 5))
    out["operating_margin_change_2y"] = margin["margin"] - lag(margin, ["margin"], 2)["margin"]
    return out


def group_features(rows: pd.DataFrame, group: pd.Series, min_start_revenue: float, threshold: float) -> pd.DataFrame:
    """Industry-group peer statistics at t: ``PEERS`` columns, same index as ``rows``.

    Peers are the firms of the same TS-2000 industry group (the export's file name) in the same
    fiscal year, all observed at t, so nothing after t enters. For each ``GROUP_RELATIVE`` ratio:
    the firm's percentile rank in its group-year (0–1] and its distance from the group-year median.
    Group momentum: the median past 3-year CAGR and the share of firms whose past 3-year CAGR
    exceeded ``threshold`` (among firms with revenue ≥ ``min_start_revenue`` three years earlier),
    the median 1-year growth, and the number of firms filing.
    """
    key = [group.to_numpy(), rows["fiscal_year"].to_numpy()]
    out = pd.DataFrame(index=rows.index)
    for column in GROUP_RELATIVE:
        values = rows[column] if column == "log_revenue" else rows[column].clip(-5, 10)
        by_group = values.groupby(key)
        out[f"{column}_group_rank"] = by_group.rank(pct=True)
        out[f"{column}_vs_group"] = values - by_group.transform("median")
    start = rows["revenue"] / np.power(1 + rows["revenue_cagr_3y_past"], 3)
    past = rows["revenue_cagr_3y_past"].where(start >= min_start_revenue)
    out["group_past_cagr_median"] = past.groupby(key).transform("median")
    high = (past > threshold).astype("float64").where(past.notna())
    out["group_past_high_growth_share"] = high.groupby(key).transform("mean")
    out["group_growth_1y_median"] = rows["revenue_growth_1y"].clip(-1, 5).groupby(key).transform("median")
    out["group_firms"] = rows["revenue"].groupby(key).transform("size").astype("float64")
    return out[list(PEERS)]


def _numeric(panel: pd.DataFrame, column: str) -> pd.Series:
    if column not in panel:
        return pd.Series(np.nan, index=panel.index, dtype="float64")
    return pd.to_numeric(panel[column], errors="coerce").astype("float64")


def split_firms(firm_ids: pd.Series, design: Design) -> set:
    """The test firms: a seeded share of all firm ids (sorted first, so the split is reproducible)."""
    ids = np.array(sorted(set(firm_ids)))
    rng = np.random.default_rng(design.seed)
    picked = rng.permutation(len(ids))[: round(design.test_share * len(ids))]
    return set(ids[picked])


def _logistic(fit: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> np.ndarray:
    low, high = fit[columns].quantile(0.01), fit[columns].quantile(0.99)
    med = fit[columns].clip(low, high, axis=1).median()

    def prepare(frame):
        return frame[columns].clip(low, high, axis=1).fillna(med)

    x_fit = prepare(fit)
    mean, std = x_fit.mean(), x_fit.std().replace(0, 1)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((x_fit - mean) / std, fit["label"].astype(int))
    return model.predict_proba((prepare(test) - mean) / std)[:, 1]


def scorecard_probabilities(fit: pd.DataFrame, test: pd.DataFrame, columns: list[str], c: float) -> np.ndarray:
    """Logistic-regression probabilities of ``label`` for ``test``, shape (len(test),).

    Each column is clipped at the fit sample's 1st/99th percentiles, missing values take the fit
    median (0 for a column with no value in the fit sample) and columns are standardised with the
    fit mean and standard deviation (1 where it is 0 or undefined); ``c`` is scikit-learn's inverse
    L2 strength. Raises ``ValueError`` when ``fit`` holds a single class.
    """
    if fit["label"].nunique() < 2:
        raise ValueError("the scorecard needs both classes in its fit rows")
    low, high = fit[columns].quantile(0.01), fit[columns].quantile(0.99)
    med = fit[columns].clip(low, high, axis=1).median().fillna(0.0)

    def prepare(frame):
        return frame[columns].clip(low, high, axis=1).fillna(med)

    x_fit = prepare(fit)
    mean, std = x_fit.mean(), x_fit.std().replace(0, 1).fillna(1.0)
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit((x_fit - mean) / std, fit["label"].astype(int))
    return model.predict_proba((prepare(test) - mean) / std)[:, 1]


def blend_probabilities(gbm: np.ndarray, scorecard: np.ndarray, weight: float) -> np.ndarray:
    """The graded model's probability: ``weight · scorecard + (1 − weight) · gbm``, elementwise.

    Both inputs are probabilities of the same rows (shape (n,)); ``weight`` lies in [0, 1], else
    ``ValueError``. A weighted mean of two calibrated probabilities scores each firm on its own,
    so a round can compute it without the rest of the population.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"blend weight must lie in [0, 1], got {weight}")
    gbm, scorecard = np.asarray(gbm, dtype="float64"), np.asarray(scorecard, dtype="float64")
    if gbm.shape != scorecard.shape:
        raise ValueError(f"blend needs equal shapes, got {gbm.shape} and {scorecard.shape}")
    return weight * scorecard + (1.0 - weight) * gbm


def choose_blend(splits: ValidationSplits, columns: list[str], seed: int, params: dict) -> tuple[dict, dict]:
    """The (scorecard C, blend weight) with the highest mean validation AUC, and every candidate's.

    On every pair of ``splits`` the LightGBM (``params``) and one scorecard per
    ``SCORECARD_C_GRID`` entry are fitted on the fit rows and score the judged rows; candidates are
    tried in grid order and the first best (``validation_auc``'s "mean") wins.
    Returns ({"c": ..., "weight": ...}, {"C=<c> w=<w>": validation_auc dict}).
    """
    pairs = [splits.origin, *splits.folds]
    gbm = {id(j): _gbm(f, j, columns, seed, params) for f, j in pairs}
    aucs: dict[str, dict] = {}
    best, best_auc = {"c": SCORECARD_C_GRID[0], "weight": 0.0}, -np.inf
    for c in SCORECARD_C_GRID:
        card = {id(j): scorecard_probabilities(f, j, columns, c) for f, j in pairs}
        for weight in BLEND_WEIGHTS:
            auc = validation_auc(splits, lambda f, j, w=weight, s=card: blend_probabilities(gbm[id(j)], s[id(j)], w))
            aucs[f"C={c} w={weight}"] = auc
            if auc["mean"] > best_auc:
                best, best_auc = {"c": c, "weight": weight}, auc["mean"]
    return best, aucs


def _gbm(fit: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int, params: dict) -> np.ndarray:
    model = lgb.LGBMClassifier(**{**GBM_PARAMS, **params}, random_state=seed)
    model.fit(fit[columns], fit["label"].astype(int))
    return model.predict_proba(test[columns])[:, 1]


def validation_sets(rows: pd.DataFrame, test_firms: set, design: Design) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit, validation) rows of the validation origin: non-test firms, earlier origins only.

    The non-test firms are split again (seed + 1, ``test_share``); fit rows are origins
    ``fit_first_origin - 1`` … ``validation_fit_last_origin`` of one part, validation rows the
    ``validation_origin`` of the other. Outcomes of both are known by ``validation_origin +
    horizon`` ≤ ``test_origin``, so nothing about the test origin or the test firms is used.
    """
    _check_validation_design(design)
    rest = _validation_population(rows, test_firms, design)
    held = split_firms(rest["firm_id"], Design(seed=design.seed + 1, test_share=design.test_share))
    in_held = rest["firm_id"].isin(held)
    fit = rest[~in_held & rest["fiscal_year"].between(design.fit_first_origin - 1, design.validation_fit_last_origin)]
    validation = rest[in_held & (rest["fiscal_year"] == design.validation_origin)]
    return fit, validation


def cross_firm_folds(rows: pd.DataFrame, test_firms: set, design: Design) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """``cv_folds`` (fit, judged) pairs over the non-test firms: the cross-firm validation.

    The non-test firms are dealt into ``cv_folds`` groups (a seeded permutation, seed + 2, of the
    sorted ids). For group k the fit rows are origins ``fit_first_origin - 1`` …
    ``cv_fit_last_origin`` of the firms outside k and the judged rows the ``validation_origin`` of
    the firms in k. The fit rows carry up to three years of history, as the final fit does, which the
    validation origin's fit rows (origins ≤ ``validation_fit_last_origin``) do not. The fit origins
    stop before the validation origin so that no fit row shares the judged rows' industry-group
    year (a group-year statistic would otherwise carry the judged years' outcome from one firm group
    to the other). Every outcome is known by ``validation_origin + horizon`` ≤ ``test_origin``.
    Raises ``ValueError`` for fewer than two folds or a design that breaks those orders.
    """
    _check_validation_design(design)
    if design.cv_folds < 2:
        raise ValueError(f"cross-firm validation needs at least two folds, got {design.cv_folds}")
    if design.cv_fit_last_origin >= design.validation_origin:
        raise ValueError(
            f"cross-firm fit origins must end before the validation origin {design.validation_origin}, "
            f"got {design.cv_fit_last_origin}"
        )
    rest = _validation_population(rows, test_firms, design)
    ids = np.array(sorted(set(rest["firm_id"])))
    order = np.random.default_rng(design.seed + 2).permutation(len(ids))
    fold = pd.Series(np.arange(len(ids)) % design.cv_folds, index=ids[order])
    firm_fold = rest["firm_id"].map(fold).to_numpy()
    in_window = rest["fiscal_year"].between(design.fit_first_origin - 1, design.cv_fit_last_origin).to_numpy()
    at_origin = (rest["fiscal_year"] == design.validation_origin).to_numpy()
    return [(rest[in_window & (firm_fold != k)], rest[at_origin & (firm_fold == k)]) for k in range(design.cv_folds)]


@dataclass(frozen=True)
class ValidationSplits:
    """Every (fit, judged) pair settings are chosen on: the validation origin and the cross-firm folds."""

    origin: tuple[pd.DataFrame, pd.DataFrame]
    folds: tuple[tuple[pd.DataFrame, pd.DataFrame], ...]


def validation_splits(rows: pd.DataFrame, test_firms: set, design: Design) -> ValidationSplits:
    """The validation origin's pair (``validation_sets``) and the cross-firm folds (``cross_firm_folds``)."""
    folds = tuple(cross_firm_folds(rows, test_firms, design))
    return ValidationSplits(validation_sets(rows, test_firms, design), folds)


def validation_auc(splits: ValidationSplits, score) -> dict:
    """AUC of ``score(fit, judged) -> (len(judged),)`` on both validations, and their mean.

    Returns {"origin": AUC at the validation origin, "cross_firm": mean AUC over the folds,
    "folds": [AUC per fold], "mean": (origin + cross_firm) / 2}; settings are chosen on "mean".
    """
    fit, judged = splits.origin
    origin = float(roc_auc_score(judged["label"].to_numpy(dtype=int), score(fit, judged)))
    folds = [float(roc_auc_score(j["label"].to_numpy(dtype=int), score(f, j))) for f, j in splits.folds]
    cross = float(np.mean(folds))
    return {"origin": origin, "cross_firm": cross, "folds": folds, "mean": (origin + cross) / 2}


def _check_validation_design(design: Design) -> None:
    if design.validation_origin + design.horizon > design.test_origin:
        raise ValueError(
            f"validation origin {design.validation_origin} + horizon {design.horizon} is after "
            f"the test origin {design.test_origin}: its outcomes were not known then"
        )
    if design.validation_fit_last_origin + design.horizon > design.validation_origin:
        raise ValueError("validation fit origins must have outcomes known at the validation origin")


def _validation_population(rows: pd.DataFrame, test_firms: set, design: Design) -> pd.DataFrame:
    eligible = (rows["revenue"] >= design.min_start_revenue_won) & rows["label"].notna()
    return rows[eligible & ~rows["firm_id"].isin(test_firms)]


def choose_params(splits: ValidationSplits, columns: list[str], seed: int) -> tuple[dict, list]:
    """The ``PARAM_GRID`` entry with the highest mean validation AUC (first one on ties), and every
    candidate's ``validation_auc``."""
    aucs = [validation_auc(splits, lambda f, j, p=params: _gbm(f, j, columns, seed, p)) for params in PARAM_GRID]
    return dict(PARAM_GRID[int(np.argmax([a["mean"] for a in aucs]))]), aucs


def paired_bootstrap(y: np.ndarray, scores: dict[str, np.ndarray], groups: np.ndarray, n_boot: int, seed: int) -> dict:
    """AUC per model and AUC differences between every pair, with percentile 95% intervals.

    Samples resample whole firms (``groups``; ``jumpup.models.metrics.bootstrap_samples``) and
    every model is scored on the same sample, so differences are paired.
    """
    draws: dict[str, list[float]] = {name: [] for name in scores}
    for index in bootstrap_samples(y, groups, n_boot, seed):
        for name, s in scores.items():
            draws[name].append(roc_auc_score(y[index], s[index]))
    result: dict = {}
    for name, s in scores.items():
        d = np.array(draws[name])
        result[name] = {
            "auc": float(roc_auc_score(y, s)),
            "ci_low": float(np.quantile(d, 0.025)),
            "ci_high": float(np.quantile(d, 0.975)),
        }
    names = list(scores)
    for a in names:
        for b in names:
            if a >= b:
                continue
            diff = np.array(draws[a]) - np.array(draws[b])
            result[f"{a}_minus_{b}"] = {
                "difference": result[a]["auc"] - result[b]["auc"],
                "ci_low": float(np.quantile(diff, 0.025)),
                "ci_high": float(np.quantile(diff, 0.975)),
            }
    return result


def pinball(y: np.ndarray, q: np.ndarray, tau: float) -> float:
    diff = y - q
    return float(np.mean(np.maximum(tau * diff, (tau - 1) * diff)))


def _quantile_forecast(fit: pd.DataFrame, query: pd.DataFrame, columns: list[str], seed: int, estimators: int):
    """(quantile LightGBM forecasts of ``query``, the pooled forecast) from ``fit``'s log growth."""
    y_fit = fit["log_growth_ahead"]
    models = pooled_quantile_models(fit, "log_growth_ahead", columns, QUANTILES, estimators, seed)
    matrix = query[columns].to_numpy(dtype="float64")
    predicted = np.column_stack([models[q].predict(matrix, num_threads=1) for q in QUANTILES])
    return predicted, np.quantile(y_fit, QUANTILES)


def growth_quantiles(
    fit: pd.DataFrame,
    test: pd.DataFrame,
    calibration_fit: pd.DataFrame,
    calibration: pd.DataFrame,
    columns: list[str],
    seed: int,
    n_boot: int,
    estimators: int = 400,
) -> dict:
    """The engine's calibrated quantile forecast against the pooled forecast on the test firms' log growth.

    Shrinkage weight and CQR widths (``fit_quantile_calibration``) come from models fitted on
    ``calibration_fit`` and scored on ``calibration`` (earlier origins, non-test firms); they are
    then applied to models fitted on ``fit`` and forecasting ``test``. Intervals resample firms.
    """
    fit, test = fit[fit["log_growth_ahead"].notna()], test[test["log_growth_ahead"].notna()]
    calibration_fit = calibration_fit[calibration_fit["log_growth_ahead"].notna()]
    calibration = calibration[calibration["log_growth_ahead"].notna()]
    predicted, reference = _quantile_forecast(calibration_fit, calibration, columns, seed, estimators)
    fitted = fit_quantile_calibration(predicted, reference, calibration["log_growth_ahead"].to_numpy(), QUANTILES)
    raw, pooled = _quantile_forecast(fit, test, columns, seed, estimators)
    y = test["log_growth_ahead"].to_numpy()
    forecasts = {
        "model": apply_quantile_calibration(raw, pooled, fitted, QUANTILES),
        "uncalibrated": np.sort(raw, axis=1),
        "pooled": np.tile(pooled, (len(y), 1)),
    }
    index = {q: i for i, q in enumerate(QUANTILES)}

    def loss(name: str, rows) -> float:
        return float(np.mean(pinball_rows(y[rows], forecasts[name][rows], QUANTILES)))

    everything = np.arange(len(y))
    ratios = {"model": [], "uncalibrated": []}
    for rows in bootstrap_samples(np.zeros(len(y)), test["firm_id"].to_numpy(), n_boot, seed, require_both=False):
        for name in ratios:
            ratios[name].append(loss(name, rows) / loss("pooled", rows))
    coverage = {}
    for name, q in forecasts.items():
        coverage[f"{name}_50"] = float(np.mean((y >= q[:, index[0.25]]) & (y <= q[:, index[0.75]])))
        coverage[f"{name}_80"] = float(np.mean((y >= q[:, index[0.1]]) & (y <= q[:, index[0.9]])))
    return {
        "n_fit": len(fit),
        "n_test": len(y),
        "n_calibration_fit": len(calibration_fit),
        "n_calibration": len(calibration),
        "shrinkage_weight": fitted.weight,
        "conformal_widths": {f"{lo}-{hi}": w for (lo, hi), w in fitted.widths.items()},
        "pinball_model": loss("model", everything),
        "pinball_uncalibrated": loss("uncalibrated", everything),
        "pinball_pooled": loss("pooled", everything),
        "pinball_ratio": loss("model", everything) / loss("pooled", everything),
        "pinball_ratio_ci": [float(np.quantile(ratios["model"], 0.025)), float(np.quantile(ratios["model"], 0.975))],
        "pinball_ratio_uncalibrated": loss("uncalibrated", everything) / loss("pooled", everything),
        "pinball_ratio_uncalibrated_ci": [
            float(np.quantile(ratios["uncalibrated"], 0.025)),
            float(np.quantile(ratios["uncalibrated"], 0.975)),
        ],
        "coverage": coverage,
    }


def quantile_scores(
    y: np.ndarray, forecast: np.ndarray, pooled: np.ndarray, groups: np.ndarray, quantiles, n_boot: int, seed: int
) -> dict:
    """Pinball loss of ``forecast`` against the ``pooled`` forecast, with a firm-bootstrap interval, and coverage.

    ``y`` is the realised log growth (n,), ``forecast`` the (n, len(quantiles)) quantiles, ``pooled``
    one row of unconditional quantiles (len(quantiles),); ``quantiles`` must hold 0.1, 0.25, 0.75
    and 0.9 for the 80% and 50% central bands. Bootstrap samples resample whole firms (``groups``).
    """
    quantiles = tuple(quantiles)
    index = {q: i for i, q in enumerate(quantiles)}
    pooled_rows = np.tile(np.asarray(pooled, dtype="float64"), (len(y), 1))

    def loss(values, rows) -> float:
        return float(np.mean(pinball_rows(y[rows], values[rows], quantiles)))

    everything = np.arange(len(y))
    ratios = [
        loss(forecast, rows) / loss(pooled_rows, rows)
        for rows in bootstrap_samples(np.zeros(len(y)), groups, n_boot, seed, require_both=False)
    ]
    return {
        "n": len(y),
        "pinball_model": loss(forecast, everything),
        "pinball_pooled": loss(pooled_rows, everything),
        "pinball_ratio": loss(forecast, everything) / loss(pooled_rows, everything),
        "pinball_ratio_ci": [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))],
        "coverage_50": float(np.mean((y >= forecast[:, index[0.25]]) & (y <= forecast[:, index[0.75]]))),
        "coverage_80": float(np.mean((y >= forecast[:, index[0.1]]) & (y <= forecast[:, index[0.9]]))),
    }


def engine_growth(
    firms: pd.DataFrame,
    financials: pd.DataFrame,
    query_keys: pd.DataFrame,
    held_out: set,
    origin: int,
    settings,
    n_boot: int,
) -> dict:
    """The growth-path engine end to end, as a round runs it, scored out of time on held-out firms.

    Features come from ``FeatureBuilder`` (the round's indicators) on statements up to ``origin``
    only, so no outcome after ``origin`` exists while fitting; ``GrowthPathModel`` (settings
    ``settings.growth_paths``, seed ``settings.seed``) is fitted on the firms not in ``held_out``
    at as-of ``origin`` and forecasts the ``query_keys`` firms (``firm_id``; held-out firms filing
    in ``origin``) for horizon ``growth_paths.horizon`` with the configured method. The truth is
    the realised log revenue growth from the full ``financials``. The pooled forecast is the
    engine's own reference: the fit pool's unconditional quantiles of the same outcome.
    Returns ``quantile_scores`` figures plus the method used and the row counts.
    """
    g = settings.growth_paths
    k = g.horizon
    known = financials[financials["fiscal_year"] <= origin]
    rows = panel_rows(firms, known)
    features = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows).transform(rows)
    history = history_table(features, known, k)
    pool = history[~history["firm_id"].isin(held_out)]
    model = GrowthPathModel(g, settings.seed).fit(pool, as_of=origin)
    if k not in model.horizons_:
        raise ValueError(f"the growth-path engine has no horizon {k} at origin {origin}: too few peers")
    wanted = set(query_keys["firm_id"]) & held_out
    queries = history[(history["fiscal_year"] == origin) & history["firm_id"].isin(wanted)]
    frame = model.predict(queries)[k]["frame"]
    truth = outcome_table(financials, k)
    actual = frame[["firm_id", "fiscal_year"]].merge(truth, on=["firm_id", "fiscal_year"], how="left")[
        f"log_growth_{k}"
    ]
    keep = actual.notna().to_numpy()
    quantiles = tuple(g.quantiles)
    forecast = method_quantiles(frame, g.method, quantiles)[keep]
    scores = quantile_scores(
        actual.to_numpy(dtype="float64")[keep],
        forecast,
        model.horizons_[k].reference,
        frame["firm_id"].to_numpy()[keep],
        quantiles,
        n_boot,
        settings.seed,
    )
    method = str(frame["auto_method"].iloc[0]) if g.method == "auto" and len(frame) else g.method
    return {
        **scores,
        "method": method,
        "horizon": k,
        "origin": origin,
        "pool_rows": int(pool[f"log_growth_{k}"].notna().sum()),
        "shrinkage_weight": float(model.horizons_[k].shrinkage),
    }


def evaluate(firms: pd.DataFrame, financials: pd.DataFrame, design: Design, settings=None) -> tuple[dict, pd.DataFrame]:
    """Run the whole evaluation; returns (results, test-firm predictions).

    With ``settings`` (``jumpup.settings.Settings``) the growth-path engine is also run end to end
    on the test firms at the test origin (``engine_growth``; results under ``growth_engine``).
    """
    rows = build_rows(firms, financials, design)
    test_firms = split_firms(rows["firm_id"], design)
    eligible = rows["revenue"] >= design.min_start_revenue_won
    is_test = rows["firm_id"].isin(test_firms)
    fit = rows[eligible & ~is_test & rows["fiscal_year"].between(design.fit_first_origin, design.fit_last_origin)]
    fit = fit[fit["label"].notna()]
    test = rows[eligible & is_test & (rows["fiscal_year"] == design.test_origin) & rows["label"].notna()]
    splits = validation_splits(rows, test_firms, design)
    validation_fit, validation = splits.origin
    plain, full = list(PLAIN_RATIOS), [*PLAIN_RATIOS, *EXTRA, *HISTORY, *PEERS]
    chosen = {}
    for name, columns in (("full_lgbm", full), ("plain_lgbm", plain)):
        params, aucs = choose_params(splits, columns, design.seed)
        chosen[name] = {"params": params, "validation_auc": aucs, "chosen": max(aucs, key=lambda a: a["mean"])}
    blend, blend_aucs = choose_blend(splits, full, design.seed, chosen["full_lgbm"]["params"])
    chosen["graded"] = {
        "params": blend,
        "validation_auc": blend_aucs,
        "chosen": blend_aucs[f"C={blend['c']} w={blend['weight']}"],
    }
    full_gbm = _gbm(fit, test, full, design.seed, chosen["full_lgbm"]["params"])
    scorecard = scorecard_probabilities(fit, test, full, blend["c"])
    scores = {
        "graded": blend_probabilities(full_gbm, scorecard, blend["weight"]),
        "full_lgbm": full_gbm,
        "scorecard_full": scorecard,
        "plain_lgbm": _gbm(fit, test, plain, design.seed, chosen["plain_lgbm"]["params"]),
        "plain_lgbm_default": _gbm(fit, test, plain, design.seed, {}),
        "logistic": _logistic(fit, test, plain),
        "past_growth": test["revenue_cagr_3y_past"].fillna(test["revenue_cagr_3y_past"].median()).to_numpy(),
    }
    y = test["label"].to_numpy(dtype=int)
    results = {
        "design": design.__dict__,
        "fit_rows": len(fit),
        "fit_firms": int(fit["firm_id"].nunique()),
        "fit_base_rate": float(fit["label"].mean()),
        "test_rows": len(test),
        "test_base_rate": float(y.mean()),
        "validation_fit_rows": len(validation_fit),
        "validation_rows": len(validation),
        "cross_firm_fit_rows": [len(f) for f, _ in splits.folds],
        "cross_firm_rows": [len(j) for _, j in splits.folds],
        "firms_in_panel": int(rows["firm_id"].nunique()),
        "test_firms_overlap_fit": len(
            set(test["firm_id"])
            & set().union(fit["firm_id"], validation_fit["firm_id"], *(f["firm_id"] for f, _ in splits.folds))
        ),
        "chosen_params": chosen,
        "param_grid": [dict(p) for p in PARAM_GRID],
        "blend_grid": {"scorecard_c": list(SCORECARD_C_GRID), "weight": list(BLEND_WEIGHTS)},
        "auc": paired_bootstrap(y, scores, test["firm_id"].to_numpy(), design.n_boot, design.seed),
        "growth_quantiles": growth_quantiles(fit, test, validation_fit, validation, full, design.seed, design.n_boot),
        "features_plain": plain,
        "features_full": full,
    }
    if settings is not None:
        results["growth_engine"] = engine_growth(
            firms, financials, test[["firm_id"]], test_firms, design.test_origin, settings, design.n_boot
        )
    predictions = test[["firm_id", "fiscal_year", "label"]].assign(**{k: v for k, v in scores.items()})
    return results, predictions.reset_index(drop=True)
