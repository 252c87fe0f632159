"""Every quarantine rule, on real bad files (UTF-8 and cp949 CSV, .xlsx, Parquet)."""

from __future__ import annotations

import pandas as pd
import pytest

from jumpup.intake.ingest import ingest_directory, write_outputs
from jumpup.intake.readers import InputFileError
from jumpup.settings import load_settings

FIRMS_HEADER = "firm_id,name,ksic_division,ksic_code,founded_year,main_products\n"
GOOD_FIRMS = [
    "000001,가온테크,C26,26211,2001,반도체 검사장비",
    "000002,나래바이오,C21,21210,1998,진단키트",
    "000003,다온소프트,J58,58221,2010,보안 소프트웨어",
]
FIN_HEADER = "firm_id,fiscal_year,revenue,operating_income,total_assets,total_liabilities,total_equity,employees\n"
GOOD_FIN = [
    '000001,2021,"12,000,000,000",900000000,10000000000,4000000000,6000000000,80',
    "000001,2022,13000000000,1000000000,11000000000,4000000000,7000000000,85",
    "000002,2022,8000000000,△500000000,9000000000,3000000000,6000000000,40",
    "000003,2022,5000000000,(200000000),4000000000,1000000000,3000000000,30",
]


@pytest.fixture
def ingest_settings():
    return load_settings(overrides={"ingest": {"max_fiscal_year": 2024}}).ingest


def write_panel(directory, firms_rows, fin_rows, encoding="utf-8"):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "firms.csv").write_bytes((FIRMS_HEADER + "\n".join(firms_rows) + "\n").encode(encoding))
    (directory / "financials.csv").write_bytes((FIN_HEADER + "\n".join(fin_rows) + "\n").encode(encoding))
    return directory


def quarantine_rules(result, file):
    q = result.quarantine[result.quarantine["file"] == file]
    return {int(r.row): (r.rule, r.column, r.value) for r in q.itertuples()}


def assert_balanced(result):
    for report in result.reports:
        assert report.rows_read == report.accepted + report.quarantined, report


def test_clean_panel_is_accepted_whole_and_parses_korean_number_formats(tmp_path, ingest_settings):
    result = ingest_directory(write_panel(tmp_path / "p", GOOD_FIRMS, GOOD_FIN), ingest_settings)
    assert result.quarantine.empty
    fin = result.tables["financials"].set_index(["firm_id", "fiscal_year"])
    assert fin.loc[("000001", 2021), "revenue"] == 12_000_000_000
    assert fin.loc[("000002", 2022), "operating_income"] == -500_000_000  # △ marks a negative
    assert fin.loc[("000003", 2022), "operating_income"] == -200_000_000  # (…) marks a negative
    assert result.tables["firms"]["firm_id"].tolist() == ["000001", "000002", "000003"]  # leading zeros kept
    assert_balanced(result)


def test_each_financials_rule_is_caught_with_row_column_and_value(tmp_path, ingest_settings):
    bad = [
        "000001,2020,abc,1,10000000000,4000000000,6000000000,10",  # row 6 non-numeric revenue
        "000001,2019,-5,1,10000000000,4000000000,6000000000,10",  # row 7 negative revenue
        "000001,2018,100,1,-10,0,-10,10",  # row 8 negative assets
        "000001,2017,100,1,10000000000,1000000000,1000000000,10",  # row 9 balance mismatch
        "000001,2031,100,1,10000000000,4000000000,6000000000,10",  # row 10 future year
        "999999,2022,100,1,10000000000,4000000000,6000000000,10",  # row 11 orphan
        "000001,2022,13000000000,1000000000,11000000000,4000000000,7000000000,85",  # row 12 exact repeat of row 3
        "000003,2022,5100000000,1,4000000000,1000000000,3000000000,30",  # row 13 conflicts with row 5
        "000002,2016,1,2,3,4,5,6,7,8",  # row 14 too many fields
        "000002,,100,1,10,5,5,1",  # row 15 missing fiscal year
    ]
    result = ingest_directory(write_panel(tmp_path / "p", GOOD_FIRMS, GOOD_FIN + bad), ingest_settings)
    rules = quarantine_rules(result, "financials.csv")
    assert rules[6] == ("non_numeric", "revenue", "abc")
    assert rules[7][:2] == ("negative_value", "revenue")
    assert rules[8][:2] == ("negative_value", "total_assets")
    assert rules[9][:2] == ("balance_mismatch", "total_assets")
    assert rules[10] == ("future_fiscal_year", "fiscal_year", "2031")
    assert rules[11] == ("orphan_row", "firm_id", "999999")
    assert rules[12][0] == "duplicate_key" and rules[12][2] == "000001/2022"
    assert rules[13][0] == "duplicate_key" and rules[5][0] == "duplicate_key"  # both conflicting rows out
    assert rules[14][0] == "malformed_line"
    assert rules[15][:2] == ("missing_required", "fiscal_year")
    assert 3 not in rules  # the first of two identical rows is kept
    report = {r.table: r for r in result.reports}["financials"]
    assert (report.rows_read, report.accepted, report.quarantined) == (14, 3, 11)
    assert_balanced(result)


