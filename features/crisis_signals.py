"""Crisis-sign indicators (위기징후 지표) of audited firms, one row per firm-year, point in time.

Every value for fiscal year t reads rows of years <= t of the same firm only, so the table can be
built for one firm at a time (Spark ``applyInPandas`` grouped by firm gives the same numbers as
the whole panel at once). Inputs: panel rows (financials joined with the firm's attributes) with
``firm_id``, ``fiscal_year`` and any of the TS-2000 items (amounts in won); an absent item gives a
missing indicator, never an error.

``PLAIN_RATIOS`` are the ten plain ratios the baselines use (the same definitions as the TS-2000
growth evaluation). ``SIGNALS`` add the firm's recent history of interest coverage, audit opinions,
losses and cash flow: 한계기업 (interest coverage below 1 for 3 years, Bank of Korea) and
non-clean audit opinions are the classic early-warning signs, and their run-up is what a crisis
model reads. The industry code is the row of the firm's TS-2000 industry group in
``data/reference/ts2000_industry_groups.csv`` (stable across panels; missing when not listed).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from jumpup.features.ratios import growth, lag, safe_ratio, sort_panel
from jumpup.features.real_items import PLAIN_RATIOS, STATEMENT_ITEMS, real_item_indicators
from jumpup.reference import table_version

KEY = ["firm_id", "fiscal_year"]
SIGNALS = (
    "coverage_log",
    "coverage_log_prev_1y",
    "coverage_log_prev_2y",
    "coverage_log_min_3y",
    "coverage_log_change",
    "coverage_years_below_1_of_3",
    "no_interest_expense",
    "audit_opinion_not_clean",
    "audit_not_clean_years_of_3",
    "audit_opinion_missing",
    "operating_loss_years_of_3",
    "net_loss_years_of_3",
    "negative_cash_flow_years_of_3",
    "operating_margin_change",
    "revenue_growth_prev_1y",
    "history_years",
    "year_end_not_december",
    "industry_code",
    "net_finance_coverage_log",
    "pretax_margin",
    "cost_of_sales_ratio",
    "audit_opinion_uncertainty",
    "short_fiscal_year",
    "revenue_growth_2y",
)
FEATURES = (*PLAIN_RATIOS, *SIGNALS)
# Korean names (for reasons and reports), one per feature.
FEATURE_KO = {
    "revenue_growth_1y": "매출 증가율",
    "revenue_cagr_3y_past": "3년 매출 연평균 증가율",
    "operating_margin": "영업이익률",
    "net_margin": "순이익률",
    "gross_margin": "매출총이익률",
    "sga_ratio": "판관비율",
    "cash_flow_margin": "영업현금흐름 비율",
    "interest_coverage_clipped": "이자보상배율",
    "log_revenue": "매출 규모",
    "operating_income_growth": "영업이익 증가율",
    "coverage_log": "이자보상배율(로그)",
    "coverage_log_prev_1y": "전년 이자보상배율",
    "coverage_log_prev_2y": "전전년 이자보상배율",
    "coverage_log_min_3y": "3년 최저 이자보상배율",
    "coverage_log_change": "이자보상배율 변화",
    "coverage_years_below_1_of_3": "최근 3년 이자보상배율 1 미만 연수",
    "no_interest_expense": "이자비용 없음",
    "audit_opinion_not_clean": "비적정 감사의견",
    "audit_not_clean_years_of_3": "최근 3년 비적정 감사의견 연수",
    "audit_opinion_missing": "감사의견 미확인",
    "operating_loss_years_of_3": "최근 3년 영업손실 연수",
    "net_loss_years_of_3": "최근 3년 순손실 연수",
    "negative_cash_flow_years_of_3": "최근 3년 영업현금흐름 적자 연수",
    "operating_margin_change": "영업이익률 변화",
    "revenue_growth_prev_1y": "전년 매출 증가율",
    "history_years": "재무자료 연수",
    "year_end_not_december": "12월 외 결산",
    "industry_code": "업종군",
    "net_finance_coverage_log": "이자보상배율(순금융비용)",
    "pretax_margin": "세전이익률",
    "cost_of_sales_ratio": "매출원가율",
    "audit_opinion_uncertainty": "계속기업 불확실성 감사의견",
    "short_fiscal_year": "12개월 미만 회계연도",
    "revenue_growth_2y": "2년 매출 증가율",
}
# TS-2000 opinion codes that cite an uncertainty (going concern): 한정(불확실성), 의견거절(불확실성).
UNCERTAINTY_OPINIONS = ("QU", "DU")
ITEMS = (
    *STATEMENT_ITEMS,
    "audit_opinion_clean",
    "fiscal_year_end_month",
    "interest_coverage_net_finance",
    "pretax_income",
    "cost_of_sales",
    "fiscal_months",
)


@lru_cache(maxsize=1)
def industry_codes() -> dict[str, float]:
    """TS-2000 industry group -> its row in the versioned reference table (a stable numeric code)."""
    table = pd.read_csv(table_version("ts2000_industry_groups").path, dtype=str)
    return {group: float(i) for i, group in enumerate(table["industry_group"])}


def _num(panel: pd.DataFrame, name: str) -> pd.Series:
    if name not in panel:
        return pd.Series(np.nan, index=panel.index, dtype="float64")
    return pd.to_numeric(panel[name], errors="coerce").astype("float64")


def _signed_log(x: pd.Series) -> pd.Series:
    return np.sign(x) * np.log1p(x.abs())


def _years_of_3(flag: pd.Series, frame: pd.DataFrame) -> pd.Series:
    """How many of years t, t-1, t-2 have ``flag`` = 1 (missing years count as 0; all missing -> NaN)."""
    f = frame.assign(_f=flag.to_numpy())
    prior = lag(f, ["_f"], 1)["_f"]
    prior2 = lag(f, ["_f"], 2)["_f"]
    stacked = pd.concat([flag, prior, prior2], axis=1)
    return stacked.sum(axis=1, min_count=1)


def crisis_signals(rows: pd.DataFrame, marginal_years: int = 3) -> pd.DataFrame:
    """Crisis indicators for every firm-year of ``rows``.

    Shapes: in, one row per firm-year (unique ``firm_id``, ``fiscal_year``; optional items as in
    ``ITEMS`` and ``industry_group``); out, one row per firm-year sorted by firm and year with
    ``firm_id``, ``fiscal_year`` (int64) and ``FEATURES`` (float64; ratios unitless, log revenue
    in ln(won), counts in years). Errors: ``ValueError`` when a firm-year repeats.
    """
    if rows.duplicated(KEY).any():
        first = rows[rows.duplicated(KEY)].iloc[0]
        raise ValueError(f"panel rows repeat firm {first['firm_id']} year {first['fiscal_year']}")
    panel = sort_panel(rows.assign(fiscal_year=rows["fiscal_year"].astype("int64")))
    num = {c: _num(panel, c) for c in ITEMS}
    frame = panel[KEY].assign(**num)
    prior = lag(frame, ["revenue", "operating_income"], 1)
    prior2 = lag(frame, ["revenue"], 2)["revenue"]
    prior3 = lag(frame, ["revenue"], 3)["revenue"]
    revenue = num["revenue"]
    out = pd.DataFrame({"firm_id": panel["firm_id"].astype(str).to_numpy(), "fiscal_year": panel["fiscal_year"]})
    out["revenue_growth_1y"] = growth(revenue, prior["revenue"])
    base = safe_ratio(revenue, prior3)
    out["revenue_cagr_3y_past"] = np.power(base.where(base > 0), 1 / 3) - 1
    out["operating_margin"] = safe_ratio(num["operating_income"], revenue)
    out["net_margin"] = safe_ratio(num["net_income"], revenue)
    out["gross_margin"] = safe_ratio(num["gross_profit"], revenue)
    out["sga_ratio"] = safe_ratio(num["sga_expense"], revenue)
    out["cash_flow_margin"] = safe_ratio(num["operating_cash_flow"], revenue)
    no_interest = num["no_interest_expense"] == 1
    coverage = num["interest_coverage"].clip(-50, 50).where(~no_interest, 50.0)
    out["interest_coverage_clipped"] = coverage
    out["log_revenue"] = np.log(revenue.where(revenue > 0))
    out["operating_income_growth"] = (
        (num["operating_income"] - prior["operating_income"])
        / prior["operating_income"].abs().where(prior["operating_income"] != 0)
    ).clip(-10, 10)

    # Interest coverage history (no interest expense counts as the cap, 50).
    log_cov = _signed_log(coverage)
    cov_frame = frame.assign(_c=log_cov.to_numpy())
    out["coverage_log"] = log_cov
    out["coverage_log_prev_1y"] = lag(cov_frame, ["_c"], 1)["_c"]
    out["coverage_log_prev_2y"] = lag(cov_frame, ["_c"], 2)["_c"]
    out["coverage_log_min_3y"] = out[["coverage_log", "coverage_log_prev_1y", "coverage_log_prev_2y"]].min(axis=1)
    out["coverage_log_change"] = out["coverage_log"] - out["coverage_log_prev_1y"]
    risk = real_item_indicators(panel, marginal_years)
    out["coverage_years_below_1_of_3"] = _years_of_3(risk["interest_coverage_below_1"], frame)
    out["no_interest_expense"] = num["no_interest_expense"]
    out["audit_opinion_not_clean"] = risk["audit_opinion_not_clean"].to_numpy()
    out["audit_not_clean_years_of_3"] = _years_of_3(risk["audit_opinion_not_clean"], frame)
    out["audit_opinion_missing"] = num["audit_opinion_clean"].isna().astype("float64")
    loss = (num["operating_income"] < 0).astype("float64").where(num["operating_income"].notna())
    out["operating_loss_years_of_3"] = _years_of_3(loss, frame)
    net_loss = (num["net_income"] < 0).astype("float64").where(num["net_income"].notna())
    out["net_loss_years_of_3"] = _years_of_3(net_loss, frame)
    negative_cash = (num["operating_cash_flow"] < 0).astype("float64").where(num["operating_cash_flow"].notna())
    out["negative_cash_flow_years_of_3"] = _years_of_3(negative_cash, frame)
    prior_margin = safe_ratio(prior["operating_income"], prior["revenue"])
    out["operating_margin_change"] = (out["operating_margin"] - prior_margin).clip(-5, 5)
    out["revenue_growth_prev_1y"] = growth(prior["revenue"], prior2)
    out["history_years"] = (out.groupby("firm_id").cumcount() + 1).astype("float64")
    month = num["fiscal_year_end_month"]
    out["year_end_not_december"] = (month != 12).astype("float64").where(month.notna())
    groups = panel["industry_group"] if "industry_group" in panel else pd.Series(None, index=panel.index)
    out["industry_code"] = groups.map(industry_codes()).astype("float64")
    net_finance = num["interest_coverage_net_finance"]
    out["net_finance_coverage_log"] = _signed_log(net_finance.where(net_finance.abs() < 999999998, 50.0).clip(-50, 50))
    out["pretax_margin"] = safe_ratio(num["pretax_income"], revenue)
    out["cost_of_sales_ratio"] = safe_ratio(num["cost_of_sales"], revenue)
    opinion = panel["audit_opinion"].astype(object) if "audit_opinion" in panel else pd.Series(None, index=panel.index)
    out["audit_opinion_uncertainty"] = opinion.isin(UNCERTAINTY_OPINIONS).astype("float64").where(opinion.notna())
    months = num["fiscal_months"]
    out["short_fiscal_year"] = (months < 12).astype("float64").where(months.notna())
    out["revenue_growth_2y"] = growth(revenue, prior2)
    out["fiscal_year"] = out["fiscal_year"].astype("int64")
    out[list(FEATURES)] = out[list(FEATURES)].astype("float64")
    return out.reset_index(drop=True)
