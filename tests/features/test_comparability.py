"""Ratios across breaks in a firm's series: statement-basis switches, fiscal year-end changes and
equity that changes sign. A growth rate or a return on equity across such a break is undefined."""

from __future__ import annotations

import pandas as pd

from jumpup.features.ratios import comparable_with_prior, firm_indicators
from jumpup.settings import load_settings

FEATURES = load_settings().features


def panel(rows, columns=("firm_id", "fiscal_year", "revenue", "net_income", "total_equity")):
    return pd.DataFrame(rows, columns=list(columns))


def test_growth_is_undefined_across_a_consolidated_separate_switch():
    frame = panel(
        [
            ["a", 2020, 100.0, 1.0, 50.0, "separate"],
            ["a", 2021, 110.0, 1.0, 50.0, "separate"],
            ["a", 2022, 300.0, 1.0, 150.0, "consolidated"],  # group figures: not growth
            ["a", 2023, 330.0, 1.0, 150.0, "consolidated"],
        ],
        ("firm_id", "fiscal_year", "revenue", "net_income", "total_equity", "statement_basis"),
    )
    out = firm_indicators(frame, FEATURES).set_index("fiscal_year")
    assert abs(out.loc[2021, "revenue_growth_1y"] - 0.10) < 1e-12
    assert pd.isna(out.loc[2022, "revenue_growth_1y"])  # never 200% from mixing bases
    assert abs(out.loc[2023, "revenue_growth_1y"] - 0.10) < 1e-12
    assert pd.isna(out.loc[2023, "revenue_cagr_3y"])  # the 3-year base is separate
    # the average balance uses this year's equity alone, not a mix of both bases
    assert abs(out.loc[2022, "roe"] - 1.0 / 150.0) < 1e-12


def test_growth_is_undefined_across_a_fiscal_year_end_change():
    frame = panel(
        [
            ["b", 2022, 100.0, 1.0, 50.0, "2022-03-31"],
            ["b", 2023, 110.0, 1.0, 50.0, "2023-03-31"],
            ["b", 2024, 120.0, 1.0, 50.0, "2024-12-31"],  # 21 months after the last year end
        ],
        ("firm_id", "fiscal_year", "revenue", "net_income", "total_equity", "period_end"),
    )
    assert comparable_with_prior(frame).tolist() == [True, True, False]
    out = firm_indicators(frame, FEATURES).set_index("fiscal_year")
    assert abs(out.loc[2023, "revenue_growth_1y"] - 0.10) < 1e-12
    assert pd.isna(out.loc[2024, "revenue_growth_1y"])


def test_roe_is_undefined_when_equity_changes_sign():
    frame = panel(
        [
            ["c", 2021, 100.0, 5.0, 100.0],
            ["c", 2022, 100.0, -150.0, -20.0],  # equity turned negative
            ["c", 2023, 100.0, 30.0, 10.0],  # back above zero
            ["c", 2024, 100.0, 3.0, 20.0],
        ]
    )
    out = firm_indicators(frame, FEATURES).set_index("fiscal_year")
    # the average (100 - 20) / 2 = 40 would give ROE -375%: a misleading number, so none
    assert pd.isna(out.loc[2022, "roe"]) and pd.isna(out.loc[2022, "equity_turnover"])
    assert pd.isna(out.loc[2023, "roe"])  # average (-20 + 10) / 2 crosses zero too
    assert abs(out.loc[2024, "roe"] - 3.0 / 15.0) < 1e-12
    assert out.loc[2022, "negative_equity"] == 1.0
