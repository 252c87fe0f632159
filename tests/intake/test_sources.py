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
