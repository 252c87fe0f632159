"""Real-format faults in intake: field cases (inputs copied from real-file faults) and the other
kinds of the same families. Every bad input is accepted with the right value, flagged with the
value dropped, quarantined with its rule, or refused with one line naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.intake.ingest import ingest_directory
from jumpup.intake.readers import InputFileError
from jumpup.pipelines.cli import app
from jumpup.settings import load_settings

CASES = Path(__file__).parent / "field_cases"
FIRMS = "firm_id,name,ksic_division,ksic_code\n000001,가온테크,C26,26211\n000002,나래바이오,C21,21210\n"


@pytest.fixture
def ingest_settings():
    return load_settings(overrides={"ingest": {"max_fiscal_year": 2024}}).ingest


def case_panel(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(CASES / name / "panel", target)
    return target


def balanced(result) -> bool:
    return all(r.rows_read == r.accepted + r.quarantined for r in result.reports)


def flags_by(result) -> dict:
    return {(r.file, int(r.row), r.column): (r.rule, r.value) for r in result.flags.itertuples()}


def panel(tmp_path: Path, financials: str, firms: str = FIRMS, suffix: str = "csv") -> Path:
    directory = tmp_path / "p"
    directory.mkdir(exist_ok=True)
    (directory / "firms.csv").write_text(firms, encoding="utf-8")
    (directory / f"financials.{suffix}").write_text(financials, encoding="utf-8")
    return directory


# ---- field case 02: accounting negatives and the nil dash -------------------------------------


def test_case02_every_accounting_negative_is_negative_and_dash_is_nil(tmp_path, ingest_settings):
    result = ingest_directory(case_panel("02-accounting-negatives", tmp_path), ingest_settings)
    fin = result.tables["financials"].set_index("firm_id")
    assert fin.loc["A00001", "operating_income"] == -1_234_000_000  # (1,234,000,000)
    assert fin.loc["A00001", "net_income"] == -500_000_000  # △
    assert fin.loc["A00002", "operating_income"] == -300_000_000  # − U+2212
    assert fin.loc["A00002", "net_income"] == -45_000_000  # ( 45,000,000 )
    assert fin.loc["A00003", "operating_income"] == -1_000_000  # full-width （1,000,000）
    assert fin.loc["A00003", "net_income"] == 0  # '-' is nil in a Korean statement
    assert fin.loc["A00004", "operating_income"] == -1_234_000  # trailing minus 1,234,000-
    assert fin.loc["A00004", "net_income"] == -200_000_000  # ▲
    assert fin.loc["A00005", "operating_income"] == 0  # '-'
    assert fin.loc["A00005", "net_income"] == -70_000_000  # '- 70,000,000'
    q = result.quarantine.set_index("row")
    assert q.loc[7, "rule"] == "negative_value" and q.loc[7, "value"] == "(9,000,000,000)"  # never read positive
    assert len(result.quarantine) == 1 and balanced(result)


def test_dash_outside_amounts_means_missing(tmp_path, ingest_settings):
    firms = "firm_id,name,ksic_division,ksic_code,founded_year\n000001,가온테크,C26,-,-\n"
    result = ingest_directory(panel(tmp_path, "firm_id,fiscal_year,revenue\n000001,2023,100\n", firms), ingest_settings)
    firm = result.tables["firms"].iloc[0]
    assert pd.isna(firm["ksic_code"]) and pd.isna(firm["founded_year"])
    assert result.quarantine.empty


def test_unreadable_optional_amount_drops_the_value_not_the_firm_year(tmp_path, ingest_settings):
    fin = (
        "firm_id,fiscal_year,revenue,operating_income,patent_disclosed\n000001,2023,100,1.2.3,2\n000002,2023,abc,5,1\n"
    )
    result = ingest_directory(panel(tmp_path, fin), ingest_settings)
    accepted = result.tables["financials"].set_index("firm_id")
    assert pd.isna(accepted.loc["000001", "operating_income"]) and pd.isna(accepted.loc["000001", "patent_disclosed"])
    flags = flags_by(result)
    assert flags[("financials.csv", 2, "operating_income")] == ("non_numeric", "1.2.3")
    assert flags[("financials.csv", 2, "patent_disclosed")] == ("bad_flag", "2")
    q = result.quarantine.set_index("row")  # the required revenue still quarantines its row
    assert q.loc[3, "rule"] == "non_numeric" and q.loc[3, "column"] == "revenue" and q.loc[3, "value"] == "abc"
    assert balanced(result)


# ---- field case 03: tab-separated text with thousands separators ------------------------------


def test_case03_tab_separated_cp949_with_thousands_separators(tmp_path, ingest_settings):
    result = ingest_directory(case_panel("03-tsv-thousands-separators", tmp_path), ingest_settings)
    fin = result.tables["financials"].set_index(["firm_id", "fiscal_year"])
    assert len(fin) == 6 and result.quarantine.empty
    assert fin.loc[("T00001", 2022), "revenue"] == 12_500_000_000
    assert fin.loc[("T00002", 2022), "operating_income"] < 0
    assert {r.encoding for r in result.reports} == {"cp949"}


def test_comma_file_with_tabs_inside_values_stays_comma_separated(tmp_path, ingest_settings):
    firms = 'firm_id,name,ksic_division\n000001,"가온\ttech",C26\n000002,나래,C21\n'
    result = ingest_directory(panel(tmp_path, "firm_id,fiscal_year,revenue\n000001,2023,100\n", firms), ingest_settings)
    assert result.tables["firms"]["name"].tolist() == ["가온\ttech", "나래"]


# ---- field case 05: stock codes that lost their leading zeros ---------------------------------


def test_case05_zero_stripped_ids_are_restored_and_flagged(tmp_path, ingest_settings):
    result = ingest_directory(case_panel("05-xlsx-stock-code-leading-zeros", tmp_path), ingest_settings)
    assert sorted(result.tables["firms"]["firm_id"]) == ["005930", "035720", "091990", "247540"]
    assert result.quarantine.empty  # no statement is orphaned under a mangled id
    assert set(result.tables["financials"]["firm_id"]) == {"005930", "035720", "091990", "247540"}
    flags = flags_by(result)
    assert flags[("firms.xlsx", 2, "firm_id")] == ("leading_zeros_restored", "5930")
    assert sum(rule == "leading_zeros_restored" for rule, _ in flags.values()) == 3


def test_parquet_typed_columns_integer_and_float_ids_and_boolean_flags(tmp_path, ingest_settings):
    directory = tmp_path / "p"
    directory.mkdir()
    pd.DataFrame({"firm_id": [5930.0, 247540.0], "name": ["a", "b"], "ksic_division": ["C26", "C20"]}).to_parquet(
        directory / "firms.parquet"
    )
    pd.DataFrame(
        {
            "firm_id": ["005930", "247540"],
            "fiscal_year": pd.array([2023, 2023], dtype="int64"),
            "revenue": [1.5e10, 2e10],
            "employees": [120.0, None],
            "lawsuit_disclosed": pd.array([True, False], dtype="boolean"),
            "patent_disclosed": [False, None],
        }
    ).to_parquet(directory / "financials.parquet")
    result = ingest_directory(directory, ingest_settings)
    assert result.quarantine.empty
    fin = result.tables["financials"].set_index("firm_id")
    assert fin.loc["005930", "lawsuit_disclosed"] == 1 and fin.loc["247540", "lawsuit_disclosed"] == 0
    assert fin.loc["005930", "patent_disclosed"] == 0 and pd.isna(fin.loc["247540", "patent_disclosed"])
    assert fin.loc["005930", "employees"] == 120 and fin.loc["005930", "revenue"] == 1.5e10
    assert sorted(result.tables["firms"]["firm_id"]) == ["005930", "247540"]  # 5930.0 is not an id


# ---- field case 15: KSIC code formats ---------------------------------------------------------


def test_case15_division_is_derived_and_code_formats_normalised(tmp_path, ingest_settings):
    result = ingest_directory(case_panel("15-ksic-code-formats", tmp_path), ingest_settings)
    firms = result.tables["firms"].set_index("firm_id")
    assert result.quarantine.empty and balanced(result)
    expected = {
        "K00001": ("C26", "264"),  # division derived from the code, as the contract promises
        "K00002": ("C26", "26429"),
        "K00003": ("C26", "26429"),  # [26429]
        "K00004": ("C26", "2642"),  # 'C 26'
        "K00005": ("A03", "03112"),  # division 3
        "K00007": ("C10", "107"),  # Excel float 107.0
        "K00008": ("C26", "2642"),  # C2642
        "K00009": ("A01", "01110"),  # leading 0 restored, flagged
        "K00010": ("C26", "26112"),
    }
    for firm, (division, code) in expected.items():
        assert (firms.loc[firm, "ksic_division"], firms.loc[firm, "ksic_code"]) == (division, code), firm
    assert flags_by(result)[("firms.csv", 10, "ksic_code")] == ("leading_zero_restored", "1110")
    assert len(result.tables["financials"]) == 10


def test_a_firms_file_with_the_ksic_code_alone_gets_every_division_from_it(tmp_path, ingest_settings):
    firms = "firm_id,name,ksic_code\n000001,가온테크,C26211\n000002,나래바이오,21210\n000003,다온,99999\n"
    fin = "firm_id,fiscal_year,revenue\n000001,2023,100\n000002,2023,200\n000003,2023,300\n"
    result = ingest_directory(panel(tmp_path, fin, firms), ingest_settings)
    divisions = result.tables["firms"].set_index("firm_id")["ksic_division"].to_dict()
    assert divisions == {"000001": "C26", "000002": "C21"}
    # an unknown code gives no division: the firm is quarantined for its missing division, named
    (row,) = result.quarantine.loc[result.quarantine["column"] == "ksic_division"].itertuples(index=False)
    assert (row.file, row.row, row.rule) == ("firms.csv", 4, "missing_required")
    assert balanced(result)


def test_a_firms_file_with_neither_division_nor_code_is_refused_naming_both(tmp_path, ingest_settings):
    firms = "firm_id,name\n000001,가온테크\n"
    fin = "firm_id,fiscal_year,revenue\n000001,2023,100\n"
    with pytest.raises(InputFileError, match="required column\\(s\\) ksic_division missing"):
        ingest_directory(panel(tmp_path, fin, firms), ingest_settings)


def test_optional_bad_ksic_code_and_date_null_the_field_not_the_firm(tmp_path, ingest_settings):
    firms = (
        "firm_id,name,ksic_division,ksic_code,listed_on,fiscal_year_end_month\n"
        "000001,가온테크,G46,46712.0,2020-13-45,12\n"
        "000002,나래바이오,C21,99999,2019-03-02,13\n"
    )
    fin = "firm_id,fiscal_year,revenue\n000001,2023,100\n000002,2023,200\n"
    result = ingest_directory(panel(tmp_path, fin, firms), ingest_settings)
    assert result.quarantine.empty  # no firm, and no statement as an orphan
    firms_out = result.tables["firms"].set_index("firm_id")
    assert firms_out.loc["000001", "ksic_code"] == "46712"  # '46712.0' is Excel's float of a valid code
    assert pd.isna(firms_out.loc["000001", "listed_on"])
    assert pd.isna(firms_out.loc["000002", "ksic_code"]) and pd.isna(firms_out.loc["000002", "fiscal_year_end_month"])
    flags = flags_by(result)
    assert flags[("firms.csv", 2, "listed_on")] == ("bad_date", "2020-13-45")
    assert flags[("firms.csv", 3, "ksic_code")] == ("unknown_industry_code", "99999")
    assert flags[("firms.csv", 3, "fiscal_year_end_month")] == ("bad_month", "13")
    assert len(result.tables["financials"]) == 2


# ---- unit labels in headers and title rows, and currencies that are not won --------------------


def test_unit_in_header_eok_won(tmp_path, ingest_settings):
    result = ingest_directory(panel(tmp_path, "firm_id,fiscal_year,매출액(억원)\n000001,2023,125\n"), ingest_settings)
    assert result.tables["financials"]["revenue"].iloc[0] == 12_500_000_000


def test_unit_in_a_header_with_danwi(tmp_path, ingest_settings):
    fin = 'firm_id,fiscal_year,revenue(단위: 천원)\n000001,2023,"12,500"\n'
    result = ingest_directory(panel(tmp_path, fin), ingest_settings)
    assert result.tables["financials"]["revenue"].iloc[0] == 12_500_000


def test_unit_in_a_title_row_applies_to_every_amount(tmp_path, ingest_settings):
    fin = '(단위: 천원)\nfirm_id,fiscal_year,revenue,total_assets(원)\n000001,2023,"12,500",900\n000002,bad,1,1\n'
    result = ingest_directory(panel(tmp_path, fin), ingest_settings)
    row = result.tables["financials"].iloc[0]
    assert row["revenue"] == 12_500_000 and row["total_assets"] == 900  # a header unit beats the title
    q = result.quarantine.set_index("row")
    assert q.loc[4, "column"] == "fiscal_year"  # rows still count from the top of the file
    assert balanced(result)
    report = {r.table: r for r in result.reports}["financials"]  # the units applied are on record
    assert report.title_row_unit == "thousand_won"
    assert report.amount_units == {"revenue": "thousand_won", "total_assets": "won"}


def test_unit_in_an_xlsx_title_row(tmp_path, ingest_settings):
    directory = panel(tmp_path, "firm_id,fiscal_year,revenue\n000001,2023,1\n")
    (directory / "financials.csv").unlink()
    rows = [["(단위: 백만원)", None, None], ["기업코드", "사업연도", "매출액"], ["000001", "2023", "12,500"]]
    pd.DataFrame(rows).to_excel(directory / "financials.xlsx", header=False, index=False)
    result = ingest_directory(directory, ingest_settings)
    assert result.tables["financials"]["revenue"].iloc[0] == 12_500_000_000


@pytest.mark.parametrize(
    "header",
    ["firm_id,fiscal_year,매출액(USD)\n", "(단위: 달러)\nfirm_id,fiscal_year,revenue\n"],
)
def test_amounts_in_another_currency_are_refused(tmp_path, ingest_settings, header):
    directory = panel(tmp_path, header + "000001,2023,100\n")
    with pytest.raises(InputFileError, match=r"financials\.csv.*not a won unit"):
        ingest_directory(directory, ingest_settings)


# ---- header-only files, duplicate columns, absurd magnitudes ----------------------------------


def test_header_only_file_is_a_one_line_error_through_the_cli(tmp_path):
    directory = panel(tmp_path, "firm_id,fiscal_year,revenue\n")
    result = CliRunner().invoke(app, ["ingest", str(directory), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "financials.csv: the file has a header but no data rows" in message
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_duplicate_column_names_are_refused(tmp_path, ingest_settings):
    directory = panel(tmp_path, "firm_id,fiscal_year,revenue,revenue\n000001,2023,100,200\n")
    with pytest.raises(InputFileError, match=r"financials\.csv: column 'revenue' appears twice \(columns 3 and 4\)"):
        ingest_directory(directory, ingest_settings)


def test_absurd_magnitudes_are_quarantined_not_graded(tmp_path, ingest_settings):
    fin = (
        "firm_id,fiscal_year,revenue,employees,patents_granted\n"
        "000001,2022,1e30,10,1\n"
        "000001,2023,100,1e30,1\n"
        "000002,2023,100,10,5000000\n"
        "000002,2022,300000000000000,2000,3\n"
    )
    result = ingest_directory(panel(tmp_path, fin), ingest_settings)
    q = {int(r.row): (r.rule, r.column, r.value) for r in result.quarantine.itertuples()}
    assert q[2] == ("implausible_magnitude", "revenue", "1e30")
    assert q[3] == ("implausible_magnitude", "employees", "1e30")
    assert q[4] == ("implausible_magnitude", "patents_granted", "5000000")
    assert len(result.tables["financials"]) == 1  # 300조 revenue is large but possible
    assert balanced(result)


def test_rows_in_another_currency_are_quarantined(tmp_path, ingest_settings):
    fin = "firm_id,fiscal_year,revenue,통화,statement_basis\n000001,2022,100,KRW,separate\n000001,2023,9,USD,separate\n"
    fin += "000002,2023,100,,group\n"
    result = ingest_directory(panel(tmp_path, fin), ingest_settings)
    q = {int(r.row): (r.rule, r.column, r.value) for r in result.quarantine.itertuples()}
    assert q == {
        3: ("currency_not_krw", "currency", "USD"),
        4: ("unknown_statement_basis", "statement_basis", "group"),
    }
    assert result.tables["financials"]["revenue"].tolist() == [100]
    assert balanced(result)