def test_a_rejected_cell_is_not_listed_again_as_empty(tmp_path, ingest_settings):
    bad = ["000001,2020,abc,1,10000000000,4000000000,6000000000,10", "000002,,100,1,10,5,5,1"]
    result = ingest_directory(write_panel(tmp_path / "p", GOOD_FIRMS, GOOD_FIN + bad), ingest_settings)
    quarantine = result.quarantine.set_index("row")
    assert quarantine.loc[6, "rule"] == "non_numeric" and quarantine.loc[7, "rule"] == "missing_required"
    # 'abc' parses to nothing and the empty year is empty after parsing too: the same cells, not new problems
    assert quarantine.loc[6, "other_problems"] == "" and quarantine.loc[7, "other_problems"] == ""


def test_firms_rules_and_orphaned_financials_follow(tmp_path, ingest_settings):
    bad_firms = [
        "000004,없는업종,Z99,,2000,",  # row 5 unknown division
        "000005,없는코드,C26,26999,2000,",  # row 6 unknown KSIC code
        "000006,미래설립,C26,26211,2090,",  # row 7 founded in the future
        "000001,가온테크,C26,26211,2001,다른 제품",  # row 8 conflicts with row 2
    ]
    fin = [*GOOD_FIN, "000004,2022,100,1,10,5,5,1"]
    result = ingest_directory(write_panel(tmp_path / "p", GOOD_FIRMS + bad_firms, fin), ingest_settings)
    rules = quarantine_rules(result, "firms.csv")
    assert rules[5][:3] == ("unknown_industry_code", "ksic_division", "Z99")
    # optional fields lose only their value: the firm is kept and the problem flagged
    assert 6 not in rules and 7 not in rules
    flags = {(int(r.row), r.column): (r.rule, r.value) for r in result.flags.itertuples()}
    assert flags[(6, "ksic_code")] == ("unknown_industry_code", "26999")
    assert flags[(7, "founded_year")] == ("future_year", "2090")
    firms = result.tables["firms"].set_index("firm_id")
    assert pd.isna(firms.loc["000005", "ksic_code"]) and pd.isna(firms.loc["000006", "founded_year"])
    assert rules[8][0] == "duplicate_key" and rules[2][0] == "duplicate_key"
    fin_rules = quarantine_rules(result, "financials.csv")
    # the quarantined firm's statements are orphans now, not silently dropped
    assert fin_rules[2] == ("orphan_row", "firm_id", "000001")
    assert fin_rules[6] == ("orphan_row", "firm_id", "000004")
    assert_balanced(result)


def test_cp949_csv_is_read_and_reported_as_cp949(tmp_path, ingest_settings):
    bad = ["000002,2021,일억,1,10,5,5,1"]  # Korean text in a numeric column
    result = ingest_directory(
        write_panel(tmp_path / "p", GOOD_FIRMS, GOOD_FIN + bad, encoding="cp949"), ingest_settings
    )
    assert {r.table: r.encoding for r in result.reports} == {"firms": "cp949", "financials": "cp949"}
    assert result.tables["firms"]["name"].tolist()[0] == "가온테크"
    assert quarantine_rules(result, "financials.csv")[6] == ("non_numeric", "revenue", "일억")


def test_xlsx_with_korean_headers_and_thousand_won_unit(tmp_path, ingest_settings):
    directory = tmp_path / "x"
    write_panel(directory, GOOD_FIRMS, GOOD_FIN)
    (directory / "financials.csv").unlink()
    sheet = pd.DataFrame(
        {
            "기업코드": ["000001", "000002", "000003"],
            "결산연도": ["2022", "2022", "2022"],
            "매출액(천원)": ["13,000,000", "-1", "5,000,000"],
            "자산총계(천원)": ["11000000", "9000000", "4000000"],
        }
    )
    sheet.to_excel(directory / "financials.xlsx", index=False)
    result = ingest_directory(directory, ingest_settings)
    fin = result.tables["financials"].set_index("firm_id")
    assert fin.loc["000001", "revenue"] == 13_000_000_000  # 천원 → won
    assert quarantine_rules(result, "financials.xlsx")[3][:2] == ("negative_value", "revenue")  # Excel row 3
    report = {r.table: r for r in result.reports}["financials"]
    assert report.units == {"revenue": "thousand_won", "total_assets": "thousand_won"}
    assert_balanced(result)


