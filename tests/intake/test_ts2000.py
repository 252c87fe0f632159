"""TS-2000 exports: item codes, one basis per firm, YYYY/MM years, units, the coverage sentinel.

The excerpts under tests/intake/data/ts2000/ are made-up rows in the exports' real format
(cp949, coded Korean headers, 천원 amounts).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.intake.ts2000 import Ts2000Error, import_ts2000, load_item_map, map_header
from jumpup.pipelines.cli import app

EXCERPTS = Path(__file__).parent / "data" / "ts2000"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("ts2000")
    manifest = import_ts2000(EXCERPTS, out, max_fiscal_year=2024)
    firms = pd.read_csv(out / "firms.csv", dtype={"firm_id": str})
    financials = pd.read_csv(out / "financials.csv", dtype={"firm_id": str})
    quarantine = pd.read_csv(out / "quarantine.csv", dtype=str)
    return out, manifest, firms, financials, quarantine


def _row(financials, firm, year):
    match = financials[(financials["firm_id"] == firm) & (financials["fiscal_year"] == year)]
    assert len(match) == 1, (firm, year)
    return match.iloc[0]


def test_every_row_of_every_file_is_accepted_or_quarantined(imported):
    _, manifest, _, _, quarantine = imported
    assert len(manifest["files"]) == 6
    for f in manifest["files"]:
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"]
        assert f["rows_quarantined"] == int((quarantine["file"] == f["file"]).sum())
    income1 = next(f for f in manifest["files"] if f["file"].endswith("손익들1.csv"))
    assert income1["rows_read"] == 10


def test_basis_is_chosen_per_firm_and_never_mixed(imported):
    _, _, firms, financials, quarantine = imported
    basis = firms.set_index("firm_id")["accounting_basis"]
    assert basis["000101"] == "kgaap"
    assert basis["000202"] == "ifrs"  # three IFRS years against one K-GAAP and one consolidated year
    assert basis["000606"] == "kgaap"  # two years each: the declared precedence breaks the tie
    # Firm B's separate IFRS revenue, not the consolidated figure of the same year.
    assert _row(financials, "000202", 2018)["revenue"] == 2_400_000_000
    # Its K-GAAP-only year is quarantined rather than joined to the IFRS series.
    missing = quarantine[quarantine["rule"] == "basis_missing"]
    assert set(missing["row"].astype(int)) >= {5}
    assert not ((financials["firm_id"] == "000202") & (financials["fiscal_year"] == 2016)).any()
    # Cash flow follows the firm's basis: the IFRS figure, not the K-GAAP one of the same row.
    assert _row(financials, "000202", 2019)["operating_cash_flow"] == 220_000_000
    # Firm F's only cash flow is consolidated; its series is K-GAAP, so none is taken.
    assert _row(financials, "000606", 2017)["revenue"] == 420_000_000
    assert set(financials["accounting_basis"]) <= {"kgaap", "ifrs", "ifrs_consolidated"}


def test_precedence_decides_a_tie(tmp_path):
    import_ts2000(EXCERPTS, tmp_path, basis_precedence=("ifrs_consolidated", "kgaap", "ifrs"), max_fiscal_year=2024)
    firms = pd.read_csv(tmp_path / "firms.csv", dtype={"firm_id": str}).set_index("firm_id")
    financials = pd.read_csv(tmp_path / "financials.csv", dtype={"firm_id": str})
    assert firms.loc["000606", "accounting_basis"] == "ifrs_consolidated"
    assert _row(financials, "000606", 2019)["revenue"] == 520_000_000
    assert _row(financials, "000606", 2019)["operating_cash_flow"] == 40_000_000


def test_fiscal_year_is_the_year_of_the_year_end_and_the_month_is_kept(imported):
    _, manifest, _, financials, _ = imported
    march = _row(financials, "000303", 2019)
    assert march["fiscal_year_end_month"] == 3
    assert march["fiscal_months"] == 12
    moved = _row(financials, "000303", 2020)
    assert moved["fiscal_year_end_month"] == 12
    assert moved["fiscal_months"] == 21  # 2019/03 to 2020/12
    assert manifest["flags_by_kind"]["fiscal_year_not_12_months"] == 1
    assert manifest["fiscal_year_end_months"] == {3: 2, 12: 10}


def test_amounts_are_converted_from_the_header_unit_to_won(imported):
    out, _, _, financials, _ = imported
    a = _row(financials, "000101", 2018)
    assert a["revenue"] == 1_300_000_000  # 1,300,000 천원
    assert a["operating_income"] == 150_000_000
    assert a["net_income"] == 110_000_000  # 법인세비용차감전손익 − 법인세비용
    provenance = pd.read_parquet(out / "provenance.parquet")
    revenue = provenance[(provenance["firm_id"] == "000101") & (provenance["fiscal_year"] == 2018)]
    revenue = revenue[revenue["field"] == "revenue"].iloc[0]
    assert revenue["item_code"] == "U01210000"
    assert revenue["unit"] == "천원"
    assert revenue["multiplier"] == 1000
    assert revenue["basis"] == "kgaap"
    assert revenue["file"] == "income/외감_손익들1.csv"
    assert int(revenue["row"]) == 3


def test_interest_coverage_sentinel_is_a_flag_not_a_number(imported):
    _, _, _, financials, _ = imported
    no_interest = _row(financials, "000101", 2018)
    assert no_interest["no_interest_expense"] == 1
    assert pd.isna(no_interest["interest_coverage"])
    assert pd.isna(no_interest["interest_coverage_net_finance"])
    weak = _row(financials, "000101", 2019)
    assert weak["no_interest_expense"] == 0
    assert weak["interest_coverage"] == 0.5
    assert financials["interest_coverage"].max() < 999_999_999


def test_audit_opinion_and_industry_group(imported):
    _, _, firms, financials, _ = imported
    assert pd.isna(_row(financials, "000101", 2017)["audit_opinion"])  # NA: not known
    assert _row(financials, "000101", 2019)["audit_opinion"] == "QS"
    assert _row(financials, "000101", 2019)["audit_opinion_clean"] == 0
    assert _row(financials, "000101", 2018)["audit_opinion_clean"] == 1
    firm = firms.set_index("firm_id")
    assert firm.loc["000101", "industry_group"] == "도매"
    assert firm.loc["000101", "ksic_division"] == "G46"
    assert bool(firm.loc["000101", "ksic_division_exact"])
    assert firm.loc["000303", "ksic_division"] == "C10"
    assert not bool(firm.loc["000303", "ksic_division_exact"])
    assert firm.loc["000303", "ksic_divisions"].startswith("C10;C11")


def test_faults_are_quarantined_with_the_reason(imported):
    _, _, firms, _, quarantine = imported
    rules = quarantine.groupby("rule")["row"].count().to_dict()
    assert rules["bad_date"] == 1  # 2019/13
    assert rules["non_numeric"] == 1  # 12ab
    assert rules["malformed_line"] == 1  # one field too many
    assert rules["unknown_industry_group"] == 1  # firm E is in no file that names an industry
    assert rules["orphan_row"] == 4  # an unknown firm, a year quarantined under basis_missing, two of a bad line
    assert rules["basis_missing"] == 3
    non_numeric = quarantine[quarantine["rule"] == "non_numeric"].iloc[0]
    assert non_numeric["value"] == "12ab"
    assert non_numeric["column"] == "[U01210000]매출액(영업수익)(*)(천원)"
    assert "000505" not in set(firms["firm_id"])
    # A 5-digit id gets its leading zero back and matches the cash-flow file's 6-digit id.
    assert "004040" in set(firms["firm_id"])


def test_a_form_feed_or_record_separator_in_a_company_name_splits_no_line(tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(EXCERPTS, folder)
    income = folder / "income" / "외감_손익들1.csv"
    text = income.read_text(encoding="cp949")
    assert text.count("(주)가나정밀,") == 3
    income.write_text(text.replace("(주)가나정밀,", "(주)가나\x0c정밀\x1e,"), encoding="cp949")
    manifest = import_ts2000(folder, tmp_path / "panel", max_fiscal_year=2024)
    read = next(f for f in manifest["files"] if f["file"].endswith("손익들1.csv"))
    assert read["rows_read"] == 10
    quarantine = pd.read_csv(tmp_path / "panel" / "quarantine.csv", dtype=str)
    assert "malformed_line" not in set(quarantine.loc[quarantine["file"].str.endswith("손익들1.csv"), "rule"])


def test_a_header_without_a_unit_is_a_clear_error(tmp_path):
    items = load_item_map()
    with pytest.raises(Ts2000Error, match=r"column 4 '\[U01210000\]매출액': no money unit"):
        map_header(["회사명", "거래소코드", "회계년도", "[U01210000]매출액"], items, tmp_path / "x.csv")


def test_cli_imports_and_reports_bad_input_in_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["import", "ts2000", str(EXCERPTS), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "manifest.json").exists()
    broken = tmp_path / "broken"
    shutil.copytree(EXCERPTS, broken)
    (broken / "income" / "외감_손익들1.csv").write_text("회사명,회계년도\n가,2019/12\n", encoding="cp949")
    result = runner.invoke(app, ["import", "ts2000", str(broken), "--out", str(tmp_path / "q")])
    assert result.exit_code == 2
    output = result.output.replace("\n", "")
    assert "header has no column '거래소코드'" in output and "외감_손익들1.csv" in output
    assert "Traceback" not in result.output


def test_output_is_a_panel_that_ingests_cleanly_and_reruns_byte_identical(imported, tmp_path):
    from jumpup.intake.ingest import ingest_directory
    from jumpup.settings import load_settings

    out, manifest, _, financials, _ = imported
    result = ingest_directory(out, load_settings(overrides={"ingest": {"max_fiscal_year": 2024}}).ingest)
    assert len(result.tables["financials"]) == len(financials) == manifest["firm_years"]
    again = tmp_path / "again"
    import_ts2000(EXCERPTS, again, max_fiscal_year=2024)
    for name in ("firms.csv", "financials.csv", "quarantine.csv", "flags.csv", "provenance.parquet"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.real_data
def test_real_exports_read_every_file(ts2000_audited, tmp_path_factory):
    out = tmp_path_factory.mktemp("ts2000_real")
    manifest = import_ts2000(ts2000_audited, out, max_fiscal_year=2026)
    assert len(manifest["files"]) >= 30
    for f in manifest["files"]:
        assert f["rows_read"] == f["rows_accepted"] + f["rows_quarantined"], f["file"]
        assert not [c for c in f["columns_not_mapped"] if c.startswith("[U01")], f["file"]
    assert manifest["rows_read"] > 370_000
    assert manifest["firms"] > 30_000
    assert manifest["firm_years"] > 170_000
    assert manifest["fiscal_years"][0] == 2012
    financials = pd.read_csv(
        out / "financials.csv",
        dtype={"firm_id": str},
        usecols=["firm_id", "revenue", "interest_coverage", "no_interest_expense"],
    )
    assert not (financials["interest_coverage"] == 999_999_999).any()
    assert financials["no_interest_expense"].sum() > 15_000
    assert financials["firm_id"].str.len().eq(6).all()
    # Amounts are won: the median audited firm has revenue in the billions of won.
    assert 5e9 < financials["revenue"].median() < 5e10
