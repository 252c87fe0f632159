"""The TS-2000 out-of-time evaluation: label, firm split, no fit row from a test firm or a late origin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.intake.ts2000 import import_ts2000
from jumpup.models.ts2000_evaluation import (
    PARAM_GRID,
    PEERS,
    PLAIN_RATIOS,
    Design,
    build_rows,
    choose_params,
    evaluate,
    group_features,
    split_firms,
    validation_sets,
)


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


def test_history_features_use_only_the_firms_own_past_years():
    financials = pd.DataFrame(
        {
            "firm_id": ["A"] * 6 + ["B"] * 2,
            "fiscal_year": [2012, 2013, 2014, 2015, 2016, 2017, 2016, 2017],
            "fiscal_year_end_month": 12,
            "revenue": [1.0e9, 1.3e9, 1.2e9, 1.8e9, 2.0e9, 3.2e9, 5e9, 5e9],
            "operating_income": 1e8,
        }
    )
    firms = pd.DataFrame({"firm_id": ["A", "B"], "industry_group": ["도매", "도매"]})
    rows = build_rows(firms, financials, Design()).set_index(["firm_id", "fiscal_year"])
    a = rows.loc[("A", 2017)]
    assert np.isclose(a["revenue_cagr_5y_past"], 3.2 ** (1 / 5) - 1)
    assert np.isclose(a["growth_min_5y"], 1.2 / 1.3 - 1)
    assert np.isclose(a["growth_max_5y"], 0.6)  # 2.0 -> 3.2
    assert a["years_growth_above_20"] == 3  # 2013 (+30%), 2015 (+50%), 2017 (+60%)
    assert np.isclose(a["growth_acceleration"], 0.6 - 0.2 / 1.8)
    assert np.isclose(rows.loc[("A", 2014), "log_revenue_to_peak"], np.log(1.2 / 1.3))
    assert np.isnan(rows.loc[("A", 2016), "revenue_cagr_5y_past"])  # only four years back
    assert np.isnan(rows.loc[("B", 2016), "growth_max_5y"])  # no earlier year at all
    # A later year never changes an earlier row.
    cut = build_rows(firms, financials[financials["fiscal_year"] <= 2015], Design())
    cut = cut.set_index(["firm_id", "fiscal_year"])
    assert np.isclose(cut.loc[("A", 2015), "growth_max_5y"], rows.loc[("A", 2015), "growth_max_5y"])


def test_group_features_compare_a_firm_with_its_group_in_the_same_year():
    rows = pd.DataFrame(
        {
            "fiscal_year": [2016, 2016, 2016, 2016, 2017],
            "revenue": [2e9, 4e9, 8e9, 3e9, 5e9],
            "revenue_growth_1y": [0.1, 0.3, 0.5, 0.0, 0.2],
            "revenue_cagr_3y_past": [0.3, 0.1, np.nan, 0.5, 0.0],
            "operating_margin": [0.01, 0.05, 0.09, 0.2, 0.1],
            "gross_margin": 0.3,
            "sga_ratio": 0.2,
            "cash_flow_margin": 0.05,
            "net_margin": 0.03,
            "log_revenue": np.log([2e9, 4e9, 8e9, 3e9, 5e9]),
        }
    )
    group = pd.Series(["도매", "도매", "도매", "소매", "도매"])
    out = group_features(rows, group, min_start_revenue=1e9, threshold=0.2)
    assert list(out.columns) == list(PEERS)
    assert out["operating_margin_group_rank"].tolist()[:3] == [1 / 3, 2 / 3, 1.0]
    assert np.isclose(out.loc[0, "operating_margin_vs_group"], -0.04)
    assert out.loc[3, "operating_margin_group_rank"] == 1.0 and out.loc[3, "operating_margin_vs_group"] == 0
    assert out.loc[4, "group_firms"] == 1  # 2017 is its own group-year
    # Past high-growth share among firms whose start revenue (revenue / (1 + CAGR)^3) was >= 10억:
    # firm 0 started at 2e9 / 1.3^3 = 0.91e9 (out), firm 1 at 3.0e9 (in, 10% CAGR), firm 2 unknown.
    assert out.loc[0, "group_past_high_growth_share"] == 0.0
    assert np.isclose(out.loc[1, "group_past_cagr_median"], 0.1)
    assert np.isclose(out.loc[0, "group_growth_1y_median"], 0.3)


def test_parameters_are_chosen_on_the_validation_origin_of_non_test_firms():
    firms, financials = _panel(firms=400)
    design = Design(n_boot=20)
    rows = build_rows(firms, financials, design)
    test_firms = split_firms(rows["firm_id"], design)
    fit, validation = validation_sets(rows, test_firms, design)
    assert not set(fit["firm_id"]) & set(validation["firm_id"])
    assert not (set(fit["firm_id"]) | set(validation["firm_id"])) & test_firms
    assert fit["fiscal_year"].max() <= design.validation_fit_last_origin
    assert set(validation["fiscal_year"]) == {design.validation_origin}
    params, aucs = choose_params(fit, validation, list(PLAIN_RATIOS), design.seed)
    assert len(aucs) == len(PARAM_GRID) and params == PARAM_GRID[int(np.argmax(aucs))]
    with pytest.raises(ValueError, match="not known"):
        validation_sets(rows, test_firms, Design(validation_origin=2017))


def test_growth_quantiles_are_calibrated_on_earlier_origins_and_beat_the_pooled_forecast():
    firms, financials = _panel(firms=600)
    results, _ = evaluate(firms, financials, Design(n_boot=20))
    q = results["growth_quantiles"]
    # Firm drifts persist, so the quantile model must clearly beat one pooled distribution.
    assert q["pinball_ratio"] < 0.9 and q["pinball_ratio_ci"][0] <= q["pinball_ratio"] <= q["pinball_ratio_ci"][1]
    assert 0.0 <= q["shrinkage_weight"] <= 1.0
    assert 0.65 <= q["coverage"]["model_80"] <= 0.95 and q["coverage"]["model_50"] < q["coverage"]["model_80"]
    assert q["n_calibration"] > 0 and q["n_calibration_fit"] > 0


@pytest.mark.real_data
def test_real_ts2000_sample_runs_out_of_time_on_held_out_firms(ts2000_audited, tmp_path):
    # A quick sample: every income file, the audit files of three industry groups (other firms are orphans).
    source = tmp_path / "exports"
    (source / "cashflow_audit").mkdir(parents=True)
    (source / "income").mkdir()
    for export in sorted((ts2000_audited / "income").glob("*.csv")):
        (source / "income" / export.name).symlink_to(export)
    for group in ("도매", "금속가공_전자부품", "화학_1차금속"):
        name = f"외감_{group}_부실.csv"
        (source / "cashflow_audit" / name).symlink_to(ts2000_audited / "cashflow_audit" / name)
    import_ts2000(source, tmp_path / "panel", ("kgaap", "ifrs", "ifrs_consolidated"))
    firms = pd.read_csv(tmp_path / "panel" / "firms.csv", dtype={"firm_id": str})
    financials = pd.read_csv(tmp_path / "panel" / "financials.csv", dtype={"firm_id": str}, low_memory=False)
    results, predictions = evaluate(firms, financials, Design(n_boot=20))
    assert results["test_firms_overlap_fit"] == 0 and set(predictions["fiscal_year"]) == {2019}
    assert results["test_rows"] > 300
    assert results["auc"]["full_lgbm"]["auc"] > 0.6 and results["auc"]["plain_lgbm"]["auc"] > 0.6
    assert results["growth_quantiles"]["pinball_ratio"] < 1.0
