"""Indicators: edge-case rules, point-in-time correctness, reference population, real panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.features.builder import FeatureBuilder, panel_rows
from jumpup.features.peers import percentile_in_groups
from jumpup.features.ratios import certification_count, firm_indicators, lag
from jumpup.features.registry import ALL_INDICATORS, render_markdown
from jumpup.intake.ingest import ingest_directory
from jumpup.pipelines import synth
from jumpup.settings import PROJECT_ROOT, load_settings

SETTINGS = load_settings(overrides={"ingest": {"max_fiscal_year": 2024}})


def fin(rows):
    columns = [
        "firm_id",
        "fiscal_year",
        "revenue",
        "operating_income",
        "net_income",
        "total_assets",
        "total_equity",
        "employees",
        "personnel_expense",
    ]
    return pd.DataFrame(rows, columns=columns)


def test_lag_matches_fiscal_years_not_row_positions():
    frame = fin(
        [
            ["a", 2018, 100, 0, 0, 1, 1, 1, 1],
            ["a", 2020, 200, 0, 0, 1, 1, 1, 1],
            ["a", 2021, 300, 0, 0, 1, 1, 1, 1],
            ["b", 2019, 50, 0, 0, 1, 1, 1, 1],
        ]
    )
    one = lag(frame, ["revenue"], 1)["revenue"].tolist()
    three = lag(frame, ["revenue"], 3)["revenue"].tolist()
    assert np.isnan(one[1])  # 2019 is missing: no silent reach back to 2018
    assert one[2] == 200 and three[2] == 100
    assert np.isnan(one[3])  # another firm's row is never a lag


def test_divisions_by_zero_negative_equity_and_gaps_have_explicit_results():
    frame = fin(
        [
            ["a", 2020, 0, -5, -5, 0, 10, 0, 10],
            ["a", 2021, 100, 10, 5, 100, 10, 4, 200],
            ["b", 2020, 100, 0, -50, 100, -30, 5, 100],
            ["b", 2021, 120, 12, -20, 110, -50, 6, 130],
        ]
    )
    out = firm_indicators(frame, SETTINGS.features).set_index(["firm_id", "fiscal_year"])
    assert np.isnan(out.loc[("a", 2020), "operating_margin"])  # revenue 0 -> missing, not inf
    assert np.isnan(out.loc[("a", 2021), "revenue_growth_1y"])  # prior revenue 0 -> missing
    assert np.isnan(out.loc[("a", 2020), "revenue_per_employee"])  # zero headcount -> missing
    assert out.loc[("a", 2021), "roa"] == pytest.approx(5 / 50)  # average of 0 and 100
    assert np.isnan(out.loc[("b", 2021), "roe"])  # average equity negative -> missing
    assert out.loc[("b", 2021), "negative_equity"] == 1
    assert np.isnan(out.loc[("b", 2021), "operating_income_growth"])  # prior operating income 0
    assert out.loc[("a", 2021), "operating_income_growth"] == pytest.approx((10 - -5) / 5)
    assert out.loc[("b", 2021), "hiring_growth"] == pytest.approx(0.2)
    assert not np.isinf(out.select_dtypes("number").to_numpy()).any()


def test_extreme_values_are_clipped_to_the_params_limits():
    frame = fin([["a", 2020, 1, 0, 0, 1, 1, 1, 1], ["a", 2021, 1_000_000, 999_999, 0, 1, 1, 1, 1]])
    out = firm_indicators(frame, SETTINGS.features)
    high = SETTINGS.features.winsor.growth[1]
    assert out["revenue_growth_1y"].iloc[1] == high
    assert out["asset_turnover"].iloc[1] == SETTINGS.features.winsor.turnover[1]


def test_hiring_growth_is_annualised_over_a_headcount_gap():
    frame = fin(
        [
            ["a", 2018, 1, 0, 0, 1, 1, 100, 1],
            ["a", 2019, 1, 0, 0, 1, 1, None, 1],
            ["a", 2020, 1, 0, 0, 1, 1, None, 1],
            ["a", 2021, 1, 0, 0, 1, 1, 133.1, 1],
        ]
    )
    out = firm_indicators(frame, SETTINGS.features)
    assert out["hiring_growth"].iloc[3] == pytest.approx(0.1)


def test_certifications_count_none_as_zero_and_missing_as_missing():
    counts = certification_count(pd.Series(["venture;innobiz", "none", None, "mainbiz"]))
    assert counts.iloc[0] == 2 and counts.iloc[1] == 0 and np.isnan(counts.iloc[2]) and counts.iloc[3] == 1


def test_percentile_in_groups_uses_mid_ranks_and_ignores_missing():
    ref = np.array([1.0, 2.0, 2.0, 3.0, np.nan, 10.0])
    groups = np.array(["x", "x", "x", "x", "x", "y"])
    pct = percentile_in_groups(
        ref, groups, np.array([2.0, 0.0, 5.0, np.nan, 10.0, 1.0]), np.array(["x", "x", "x", "x", "y", "z"])
    )
    assert pct[:3].tolist() == [0.5, 0.0, 1.0]
    assert np.isnan(pct[3]) and pct[4] == 0.5 and np.isnan(pct[5])


@pytest.fixture(scope="module")
def synthetic_panel(tmp_path_factory):
    out = tmp_path_factory.mktemp("panel")
    settings = load_settings(overrides={"synth": {"firms": 800, "applicants": 60}, "ingest": {"max_fiscal_year": 2024}})
    synth.run(settings, out, seed=5)
    history = ingest_directory(out / "history", settings.ingest)
    round_ = ingest_directory(out / "round", settings.ingest, round_mode=True)
    return history.tables, round_.tables


def build(tables):
    rows = panel_rows(tables["firms"], tables["financials"])
    builder = FeatureBuilder(SETTINGS.features, SETTINGS.size_class, SETTINGS.program).fit(rows)
    return builder, builder.transform(rows)


def test_point_in_time_changing_later_years_leaves_earlier_features_unchanged(synthetic_panel):
    tables, _ = synthetic_panel
    _, before = build(tables)
    changed = {**tables, "financials": tables["financials"].copy()}
    later = changed["financials"]["fiscal_year"] > 2020
    rng = np.random.default_rng(0)
    for column in ("revenue", "operating_income", "net_income", "total_assets", "total_equity", "employees"):
        changed["financials"].loc[later, column] = changed["financials"].loc[later, column] * rng.uniform(
            0.2, 5, later.sum()
        )
    _, after = build(changed)
    cut_before = before[before["fiscal_year"] <= 2020].reset_index(drop=True)
    cut_after = after[after["fiscal_year"] <= 2020].reset_index(drop=True)
    pd.testing.assert_frame_equal(cut_before, cut_after)
    # and the change did reach the later years
    assert not before[before["fiscal_year"] == 2022]["revenue"].equals(after[after["fiscal_year"] == 2022]["revenue"])


def test_round_is_compared_with_the_reference_population(synthetic_panel):
    history, round_ = synthetic_panel
    builder, _ = build(history)
    features = builder.transform(panel_rows(round_["firms"], round_["financials"]))
    latest = features[features["fiscal_year"] == 2024]
    assert len(latest) == len(round_["applications"])
    assert (latest["peer_group_size"] >= SETTINGS.features.min_peer_group_size).all()
    own_round_group = (
        latest.groupby(["ksic_division", "size_class"])
        .size()
        .reindex(pd.MultiIndex.from_frame(latest[["ksic_division", "size_class"]]))
        .to_numpy()
    )
    narrow = latest["peer_level"] == "division"
    assert (latest.loc[narrow, "peer_group_size"].to_numpy() > own_round_group[narrow.to_numpy()]).all()
    assert set(latest["peer_level"]) <= {"division", "section", "all"}
    scores = latest[[c for c in latest if c.startswith("family_score_")]]
    assert scores.min().min() >= 0 and scores.max().max() <= 100


def test_latest_year_features_equal_the_full_transform_filtered(synthetic_panel):
    """The round computes comparisons for each firm's latest year only; nothing may change by that."""
    history, round_ = synthetic_panel
    builder, _ = build(history)
    rows = panel_rows(round_["firms"], round_["financials"])
    rows = rows[~((rows["fiscal_year"] == 2024) & (rows.index % 7 == 0))]  # some firms end a year earlier
    full = builder.transform(rows)
    expected = full[full["fiscal_year"] == full.groupby("firm_id")["fiscal_year"].transform("max")]
    latest = builder.transform_latest(rows)
    assert {2023, 2024} <= set(latest["fiscal_year"])
    pd.testing.assert_frame_equal(latest, expected.reset_index(drop=True))


