"""Out-of-time evaluation on the TS-2000 audited panel: high growth and 3-year growth quantiles.

Design (issue 16): fit on origins up to ``fit_last_origin`` (default 2016, outcomes ≤ 2019) of
the fit firms; test at ``test_origin`` (default 2019, outcomes 2022) on firms never used in
fitting (a seeded split of firm ids). High growth = revenue CAGR over ``horizon`` years above
``cagr_threshold`` with revenue at the origin ≥ ``min_start_revenue_won``; firm-years below that
start revenue are not in the population, and firm-years without revenue ``horizon`` years later
are left out (a vanished firm has no observed outcome).

Models, all with fixed hyperparameters (nothing is tuned, least of all on the test firms):
- ``logistic``: logistic regression on the ten plain ratios (clipped at fit-sample 1st/99th
  percentiles, median-imputed, standardised);
- ``plain_lgbm``: LightGBM on the same ten ratios;
- ``full_lgbm``: LightGBM on the ten ratios plus growth history, industry group, industry-relative
  growth, audit opinion and interest-coverage signals (``jumpup.features.real_items``);
- ``past_growth``: the past 3-year revenue CAGR as the score.
AUCs carry firm-bootstrap percentile intervals; differences use paired draws.

Growth quantiles: quantile LightGBM (full features) for the ``horizon``-year log revenue growth
against the pooled forecast (the fit sample's unconditional quantiles); mean pinball loss over the
quantiles, their ratio, and the coverage of the central 50% and 80% bands on the test firms.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from jumpup.features.ratios import growth, lag, safe_ratio, sort_panel
from jumpup.features.real_items import real_item_indicators

PLAIN_RATIOS = (
    "revenue_growth_1y",
    "revenue_cagr_3y_past",
    "operating_margin",
    "net_margin",
    "gross_margin",
    "sga_ratio",
    "cash_flow_margin",
    "interest_coverage_clipped",
    "log_revenue",
    "operating_income_growth",
)
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


@dataclass(frozen=True)
class Design:
    fit_last_origin: int = 2016
    fit_first_origin: int = 2013
    test_origin: int = 2019
    horizon: int = 3
    cagr_threshold: float = 0.20
    min_start_revenue_won: float = 1e9
    test_share: float = 0.3
    seed: int = 20250901
    n_boot: int = 500
    marginal_years: int = 3


def build_rows(firms: pd.DataFrame, financials: pd.DataFrame, design: Design) -> pd.DataFrame:
    """One row per firm-year: features known at t, the outcome at t + horizon and the label."""
    panel = sort_panel(financials)
    items = (
        "revenue",
        "operating_income",
        "net_income",
        "gross_profit",
        "sga_expense",
        "operating_cash_flow",
        "interest_coverage",
        "no_interest_expense",
    )
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


def _gbm(fit: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int) -> np.ndarray:
    model = lgb.LGBMClassifier(**GBM_PARAMS, random_state=seed)
    model.fit(fit[columns], fit["label"].astype(int))
    return model.predict_proba(test[columns])[:, 1]


def paired_bootstrap(y: np.ndarray, scores: dict[str, np.ndarray], n_boot: int, seed: int) -> dict:
    """AUC per model and AUC differences between every pair, with percentile 95% intervals."""
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in scores}
    for _ in range(n_boot):
        index = rng.integers(0, len(y), len(y))
        if len(np.unique(y[index])) < 2:
            continue
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


def growth_quantiles(fit: pd.DataFrame, test: pd.DataFrame, columns: list[str], seed: int, n_boot: int) -> dict:
    """Quantile LightGBM against the pooled forecast on the test firms' log growth."""
    fit = fit[fit["log_growth_ahead"].notna()]
    test = test[test["log_growth_ahead"].notna()]
    y_fit, y = fit["log_growth_ahead"].to_numpy(), test["log_growth_ahead"].to_numpy()
    model_q, pooled_q = {}, {}
    for tau in QUANTILES:
        model = lgb.LGBMRegressor(**{**GBM_PARAMS, "objective": "quantile", "alpha": tau}, random_state=seed)
        model.fit(fit[columns], y_fit)
        model_q[tau] = model.predict(test[columns])
        pooled_q[tau] = np.full(len(y), np.quantile(y_fit, tau))
    # Quantile crossing: sort each firm's quantiles.
    stacked = np.sort(np.column_stack([model_q[t] for t in QUANTILES]), axis=1)
    model_q = {t: stacked[:, i] for i, t in enumerate(QUANTILES)}

    def loss(qs, index):
        return float(np.mean([pinball(y[index], qs[t][index], t) for t in QUANTILES]))

    everything = np.arange(len(y))
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(n_boot):
        index = rng.integers(0, len(y), len(y))
        ratios.append(loss(model_q, index) / loss(pooled_q, index))
    coverage = {
        "model_50": float(np.mean((y >= model_q[0.25]) & (y <= model_q[0.75]))),
        "model_80": float(np.mean((y >= model_q[0.1]) & (y <= model_q[0.9]))),
        "pooled_50": float(np.mean((y >= pooled_q[0.25]) & (y <= pooled_q[0.75]))),
        "pooled_80": float(np.mean((y >= pooled_q[0.1]) & (y <= pooled_q[0.9]))),
    }
    return {
        "n_fit": len(y_fit),
        "n_test": len(y),
        "pinball_model": loss(model_q, everything),
        "pinball_pooled": loss(pooled_q, everything),
        "pinball_ratio": loss(model_q, everything) / loss(pooled_q, everything),
        "pinball_ratio_ci": [float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))],
        "coverage": coverage,
    }


def evaluate(firms: pd.DataFrame, financials: pd.DataFrame, design: Design) -> tuple[dict, pd.DataFrame]:
    """Run the whole evaluation; returns (results, test-firm predictions)."""
    rows = build_rows(firms, financials, design)
    test_firms = split_firms(rows["firm_id"], design)
    eligible = rows["revenue"] >= design.min_start_revenue_won
    is_test = rows["firm_id"].isin(test_firms)
    fit = rows[eligible & ~is_test & rows["fiscal_year"].between(design.fit_first_origin, design.fit_last_origin)]
    fit = fit[fit["label"].notna()]
    test = rows[eligible & is_test & (rows["fiscal_year"] == design.test_origin) & rows["label"].notna()]
    plain, full = list(PLAIN_RATIOS), list(PLAIN_RATIOS) + list(EXTRA)
    scores = {
        "full_lgbm": _gbm(fit, test, full, design.seed),
        "plain_lgbm": _gbm(fit, test, plain, design.seed),
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
        "firms_in_panel": int(rows["firm_id"].nunique()),
        "test_firms_overlap_fit": len(set(test["firm_id"]) & set(fit["firm_id"])),
        "auc": paired_bootstrap(y, scores, design.n_boot, design.seed),
        "growth_quantiles": growth_quantiles(fit, test, full, design.seed, design.n_boot),
        "features_plain": plain,
        "features_full": full,
    }
    predictions = test[["firm_id", "fiscal_year", "label"]].assign(**{k: v for k, v in scores.items()})
    return results, predictions.reset_index(drop=True)
