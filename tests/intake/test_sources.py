"""FnGuide (억원) and DART 직원현황 imports, and combining sources with precedence and conflicts.

The excerpts under tests/intake/data/listed/ are made-up rows in the sources' real formats.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from jumpup.intake.sources import SourceError, combine_panels, import_itemised
from jumpup.pipelines.cli import app
from jumpup.settings import load_settings

DATA = Path(__file__).parent / "data" / "listed"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    fn = import_itemised(DATA / "fnguide_statements.csv", root / "fn", "fnguide", max_fiscal_year=2024)
    de = import_itemised(DATA / "dart_employees.csv", root / "de", "dart_employees", max_fiscal_year=2024)
    return root, fn, de


def test_fnguide_amounts_are_won_and_bad_rows_quarantined(sources):
    root, fn, _ = sources
    assert fn["rows_read"] == 5 == fn["rows_accepted"] + fn["rows_quarantined"]
    assert fn["quarantined_by_rule"] == {"negative_value": 1, "non_integer": 1}
    financials = pd.read_csv(root / "fn" / "financials.csv", dtype={"firm_id": str}).set_index(
        ["firm_id", "fiscal_year"]
    )
    assert financials.loc[("100001", 2019), "rd_expense"] == 300_000_000  # 3.0 억원
    assert financials.loc[("100001", 2018), "capex_intangible"] == 150_000_000
    assert financials.loc[("100001", 2019), "personnel_expense_sga"] == 450_000_000
    assert ("000020", 2019) in financials.index  # a code that lost its leading zeros
    provenance = pd.read_parquet(root / "fn" / "provenance.parquet")
    rd = provenance[(provenance["field"] == "rd_expense") & (provenance["fiscal_year"] == 2019)].iloc[0]
    assert (rd["source"], rd["unit"], rd["multiplier"], rd["column"], rd["row"]) == (
        "fnguide",
        "억원",
        1e8,
        "연구개발비",
        3,
    )


def test_dart_employees_exact_repeat_keeps_the_first_copy(sources):
    root, _, de = sources
    assert de["rows_read"] == 3 and de["rows_accepted"] == 2
    assert de["quarantined_by_rule"] == {"duplicate_key": 1}
    financials = pd.read_csv(root / "de" / "financials.csv", dtype={"firm_id": str})
    assert financials.set_index("firm_id").loc["100001", "payroll"] == 6_000_000_000


def test_combine_follows_the_precedence_and_reports_conflicts(sources, tmp_path):
    root, _, _ = sources
    settings = load_settings()
    manifest = combine_panels(
        DATA / "base",
        {"fnguide": root / "fn", "dart_employees": root / "de"},
        tmp_path,
        settings.sources.precedence,
        0.05,
    )
    financials = pd.read_csv(tmp_path / "financials.csv", dtype={"firm_id": str}).set_index(["firm_id", "fiscal_year"])
    row = financials.loc[("100001", 2019)]
    assert row["revenue"] == 5_000_000_000  # the panel first
    assert row["rd_expense"] == 300_000_000  # only FnGuide has it
    assert row["employees"] == 120  # DART 직원현황 before the panel
    conflicts = pd.read_csv(tmp_path / "conflicts.csv", dtype={"firm_id": str})
    found = set(zip(conflicts["fiscal_year"], conflicts["field"], conflicts["other_source"], strict=True))
    assert (2019, "revenue", "fnguide") in found  # 60억 against 50억
    assert (2019, "employees", "panel") in found  # 100 against 120
    assert (2018, "revenue", "fnguide") not in found  # 52억 against 51.5억: within 5%
    assert (2019, "total_assets", "fnguide") not in found
    provenance = pd.read_parquet(tmp_path / "provenance.parquet")
    sources_of = provenance[(provenance["firm_id"] == "100001") & (provenance["fiscal_year"] == 2019)]
    by_field = dict(zip(sources_of["field"], sources_of["source"], strict=True))
    assert by_field["revenue"] == "panel" and by_field["rd_expense"] == "fnguide"
    assert by_field["employees"] == "dart_employees"
    assert manifest["conflicts"] == len(conflicts)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"x\.csv: the file is empty; it needs at least a header row$"),
        (b"\xff\xfe\xfa", r"x\.csv: unreadable text"),
    ],
    ids=["empty", "not text"],
)
def test_an_unreadable_file_is_one_line_naming_it(content, message, tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        import_itemised(bad, tmp_path / "o", "fnguide")
    assert not (tmp_path / "o").exists()


def test_missing_key_column_is_a_clear_error(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("종목,year\n1,2019\n", encoding="utf-8")
    with pytest.raises(SourceError, match="no column 'code'"):
        import_itemised(bad, tmp_path / "o", "fnguide")
    result = CliRunner().invoke(app, ["import", "fnguide", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    result = CliRunner().invoke(
        app, ["import", "combine", str(DATA / "base"), "--add", "fnguide", "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 2 and "NAME=DIR" in result.output


@pytest.mark.real_data
def test_real_fnguide_and_dart_employees(fnguide_listed, dart_employees, tmp_path):
    fn = import_itemised(fnguide_listed, tmp_path / "fn", "fnguide", max_fiscal_year=2026)
    de = import_itemised(dart_employees, tmp_path / "de", "dart_employees", max_fiscal_year=2026)
    for manifest in (fn, de):
        assert manifest["rows_read"] == manifest["rows_accepted"] + manifest["rows_quarantined"]
    assert fn["firms"] > 2000 and fn["values_by_field"]["rd_expense"] > 6000
    assert de["firms"] > 2500 and de["fiscal_years"] == [2021, 2025]
    revenue = pd.read_csv(tmp_path / "fn" / "financials.csv", usecols=["revenue"])["revenue"]
    assert 1e10 < revenue.median() < 1e12  # 억원 converted: a listed firm's revenue is tens of billions of won


def test_combine_keeps_one_balance_source_per_firm_year_and_names_value_sources(sources, tmp_path):
    root, _, _ = sources
    base = tmp_path / "base"
    base.mkdir()
    (base / "firms.csv").write_text((DATA / "base" / "firms.csv").read_text(encoding="utf-8"), encoding="utf-8")
    rows = pd.read_csv(DATA / "base" / "financials.csv", dtype={"firm_id": str})
    rows[rows["fiscal_year"] == 2019].to_csv(base / "financials.csv", index=False)  # 2018 only in FnGuide
    manifest = combine_panels(
        base, {"fnguide": root / "fn"}, tmp_path / "out", load_settings().sources.precedence, 0.05
    )
    financials = pd.read_csv(tmp_path / "out" / "financials.csv", dtype={"firm_id": str}).set_index(
        ["firm_id", "fiscal_year"]
    )
    # 2019: assets from the panel, so FnGuide's equity and liabilities are left out, not mixed in.
    y2019 = financials.loc[("100001", 2019)]
    assert y2019["total_assets"] == 6_400_000_000
    assert pd.isna(y2019["total_equity"]) and pd.isna(y2019["total_liabilities"])
    # 2018: the whole balance sheet from FnGuide, which balances.
    y2018 = financials.loc[("100001", 2018)]
    assert (y2018["total_assets"], y2018["total_equity"], y2018["total_liabilities"]) == (6e9, 4e9, 2e9)
    assert manifest["balance_values_left_out"] == 4  # equity and liabilities of two panel firm-years
    assert (y2019["source_revenue"], y2019["source_rd_expense"]) == ("panel", "fnguide")
    assert y2018["source_revenue"] == "fnguide"
