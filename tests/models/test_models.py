"""Targets, challenger, LightGBM checks, master scale, reasons and validation statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from jumpup.models.gbm import GrowthGBM, check_monotone
from jumpup.models.grading import MasterScale, reason_codes
from jumpup.models.metrics import bootstrap_intervals, grade_table, jeffreys_test, monotonicity, psi
from jumpup.models.scorecard import WoEScorecard
from jumpup.models.targets import make_targets
from jumpup.settings import GradeScaleSettings, TargetSettings


def panel(rows):
    return pd.DataFrame(rows, columns=["firm_id", "fiscal_year", "revenue", "employees", "administrative_issue"])


def test_high_growth_target_reads_only_the_future_and_explains_missing_labels():
    frame = panel(
        [
            ["a", 2018, 100, 50, 0],
            ["a", 2021, 100 * 1.21**3, 60, 0],  # CAGR 21% -> 1
            ["b", 2018, 100, 50, 0],
            ["b", 2021, 100 * 1.19**3, 60, 0],  # 19% -> 0
            ["c", 2018, 100, 5, 0],
            ["c", 2021, 1000, 60, 0],  # fewer than 10 employees at the start
            ["d", 2018, 100, 50, 0],
            ["d", 2019, 100, 50, 0],  # stopped filing: unknown, not 0
        ]
    )
    target = make_targets(frame, None, TargetSettings(horizon=3)).set_index(["firm_id", "fiscal_year"])
    assert target.loc[("a", 2018), "target"] == 1 and target.loc[("b", 2018), "target"] == 0
    assert (
        np.isnan(target.loc[("c", 2018), "target"]) and target.loc[("c", 2018), "label_status"] == "below_min_employees"
    )
    assert target.loc[("d", 2018), "label_status"] == "no_end_value_(exit_or_gap)"
    assert target.loc[("a", 2021), "label_status"] == "outcome_after_panel_end"


def test_distress_and_size_upgrade_targets():
    frame = panel(
        [
            ["a", 2018, 1, 1, 0],
            ["a", 2019, 1, 1, 0],
            ["a", 2020, 1, 1, 1],
            ["a", 2021, 1, 1, 0],
            ["b", 2018, 1, 1, 0],
            ["b", 2019, 1, 1, 0],
            ["b", 2020, 1, 1, 0],
            ["b", 2021, 1, 1, 0],
        ]
    )
    distress = make_targets(frame, None, TargetSettings(name="distress", horizon=3)).set_index(
        ["firm_id", "fiscal_year"]
    )
    assert distress.loc[("a", 2018), "target"] == 1 and distress.loc[("b", 2018), "target"] == 0
    sizes = pd.DataFrame(
        {
            "firm_id": ["a"] * 4 + ["b"] * 4,
            "fiscal_year": [2018, 2019, 2020, 2021] * 2,
            "size_class": ["medium", "medium", "midsize_candidate", "midsize_candidate"] + ["medium"] * 4,
        }
    )
    upgrade = make_targets(frame, sizes, TargetSettings(name="size_upgrade", horizon=3)).set_index(
        ["firm_id", "fiscal_year"]
    )
    assert upgrade.loc[("a", 2018), "target"] == 1 and upgrade.loc[("b", 2018), "target"] == 0


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    n = 3000
    X = pd.DataFrame({"signal": rng.normal(size=n), "noise": rng.normal(size=n), "sparse": rng.normal(size=n)})
    X.loc[rng.random(n) < 0.3, "sparse"] = np.nan
    logit = -1.2 + 1.2 * X["signal"] + 0.4 * X["sparse"].fillna(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


def test_scorecard_ranks_by_information_value_and_handles_missing_and_unseen_bins(toy):
    X, y = toy
    card = WoEScorecard(n_bins=5, max_features=2).fit(X, y)
    assert card.features_[0] == "signal" and "noise" not in card.features_
    probability = card.predict_proba(X)[:, 1]
    assert probability.shape == (len(X),) and probability.min() > 0 and probability.max() < 1
    unseen = X.head(3).assign(signal=np.nan)  # 'signal' had no missing bin in training: no evidence, not an error
    assert np.isfinite(card.predict_proba(unseen)).all()
    table = card.points_table(factor=40 / np.log(2))
    assert {"feature", "bin", "woe", "points"} <= set(table.columns) and (table["feature"] == "signal").sum() == 5
    assert clone(card).get_params() == card.get_params()


def test_lightgbm_is_deterministic_and_monotone_constraints_are_checked(toy):
    X, y = toy
    params = {"n_estimators": 60, "num_leaves": 7, "min_child_samples": 20, "monotone": {"signal": 1}}
    first = GrowthGBM(**params, random_state=3).fit(X, y).predict_proba(X)
    second = GrowthGBM(**params, random_state=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    model = GrowthGBM(**params, random_state=3).fit(X, y)
    report = check_monotone(model, X)
    assert report["signal"]["checked"] and report["signal"]["violating_rows"] == 0
    # the checker can fail: a decreasing constraint on an increasing signal still gives a flat model,
    # while an unconstrained model swept against the wrong direction shows violations
    free = GrowthGBM(n_estimators=60, num_leaves=7, min_child_samples=20, monotone=None, random_state=3).fit(X, y)
    free.monotone = {"signal": -1}
    assert check_monotone(free, X)["signal"]["violating_rows"] > 0
    with pytest.raises(ValueError, match="not in X"):
        GrowthGBM(monotone={"missing_feature": 1}).fit(X, y)


def test_contributions_sum_to_the_raw_score(toy):
    X, y = toy
    model = GrowthGBM(n_estimators=40, num_leaves=7, min_child_samples=20).fit(X, y)
    contributions = model.contributions(X.head(50))
    np.testing.assert_allclose(contributions.sum(axis=1), model.raw_score(X.head(50)), rtol=1e-9, atol=1e-9)


def test_master_scale_points_double_the_odds_and_cutpoints_give_the_better_grade():
    scale = MasterScale.from_settings(GradeScaleSettings())
    odds = np.array([0.25, 0.5, 1.0])
    points = scale.points(odds / (1 + odds))
    np.testing.assert_allclose(np.diff(points), [40, 40])  # PDO 40
    assert points[0] == pytest.approx(600)
    cut = scale.cutpoints[3]
    assert scale.grades(np.array([cut, cut - 1e-9])).tolist() == [scale.labels[3], scale.labels[4]]
    assert scale.grades(np.array([0.999, 0.0001])).tolist() == ["AAA", "D"]
    assert scale.at_or_above(pd.Series(["AAA", "BBB", "BB"])).tolist() == [True, True, False]


def test_master_scale_settings_reject_bad_cutpoints():
    with pytest.raises(ValueError, match="at least 7 grades"):
        GradeScaleSettings(labels=("A", "B", "C"), probability_cutpoints=(0.5, 0.2))
    with pytest.raises(ValueError, match="high to low"):
        GradeScaleSettings(probability_cutpoints=(0.1, 0.45, 0.34, 0.26, 0.20, 0.15, 0.11, 0.075, 0.045))


def test_reasons_aggregate_to_families_in_points_and_read_in_korean():
    contributions = pd.DataFrame(
        {
            "revenue_growth_1y": [0.5, -0.2],
            "operating_margin": [0.2, -0.1],
            "rd_intensity": [-0.4, 0.05],
            "log_revenue": [0.0, 0.3],
            "_bias": [-1.0, -1.0],
        }
    )
    factor = 40 / np.log(2)
    reasons = reason_codes(contributions, factor, top_k=2)
    assert reasons.loc[0, "family_points_management"] == pytest.approx(0.7 * factor, abs=0.01)
    assert reasons.loc[0, "reason_up_1"].startswith("경영성과 +40점: 매출액증가율")
    assert reasons.loc[0, "reason_down_1"].startswith("기술성 -23점")
    assert reasons.loc[1, "reason_up_1"].startswith("기업 개요")
    english = reason_codes(contributions, factor, top_k=1, language="en")
    assert english.loc[0, "reason_up_1"].startswith("management performance +40 pts")


def test_an_indicator_and_its_peer_rank_make_one_reason_in_the_indicators_family():
    # R&D intensity lowers the score as a level (-0.4) and raises it as a rank among peers (+0.5):
    # one reason names it once, in 기술성, with the net; 유사그룹대조 keeps only its sub-score
    contributions = pd.DataFrame(
        {
            "rd_intensity": [-0.4],
            "peer_pct_rd_intensity": [0.5],
            "revenue_growth_1y": [-0.3],
            "peer_pct_revenue_growth_1y": [0.1],
            "family_score_peer": [0.2],
            "_bias": [-1.0],
        }
    )
    factor = 40 / np.log(2)
    reasons = reason_codes(contributions, factor, top_k=3)
    row = reasons.iloc[0]
    named = [row[f"reason_feature_{d}_{k}"] for d in ("up", "down") for k in (1, 2, 3)]
    named = [n for n in named if n]
    assert sorted(named) == ["family_score_peer", "rd_intensity", "revenue_growth_1y"]
    assert len(named) == len(set(named))
    assert row["family_points_technology"] == pytest.approx(0.1 * factor, abs=0.01)
    assert row["family_points_peer"] == pytest.approx(0.2 * factor, abs=0.01)
    assert row["reason_up_1"] == "유사그룹대조 +12점: 유사그룹대조 종합점수"
    assert row["reason_up_2"] == "기술성 +6점: 매출액 대비 연구개발비"
    assert row["reason_down_1"] == "경영성과 -12점: 매출액증가율"


def _row_reason_texts(family_points, main_feature, families, top_k, language):
    """The reason texts worded row by row: the definition ``reason_codes`` words once per distinct pattern."""
    from jumpup.models.grading import family_label, feature_label

    template = "{family} {points:+.0f}점: {feature}" if language == "ko" else "{family} {points:+.0f} pts: {feature}"
    order = np.argsort(-family_points, axis=1, kind="stable")
    out = {}
    for rank in range(top_k):
        for direction, picks in (("up", order[:, rank]), ("down", order[:, -(rank + 1)])):
            texts = []
            for i, p in enumerate(picks):
                v = family_points[i, p]
                kept = v > 0.5 if direction == "up" else v < -0.5
                label = feature_label(main_feature[i, p], language)
                texts.append(
                    template.format(family=family_label(families[p], language), points=v, feature=label) if kept else ""
                )
            out[f"reason_{direction}_{rank + 1}"] = texts
    return out


@pytest.mark.parametrize("language", ["ko", "en"])
def test_reason_texts_equal_their_row_by_row_wording_at_half_points(language):
    rng = np.random.default_rng(5)
    names = [
        "revenue_growth_1y",
        "operating_margin",
        "rd_intensity",
        "peer_pct_rd_intensity",
        "log_revenue",
        "firm_age",
    ]
    factor = 40 / np.log(2)
    # whole and half points (2.5 -> "+2", 3.5 -> "+4") and values near the 0.5 threshold
    halves = rng.integers(-12, 12, size=(400, len(names))) / 2 / factor
    noise = rng.normal(scale=0.3, size=(400, len(names)))
    contributions = pd.DataFrame(np.vstack([halves, noise]), columns=names)
    reasons = reason_codes(contributions, factor, top_k=3, language=language)
    families = sorted(c.removeprefix("family_points_") for c in reasons if c.startswith("family_points_"))
    points = contributions.to_numpy() * factor
    family_points = np.zeros((len(points), len(families)))
    from jumpup.models.grading import reason_family, reason_indicator

    for j, name in enumerate(names):
        family_points[:, families.index(reason_family(name))] += points[:, j]
    main = np.array(
        [[reasons.loc[i, "reason_feature_up_1"] or "x" for _ in families] for i in range(len(points))], dtype=object
    )
    # the main indicator per family as reason_codes chose it, read back from the feature columns
    for rank in (1, 2, 3):
        for direction in ("up", "down"):
            picked = reasons[f"reason_feature_{direction}_{rank}"]
            texts = reasons[f"reason_{direction}_{rank}"]
            for i, (feature, text) in enumerate(zip(picked, texts, strict=True)):
                if feature:
                    main[i, families.index(reason_family(feature))] = reason_indicator(feature)
                    assert text  # a named indicator always comes with its text
    expected = _row_reason_texts(family_points, main, families, 3, language)
    for column, texts in expected.items():
        assert reasons[column].tolist() == texts, column


def test_psi_small_sample_critical_value_and_shift_detection():
    rng = np.random.default_rng(1)
    train = rng.normal(size=20000)
    same_small = psi(train, rng.normal(size=100))
    assert not same_small["shifted"] and same_small["critical_value"] > 0.1  # fixed bands would misfire here
    assert psi(train, rng.normal(size=100000))["critical_value"] < 0.01
    moved = psi(train, rng.normal(loc=0.5, size=2000))
    assert moved["shifted"] and moved["psi"] > moved["critical_value"]
    assert np.isfinite(psi(train, np.full(50, 10.0))["psi"])  # empty bins are smoothed


def test_jeffreys_grade_table_and_monotonicity():
    assert jeffreys_test(10, 100, 0.10)["p_value"] > 0.5
    assert jeffreys_test(30, 100, 0.10)["p_value"] < 0.001
    y = np.array([1] * 30 + [0] * 70 + [1] * 10 + [0] * 90)
    p = np.array([0.3] * 100 + [0.1] * 100)
    grades = np.array(["A"] * 100 + ["B"] * 100)
    table = grade_table(y, p, grades, ["A", "B", "C"])
    assert table["calibrated"].tolist() == [True, True, True] and table.loc[2, "count"] == 0
    assert monotonicity(table)["monotone"]
    inverted = grade_table(y[::-1], p, grades, ["A", "B", "C"])
    assert monotonicity(inverted)["inversions"] == 1


def test_bootstrap_interval_brackets_the_point_estimate(toy):
    X, y = toy
    result = bootstrap_intervals(y, X["signal"].to_numpy(), groups=np.arange(len(y)) // 3, n_boot=50)
    assert result["auc"]["ci_low"] < result["auc"]["value"] < result["auc"]["ci_high"]
    assert result["gini"]["value"] == pytest.approx(2 * result["auc"]["value"] - 1)


def test_the_grade_follows_the_published_probability_at_a_cut_point():
    """A probability within 5e-7 of a cut-point is published rounded; its grade must match that figure."""
    from types import SimpleNamespace

    from jumpup.models.bundle import GrowthModelBundle
    from jumpup.models.grading import MasterScale
    from jumpup.settings import load_settings

    scale = MasterScale.from_settings(load_settings().grade_scale)
    cut = scale.cutpoints[3]
    bundle = GrowthModelBundle.__new__(GrowthModelBundle)
    bundle.scale, bundle.feature_names, bundle.top_k = scale, ["log_revenue"], 3
    bundle.probability = lambda matrix: np.array([cut - 3e-7, cut + 3e-7])
    bundle.classifier = SimpleNamespace()
    features = pd.DataFrame(
        {"firm_id": ["A", "B"], "fiscal_year": [2024, 2024], "revenue": [1e10, 1e10], "size_class": ["medium"] * 2}
    )
    scores = bundle.score_features(features, with_reasons=False)
    assert (scores["grade"].to_numpy() == scale.grades(scores["probability"].to_numpy())).all()
