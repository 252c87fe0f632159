"""Row-level quarantine: number and date parsing, issues with file/row/column/value, nothing lost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.intake.contracts import APPLICATIONS, FINANCIALS, FIRMS, financials_schema
from jumpup.intake.quarantine import (
    ISSUE_COLUMNS,
    QUARANTINE_COLUMNS,
    ROW,
    duplicate_key_issues,
    make_issues,
    orphan_issues,
    parse_numbers,
    parse_table,
    schema_issues,
    split_rows,
)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1234", 1234.0),
        ("1,234", 1234.0),
        ("1,234,567", 1_234_567.0),
        ("(1,234)", -1234.0),  # accounting negative
        ("△1,234", -1234.0),  # Korean statements
        ("▲7", -7.0),
        ("−5", -5.0),  # the minus sign, not a hyphen
        ("-5", -5.0),
        ("1234원", 1234.0),
        ("₩2,000", 2000.0),
        (" 12 ", 12.0),
        ("1.5e3", 1500.0),
        ("0.25", 0.25),
    ],
)
def test_korean_number_formats_parse(written, value):
    assert parse_numbers(pd.Series([written], dtype=object)).iloc[0] == value


@pytest.mark.parametrize("written", ["abc", "-", "", "1-2", "(12", "△", "12 34 원x"])
def test_text_that_is_not_a_number_stays_missing_so_it_can_be_quarantined(written):
    assert np.isnan(parse_numbers(pd.Series([written], dtype=object)).iloc[0])


def test_missing_values_stay_missing_and_order_is_kept():
    parsed = parse_numbers(pd.Series(["1", None, "(2)", np.nan, "3"], dtype=object))
    assert parsed.iloc[[0, 2, 4]].tolist() == [1.0, -2.0, 3.0] and parsed.iloc[[1, 3]].isna().all()


def _raw(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=object)
    frame[ROW] = np.arange(2, len(frame) + 2)  # row 1 is the header
    return frame


def test_parse_table_converts_units_and_names_every_bad_cell():
    raw = _raw(
        [
            {"firm_id": "A", "fiscal_year": "2021", "revenue": "1,200", "employees": "10"},
            {"firm_id": "B", "fiscal_year": "2021.5", "revenue": "abc", "employees": "3"},
            {"firm_id": "C", "fiscal_year": "2022", "revenue": None, "employees": "△4"},
        ]
    )
    parsed = parse_table(raw, FINANCIALS, "financials.csv", {"revenue": 1_000_000})
    assert parsed.frame.loc[0, "revenue"] == 1_200_000_000  # million won -> won
    assert parsed.frame.loc[0, "employees"] == 10 and parsed.frame.loc[2, "employees"] == -4  # counts: no unit
    issues = {(r.row, r.column): (r.rule, r.value) for r in parsed.issues.itertuples()}
    assert issues[(3, "revenue")] == ("non_numeric", "abc")
    assert issues[(3, "fiscal_year")] == ("non_integer", "2021.5")
    assert issues[(4, "revenue")] == ("missing_required", None)
    assert list(parsed.issues.columns) == ISSUE_COLUMNS and set(parsed.issues["file"]) == {"financials.csv"}
    assert str(parsed.frame["fiscal_year"].dtype) == "Int64" and pd.isna(parsed.frame.loc[1, "fiscal_year"])


def test_dates_parse_in_common_forms_and_bad_dates_become_issues():
    raw = _raw(
        [
            {"firm_id": "A", "round_id": "R1", "applied_on": "2025-03-31"},
            {"firm_id": "B", "round_id": "R1", "applied_on": "2025/04/01"},
            {"firm_id": "C", "round_id": "R1", "applied_on": "2025-02-30"},  # no such day
            {"firm_id": "D", "round_id": "R1", "applied_on": "soon"},
        ]
    )
    parsed = parse_table(raw, APPLICATIONS, "applications.csv", {})
    assert parsed.frame["applied_on"].iloc[:2].tolist() == [pd.Timestamp("2025-03-31"), pd.Timestamp("2025-04-01")]
    bad = parsed.issues[parsed.issues["rule"] == "bad_date"]
    assert bad["row"].tolist() == [4, 5] and bad["value"].tolist() == ["2025-02-30", "soon"]
    assert bad["message"].str.contains("2025-03-31").all()


def test_schema_failures_become_issues_quoting_the_value_as_written():
    raw = _raw(
        [
            {"firm_id": "A", "fiscal_year": "2021", "revenue": "100", "total_assets": "△5"},
            {"firm_id": "B", "fiscal_year": "2031", "revenue": "100", "total_assets": "5"},
            {"firm_id": "C D", "fiscal_year": "2021", "revenue": "100", "total_assets": "5"},
        ]
    )
    parsed = parse_table(raw, FINANCIALS, "financials.csv", {})
    issues = schema_issues(parsed.frame, financials_schema(2024, 1950), "financials.csv", raw)
    found = {(r.row, r.column): (r.rule, r.value) for r in issues.itertuples()}
    assert found[(2, "total_assets")] == ("negative_value", "△5")  # quoted as written, not as -5.0
    assert found[(3, "fiscal_year")] == ("future_fiscal_year", "2031")
    assert found[(4, "firm_id")] == ("bad_firm_id", "C D")
    assert len(issues) == 3


def test_exact_repeats_keep_the_first_copy_and_conflicts_keep_none():
    frame = _raw(
        [
            {"firm_id": "A", "fiscal_year": 2021, "revenue": 1.0},
            {"firm_id": "A", "fiscal_year": 2021, "revenue": 1.0},
            {"firm_id": "B", "fiscal_year": 2021, "revenue": 1.0},
            {"firm_id": "B", "fiscal_year": 2021, "revenue": 2.0},
            {"firm_id": "C", "fiscal_year": 2021, "revenue": 3.0},
        ]
    )
    issues = duplicate_key_issues(frame, ["firm_id", "fiscal_year"], "financials.csv", ["revenue"])
    assert sorted(issues["row"].tolist()) == [3, 4, 5]
    messages = dict(zip(issues["row"], issues["message"], strict=True))
    assert "exact repeat of row 2" in messages[3] and "rows 4, 5" in messages[4] and "none is kept" in messages[5]


def test_orphans_point_at_firms_that_were_not_accepted():
    frame = _raw([{"firm_id": "A"}, {"firm_id": "Z"}, {"firm_id": None}])
    issues = orphan_issues(frame, {"A"}, "financials.csv", "firms.csv")
    assert issues["row"].tolist() == [3] and issues["value"].tolist() == ["Z"]
    assert issues["message"].iloc[0] == "firm_id has no accepted row in firms.csv"


def test_split_rows_loses_nothing_and_records_each_row_once_under_its_first_issue():
    frame = _raw([{"firm_id": f"F{i}"} for i in range(5)])
    issues = pd.concat(
        [
            make_issues("firms.csv", [3, 3], "name", ["x", "y"], "missing_required", "name is empty"),
            make_issues("firms.csv", [5], "ksic_division", "Q99", "unknown_industry_code", "not KSIC"),
            make_issues("firms.csv", [3], "ksic_division", "Q98", "unknown_industry_code", "not KSIC"),
        ],
        ignore_index=True,
    )
    accepted, quarantine = split_rows(frame, issues)
    assert len(accepted) + len(quarantine) == len(frame)  # read = accepted + quarantined
    assert accepted["firm_id"].tolist() == ["F0", "F2", "F4"] and ROW not in accepted
    assert list(quarantine.columns) == QUARANTINE_COLUMNS
    first = quarantine.set_index("row").loc[3]
    assert first["rule"] == "missing_required" and first["value"] == "x"
    # the second "name is empty" is the same cell again: listed once
    assert first["other_problems"] == "unknown_industry_code:ksic_division"


def test_no_issues_accepts_every_row():
    frame = _raw([{"firm_id": "A"}, {"firm_id": "B"}])
    accepted, quarantine = split_rows(frame, make_issues("firms.csv", [], None, None, "x", "y"))
    assert len(accepted) == 2 and quarantine.empty and list(quarantine.columns) == QUARANTINE_COLUMNS


def test_text_columns_keep_leading_zeros_and_missing_values():
    raw = _raw([{"firm_id": "000123", "name": "가온", "ksic_division": "C26"}, {"firm_id": "7", "name": None}])
    parsed = parse_table(raw, FIRMS, "firms.csv", {})
    assert parsed.frame["firm_id"].tolist() == ["000123", "7"] and pd.isna(parsed.frame.loc[1, "name"])
    # pandas' own text dtype, as the ingested Parquet tables read back: the contracts check it by dtype
    assert all(
        pd.api.types.is_string_dtype(parsed.frame[c]) and parsed.frame[c].dtype != object for c in ("firm_id", "name")
    )


def test_plain_numbers_parse_as_pandas_parses_them_whatever_the_column_type():
    from jumpup.intake.quarantine import parse_numbers

    cells = [
        "12",
        "-12",
        "+12",
        "1.5",
        ".5",
        "5.",
        "1e5",
        "1E-3",
        "-0",
        "00012",
        "12345678901234567890",
        "9007199254740993",
        "inf",
        "nan",
        " 12",
        "",
        None,
        "abc",
        "1.2.3",
        "0x10",
        "1_000",
        "1e400",
    ]
    expected = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce").astype("float64")
    for dtype in ("str", object, "string"):
        parsed = parse_numbers(pd.Series(cells, dtype=dtype))
        pd.testing.assert_series_equal(parsed, expected, check_names=False)
    mixed = pd.Series([1, "2", None, 3.5, "(4)"], dtype=object)  # cells that are not text
    assert parse_numbers(mixed).tolist()[:2] == [1.0, 2.0] and parse_numbers(mixed).iloc[4] == -4.0


@pytest.mark.parametrize("dtype", ["str", object])
def test_is_known_matches_isin_for_text_ids_and_never_knows_a_missing_one(dtype):
    from jumpup.frames import is_known

    values = pd.Series(["F1", None, "F3", "007", "F1"], index=[5, 6, 7, 8, 9], dtype=dtype)
    for known in ({"F1", "007"}, pd.Series(["F1", "007", None], dtype="str"), pd.Index(["F1", "007"])):
        found = is_known(values, known)
        assert found.tolist() == [True, False, False, True, True] and found.index.tolist() == [5, 6, 7, 8, 9]
    assert not is_known(values, set()).any()
    mixed = pd.Series(["F1", 3, None], dtype=object)  # not all text: pandas' own isin
    assert is_known(mixed, [3, "F1"]).tolist() == [True, True, False]
