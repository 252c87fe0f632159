"""Firm-level indicators (경영성과, 기술성, 활동성, 인적효율성) as pure, vectorised functions.

Point-in-time by construction: the row for (firm, t) reads only that firm's rows for years
t, t-1, …; lags are matched on the fiscal year, never on row position, so a missing year gives
a missing lag instead of silently reaching further back. Every division guards against zero or
negative denominators, and results are clipped to the fixed limits in ``params.yaml``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.features.registry import INDICATORS
from jumpup.settings import FeatureSettings

KEY = ["firm_id", "fiscal_year"]
# Optional panel inputs the indicators read (revenue is required). A firm lacking one in the scored
# year has the indicators built from it missing; scores name these inputs (``missing_inputs``).
OPTIONAL_INPUTS: tuple[str, ...] = (
    "operating_income",
    "net_income",
    "operating_cash_flow",
    "total_assets",
    "total_equity",
    "employees",
    "rd_expense",
    "personnel_expense",
    "patents_granted",
    "patent_disclosed",
    "certifications",
    "founded_year",
)


def sort_panel(financials: pd.DataFrame) -> pd.DataFrame:
    return financials.sort_values(KEY, kind="stable").reset_index(drop=True)


def lag(frame: pd.DataFrame, columns: list[str], years: int) -> pd.DataFrame:
    """Values of ``columns`` from the same firm exactly ``years`` fiscal years earlier (else NaN).

    ``frame`` must be sorted by firm and year with unique keys. Looks back up to ``years`` rows,
    so gaps in the panel are handled without a join.
    """
    firm = frame["firm_id"].to_numpy()
    year = frame["fiscal_year"].to_numpy(dtype=np.int64)
    result = pd.DataFrame(np.nan, index=frame.index, columns=columns, dtype="float64")
    found = np.zeros(len(frame), dtype=bool)
    for step in range(1, years + 1):
        if step >= len(frame):
            break
        same_firm = np.zeros(len(frame), dtype=bool)
        same_firm[step:] = firm[step:] == firm[:-step]
        prior_year = np.full(len(frame), -1, dtype=np.int64)
        prior_year[step:] = year[:-step]
        hit = same_firm & (prior_year == year - years) & ~found
        if hit.any():
            rows = np.flatnonzero(hit)
            for column in columns:
                values = frame[column].to_numpy(dtype="float64", na_value=np.nan)
                result.loc[rows, column] = values[rows - step]
            found |= hit
    return result


def safe_ratio(numerator: pd.Series, denominator: pd.Series, positive_denominator: bool = True) -> pd.Series:
    """numerator / denominator, missing (not inf) when the denominator is zero (or <= 0)."""
    numerator = numerator.astype("float64")
    denominator = denominator.astype("float64")
    valid = denominator > 0 if positive_denominator else denominator != 0
    return (numerator / denominator.where(valid)).astype("float64")


def growth(current: pd.Series, prior: pd.Series) -> pd.Series:
    """current / prior - 1, defined only for a positive prior base."""
    return safe_ratio(current, prior) - 1.0


def average_balance(current: pd.Series, prior: pd.Series) -> pd.Series:
    """Average of this and last year-end balance; this year's alone when last year is absent."""
    return ((current + prior) / 2.0).where(prior.notna(), current)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name].astype("float64")
    return pd.Series(np.nan, index=frame.index, dtype="float64")


def certification_count(certifications: pd.Series) -> pd.Series:
    """Number of ';'-separated certifications; 'none' means zero; missing stays missing."""
    text = certifications.astype("string").str.strip().str.lower().str.strip(";")
    items = (text.str.count(";") + 1).to_numpy(dtype="float64", na_value=np.nan)
    count = pd.Series(items, index=certifications.index)
    return count.where((text != "none").to_numpy(dtype=bool, na_value=True), 0.0)


