"""Indicators on real items: intangible investment, payroll per employee, audit and 한계기업 signals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.features.real_items import consecutive_run, real_item_indicators


def _panel() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "firm_id": ["A"] * 5 + ["B"] * 3,
            "fiscal_year": [2015, 2016, 2017, 2018, 2020, 2016, 2017, 2018],
            "revenue": [100.0, 100, 100, 100, 100, 50, 50, 50],
            "interest_coverage": [0.5, 0.8, 0.9, np.nan, 0.2, 0.5, np.nan, 0.7],
            "no_interest_expense": [0, 0, 0, 1, 0, 0, np.nan, 0],
            "audit_opinion_clean": [1, 1, 0, np.nan, 1, 1, 1, 1],
            "capex_intangible": [5.0, np.nan, 10, 0, 0, 1, 1, 1],
            "payroll": [np.nan, 40.0, 44, 50, 50, 10, 10, 12],
            "employees": [np.nan, 4.0, 4, 5, 5, 2, 2, 3],
        }
    )


def test_marginal_firm_needs_three_consecutive_years_below_one():
    out = real_item_indicators(_panel(), marginal_years=3).set_index(["firm_id", "fiscal_year"])
    assert out.loc[("A", 2017), "years_interest_coverage_below_1"] == 3
    assert out.loc[("A", 2017), "marginal_firm"] == 1
    assert out.loc[("A", 2016), "marginal_firm"] == 0
    # No interest expense (the sentinel) is coverage >= 1, not a weak year.
    assert out.loc[("A", 2018), "interest_coverage_below_1"] == 0
    # A gap year (2019 absent) ends the run.
    assert out.loc[("A", 2020), "years_interest_coverage_below_1"] == 1
    # Missing coverage is not known: missing, and it breaks the run.
    assert np.isnan(out.loc[("B", 2017), "marginal_firm"])
    assert out.loc[("B", 2018), "years_interest_coverage_below_1"] == 1


def test_point_in_time_a_later_year_never_changes_an_earlier_value():
    full = real_item_indicators(_panel())
    cut = real_item_indicators(_panel()[_panel()["fiscal_year"] <= 2017])
    merged = cut.merge(full, on=["firm_id", "fiscal_year"], suffixes=("_cut", "_full"))
    for name in ("marginal_firm", "payroll_growth", "headcount_growth_1y", "years_interest_coverage_below_1"):
        pd.testing.assert_series_equal(merged[f"{name}_cut"], merged[f"{name}_full"], check_names=False)


def test_ratios_and_flags():
    out = real_item_indicators(_panel()).set_index(["firm_id", "fiscal_year"])
    assert out.loc[("A", 2017), "intangible_investment_intensity"] == pytest.approx(0.10)
    assert out.loc[("A", 2017), "audit_opinion_not_clean"] == 1
    assert np.isnan(out.loc[("A", 2018), "audit_opinion_not_clean"])
    assert out.loc[("A", 2017), "payroll_per_employee"] == pytest.approx(11.0)
    assert out.loc[("A", 2017), "payroll_growth"] == pytest.approx(0.10)
    assert out.loc[("B", 2018), "headcount_growth_1y"] == pytest.approx(0.5)


def test_absent_columns_give_missing_indicators():
    out = real_item_indicators(pd.DataFrame({"firm_id": ["A"], "fiscal_year": [2020], "revenue": [1.0]}))
    assert out.drop(columns=["firm_id", "fiscal_year"]).isna().all().all()


def test_consecutive_run_equals_a_row_by_row_count_on_random_panels():
    rng = np.random.default_rng(5)
    firm = pd.Series(np.repeat([f"F{i}" for i in range(60)], 8))
    gaps = pd.Series((rng.random(len(firm)) < 0.1).astype(int))  # a skipped fiscal year breaks a run
    year = pd.Series(np.tile(np.arange(2012, 2020), 60)) + gaps.groupby(firm).cumsum()
    flag = pd.Series(rng.choice([1.0, 0.0, np.nan], len(firm), p=[0.6, 0.25, 0.15]))
    expected = []
    for i in range(len(flag)):
        if np.isnan(flag[i]):
            expected.append(np.nan)
        elif flag[i] != 1:
            expected.append(0.0)
        else:
            chained = i > 0 and firm[i] == firm[i - 1] and year[i] == year[i - 1] + 1 and flag[i - 1] == 1
            expected.append(expected[-1] + 1 if chained else 1.0)
    got = consecutive_run(flag, firm, year)
    np.testing.assert_array_equal(got.to_numpy(), np.array(expected))