def test_parquet_input_and_declared_million_won_unit(tmp_path):
    directory = tmp_path / "q"
    write_panel(directory, GOOD_FIRMS, GOOD_FIN[:1])
    (directory / "financials.csv").unlink()
    pd.DataFrame(
        {"firm_id": ["000001"], "fiscal_year": [2022], "revenue": [12_000.0], "total_assets": [10_000.0]}
    ).to_parquet(directory / "financials.parquet")
    settings = load_settings(overrides={"ingest": {"amount_unit": "million_won", "max_fiscal_year": 2024}}).ingest
    result = ingest_directory(directory, settings)
    assert result.tables["financials"]["revenue"].iloc[0] == 12_000_000_000


def test_undeclared_thousand_won_amounts_raise_a_warning(tmp_path, ingest_settings):
    small = ["000001,2022,13000000,1000000,11000000,4000000,7000000,85"]
    result = ingest_directory(write_panel(tmp_path / "p", GOOD_FIRMS, small), ingest_settings)
    assert any("implausibly small" in w for w in result.warnings)


def test_missing_required_file_is_fatal_with_what_to_fix(tmp_path, ingest_settings):
    directory = write_panel(tmp_path / "p", GOOD_FIRMS, GOOD_FIN)
    (directory / "financials.csv").unlink()
    with pytest.raises(InputFileError, match="required file 'financials'"):
        ingest_directory(directory, ingest_settings)


