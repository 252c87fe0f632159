"""The TS-2000 out-of-time evaluation: label, firm split, no fit row from a test firm or a late origin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from jumpup.intake.ts2000 import import_ts2000
from jumpup.models.ts2000_evaluation import (
    BLEND_WEIGHTS,
    PARAM_GRID,
    PEERS,
    PLAIN_RATIOS,
    SCORECARD_C_GRID,
    Design,
    ValidationSplits,
    blend_probabilities,
    build_rows,
    choose_blend,
    choose_params,
    cross_firm_folds,
    engine_growth,
    evaluate,
    group_features,
    quantile_scores,
    scorecard_probabilities,
    split_firms,
    validation_auc,
    validation_sets,
    validation_splits,
)
from jumpup.pipelines import synth
from jumpup.settings import load_settings


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
    for name, entry in results["chosen_params"].items():
        assert entry["chosen"]["mean"] == max(
            a["mean"] for a in (entry["validation_auc"].values() if name == "graded" else entry["validation_auc"])
        )
    assert len(results["cross_firm_rows"]) == design.cv_folds and min(results["cross_firm_rows"]) > 0
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
    params, aucs = choose_params(validation_splits(rows, test_firms, design), list(PLAIN_RATIOS), design.seed)
    means = [a["mean"] for a in aucs]
    assert len(aucs) == len(PARAM_GRID) and params == PARAM_GRID[int(np.argmax(means))]
    assert all(np.isclose(a["mean"], (a["origin"] + a["cross_firm"]) / 2) for a in aucs)
    with pytest.raises(ValueError, match="not known"):
        validation_sets(rows, test_firms, Design(validation_origin=2017))


def test_cross_firm_folds_judge_each_non_test_firm_once_at_the_validation_origin():
    firms, financials = _panel(firms=400)
    design = Design(n_boot=20, cv_folds=4)
    rows = build_rows(firms, financials, design)
    test_firms = split_firms(rows["firm_id"], design)
    folds = cross_firm_folds(rows, test_firms, design)
    assert len(folds) == 4
    judged = [set(j["firm_id"]) for _, j in folds]
    for (fit, j), ids in zip(folds, judged, strict=True):
        assert set(j["fiscal_year"]) == {design.validation_origin}
        assert fit["fiscal_year"].max() == design.cv_fit_last_origin < design.validation_origin
        assert fit["fiscal_year"].min() == design.fit_first_origin - 1
        assert not set(fit["firm_id"]) & ids and not (set(fit["firm_id"]) | ids) & test_firms
        assert (j["revenue"] >= design.min_start_revenue_won).all() and j["label"].notna().all()
    # Each non-test firm filing at the validation origin is judged in exactly one fold.
    at_origin = rows[
        (rows["fiscal_year"] == design.validation_origin)
        & ~rows["firm_id"].isin(test_firms)
        & (rows["revenue"] >= design.min_start_revenue_won)
        & rows["label"].notna()
    ]
    assert sum(len(ids) for ids in judged) == len(set().union(*judged)) == at_origin["firm_id"].nunique()
    again = cross_firm_folds(rows, test_firms, design)
    assert all(a[1].index.equals(b[1].index) for a, b in zip(folds, again, strict=True))
    with pytest.raises(ValueError, match="before the validation origin"):
        cross_firm_folds(rows, test_firms, Design(cv_fit_last_origin=2016))
    with pytest.raises(ValueError, match="two folds"):
        cross_firm_folds(rows, test_firms, Design(cv_folds=1))


def test_validation_auc_averages_the_origin_and_the_folds():
    rows = _two_class_rows(n=1200)
    pairs = (rows.iloc[:400], rows.iloc[400:600])
    folds = ((rows.iloc[:400], rows.iloc[600:900]), (rows.iloc[:400], rows.iloc[900:]))
    splits = ValidationSplits(pairs, folds)
    perfect = validation_auc(splits, lambda fit, judged: judged["label"].to_numpy())
    assert perfect == {"origin": 1.0, "cross_firm": 1.0, "folds": [1.0, 1.0], "mean": 1.0}
    signal = validation_auc(splits, lambda fit, judged: judged["signal"].to_numpy())
    judged = (rows.iloc[400:600], rows.iloc[600:900], rows.iloc[900:])
    expected = [roc_auc_score(j["label"], j["signal"]) for j in judged]
    assert np.isclose(signal["origin"], expected[0]) and np.allclose(signal["folds"], expected[1:])
    assert np.isclose(signal["mean"], (expected[0] + np.mean(expected[1:])) / 2)


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
def test_real_ts2000_sample_runs_out_of_time_on_held_out_firms(ts2000_audited, tmp_path, monkeypatch):
    import jumpup.models.ts2000_evaluation as evaluation

    # A quick sample: every income file, the audit files of three industry groups (other firms are orphans).
    # Two LightGBM candidates and three cross-firm folds keep every step of the choice at a third of
    # its cost; the full grid runs in `jumpup evaluate-ts2000` (docs/models.md).
    monkeypatch.setattr(evaluation, "PARAM_GRID", (evaluation.PARAM_GRID[0], evaluation.PARAM_GRID[2]))
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
    results, predictions = evaluate(firms, financials, Design(n_boot=20, cv_folds=3), load_settings())
    assert results["test_firms_overlap_fit"] == 0 and set(predictions["fiscal_year"]) == {2019}
    assert len(results["param_grid"]) == 2 and len(results["chosen_params"]["full_lgbm"]["validation_auc"]) == 2
    assert results["test_rows"] > 300
    assert results["auc"]["full_lgbm"]["auc"] > 0.6 and results["auc"]["plain_lgbm"]["auc"] > 0.6
    assert results["auc"]["graded"]["auc"] > 0.6 and results["chosen_params"]["graded"]["params"]["c"] > 0
    assert results["growth_quantiles"]["pinball_ratio"] < 1.0
    # The growth-path engine, fitted as a round fits it, on the same held-out firms.
    engine = results["growth_engine"]
    assert engine["n"] > 300 and engine["origin"] == 2019
    assert engine["pinball_ratio"] < 1.0 and 0.6 < engine["coverage_80"] < 0.95


def _two_class_rows(n: int = 600, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(0, 1, n),
            "empty": np.nan,
            "label": (signal + rng.normal(0, 0.5, n) > 0.8).astype(float),
        }
    )


def test_scorecard_ranks_by_its_signal_and_survives_an_empty_column():
    rows = _two_class_rows()
    fit, test = rows.iloc[:400], rows.iloc[400:]
    p = scorecard_probabilities(fit, test, ["signal", "noise", "empty"], 0.1)
    assert p.shape == (200,) and ((p > 0) & (p < 1)).all()
    assert roc_auc_score(test["label"], p) > 0.85
    # Missing values take the fit median, so a missing signal scores like a middling firm.
    gap = test.assign(signal=np.nan)
    middle = scorecard_probabilities(fit, gap, ["signal", "noise"], 0.1)
    assert middle.std() < p.std()
    with pytest.raises(ValueError, match="both classes"):
        scorecard_probabilities(fit.assign(label=0.0), test, ["signal"], 0.1)


def test_blend_is_the_weighted_mean_of_the_two_probabilities():
    gbm, scorecard = np.array([0.1, 0.5, 0.9]), np.array([0.3, 0.3, 0.3])
    assert np.allclose(blend_probabilities(gbm, scorecard, 0.0), gbm)
    assert np.allclose(blend_probabilities(gbm, scorecard, 1.0), scorecard)
    assert np.allclose(blend_probabilities(gbm, scorecard, 0.25), [0.15, 0.45, 0.75])
    with pytest.raises(ValueError, match="weight"):
        blend_probabilities(gbm, scorecard, 1.5)
    with pytest.raises(ValueError, match="shapes"):
        blend_probabilities(gbm, scorecard[:2], 0.5)


def test_blend_is_chosen_as_the_best_validation_candidate():
    rows = _two_class_rows(n=1500)
    fit, validation = rows.iloc[:1000], rows.iloc[1000:]
    splits = ValidationSplits((fit, validation), ((fit.iloc[:500], validation), (fit.iloc[500:], validation)))
    best, aucs = choose_blend(splits, ["signal", "noise"], 0, {"n_estimators": 50})
    assert len(aucs) == len(SCORECARD_C_GRID) * len(BLEND_WEIGHTS)
    assert aucs[f"C={best['c']} w={best['weight']}"]["mean"] == max(a["mean"] for a in aucs.values())
    # A linear signal is what the scorecard models exactly: it must take some weight.
    assert best["weight"] > 0


def test_quantile_scores_reward_a_sharp_forecast_and_count_band_coverage():
    rng = np.random.default_rng(7)
    quantiles = (0.1, 0.25, 0.5, 0.75, 0.9)
    centre = rng.normal(0, 1, 4000)
    y = centre + rng.normal(0, 0.3, 4000)
    z = np.array([-1.2816, -0.6745, 0.0, 0.6745, 1.2816])
    sharp = centre[:, None] + 0.3 * z[None, :]
    pooled = np.quantile(y, quantiles)
    groups = np.arange(4000) // 2
    scores = quantile_scores(y, sharp, pooled, groups, quantiles, 50, 0)
    assert scores["pinball_ratio"] < 0.5
    assert scores["pinball_ratio_ci"][0] <= scores["pinball_ratio"] <= scores["pinball_ratio_ci"][1]
    assert abs(scores["coverage_80"] - 0.8) < 0.03 and abs(scores["coverage_50"] - 0.5) < 0.03
    same = quantile_scores(y, np.tile(pooled, (4000, 1)), pooled, groups, quantiles, 20, 0)
    assert same["pinball_ratio"] == 1.0 and same["pinball_ratio_ci"] == [1.0, 1.0]


@pytest.fixture(scope="module")
def synthetic_history(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    settings = load_settings(overrides={"synth": {"firms": 500, "applicants": 10}})
    synth.run(settings, root, seed=4)
    firms = pd.read_csv(root / "history" / "firms.csv", dtype={"firm_id": str})
    financials = pd.read_csv(root / "history" / "financials.csv", dtype={"firm_id": str})
    return firms, financials


def test_engine_growth_forecasts_held_out_firms_from_data_up_to_the_origin(synthetic_history):
    firms, financials = synthetic_history
    settings = load_settings(overrides={"growth_paths": {"neighbours": 25, "min_peers": 10, "pooled_estimators": 40}})
    origin = int(financials["fiscal_year"].max()) - settings.growth_paths.horizon
    ids = sorted(firms["firm_id"])
    held_out = set(ids[::4])
    keys = pd.DataFrame({"firm_id": sorted(held_out)})
    result = engine_growth(firms, financials, keys, held_out, origin, settings, 30)
    assert result["origin"] == origin and result["horizon"] == settings.growth_paths.horizon
    assert 0 < result["n"] <= len(held_out) and result["pool_rows"] > 0
    assert result["pinball_ratio_ci"][0] <= result["pinball_ratio"] <= result["pinball_ratio_ci"][1]
    assert 0 <= result["coverage_50"] <= result["coverage_80"] <= 1
    # Statements after the origin reach only the truth of the held-out firms, never the fit.
    later = financials["fiscal_year"] > origin
    shifted = financials.copy()
    shifted.loc[later & ~shifted["firm_id"].isin(held_out), "revenue"] *= 7
    again = engine_growth(firms, shifted, keys, held_out, origin, settings, 30)
    assert again == result
    moved = financials.copy()
    moved.loc[later & moved["firm_id"].isin(held_out), "revenue"] *= 7
    assert engine_growth(firms, moved, keys, held_out, origin, settings, 30)["pinball_model"] > result["pinball_model"]
