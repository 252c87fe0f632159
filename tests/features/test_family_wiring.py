"""The 기술성 and 인적효율성 families on real items: used when present, named when absent, point-in-time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.features.builder import FeatureBuilder, family_input_notes, panel_rows
from jumpup.features.industry import industry_key
from jumpup.features.registry import FAMILY_INPUTS
from jumpup.intake.ingest import open_panel
from jumpup.intake.sources import combine_panels, import_itemised
from jumpup.settings import load_settings

SETTINGS = load_settings(overrides={"ingest": {"max_fiscal_year": 2024}})


def _rows(real: bool) -> pd.DataFrame:
    """Six firms, 2018-2020, identical statements; with ``real`` they differ in intangible investment
    and DART payroll (firm index i: more investment and pay for larger i)."""
    rows = []
    for i in range(6):
        for year in (2018, 2019, 2020):
            row = {
                "firm_id": f"F{i}",
                "fiscal_year": year,
                "revenue": 100e8 * (1.1 ** (year - 2018)),
                "operating_income": 10e8,
                "net_income": 8e8,
                "total_assets": 80e8,
                "total_equity": 40e8,
                "employees": 100.0,
                "rd_expense": 5e8,
                "ksic_division": "C26",
                "name": f"firm {i}",
            }
            if real:
                row |= {
                    "capex_intangible": (i + 1) * 1e8,
                    "payroll": (40 + i) * 1e8,
                    "source_capex_intangible": "fnguide",
                    "source_payroll": "dart_employees",
                    "source_employees": "dart_employees",
                }
            rows.append(row)
    return pd.DataFrame(rows)


def _features(rows: pd.DataFrame) -> pd.DataFrame:
    builder = FeatureBuilder(SETTINGS.features, SETTINGS.size_class, SETTINGS.program).fit(rows)
    return builder.transform(rows).set_index(["firm_id", "fiscal_year"])


def test_families_use_real_items_when_the_panel_carries_them():
    out = _features(_rows(real=True))
    at = out.xs(2020, level="fiscal_year")
    assert at["intangible_investment_intensity"].notna().all()
    assert at["payroll_per_employee"].loc["F5"] == pytest.approx(45e8 / 100)
    # Same statements, more intangible investment and pay: the family scores follow the real items.
    assert at["family_score_technology"].is_monotonic_increasing
    assert at["family_score_human"].is_monotonic_increasing
    assert at["family_score_technology"].iloc[-1] > at["family_score_technology"].iloc[0]
    assert "capex_intangible=fnguide" in at.loc["F0", "sources_technology"]
    assert at.loc["F0", "sources_human"] == "employees=dart_employees;payroll=dart_employees"
    assert "capex_intangible" not in at.loc["F0", "missing_inputs_technology"]


def test_families_fall_back_and_name_the_missing_inputs_when_real_items_are_absent():
    out = _features(_rows(real=False))
    at = out.xs(2020, level="fiscal_year")
    for name in ("intangible_investment_intensity", "payroll_per_employee", "marginal_firm"):
        assert at[name].isna().all()  # missing, never a silent zero
    # The technology family still scores on what it used before (R&D intensity and growth): all equal here.
    assert at["family_score_technology"].notna().all()
    assert at["family_score_technology"].nunique() == 1
    missing = at.loc["F0", "missing_inputs_technology"].split(";")
    assert {"capex_intangible", "intangible_assets", "patents_granted"} <= set(missing)
    assert "rd_expense" not in missing
    assert set(at.loc["F0", "missing_inputs_human"].split(";")) == {
        "personnel_expense",
        "payroll",
        "personnel_expense_sga",
        "value_added",
    }
    assert at.loc["F0", "sources_human"] == "employees=panel"
    assert at.loc["F0", "missing_inputs_risk"] == "audit_opinion_clean;interest_coverage"


def test_real_item_features_are_point_in_time():
    rows = _rows(real=True)
    later = rows[rows["fiscal_year"] == 2020].assign(fiscal_year=2021, capex_intangible=1e12, payroll=1e13)
    full = FeatureBuilder(SETTINGS.features, SETTINGS.size_class, SETTINGS.program).fit(rows)
    a = full.transform(rows)
    b = full.transform(pd.concat([rows, later], ignore_index=True))
    b = b[b["fiscal_year"] <= 2020].reset_index(drop=True)
    columns = [
        "intangible_investment_intensity",
        "payroll_per_employee",
        "payroll_growth",
        "headcount_growth_1y",
        "family_score_technology",
        "family_score_human",
        "sources_human",
    ]
    pd.testing.assert_frame_equal(a[columns], b[columns])


def test_interest_coverage_without_interest_expense_is_not_a_missing_input():
    frame = pd.DataFrame(
        {
            "firm_id": ["A", "A", "B"],
            "fiscal_year": [2020, 2021, 2021],
            "interest_coverage": [np.nan, 0.5, np.nan],
            "no_interest_expense": [1, 0, 0],
            "audit_opinion_clean": [1.0, 0.0, np.nan],
        }
    )
    notes = family_input_notes(frame).set_index(["firm_id", "fiscal_year"])
    assert notes.loc[("A", 2020), "missing_inputs_risk"] == ""
    assert notes.loc[("B", 2021), "missing_inputs_risk"] == "audit_opinion_clean;interest_coverage"


def test_ts2000_firms_are_compared_within_their_industry_group():
    rows = _rows(real=False)
    ts = rows.assign(
        firm_id=rows["firm_id"] + "T", ksic_division="C25", industry_group="금속가공_전자부품", ksic_divisions="C25;C26"
    )
    listed = rows.assign(ksic_division="C25")  # one of the group's divisions, no industry group (listed firms)
    both = pd.concat([ts, listed], ignore_index=True)
    key = industry_key(both)
    assert set(key[both["firm_id"].str.endswith("T")]) == {"group:C25;C26"}
    assert set(key[~both["firm_id"].str.endswith("T")]) == {"C25"}
    features = SETTINGS.features.model_copy(update={"min_peer_group_size": 6})
    builder = FeatureBuilder(features, SETTINGS.size_class, SETTINGS.program).fit(both)
    stats = builder.industry_statistics_
    groups = stats[stats["industry_level"] == "division"]
    assert set(groups["industry_key"]) == {"group:C25;C26", "C25"}
    # Per group and year, from that year's firms only: six firms each.
    assert (groups["industry_firm_count"] == 6).all()
    out = builder.transform(both)
    assert (out["industry_level"] == "division").all()
    assert (out["peer_level"] == "division").all() and (out["peer_group_size"] == 6).all()
    assert out.loc[out["firm_id"].str.endswith("T"), "industry_group"].eq("금속가공_전자부품").all()


def test_parts_of_one_industry_group_are_one_group_and_meet_listed_firms_of_that_division():
    frame = pd.DataFrame(
        {
            "ksic_division": ["L68", "L68", "L68", "C26", None],
            "industry_group": ["부동산1", "부동산2", None, None, "도매"],
            "ksic_divisions": ["L68", "L68", None, None, None],
        }
    )
    assert industry_key(frame).tolist() == ["L68", "L68", "L68", "C26", "group:도매"]
    assert industry_key(frame.drop(columns=["industry_group", "ksic_divisions"]).iloc[4:], unknown=None).tolist() == [
        None
    ]


@pytest.mark.real_data
def test_kosdaq_fnguide_dart_firms_get_real_technology_and_human_items(
    kosdaq_panel, fnguide_listed, dart_employees, tmp_path
):
    settings = load_settings()
    import_itemised(fnguide_listed, tmp_path / "fn", "fnguide", settings.ingest.max_fiscal_year)
    import_itemised(dart_employees, tmp_path / "de", "dart_employees", settings.ingest.max_fiscal_year)
    firms = pd.read_csv(kosdaq_panel / "firms.csv", dtype={"firm_id": str, "ksic_code": str})
    few = sorted(firms["firm_id"])[:40]
    small = tmp_path / "panel"
    small.mkdir()
    firms[firms["firm_id"].isin(few)].to_csv(small / "firms.csv", index=False)
    financials = pd.read_csv(kosdaq_panel / "financials.csv", dtype={"firm_id": str})
    financials[financials["firm_id"].isin(few)].to_csv(small / "financials.csv", index=False)
    combine_panels(
        small,
        {"fnguide": tmp_path / "fn", "dart_employees": tmp_path / "de"},
        tmp_path / "combined",
        settings.sources.precedence,
        settings.sources.conflict_tolerance,
    )
    ingested = open_panel(tmp_path / "combined", settings.ingest)
    rows = panel_rows(ingested.tables["firms"], ingested.tables["financials"])
    out = FeatureBuilder(settings.features, settings.size_class, settings.program).fit(rows).transform(rows)
    y2018, y2021 = out[out["fiscal_year"] == 2018], out[out["fiscal_year"] == 2021]
    assert y2018["rd_intensity"].notna().mean() > 0.3
    assert y2018["sga_personnel_cost_per_employee"].notna().mean() > 0.3
    assert y2018["sources_technology"].str.contains("rd_expense=fnguide").mean() > 0.3
    assert y2021["payroll_per_employee"].notna().mean() > 0.5
    assert y2021["sources_human"].str.contains("employees=dart_employees").mean() > 0.5
    # DART 직원현황 starts in 2021: no 2018 row may carry its payroll.
    assert y2018["payroll_per_employee"].isna().all()
    assert y2018["family_score_human"].notna().mean() > 0.5


def test_input_notes_equal_the_row_by_row_wording():
    rng = np.random.default_rng(11)
    n = 500
    fields = sorted({f for inputs in FAMILY_INPUTS.values() for f in inputs})
    frame = pd.DataFrame({"firm_id": [f"F{i // 5}" for i in range(n)], "fiscal_year": [2015 + i % 5 for i in range(n)]})
    for field in fields[::2]:
        frame[field] = np.where(rng.random(n) < 0.3, np.nan, 1.0)
        frame[f"source_{field}"] = rng.choice(np.array(["ts2000", "dart", None], dtype=object), n)
    notes = family_input_notes(frame)
    for family, inputs in FAMILY_INPUTS.items():
        for i in rng.choice(n, 40, replace=False):
            row = frame.iloc[i]
            present = [f for f in inputs if f in frame and pd.notna(row[f])]
            source = {f: row[f"source_{f}"] if pd.notna(row.get(f"source_{f}")) else "panel" for f in present}
            got = notes.set_index(["firm_id", "fiscal_year"]).loc[(row["firm_id"], row["fiscal_year"])]
            assert got[f"missing_inputs_{family}"] == ";".join(f for f in inputs if f not in present)
            assert got[f"sources_{family}"] == ";".join(f"{f}={source[f]}" for f in present)
