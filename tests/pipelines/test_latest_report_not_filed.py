"""Firms without statements for the as-of year are accounted for, never dropped silently.

Input: a round of six made-up firms (five applicants) where R0000002's FY2024 statements are not
filed yet (latest FY2023) and R0000006 (not an applicant) last filed FY2022 — the kind of fault
seen when the latest annual reports are not yet published at the scoring date.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.pipelines.cli import app
from jumpup.pipelines.round import run_round
from jumpup.settings import ProgramSettings
from tests.conftest import quick_settings, synth_and_train

CASE = Path(__file__).parent / "field_cases" / "latest_report_not_filed"
SKIPPED = {"R0000002": "no FY2024 statements (latest: FY2023)", "R0000006": "no FY2024 statements (latest: FY2022)"}
runner = CliRunner()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    return synth_and_train(root, quick_settings(firms=400, applicants=20), seed=1)


def test_score_prints_and_records_read_scored_and_skipped_with_the_reason(model, tmp_path):
    result = runner.invoke(
        app, ["score", "--panel", str(CASE), "--as-of", "2024", "--out", str(tmp_path), "--model", str(model)]
    )
    assert result.exit_code == 0, result.output
    assert "firms read 6 = scored 4 + skipped 2" in " ".join(result.output.split())
    skipped = pd.read_csv(tmp_path / "skipped.csv", dtype=str)
    assert dict(zip(skipped["firm_id"], skipped["message"], strict=True)) == SKIPPED
    assert set(skipped["reason"]) == {"no_statements_for_as_of_year"}
    scores = pd.read_csv(tmp_path / "scores.csv", dtype=str)
    assert set(scores["firm_id"]) == {"R0000001", "R0000003", "R0000004", "R0000005"}
    manifest = json.loads((tmp_path / "scores_manifest.json").read_text())
    assert (manifest["firms_read"], manifest["firms_scored"], manifest["firms_skipped"]) == (6, 4, 2)
    assert manifest["skipped_by_reason"] == {"no_statements_for_as_of_year": 2}


def test_growth_path_prints_and_records_skipped_firms(tmp_path):
    out = tmp_path / "paths.csv"
    result = runner.invoke(app, ["growth-path", "--panel", str(CASE), "--as-of", "2024", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".manifest.json").read_text())
    skipped = pd.read_csv(out.with_suffix(".skipped.csv"), dtype=str)
    paths = pd.read_csv(out, dtype={"firm_id": str})
    assert manifest["firms_read"] == 6 == paths["firm_id"].nunique() + len(skipped)
    assert {k: v for k, v in zip(skipped["firm_id"], skipped["message"], strict=True) if k in SKIPPED} == SKIPPED
    assert f"firms read 6 = with a path {manifest['firms']}" in " ".join(result.output.split())


def test_round_fails_the_applicant_with_the_missing_statements_flag(model, tmp_path):
    settings = quick_settings(firms=400, applicants=20)
    run_round(CASE, tmp_path, settings, str(model), with_reports=False, with_workbook=False, log_path=tmp_path / "l")
    decisions = pd.read_csv(tmp_path / "step1_decisions.csv", dtype=str).set_index("firm_id")
    assert decisions.loc["R0000002", "decision"] == "fail"
    assert "missing_latest_statements" in decisions.loc["R0000002", "hard_flags"]
    assert "최근 사업연도 재무제표 없음" in decisions.loc["R0000002", "reasons"]
    assert not decisions["reasons"].str.contains("nan").any()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["eligibility"]["program"]["min_age_years"] == 7
    assert manifest["params"]["program"]["min_age_years"] == 7


def test_changing_min_age_changes_the_next_round_with_the_same_model(model, tmp_path):
    """Eligibility is read from the run's params: the same trained model, another minimum age."""
    decided = {}
    for minimum in (7, 30):
        settings = quick_settings(firms=400, applicants=20).model_copy(
            update={"program": ProgramSettings(min_age_years=minimum)}
        )
        manifest = run_round(
            CASE, tmp_path, settings, str(model), with_reports=False, with_workbook=False, log_path=tmp_path / "l"
        )
        assert manifest["eligibility"]["program"]["min_age_years"] == minimum
        frame = pd.read_csv(tmp_path / "step1_decisions.csv", dtype=str).set_index("firm_id")
        decided[minimum] = frame
        # scores.csv (and so the workbook and reports) show the eligibility the decisions used
        scores = pd.read_csv(tmp_path / "scores.csv", dtype=str).set_index("firm_id")
        for column in ("eligible", "ineligible_reason"):
            pd.testing.assert_series_equal(scores[column], frame.loc[scores.index, column], check_names=False)
        assert scores["firm_age"].astype(float).tolist() == frame.loc[scores.index, "firm_age"].astype(float).tolist()
    # firms eligible at 7 years but younger than 30 now fail on age alone
    young = (decided[30]["firm_age"].astype(float) < 30) & decided[7]["ineligible_reason"].isna()
    assert young.sum() >= 2
    assert (decided[30].loc[young, "ineligible_reason"] == "younger_than_minimum_age").all()
    assert (decided[30].loc[young, "decision"] == "fail").all()
    assert decided[30].loc[young, "reasons"].str.contains("업력 요건 미충족").all()
    assert not (decided[7]["ineligible_reason"].fillna("") == "younger_than_minimum_age").any()


def test_quarantined_rows_are_counted_and_named_by_score_and_growth_path(model, tmp_path):
    import shutil

    panel = tmp_path / "panel"
    shutil.copytree(CASE, panel)
    with open(panel / "firms.csv", "a", encoding="utf-8") as handle:
        handle.write("../../x,침입,C26,,,,,12,26421,2004\n")  # a hostile id: quarantined, never a path
    out = tmp_path / "paths.csv"
    result = runner.invoke(app, ["growth-path", "--panel", str(panel), "--as-of", "2024", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 input row(s) quarantined" in " ".join(result.output.split())
    assert json.loads(out.with_suffix(".manifest.json").read_text())["rows_quarantined"] == 1
    assert pd.read_csv(out.with_suffix(".quarantine.csv"), dtype=str)["value"].tolist() == ["../../x"]
    scored = tmp_path / "scored"
    args = ["score", "--panel", str(panel), "--as-of", "2024", "--out", str(scored), "--model", str(model)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "1 input row(s) quarantined" in " ".join(result.output.split())
    assert json.loads((scored / "scores_manifest.json").read_text())["rows_quarantined"] == 1
