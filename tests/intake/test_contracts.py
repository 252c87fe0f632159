"""Input contracts: column lists, header aliases and units, and each pandera schema's rules."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from jumpup.intake.contracts import (
    APPLICATIONS,
    AUDITS,
    COLUMN_ALIASES,
    CONTRACTS,
    FINANCIALS,
    FIRMS,
    UNIT_LABELS,
    UNIT_MULTIPLIERS,
    applications_schema,
    audits_schema,
    financials_schema,
    firms_schema,
)
from jumpup.intake.readers import canonical_column


def _failed_rules(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> set[tuple[str, str]]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        rules = cases["check"].astype(str).str.replace(r"\(.*$", "", regex=True)
        return set(zip(cases["column"].astype(str), rules, strict=True))
    return set()


def test_every_contract_is_registered_and_its_key_and_required_columns_are_columns():
    assert set(CONTRACTS) == {"firms", "financials", "applications", "audits"}
    for contract in CONTRACTS.values():
        assert set(contract.key) <= set(contract.columns), contract.name
        assert set(contract.required) <= set(contract.columns), contract.name
        assert len(contract.columns) == len(set(contract.columns))


def test_numeric_columns_are_the_union_of_the_number_kinds():
    assert set(FINANCIALS.numeric) == {*FINANCIALS.integers, *FINANCIALS.amounts, *FINANCIALS.counts, *FINANCIALS.flags}
    assert set(FINANCIALS.nonnegative_amounts) <= set(FINANCIALS.amounts)
    assert AUDITS.numeric == ("score",) and APPLICATIONS.dates == ("applied_on",)
    assert FIRMS.dates == ("listed_on", "founded_on") and "firm_id" in FIRMS.text  # ids are text: leading zeros survive


def test_every_alias_maps_to_a_contract_column():
    known = {c for contract in CONTRACTS.values() for c in contract.columns}
    unknown = {alias: column for alias, column in COLUMN_ALIASES.items() if column not in known}
    assert not unknown


@pytest.mark.parametrize(
    ("header", "column", "unit"),
    [
        ("매출액(백만원)", "revenue", "million_won"),
        ("매출액 (천원)", "revenue", "thousand_won"),
        ("자산총계(원)", "total_assets", "won"),
        ("종목코드", "firm_id", None),
        ("Revenue", "revenue", None),
    ],
)
def test_korean_headers_and_their_units_map_to_contract_columns(header, column, unit):
    assert canonical_column(header) == (column, unit)


def test_every_unit_label_has_a_multiplier_to_won():
    assert set(UNIT_LABELS.values()) <= set(UNIT_MULTIPLIERS)
    assert UNIT_MULTIPLIERS == {
        "won": 1,
        "thousand_won": 1_000,
        "million_won": 1_000_000,
        "hundred_million_won": 100_000_000,
    }


def test_firms_schema_rules():
    schema = firms_schema(frozenset({"C26", "J58"}), frozenset({"C261"}), max_year=2024, min_year=1900)
    good = pd.DataFrame(
        {
            "firm_id": ["A1"],
            "name": ["가온"],
            "ksic_division": ["C26"],
            "ksic_code": ["C261"],
            "founded_year": pd.array([2001], dtype="Int64"),
            "fiscal_year_end_month": pd.array([12], dtype="Int64"),
        }
    )
    assert _failed_rules(schema, good) == set()
    bad = good.assign(
        firm_id=["A 1"],
        ksic_division=["Z99"],
        ksic_code=["C999"],
        founded_year=pd.array([2030], dtype="Int64"),
        fiscal_year_end_month=pd.array([13], dtype="Int64"),
    )
    assert _failed_rules(schema, bad) == {
        ("firm_id", "bad_firm_id"),
        ("ksic_division", "unknown_industry_code"),
        ("ksic_code", "unknown_industry_code"),
        ("founded_year", "future_year"),
        ("fiscal_year_end_month", "bad_month"),
    }
    assert ("founded_year", "implausible_year") in _failed_rules(
        schema, good.assign(founded_year=pd.array([1850], dtype="Int64"))
    )


def test_financials_schema_rules():
    schema = financials_schema(max_year=2024, min_year=1990)
    good = pd.DataFrame(
        {
            "firm_id": ["A"],
            "fiscal_year": pd.array([2022], dtype="Int64"),
            "revenue": [1e9],
            "operating_income": [-5e8],  # losses are allowed
            "total_assets": [2e9],
        }
    )
    assert _failed_rules(schema, good) == set()
    failed = _failed_rules(
        schema, good.assign(fiscal_year=pd.array([2025], dtype="Int64"), revenue=[-1.0], total_assets=[-1.0])
    )
    assert failed == {
        ("fiscal_year", "future_fiscal_year"),
        ("revenue", "negative_value"),
        ("total_assets", "negative_value"),
    }
    assert ("revenue", "not_nullable") in _failed_rules(schema, good.assign(revenue=[float("nan")]))
    assert ("operating_income", "negative_value") not in failed


def test_applications_schema_rules():
    schema = applications_schema()
    good = pd.DataFrame(
        {
            "firm_id": ["A"],
            "round_id": ["2025-1"],
            "applied_on": pd.to_datetime(["2025-03-31"]),
            "investor_type": ["VC"],
            "investment_stage": ["series_a"],
        }
    )
    assert _failed_rules(schema, good) == set()
    assert _failed_rules(schema, good.assign(investor_type=["bank"], investment_stage=["ipo"])) == {
        ("investor_type", "unknown_investor_type"),
        ("investment_stage", "unknown_investment_stage"),
    }


def test_audits_schema_rules():
    schema = audits_schema(["growth_potential", "technology"], 0.0, 10.0)
    good = pd.DataFrame(
        {
            "firm_id": ["A", "A"],
            "evaluator_id": ["E1", "E2"],
            "evaluator_role": ["technology_expert", "agency_examiner"],
            "item": ["growth_potential", "technology"],
            "score": [7.5, 10.0],
        }
    )
    assert _failed_rules(schema, good) == set()
    bad = good.assign(evaluator_role=["friend", "growth_expert"], item=["charm", "technology"], score=[11.0, 0.0])
    assert _failed_rules(schema, bad) == {
        ("evaluator_role", "unknown_evaluator_role"),
        ("item", "unknown_rubric_item"),
        ("score", "score_out_of_range"),
    }
