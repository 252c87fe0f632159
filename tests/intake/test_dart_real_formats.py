"""DART bulk faults of real filings: a fiscal year-end change (field case 10), an element id that
contradicts the line name (field case 12), revised reports (정정), statement-basis switches and
currency switches. Nothing filed disappears without a rule naming why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from jumpup.features.ratios import firm_indicators
from jumpup.intake.dart_bulk import import_dart_bulk
from jumpup.intake.ingest import ingest_directory
from jumpup.settings import load_settings
from tests.intake.test_dart_bulk import CONSOLIDATED, SEPARATE, financials, line, write

CASES = Path(__file__).parent / "field_cases"
SETTINGS = load_settings(overrides={"ingest": {"max_fiscal_year": 2024}})


def run_case(name: str, tmp_path: Path) -> tuple[Path, dict]:
    source = tmp_path / "dart"
    shutil.copytree(CASES / name / "dart", source)
    report = import_dart_bulk(source, tmp_path / "panel")
    return tmp_path / "panel", report


def superseded(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "superseded.csv", dtype={"value": str})


def test_case10_fiscal_year_end_change_keeps_years_and_sets_the_transition_aside(tmp_path):
    out, report = run_case("10-dart-fiscal-year-end-change", tmp_path)
    fin = financials(out)
    assert fin.loc[("777770", 2023), "revenue"] == 11_000_000_000  # the 12 months to 2023-03-31
    assert fin.loc[("777770", 2023), "period_end"] == "2023-03-31"
    assert fin.loc[("777770", 2024), "revenue"] == 12_000_000_000
    assert fin.loc[("777770", 2024), "period_end"] == "2024-12-31"
    assert 8_500_000_000 not in fin["revenue"].tolist()  # a 9-month period is never a fiscal year
    # ... but it is not lost: each of its lines is set aside with the rule and the period named
    aside = superseded(out)
    aside = aside[aside["file"].str.startswith("2023_")]
    assert aside["row"].tolist() == [5, 6, 7] and set(aside["rule"]) == {"short_period"}
    assert aside["message"].str.contains("9-month transition period 2023-04-01..2023-12-31").all()
    assert report["fiscal_year_end_changes"] == [
        {
            "firm_id": "777770",
            "from_month": 3,
            "to_month": 12,
            "transition_period": "2023-04-01..2023-12-31",
            "months": 9,
        }
    ]
    # growth across the change spans 21 months: undefined, not +9%
    ingested = ingest_directory(out, SETTINGS.ingest)
    growth = firm_indicators(ingested.tables["financials"], SETTINGS.features).set_index(["firm_id", "fiscal_year"])
    assert pd.isna(growth.loc[("777770", 2024), "revenue_growth_1y"])
    assert abs(growth.loc[("888880", 2024), "revenue_growth_1y"] - 6 / 5.5 + 1) < 1e-12


def test_case12_line_name_beats_a_contradicting_element_id(tmp_path):
    out, report = run_case("12-dart-element-id-mistag", tmp_path)
    fin = financials(out)
    assert fin.loc[("456780", 2023), "revenue"] == 200_000_000_000
    assert fin.loc[("456780", 2023), "operating_income"] == 20_000_000_000  # the line named 영업이익
    assert fin.loc[("456780", 2023), "pretax_income"] == 15_000_000_000
    sources = pd.read_csv(out / "sources.csv", dtype={"firm_id": str})
    used = sources[(sources["fiscal_year"] == 2023)].set_index("field")["row"]
    assert used["revenue"] == 2 and used["operating_income"] == 5  # one line never feeds two fields
    (conflict,) = report["element_name_conflicts"]
    assert (conflict["row"], conflict["element_says"], conflict["name_says"]) == (2, "operating_income", "revenue")


def test_a_revised_report_wins_and_the_original_is_kept_with_the_rule(tmp_path):
    src = tmp_path / "bulk"
    src.mkdir()
    args = (SEPARATE, "000100", "가온", 2022, "ifrs-full_Revenue", "매출액")
    write(src / "2022_사업보고서_02_손익계산서_20230401.txt", [line(*args, "1,000", "900", "")])
    revised = line(*args, "1,100", "900", "").replace("\t사업보고서\t", "\t[기재정정]사업보고서\t")
    write(src / "2022_사업보고서_02_손익계산서_정정_20230301.txt", [revised])
    report = import_dart_bulk(src, tmp_path / "out", "separate")
    assert financials(tmp_path / "out").loc[("000100", 2022), "revenue"] == 1100  # the revision wins
    aside = superseded(tmp_path / "out")
    (original,) = aside.itertuples()
    assert original.file.endswith("20230401.txt") and original.row == 2 and original.value == "1000"
    assert original.rule == "superseded_by_revision" and "[기재정정]사업보고서" in original.message
    assert report["lines_superseded_by_rule"] == {"superseded_by_revision": 1}


def test_a_later_download_of_the_same_report_wins(tmp_path):
    src = tmp_path / "bulk"
    src.mkdir()
    args = (SEPARATE, "000100", "가온", 2022, "ifrs-full_Revenue", "매출액")
    write(src / "2022_사업보고서_02_손익계산서_20230401.txt", [line(*args, "1,000", "900", "")])
    write(src / "2022_사업보고서_02_손익계산서_20240401.txt", [line(*args, "1,050", "900", "")])
    import_dart_bulk(src, tmp_path / "out", "separate")
    assert financials(tmp_path / "out").loc[("000100", 2022), "revenue"] == 1050
    assert superseded(tmp_path / "out")["value"].tolist() == ["1000"]


def test_basis_switch_is_recorded_and_never_mixed_in_a_growth_rate(tmp_path):
    src = tmp_path / "bulk"
    src.mkdir()
    write(
        src / "2021_사업보고서_02_손익계산서_20220101.txt",
        [line(SEPARATE, "000100", "가온", 2021, "ifrs-full_Revenue", "매출액", "1,100", "1,000", "")],
    )
    write(
        src / "2022_사업보고서_02_손익계산서_연결_20230101.txt",
        [line(CONSOLIDATED, "000100", "가온", 2022, "ifrs-full_Revenue", "매출액", "3,000", "2,900", "")],
    )
    report = import_dart_bulk(src, tmp_path / "out")
    fin = financials(tmp_path / "out")
    assert fin.loc[("000100", 2022), "statement_basis"] == "consolidated"
    assert fin.loc[("000100", 2021), "statement_basis"] == "consolidated"  # its own basis from 2022's 전기
    assert report["firms_with_basis_switch"] == ["000100"]
    assert fin.loc[("000100", 2020), "statement_basis"] == "separate"
    ingested = ingest_directory(tmp_path / "out", SETTINGS.ingest)
    out = firm_indicators(ingested.tables["financials"], SETTINGS.features).set_index("fiscal_year")
    assert pd.isna(out.loc[2021, "revenue_growth_1y"])  # 2,900 consolidated over 1,000 separate
    assert abs(out.loc[2022, "revenue_growth_1y"] - (3000 / 2900 - 1)) < 1e-12


def test_currency_switch_never_passes_foreign_amounts_as_won(tmp_path):
    src = tmp_path / "bulk"
    src.mkdir()
    write(
        src / "2021_사업보고서_02_손익계산서_20220101.txt",
        [line(SEPARATE, "000100", "가온", 2021, "ifrs-full_Revenue", "매출액", "1,100", "1,000", "")],
    )
    write(
        src / "2022_사업보고서_02_손익계산서_20230101.txt",
        [line(SEPARATE, "000100", "가온", 2022, "ifrs-full_Revenue", "매출액", "9", "8", "7", currency="USD")],
    )
    report = import_dart_bulk(src, tmp_path / "out", "separate")
    fin = financials(tmp_path / "out")
    assert fin["revenue"].tolist() == [1000, 1100]  # 2020 and 2021 in won; no USD year, no USD 전기
    assert report["firms_not_krw"] == ["000100"] and report["lines_not_krw"] == 1
    json.loads((tmp_path / "out" / "import_report.json").read_text())
