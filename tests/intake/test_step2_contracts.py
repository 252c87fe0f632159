"""Contracts of the files after STEP 1: every row accepted or quarantined with its reason, and a
clear error for a file that cannot be read as such."""

from __future__ import annotations

import pandas as pd
import pytest

from jumpup.intake.readers import InputFileError
from jumpup.intake.step2_contracts import (
    OVERRIDES,
    REVIEW_INPUTS,
    STEP2_EVALUATIONS,
    KnownIds,
    evaluations_schema,
    ingest_statements,
    overrides_schema,
    read_checked,
    review_inputs_schema,
)
from jumpup.settings import IngestSettings

PASSED = KnownIds("firm_id", frozenset({"F1", "F2"}), "not_passed_step1", "did not pass STEP 1")
APPLICANTS = KnownIds("firm_id", frozenset({"F1", "F2", "F3"}), "unknown_firm", "not an applicant")


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_evaluations_quarantine_unknown_firms_failed_step1_scores_off_the_scale_and_bad_votes(tmp_path):
    path = write(
        tmp_path / "evaluations.csv",
        "firm_id,evaluator_id,evaluator_role,item,score,vote\n"
        "F1,M1,investor,growth,4,select\n"  # row 2: fine
        "F1,M2,founder,challenge,7,선정\n"  # row 3: score off the 1-5 scale (Korean vote accepted)
        "F3,M1,investor,growth,4,select\n"  # row 4: applicant that did not pass STEP 1
        "F9,M1,investor,growth,4,select\n"  # row 5: not an applicant at all
        "F2,M1,investor,growth,4,maybe\n"  # row 6: unknown vote
        "F2,M3,astrologer,growth,4,select\n"  # row 7: unknown member kind
        "F2,M4,founder,luck,4,select\n"  # row 8: unknown item
        "F2,M5,founder,growth,abc,select\n",  # row 9: not a number
    )
    checked = read_checked(path, STEP2_EVALUATIONS, evaluations_schema(1, 5), (APPLICANTS, PASSED))
    assert checked.report.rows_read == 8 == checked.report.accepted + checked.report.quarantined
    assert list(checked.frame["firm_id"]) == ["F1"]
    rules = checked.quarantine.set_index("row")["rule"].to_dict()
    assert rules == {
        3: "score_out_of_range",
        4: "not_passed_step1",
        5: "unknown_firm",
        6: "unknown_vote",
        7: "unknown_committee_role",
        8: "unknown_step2_item",
        9: "non_numeric",
    }
    row3 = checked.quarantine.set_index("row").loc[3]
    assert (row3["file"], row3["column"], row3["value"]) == ("evaluations.csv", "score", "7")
    assert "not_passed_step1" in checked.quarantine.set_index("row").loc[5, "other_problems"]


def test_one_member_with_two_votes_for_one_firm_is_quarantined(tmp_path):
    path = write(
        tmp_path / "e.csv",
        "firm_id,evaluator_id,evaluator_role,item,score,vote\n"
        "F1,M1,investor,growth,4,select\nF1,M1,investor,innovation,4,reject\nF2,M1,investor,growth,4,reject\n",
    )
    checked = read_checked(path, STEP2_EVALUATIONS, evaluations_schema(1, 5), (PASSED,))
    assert list(checked.quarantine["rule"]) == ["conflicting_vote", "conflicting_vote"]
    assert list(checked.frame["firm_id"]) == ["F2"]


def test_an_override_without_a_reason_or_author_is_quarantined(tmp_path):
    path = write(
        tmp_path / "overrides.csv",
        "firm_id,kind,decision,reason,author\n"
        "F1,재심,선정,신규 수주 확인,운영위원회\n"
        "F2,override,select,,김위원장\n"
        "F2,override,select,사유,\n"
        "F3,override,select,사유,김위원장\n",
    )
    checked = read_checked(path, OVERRIDES, overrides_schema(), (PASSED,))
    assert checked.frame[["firm_id", "kind", "decision"]].values.tolist() == [["F1", "appeal", "select"]]
    assert checked.quarantine.set_index("row")["rule"].to_dict() == {
        3: "missing_required",
        4: "missing_required",
        5: "not_passed_step1",
    }


def test_review_file_for_an_unknown_firm_is_quarantined_and_impossible_rows_too(tmp_path):
    path = write(
        tmp_path / "review_inputs.csv",
        "firm_id,fiscal_year,milestones_planned,milestones_met,voucher_granted,voucher_spent\n"
        "F1,2025,5,4,250000000,200000000\n"
        "ZZ,2025,5,4,250000000,200000000\n"
        "F2,2025,5,6,250000000,200000000\n"
        "F2,2026,5,4,250000000,300000000\n",
    )
    cohort = KnownIds("firm_id", frozenset({"F1", "F2"}), "unknown_firm", "not a firm of this cohort")
    checked = read_checked(path, REVIEW_INPUTS, review_inputs_schema(), (cohort,))
    assert checked.report.rows_read == 4 == checked.report.accepted + checked.report.quarantined
    assert checked.quarantine.set_index("row")["rule"].to_dict() == {
        3: "unknown_firm",
        4: "met_exceeds_planned",
        5: "spent_exceeds_granted",
    }


def test_a_missing_file_or_column_is_one_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="step2_evaluations file not found"):
        read_checked(tmp_path / "none.csv", STEP2_EVALUATIONS, evaluations_schema(1, 5))
    path = write(tmp_path / "e.csv", "firm_id,evaluator_id,item,score\nF1,M1,growth,3\n")
    with pytest.raises(InputFileError, match=r"e\.csv: required column\(s\) evaluator_role, vote missing"):
        read_checked(path, STEP2_EVALUATIONS, evaluations_schema(1, 5))


def test_statements_of_firms_outside_the_cohort_are_quarantined_with_their_file_row(tmp_path):
    write(tmp_path / "firms.csv", "firm_id,name,ksic_division\nF1,가,C26\nX9,나,C26\n")
    write(
        tmp_path / "financials.csv",
        "firm_id,fiscal_year,revenue\nF1,2025,100000000000\nX9,2025,90000000000\nX9,2024,80000000000\n",
    )
    result = ingest_statements(tmp_path, IngestSettings(max_fiscal_year=2025), frozenset({"F1"}))
    assert list(result.tables["financials"]["firm_id"]) == ["F1"]
    moved = result.quarantine[result.quarantine["rule"] == "unknown_firm"]
    assert sorted(zip(moved["file"], moved["row"], strict=True)) == [
        ("financials.csv", 3),
        ("financials.csv", 4),
        ("firms.csv", 3),
    ]
    for report in result.reports:
        assert report.balanced and report.quarantined == (2 if report.table == "financials" else 1)
    assert isinstance(result.quarantine, pd.DataFrame)