def test_missing_required_column_is_fatal_and_names_it(tmp_path, ingest_settings):
    directory = write_panel(tmp_path / "p", GOOD_FIRMS, GOOD_FIN)
    (directory / "firms.csv").write_text("firm_id,name\n000001,a\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"firms\.csv: required column\(s\) ksic_division missing"):
        ingest_directory(directory, ingest_settings)


def test_unreadable_file_is_fatal(tmp_path, ingest_settings):
    directory = write_panel(tmp_path / "p", GOOD_FIRMS, GOOD_FIN)
    (directory / "firms.csv").write_bytes(b"\xff\xfe\x00\x81\xff" * 50)
    with pytest.raises(InputFileError, match="unreadable text"):
        ingest_directory(directory, ingest_settings)


def test_round_rules_for_applications_and_audits(tmp_path, ingest_settings):
    directory = write_panel(tmp_path / "r", GOOD_FIRMS, GOOD_FIN)
    (directory / "applications.csv").write_text(
        "firm_id,round_id,applied_on,recommending_investor,investor_type,investment_stage\n"
        "000001,2025-1,2025-03-02,한빛벤처스,VC,series_b\n"
        "000002,2025-1,2025-03-02,,,\n"
        "000003,2025-1,not-a-date,,,\n"  # row 4 bad date
        "000009,2025-1,2025-03-02,,,\n"  # row 5 orphan
        "000002,2025-1,2025-03-02,누리,BANK,series_b\n",  # row 6 unknown investor type (and duplicate)
        encoding="utf-8",
    )
    (directory / "audits.csv").write_text(
        "firm_id,evaluator_id,evaluator_role,item,score\n"
        "000001,E1,technology_expert,novelty,4\n"
        "000001,E1,technology_expert,novelty,4\n"  # row 3 exact repeat
        "000001,E2,growth_expert,novelty,9\n"  # row 4 out of range
        "000001,E3,janitor,novelty,3\n"  # row 5 unknown role
        "000001,E2,growth_expert,charisma,3\n"  # row 6 unknown item
        "000003,E2,growth_expert,novelty,3\n",  # row 7 firm without an accepted application
        encoding="utf-8",
    )
    result = ingest_directory(directory, ingest_settings, round_mode=True)
    apps = quarantine_rules(result, "applications.csv")
    assert apps[4][:2] == ("bad_date", "applied_on")
    assert apps[5][0] == "orphan_row"
    assert apps[6][0] in {"unknown_investor_type", "duplicate_key"}
    audits = quarantine_rules(result, "audits.csv")
    assert audits[3][0] == "duplicate_key"
    assert audits[4][:3] == ("score_out_of_range", "score", "9")
    assert audits[5][:2] == ("unknown_evaluator_role", "evaluator_role")
    assert audits[6][:2] == ("unknown_rubric_item", "item")
    assert audits[7] == ("orphan_row", "firm_id", "000003")
    assert_balanced(result)


def test_round_without_applications_is_fatal(tmp_path, ingest_settings):
    directory = write_panel(tmp_path / "r", GOOD_FIRMS, GOOD_FIN)
    with pytest.raises(InputFileError, match="applications"):
        ingest_directory(directory, ingest_settings, round_mode=True)


def test_outputs_quarantine_file_and_report(tmp_path, ingest_settings):
    directory = write_panel(tmp_path / "p", GOOD_FIRMS, [*GOOD_FIN, "000001,2020,abc,1,1,1,0,1"])
    result = ingest_directory(directory, ingest_settings)
    report = write_outputs(result, tmp_path / "out")
    quarantine = pd.read_csv(tmp_path / "out" / "quarantine.csv", dtype=str)
    assert quarantine.loc[0, ["file", "row", "column", "value", "rule"]].tolist() == [
        "financials.csv",
        "6",
        "revenue",
        "abc",
        "non_numeric",
    ]
    assert pd.read_parquet(tmp_path / "out" / "financials.parquet").shape[0] == 4
    assert report["quarantine_by_rule"] == {"non_numeric": 1}
    assert all(f["rows_read"] == f["accepted"] + f["quarantined"] for f in report["files"])


def test_real_kosdaq_panel_is_accepted_with_accounting(kosdaq_panel, ingest_settings):
    result = ingest_directory(kosdaq_panel, load_settings(overrides={"ingest": {"max_fiscal_year": 2021}}).ingest)
    reports = {r.table: r for r in result.reports}
    assert reports["firms"].rows_read == 1042
    assert reports["financials"].rows_read == 5210
    assert_balanced(result)
    # Every firm in the panel passes; KSIC codes outside the stated division are flagged, not dropped.
    assert reports["firms"].accepted == 1042 and reports["financials"].accepted == 5210
    assert (result.flags["rule"] == "industry_code_mismatch").sum() > 0
    assert result.tables["firms"]["firm_id"].str.len().eq(6).all()


def test_evaluator_roles_written_in_korean_or_in_words_are_read_as_the_rubric_ids(tmp_path, ingest_settings):
    directory = write_panel(tmp_path / "r", GOOD_FIRMS, GOOD_FIN)
    (directory / "applications.csv").write_text(
        "firm_id,round_id,applied_on\n000001,2025-1,2025-03-02\n", encoding="utf-8"
    )
    (directory / "audits.csv").write_text(
        "firm_id,evaluator_id,evaluator_role,item,score\n"
        "000001,E1,기술전문가,novelty,4\n"
        "000001,E2,성장 전문가,novelty,3\n"
        "000001,E3,지원기관 심사역,novelty,3\n"
        "000001,E4,심사역,business_viability,3\n"
        "000001,E5,Growth Expert,business_viability,3\n"
        "000001,E6,청소부,business_viability,3\n",  # row 7: not a role in any language
        encoding="utf-8",
    )
    result = ingest_directory(directory, ingest_settings, round_mode=True)
    roles = result.tables["audits"].set_index("evaluator_id")["evaluator_role"].to_dict()
    assert roles == {
        "E1": "technology_expert",
        "E2": "growth_expert",
        "E3": "agency_examiner",
        "E4": "agency_examiner",
        "E5": "growth_expert",
    }
    assert quarantine_rules(result, "audits.csv")[7] == ("unknown_evaluator_role", "evaluator_role", "청소부")
    assert_balanced(result)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a,b",
        "a,b\r\n1,2\r\n",
        "(단위: 천원)\n\na,b\n1,2\n3,4\n5,6\n7,8",
        "x" * 65535 + "\r\n" + "a,b\r\n" * 10,  # a CR LF pair cut by the first look-ahead
        "x" * 65536 + "\r\n" + "a,b\r\n" * 10,
        "y\x0cz\u2028w\x1cv\rq\n" + "a,b\n" * 3,  # a CSV line ends at CR or LF only, not at \f, U+2028, \x1c
        ("c" * 70000 + "\n") * 8,  # longer lines than the first look-ahead
    ],
)
def test_the_head_of_a_file_is_read_as_its_whole_text_splits_into_lines(text):
    from jumpup.intake.readers import _head_lines, split_lines

    for count in (1, 2, 6, 20):
        assert _head_lines(text, count) == split_lines(text)[:count]
    if "\u2028" in text:
        assert _head_lines(text, 2) == ["y\x0cz\u2028w\x1cv", "q"]