def firm_indicators(financials: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
    """Management, technology, activity and human-efficiency indicators for each firm-year.

    Input: the accepted financials (amounts in won), any order. Output: one row per firm-year
    with the key and the indicators of those four families, clipped to the fixed limits.
    """
    panel = sort_panel(financials)
    used = (
        "revenue",
        "operating_income",
        "net_income",
        "operating_cash_flow",
        "total_assets",
        "total_equity",
        "employees",
        "rd_expense",
        "personnel_expense",
        "patents_granted",
        "patent_disclosed",
    )
    # Optional inputs a panel lacks become missing columns, so every indicator is defined (as missing).
    panel = panel.assign(**{name: np.nan for name in used if name not in panel})
    f = {name: _column(panel, name) for name in used}
    prior = lag(
        panel,
        ["revenue", "operating_income", "total_assets", "total_equity", "rd_expense", "personnel_expense", "employees"],
        1,
    )
    # A year is compared with the one before only on the same statement basis and 12 months on:
    # across a consolidated/separate switch or a fiscal year-end change every growth rate and
    # average balance would mix two kinds of figure, so the prior year counts as absent.
    comparable = comparable_with_prior(panel)
    prior = prior.where(comparable, np.nan)
    chain = pd.concat(
        [comparable, *(lag(panel.assign(c=comparable.astype("float64")), ["c"], k)["c"] == 1 for k in (1, 2))], axis=1
    ).all(axis=1)
    revenue_3y = lag(panel.assign(revenue=f["revenue"]), ["revenue"], 3)["revenue"].where(chain)

    out = pd.DataFrame({"firm_id": panel["firm_id"], "fiscal_year": panel["fiscal_year"].astype("int64")})
    out["revenue_growth_1y"] = growth(f["revenue"], prior["revenue"])
    cagr_base = safe_ratio(f["revenue"], revenue_3y)
    out["revenue_cagr_3y"] = np.power(cagr_base.where(cagr_base > 0), 1.0 / 3.0) - 1.0
    out["operating_margin"] = safe_ratio(f["operating_income"], f["revenue"])
    out["net_margin"] = safe_ratio(f["net_income"], f["revenue"])
    assets_avg = average_balance(f["total_assets"], prior["total_assets"])
    equity_avg = average_balance(f["total_equity"], prior["total_equity"])
    out["roa"] = safe_ratio(f["net_income"], assets_avg)
    # Equity that changed sign has no meaningful average: ROE is undefined, not a small-base ratio.
    equity_sign_ok = (f["total_equity"] > 0) & ~(prior["total_equity"] <= 0)
    out["roe"] = safe_ratio(f["net_income"], equity_avg).where(equity_sign_ok)
    out["operating_income_growth"] = (f["operating_income"] - prior["operating_income"]) / prior[
        "operating_income"
    ].abs().where(prior["operating_income"] != 0)
    out["cash_flow_margin"] = safe_ratio(f["operating_cash_flow"], f["revenue"])
    out["asset_growth_1y"] = growth(f["total_assets"], prior["total_assets"])
    out["equity_ratio"] = safe_ratio(f["total_equity"], f["total_assets"])
    out["negative_equity"] = (f["total_equity"] < 0).astype("float64").where(f["total_equity"].notna())

    out["rd_intensity"] = safe_ratio(f["rd_expense"], f["revenue"]).where(f["rd_expense"].notna())
    out["rd_growth"] = growth(f["rd_expense"], prior["rd_expense"])
    patents = pd.concat(
        [f["patents_granted"], *(lag(panel.assign(p=f["patents_granted"]), ["p"], k)["p"] for k in (1, 2))], axis=1
    )
    out["patents_granted_3y"] = patents.sum(axis=1, min_count=1)
    out["patent_disclosed"] = f["patent_disclosed"]
    out["certification_count"] = (
        certification_count(panel["certifications"])
        if "certifications" in panel
        else pd.Series(np.nan, index=panel.index)
    )

    out["asset_turnover"] = safe_ratio(f["revenue"], assets_avg)
    out["equity_turnover"] = safe_ratio(f["revenue"], equity_avg).where(equity_sign_ok)
    out["hiring_growth"] = _annualised_headcount_growth(panel, f["employees"], settings.employee_gap_max_years)
    wage = safe_ratio(f["personnel_expense"], f["employees"])
    prior_wage = safe_ratio(prior["personnel_expense"], prior["employees"])
    out["wage_growth"] = growth(wage, prior_wage)

    out["revenue_per_employee"] = safe_ratio(f["revenue"], f["employees"])
    out["value_added_per_employee"] = safe_ratio(f["operating_income"] + f["personnel_expense"], f["employees"])
    out["personnel_cost_per_employee"] = wage
    return clip_to_limits(out, settings)


def comparable_with_prior(panel: pd.DataFrame) -> pd.Series:
    """True where a firm-year may be compared with the firm's previous fiscal year.

    ``panel`` sorted by firm and year. False when ``statement_basis`` (consolidated / separate)
    differs from last year's, or when ``period_end`` lies outside 11–13 months after last year's
    (a fiscal year-end change, 결산기 변경). Missing basis or period end counts as comparable.
    """
    comparable = pd.Series(True, index=panel.index)
    if "statement_basis" in panel:
        codes = (
            panel["statement_basis"]
            .astype("string")
            .str.strip()
            .str.lower()
            .map({"separate": 0.0, "consolidated": 1.0})
        )
        code = pd.Series(codes.to_numpy(dtype="float64", na_value=np.nan), index=panel.index)
        before = lag(panel.assign(b=code), ["b"], 1)["b"]
        comparable &= ~(code.notna() & before.notna() & (code != before))
    if "period_end" in panel:
        end = pd.to_datetime(panel["period_end"], errors="coerce")
        months = pd.Series(
            (end.dt.year * 12 + end.dt.month).to_numpy(dtype="float64", na_value=np.nan), index=panel.index
        )
        before = lag(panel.assign(m=months), ["m"], 1)["m"]
        gap = months - before
        comparable &= ~(gap.notna() & ((gap < 11) | (gap > 13)))
    return comparable


def _annualised_headcount_growth(panel: pd.DataFrame, employees: pd.Series, max_gap: int) -> pd.Series:
    """Growth from the latest earlier headcount within ``max_gap`` years, annualised."""
    result = pd.Series(np.nan, index=panel.index, dtype="float64")
    source = panel.assign(e=employees)
    for gap in range(1, max_gap + 1):
        earlier = lag(source, ["e"], gap)["e"]
        fill = result.isna() & earlier.notna() & (earlier > 0) & (employees > 0)
        result[fill] = np.power(employees[fill] / earlier[fill], 1.0 / gap) - 1.0
    return result


def clip_to_limits(frame: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
    """Clip each indicator to its fixed limits; an infinite value can never survive this."""
    limits = settings.winsor.model_dump()
    for indicator in INDICATORS:
        if indicator.name in frame and indicator.winsor:
            low, high = limits[indicator.winsor]
            column = frame[indicator.name].replace([np.inf, -np.inf], np.nan)
            frame[indicator.name] = column.clip(low, high)
    return frame
