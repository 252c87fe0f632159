"""Indicators on items the outside sources add: intangible investment, reported value added,
payroll per employee, and the risk signals of audited firms (non-clean audit opinion, 한계기업).

All are point-in-time: the value for fiscal year t uses rows of years ≤ t of the same firm only.
Inputs are the panel's financials (amounts in won) with any of the optional columns below; a
column that is absent gives a missing indicator, never an error.

| input column | from |
|---|---|
| capex_intangible, intangible_assets | FnGuide (무형자산의증가, 무형자산) |
| value_added, employees | TS-2000 ratio exports (부가가치, 종업원수) |
| payroll, employees | DART 직원현황 |
| personnel_expense_sga, employees | FnGuide (인건비: personnel cost within SG&A only) |
| audit_opinion_clean | TS-2000 감사의견코드 (1 = UQ, 적정) |
| interest_coverage, no_interest_expense | TS-2000 이자보상배율(이자비용) and its 999999999 sentinel |

한계기업 (marginal firm): interest coverage below 1 in each of ``marginal_years`` consecutive
fiscal years ending at t (Bank of Korea's definition uses three years). A year without interest
expense counts as coverage ≥ 1; a missing coverage breaks the run (not known, so not counted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.features.ratios import growth, lag, safe_ratio, sort_panel

# The statement items the plain ratios are computed from (TS-2000 growth and crisis evaluations).
STATEMENT_ITEMS = (
    "revenue",
    "operating_income",
    "net_income",
    "gross_profit",
    "sga_expense",
    "operating_cash_flow",
    "interest_coverage",
    "no_interest_expense",
)

# The ten plain ratios the out-of-time baselines use (TS-2000 growth and crisis evaluations): the
# plain LightGBM and logistic models are fitted on these alone, next to the full models.
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


OUTPUTS = (
    "intangible_investment_intensity",
    "intangible_asset_share_growth",
    "value_added_per_employee_reported",
    "payroll_per_employee",
    "sga_personnel_cost_per_employee",
    "payroll_growth",
    "headcount_growth_1y",
    "audit_opinion_not_clean",
    "interest_coverage_below_1",
    "years_interest_coverage_below_1",
    "marginal_firm",
)


def _col(panel: pd.DataFrame, name: str) -> pd.Series:
    if name not in panel:
        return pd.Series(np.nan, index=panel.index, dtype="float64")
    return pd.to_numeric(panel[name], errors="coerce").astype("float64")


def consecutive_run(flag: pd.Series, firm: pd.Series, year: pd.Series) -> pd.Series:
    """Length of the run of flag == 1 ending at each row, over consecutive fiscal years of one firm.

    ``flag`` is 1, 0 or missing; missing and 0 end a run (the run at that row is 0, or missing
    when the flag is missing). Rows must be sorted by firm and year.
    """
    values = flag.to_numpy(dtype="float64")
    firms = firm.to_numpy()
    years = year.to_numpy(dtype=np.int64)
    on = values == 1
    index = np.arange(len(values))
    continues = np.zeros(len(values), dtype=bool)
    continues[1:] = on[1:] & on[:-1] & (firms[1:] == firms[:-1]) & (years[1:] == years[:-1] + 1)
    # A run starts where the flag is on and does not continue the row before; its length at a row is
    # the distance from the latest start (vectorised: the panel has about 200,000 firm-years).
    latest_start = np.maximum.accumulate(np.where(on & ~continues, index, -1))
    run = np.where(on, index - latest_start + 1, 0).astype("float64")
    result = pd.Series(run, index=flag.index)
    return result.where(~np.isnan(values))


def real_item_indicators(financials: pd.DataFrame, marginal_years: int = 3) -> pd.DataFrame:
    """One row per firm-year: key plus ``OUTPUTS`` (ratios, 0/1 flags and year counts).

    Shapes: in, one row per firm-year with firm_id, fiscal_year and optional items; out, the
    same rows sorted by firm and year. Errors: none for absent columns (indicator missing).
    """
    if marginal_years < 1:
        raise ValueError(f"marginal_years must be at least 1, got {marginal_years}")
    panel = sort_panel(financials)
    revenue = _col(panel, "revenue")
    employees = _col(panel, "employees")
    prior = lag(
        panel.assign(
            payroll=_col(panel, "payroll"), employees=employees, intangible_assets=_col(panel, "intangible_assets")
        ),
        ["payroll", "employees", "intangible_assets", "revenue"],
        1,
    )
    out = pd.DataFrame({"firm_id": panel["firm_id"].to_numpy(), "fiscal_year": panel["fiscal_year"].astype("int64")})
    out["intangible_investment_intensity"] = safe_ratio(_col(panel, "capex_intangible"), revenue)
    share = safe_ratio(_col(panel, "intangible_assets"), revenue)
    prior_share = safe_ratio(prior["intangible_assets"], prior["revenue"])
    out["intangible_asset_share_growth"] = share - prior_share
    out["value_added_per_employee_reported"] = safe_ratio(_col(panel, "value_added"), employees)
    pay = safe_ratio(_col(panel, "payroll"), employees)
    out["payroll_per_employee"] = pay
    # FnGuide's 인건비 covers SG&A staff only: kept apart from a full personnel cost, never mixed with it.
    out["sga_personnel_cost_per_employee"] = safe_ratio(_col(panel, "personnel_expense_sga"), employees)
    out["payroll_growth"] = growth(_col(panel, "payroll"), prior["payroll"])
    out["headcount_growth_1y"] = growth(employees, prior["employees"])

    clean = _col(panel, "audit_opinion_clean")
    out["audit_opinion_not_clean"] = (1.0 - clean).where(clean.notna())
    coverage = _col(panel, "interest_coverage")
    no_interest = _col(panel, "no_interest_expense")
    below = pd.Series(np.nan, index=panel.index)
    below[coverage.notna()] = (coverage[coverage.notna()] < 1).astype(float)
    below[no_interest == 1] = 0.0
    out["interest_coverage_below_1"] = below
    run = consecutive_run(below, panel["firm_id"], panel["fiscal_year"])
    out["years_interest_coverage_below_1"] = run
    out["marginal_firm"] = (run >= marginal_years).astype(float).where(run.notna())
    return out.reset_index(drop=True)