def test_thin_peer_groups_widen_and_say_so(synthetic_panel):
    history, _ = synthetic_panel
    settings = load_settings(overrides={"features": {"min_peer_group_size": 60}})
    rows = panel_rows(history["firms"], history["financials"])
    out = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows).transform(rows)
    assert {"section", "all"} & set(out["peer_level"])
    assert (out.loc[out["peer_level"] != "all", "peer_group_size"] >= 60).all()


def test_features_have_no_infinite_values_and_registry_names_every_indicator(synthetic_panel):
    tables, _ = synthetic_panel
    _, features = build(tables)
    assert not np.isinf(features.select_dtypes("number").to_numpy(dtype="float64")).any()
    for indicator in ALL_INDICATORS:
        assert indicator.name in features.columns


def test_same_input_gives_identical_features(synthetic_panel):
    tables, _ = synthetic_panel
    pd.testing.assert_frame_equal(build(tables)[1], build(tables)[1])


def test_indicator_docs_are_generated_from_the_registry():
    docs = (PROJECT_ROOT / "docs" / "indicators.md").read_text(encoding="utf-8")
    assert docs.strip() == render_markdown().strip(), "run: python -m jumpup.features.registry > docs/indicators.md"


def test_real_kosdaq_features_build_without_infinite_values(kosdaq_panel):
    result = ingest_directory(kosdaq_panel, load_settings(overrides={"ingest": {"max_fiscal_year": 2021}}).ingest)
    _, features = build(result.tables)
    assert len(features) == 5210
    assert not np.isinf(features.select_dtypes("number").to_numpy(dtype="float64")).any()
    # FY2017 carries only revenue and assets, so margins are missing there and present after
    assert features.loc[features["fiscal_year"] == 2017, "operating_margin"].isna().all()
    assert features.loc[features["fiscal_year"] == 2019, "operating_margin"].notna().mean() > 0.99
