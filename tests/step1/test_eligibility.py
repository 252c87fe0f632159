"""Round-time eligibility: the age rule, policy read from params at round time, size tables by date."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.intake.ingest import ingest_directory
from jumpup.pipelines import step1 as step1_stage
from jumpup.pipelines.cli import app
from jumpup.reference import REFERENCE_DIR, ReferenceTableError
from jumpup.settings import ProgramSettings, load_settings
from jumpup.step1.eligibility import SizeTableMissing, age_at, round_eligibility
from tests.step1.test_decisions import applications, audits_for, scores_row

SHIPPED = REFERENCE_DIR / "sme_size_criteria_2015-01-01_2025-08-31.csv"


def test_age_is_full_years_from_the_founding_date_to_the_application_date():
    founded = pd.Series(pd.to_datetime(["2018-03-02", "2018-03-03", "2018-01-01", None]))
    applied = pd.Series(pd.to_datetime(["2025-03-02"] * 4))
    assert age_at(founded, applied).tolist()[:3] == [7.0, 6.0, 7.0]
    assert pd.isna(age_at(founded, applied).iloc[3])


def _round(directory, applied_on="2025-03-02", revenue=2e10):
    """Five C26 firms with FY2024 statements: founded 2010, 2017 (on 2017-06-30), 2018, 2020 and unknown."""
    directory.mkdir(parents=True)
    firms = [f"00000{i}" for i in range(1, 6)]
    pd.DataFrame(
        {
            "firm_id": firms,
            "name": [f"회사{i}" for i in range(5)],
            "ksic_division": "C26",
            "founded_year": [2010, 2017, 2018, 2020, None],
            "founded_on": [None, "2017-06-30", None, None, None],
        }
    ).to_csv(directory / "firms.csv", index=False)
    pd.DataFrame({"firm_id": firms, "fiscal_year": 2024, "revenue": revenue, "total_assets": 1e10}).to_csv(
        directory / "financials.csv", index=False
    )
    applications(firms).assign(applied_on=applied_on).to_csv(directory / "applications.csv", index=False)
    pd.DataFrame([a for f in firms for a in audits_for(f, 4)]).to_csv(directory / "audits.csv", index=False)
    pd.DataFrame([scores_row(f, 680) for f in firms]).to_csv(directory.parent / "scores.csv", index=False)
    return firms


def _settings(**program):
    return load_settings(overrides={"ingest": {"max_fiscal_year": 2024}, "program": program})


def test_round_eligibility_applies_the_age_rule_with_the_rounds_params(tmp_path):
    _round(tmp_path / "round")
    settings = _settings()
    assert settings.program.min_age_years == 7  # the default: past the 7-year start-up stage
    tables = ingest_directory(tmp_path / "round", settings.ingest, round_mode=True).tables
    result = round_eligibility(
        tables["firms"], tables["financials"], tables["applications"], 2024, settings.size_class, settings.program
    )
    assert result["firm_age"].tolist()[:4] == [15.0, 7.0, 7.0, 5.0]
    assert result["firm_age_basis"].tolist() == ["founded_year (1 January)", "founded_on"] + [
        "founded_year (1 January)"
    ] * 2 + ["unknown"]
    assert result["size_class"].eq("medium").all()
    assert result["ineligible_reason"].tolist() == ["", "", "", "younger_than_minimum_age", "firm_age_unknown"]


def test_changing_min_age_changes_the_next_round_without_retraining(tmp_path):
    _round(tmp_path / "round")
    decided = {}
    for minimum in (7, 10):
        settings = _settings(min_age_years=minimum)
        ingested = ingest_directory(tmp_path / "round", settings.ingest, round_mode=True)
        log = tmp_path / f"log{minimum}.jsonl"
        # the same --out both times: a rerun leaves no dossier of a firm that no longer passes
        step1_stage.run(tmp_path / "scores.csv", ingested, tmp_path / "out", settings, log_path=log)
        frame = pd.read_csv(tmp_path / "out" / "step1_decisions.csv", dtype={"firm_id": str})
        decided[minimum] = frame.set_index("firm_id")["decision"].to_dict()
        dossiers = sorted(p.stem for p in (tmp_path / "out" / "dossiers").glob("*.html"))
        assert dossiers == sorted(frame.loc[frame["decision"] == "pass", "firm_id"])
        record = json.loads(log.read_text())
        assert record["eligibility"]["program"]["min_age_years"] == minimum
        assert record["eligibility"]["size_tables_used"] == ["2015-01-01"]
        assert "nan" not in " ".join(frame["reasons"])
    assert decided[7] == {"000001": "pass", "000002": "pass", "000003": "pass", "000004": "fail", "000005": "fail"}
    assert decided[10] == {"000001": "pass", "000002": "fail", "000003": "fail", "000004": "fail", "000005": "fail"}


def test_a_date_without_a_size_table_stops_with_one_operator_error(tmp_path):
    _round(tmp_path / "round", applied_on="2025-10-01")
    settings = _settings()
    ingested = ingest_directory(tmp_path / "round", settings.ingest, round_mode=True)
    with pytest.raises(SizeTableMissing) as error:
        step1_stage.run(tmp_path / "scores.csv", ingested, tmp_path / "out", settings, log_path=tmp_path / "l")
    message = str(error.value)
    assert "\n" not in message
    for part in ("sme_size_criteria", "2025-10-01", "5 applicant(s)", "program.size_tables", "catalog.yaml"):
        assert part in message
    assert not (tmp_path / "out" / "step1_decisions.csv").exists()
    # through the command: one line, exit code 2, no traceback
    result = CliRunner().invoke(
        app,
        [
            "step1",
            "--scores",
            str(tmp_path / "scores.csv"),
            "--round",
            str(tmp_path / "round"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2 and "sme_size_criteria" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # the operator error comes before any output folder


def _made_up_table(path, small_cap_eok):
    """A made-up size table in the documented format: the shipped rows with a different small cap."""
    table = pd.read_csv(SHIPPED, dtype=str)
    table["small_max_avg_rev_eok"] = str(small_cap_eok)
    table.to_csv(path, index=False)
    return path


def test_a_supplied_size_table_in_the_documented_format_works_without_code_changes(tmp_path):
    _round(tmp_path / "round", applied_on="2025-10-01")
    table = _made_up_table(tmp_path / "sme_size_criteria_2025-09-01.csv", small_cap_eok=250)
    supplied = [{"file": str(table), "valid_from": "2025-09-01", "source": "made-up table for a test"}]
    settings = _settings(size_tables=supplied)
    ingested = ingest_directory(tmp_path / "round", settings.ingest, round_mode=True)
    log = tmp_path / "log.jsonl"
    step1_stage.run(tmp_path / "scores.csv", ingested, tmp_path / "out", settings, log_path=log)
    frame = pd.read_csv(tmp_path / "out" / "step1_decisions.csv", dtype={"firm_id": str})
    # 200억 of revenue is under the made-up 250억 small cap: small, so not eligible
    assert frame["size_class"].eq("small").all() and frame["decision"].eq("fail").all()
    assert frame["size_table_version"].str.contains("supplied").all()
    assert frame["reasons"].str.contains("규모 요건 미충족").all()
    assert json.loads(log.read_text())["eligibility"]["size_tables_used"] == [
        "2025-09-01 (supplied: sme_size_criteria_2025-09-01.csv)"
    ]


def test_a_supplied_table_not_in_the_format_names_row_column_and_value(tmp_path):
    _round(tmp_path / "round", applied_on="2025-10-01")
    table = pd.read_csv(SHIPPED, dtype=str)
    table.loc[3, "medium_max_avg_rev_eok"] = "1,500억"
    table.to_csv(tmp_path / "bad.csv", index=False)
    settings = _settings(size_tables=[{"file": str(tmp_path / "bad.csv"), "valid_from": "2025-09-01"}])
    ingested = ingest_directory(tmp_path / "round", settings.ingest, round_mode=True)
    with pytest.raises(ReferenceTableError, match=r"bad.csv: row 5, column medium_max_avg_rev_eok: '1,500억'"):
        step1_stage.run(tmp_path / "scores.csv", ingested, tmp_path / "out", settings, log_path=tmp_path / "l")


def test_program_settings_default_to_a_minimum_age_of_seven():
    assert ProgramSettings().min_age_years == 7
