"""The TS-2000 out-of-time evaluation: label, firm split, no fit row from a test firm or a late origin."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.models.ts2000_evaluation import Design, build_rows, evaluate


def _panel(firms: int = 300, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(firms):
        drift = rng.normal(0.05, 0.12)
        revenue = np.exp(rng.normal(22, 1))
        for year in range(2012, 2023):
            revenue *= np.exp(drift + rng.normal(0, 0.15))
            margin = drift + rng.normal(0, 0.05)
            rows.append(
                {
                    "firm_id": f"{i:06d}",
                    "fiscal_year": year,
                    "fiscal_year_end_month": 12,
                    "revenue": revenue,
                    "gross_profit": revenue * 0.3,
                    "sga_expense": revenue * 0.2,
                    "operating_income": revenue * margin,
                    "net_income": revenue * margin * 0.8,
                    "operating_cash_flow": revenue * margin,
                    "interest_coverage": rng.normal(3, 2),
                    "no_interest_expense": 0,
                    "audit_opinion_clean": 1,
                }
            )
    financials = pd.DataFrame(rows)
    firms_table = pd.DataFrame(
        {"firm_id": financials["firm_id"].unique(), "industry_group": rng.choice(["도매", "종합건설"], firms)}
    )
    return firms_table, financials


def test_label_is_cagr_above_threshold_from_the_origin():
    financials = pd.DataFrame(
        {
            "firm_id": ["A"] * 4 + ["B"] * 4,
            "fiscal_year": [2016, 2017, 2018, 2019] * 2,
            "fiscal_year_end_month": 12,
            "revenue": [1e9, 1.2e9, 1.5e9, 2.0e9, 1e9, 1.1e9, 1.2e9, 1.5e9],
            "operating_income": 1e8,
        }
    )
    firms = pd.DataFrame({"firm_id": ["A", "B"], "industry_group": ["도매", "도매"]})
    rows = build_rows(firms, financials, Design()).set_index(["firm_id", "fiscal_year"])
    assert rows.loc[("A", 2016), "label"] == 1  # (2.0)^(1/3) - 1 = 26%
    assert rows.loc[("B", 2016), "label"] == 0  # (1.5)^(1/3) - 1 = 14%
    assert np.isnan(rows.loc[("A", 2017), "label"])  # no revenue three years later
    assert np.isclose(rows.loc[("A", 2016), "log_growth_ahead"], np.log(2.0))


def test_test_firms_are_never_fitted_and_runs_repeat_exactly():
    firms, financials = _panel()
    design = Design(n_boot=20)
    results, predictions = evaluate(firms, financials, design)
    assert results["test_firms_overlap_fit"] == 0
    assert set(predictions["fiscal_year"]) == {2019}
    assert set(results["auc"]) >= {"full_lgbm", "plain_lgbm", "logistic", "past_growth", "full_lgbm_minus_plain_lgbm"}
    assert 0 < results["test_rows"] < 300
    # Growth is persistent in this panel, so the models must beat chance clearly.
    assert results["auc"]["plain_lgbm"]["auc"] > 0.6
    again, predictions_again = evaluate(firms, financials, design)
    pd.testing.assert_frame_equal(predictions, predictions_again)
    assert again["auc"] == results["auc"]
