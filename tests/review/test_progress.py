"""Progress-review rules on hand-made tables: every forecast band, size progress, continuation
with its reasons (dropped, completed, continued), and the monitoring counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.review.progress import BANDS, continuation, forecast_band, review_year, size_progress
from jumpup.settings import ReviewSettings

LABELS = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


def test_forecast_band_covers_every_band_and_its_edges():
    q10, q50, q90 = pd.Series([10.0] * 8), pd.Series([50.0] * 8), pd.Series([90.0] * 8)
    realised = pd.Series([5.0, 10.0, 49.9, 50.0, 90.0, 90.1, np.nan, 60.0])
    q10_missing = q10.copy()
    q10_missing[7] = np.nan
    assert list(forecast_band(realised, q10_missing, q50, q90)) == [
        "below_q10",
        "q10_q50",  # q10 itself is inside the band
        "q10_q50",
        "q50_q90",
        "q50_q90",  # q90 itself is inside
        "above_q90",
        "no_statement",
        "no_forecast",
    ]


def test_size_progress_toward_the_midsize_candidate_class():
    before = pd.Series(["medium", "medium", "small", "midsize_candidate", "medium", None])
    after = pd.Series(["midsize_candidate", "medium", "medium", "medium", "midsize", "medium"])
    assert list(size_progress(before, after)) == [
        "reached_candidate",
        "same",
        "up",
        "down",
        "reached_candidate",
        "unknown",
    ]


def cohort_tables():
    firms = ["A", "B", "C", "D", "E"]
    cohort = pd.DataFrame({"firm_id": firms, "as_of": 2024, "selection_year": 2025, "name": firms})
    paths = pd.DataFrame(
        {
            "firm_id": firms,
            "year": 2025,
            "revenue_q10": 80.0,
            "revenue_q25": 90.0,
            "revenue_q50": 100.0,
            "revenue_q75": 110.0,
            "revenue_q90": 120.0,
        }
    )
    before = pd.DataFrame(
        {
            "firm_id": firms,
            "revenue": 100.0,
            "size_class": ["medium"] * 5,
            "grade": ["A", "A", "BBB", "BBB", "BB"],
            "probability": 0.3,
            "operating_margin": 0.05,
        }
    )
    # A above q90 and reaching 중견후보, B q50-q90, C q10-q50, D below q10; E filed nothing
    after = pd.DataFrame(
        {
            "firm_id": ["A", "B", "C", "D"],
            "revenue": [130.0, 105.0, 85.0, 60.0],
            "size_class": ["midsize_candidate", "medium", "medium", "medium"],
            "grade": ["AA", "A", "BB", "B"],
            "probability": [0.4, 0.3, 0.25, 0.1],
            "operating_margin": [0.08, 0.05, 0.04, -0.1],
            "administrative_issue": [0, 0, 0, 1],
        }
    )
    inputs = pd.DataFrame(
        {
            "firm_id": ["A", "B", "C", "D", "E"],
            "fiscal_year": 2025,
            "milestones_planned": [5, 5, 5, 5, 5],
            "milestones_met": [5, 4, 1, 5, 5],
            "voucher_granted": [2.5e8] * 5,
            "voucher_spent": [2.0e8, 2.0e8, 2.0e8, 2.0e8, 2.0e8],
        }
    )
    return cohort, paths, before, after, inputs


def test_review_year_places_each_firm_in_its_band_and_decides_continuation_with_reasons():
    cohort, paths, before, after, inputs = cohort_tables()
    result = review_year(cohort, paths, before, after, inputs, 2025, ReviewSettings(), LABELS)
    progress = result.progress.set_index("firm_id")
    assert list(progress["band"]) == ["above_q90", "q50_q90", "q10_q50", "below_q10", "no_statement"]
    assert progress.loc["A", "size_progress"] == "reached_candidate"
    assert progress.loc["A", "grade_after"] == "AA" and progress.loc["A", "probability_change"] == pytest.approx(0.1)
    assert progress.loc["A", "operating_margin_change"] == pytest.approx(0.03)
    decisions = result.decisions.set_index("firm_id")
    assert list(decisions["status"]) == ["continue", "continue", "drop", "drop", "drop"]
    assert decisions.loc["A", "next_year_voucher_won"] == 2.5e8 and decisions.loc["C", "next_year_voucher_won"] == 0
    assert "사업 진척도 20% (마일스톤 1/5) < 기준 50%" in decisions.loc["C", "reasons"]
    assert "부실 징후" in decisions.loc["D", "reasons"]
    assert decisions.loc["E", "reasons"].startswith("2025년 재무제표 미제출")
    assert list(result.dropped["firm_id"]) == ["C", "D", "E"]
    assert "중견후보기업 규모 도달" in decisions.loc["A", "reasons"]


def test_a_firm_without_a_review_row_or_spending_too_little_is_dropped_and_the_third_year_completes():
    cohort, paths, before, after, inputs = cohort_tables()
    progress = review_year(cohort, paths, before, after, inputs, 2025, ReviewSettings(), LABELS).progress
    inputs = inputs[inputs["firm_id"] != "B"].copy()
    inputs.loc[inputs["firm_id"] == "A", "voucher_spent"] = 0.2e8
    selection_year = pd.Series(2025, index=cohort["firm_id"])
    first = continuation(progress, inputs, selection_year, 2025, ReviewSettings()).set_index("firm_id")
    assert first.loc["B", "status"] == "drop" and "2025년 성과점검 자료 미제출" in first.loc["B", "reasons"]
    assert first.loc["A", "status"] == "drop" and "바우처 집행률 8% < 기준 30%" in first.loc["A", "reasons"]
    later = continuation(progress, inputs.assign(voucher_spent=2e8), selection_year - 2, 2025, ReviewSettings())
    assert later.set_index("firm_id").loc["A", "status"] == "completed"  # third program year: no fourth voucher
    assert later.set_index("firm_id").loc["A", "program_year"] == 3


def test_the_voucher_never_exceeds_what_is_left_of_the_total():
    cohort, paths, before, after, inputs = cohort_tables()
    progress = review_year(cohort, paths, before, after, inputs, 2025, ReviewSettings(), LABELS).progress
    earlier = inputs.assign(fiscal_year=2024, voucher_granted=4.0e8)
    both = pd.concat([earlier, inputs], ignore_index=True)
    decided = continuation(progress, both, pd.Series(2024, index=cohort["firm_id"]), 2025, ReviewSettings())
    assert decided.set_index("firm_id").loc["A", "next_year_voucher_won"] == pytest.approx(1.0e8)  # 7.5 - 6.5억


def test_monitoring_counts_bands_and_grade_wise_realised_rates():
    cohort, paths, before, after, inputs = cohort_tables()
    result = review_year(cohort, paths, before, after, inputs, 2025, ReviewSettings(), LABELS)
    coverage = result.monitoring["band_coverage"]
    assert coverage["firms"] == 4 and coverage["bands"] == dict.fromkeys(BANDS, 1)
    assert coverage["coverage_80"] == pytest.approx(0.5)
    low, high = coverage["coverage_80_ci"]
    assert low < 0.5 < high
    grades = {g["grade"]: g for g in result.monitoring["grades"]}
    assert grades["A"]["firms"] == 2 and grades["A"]["high_growth_rate"] == pytest.approx(0.5)  # A +30%, B +5%
    assert grades["BBB"]["firms"] == 2 and grades["BBB"]["high_growth_rate"] == 0
    assert "BB" not in grades  # E filed no statement
    migration = result.grade_migration
    assert migration.loc["A", "AA"] == 1 and migration.loc["BB", "판정 불가"] == 1
    assert result.size_migration.loc["중기업", "중견후보기업"] == 1


def test_a_year_without_a_valid_size_table_is_said_not_guessed():
    cohort, paths, before, after, inputs = cohort_tables()
    after = after.assign(size_class=None, size_rule="no_size_table_for_this_date")
    result = review_year(cohort, paths, before, after, inputs, 2025, ReviewSettings(), LABELS)
    assert set(result.progress["size_progress"]) == {"unknown"}
    assert any("no size-class threshold table" in w for w in result.warnings)
    assert list(result.size_migration.columns) == ["판정 불가"]
