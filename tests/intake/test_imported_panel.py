"""The imported TS-2000 panel read back by the crisis and evaluation stages: every input's rules."""

from __future__ import annotations

import pandas as pd
import pytest

from jumpup.intake.imported_panel import PanelError, read_imported_panel

FIRMS = pd.DataFrame(
    {"firm_id": ["000101", "../../x", "A2"], "name": ["가", "나", '=HYPERLINK("http://x","y")'], "region": "서울"}
)
FINANCIALS = pd.DataFrame(
    {
        "firm_id": ["000101", "000101", "../../x", "A2"],
        "fiscal_year": [2021, 2022, 2022, 2022],
        "revenue": [1.0, 2.0, 3.0, 4.0],
        "audit_opinion": ["00", "00", "01", "00"],
    }
)


def _panel(tmp_path, encoding="utf-8", firms=FIRMS, financials=FINANCIALS):
    panel = tmp_path / "panel"
    panel.mkdir(exist_ok=True)
    firms.to_csv(panel / "firms.csv", index=False, encoding=encoding)
    financials.to_csv(panel / "financials.csv", index=False, encoding=encoding)
    return panel


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_a_firm_id_that_is_not_a_safe_id_is_quarantined_in_both_files(encoding, tmp_path):
    panel = read_imported_panel(_panel(tmp_path, encoding))
    assert panel.firms["firm_id"].tolist() == ["000101", "A2"]
    assert panel.financials["firm_id"].tolist() == ["000101", "000101", "A2"]
    assert panel.financials["audit_opinion"].tolist() == ["00", "00", "00"]  # codes stay text
    assert panel.rows["region"].tolist() == ["서울"] * 3
    quarantined = panel.quarantine[["file", "row", "column", "value", "rule"]].values.tolist()
    assert quarantined == [
        ["firms.csv", 3, "firm_id", "../../x", "bad_firm_id"],
        ["financials.csv", 4, "firm_id", "../../x", "bad_firm_id"],
    ]
    assert len(FIRMS) + len(FINANCIALS) == len(panel.firms) + len(panel.financials) + len(panel.quarantine)


def test_an_orphan_row_is_named_by_its_row_in_the_file(tmp_path):
    financials = pd.concat([FINANCIALS, pd.DataFrame({"firm_id": ["Z9"], "fiscal_year": [2022]})], ignore_index=True)
    with pytest.raises(PanelError, match=r"financials\.csv: row 6, column firm_id, value 'Z9' is not in firms\.csv$"):
        read_imported_panel(_panel(tmp_path, financials=financials))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"firms\.csv: the file is empty; it needs at least a header row$"),
        (b"\xff\xfe\xfa\x00", r"firms\.csv: unreadable text: not UTF-8 .* and not cp949"),
        (b"name\n\xea\xb0\x80\n", r"firms\.csv: column firm_id is missing$"),
        (b'firm_id,name\n"A1,x\n', r"firms\.csv: unreadable CSV: "),
    ],
    ids=["empty", "not text", "no firm id", "open quote"],
)
def test_a_file_that_cannot_be_read_is_one_line_naming_it(content, message, tmp_path):
    panel = _panel(tmp_path)
    (panel / "firms.csv").write_bytes(content)
    with pytest.raises(PanelError, match=message) as caught:
        read_imported_panel(panel)
    assert "\n" not in str(caught.value)
    (panel / "firms.csv").unlink()
    with pytest.raises(PanelError, match=r"firms\.csv: missing; run `jumpup import ts2000 DIR --out "):
        read_imported_panel(panel)


def test_a_bad_year_or_text_in_an_amount_quarantines_the_row_and_leaves_numbers(tmp_path):
    financials = FINANCIALS.astype({"fiscal_year": object, "revenue": object})
    financials.loc[1, "fiscal_year"] = "20x2"
    financials.loc[3, "revenue"] = "1,234"
    firms = FIRMS.assign(firm_id=[" 000101 ", "../../x", "A2"])  # spaces around an id are dropped, as at intake
    panel = read_imported_panel(_panel(tmp_path, firms=firms, financials=financials))
    assert panel.financials["firm_id"].tolist() == ["000101"]
    assert panel.financials["fiscal_year"].dtype == "int64" and panel.financials["revenue"].dtype == "float64"
    quarantined = panel.quarantine[["file", "row", "column", "value", "rule"]].values.tolist()
    assert quarantined == [
        ["firms.csv", 3, "firm_id", "../../x", "bad_firm_id"],
        ["financials.csv", 3, "fiscal_year", "20x2", "non_integer"],
        ["financials.csv", 4, "firm_id", "../../x", "bad_firm_id"],
        ["financials.csv", 5, "revenue", "1,234", "non_numeric"],
    ]


@pytest.mark.parametrize(
    "firms, financials, message",
    [
        (
            FIRMS.iloc[[0, 0, 2]],
            FINANCIALS,
            r"firms\.csv: row 3, column firm_id, value '000101' appears twice; keep one$",
        ),
        (
            FIRMS,
            FINANCIALS.iloc[[0, 1, 1]],
            r"financials\.csv: row 4, column firm_id, fiscal_year, value '000101, 2022' appears twice; keep one$",
        ),
        (FIRMS.iloc[:0], FINANCIALS, r"firms\.csv: no rows to read$"),
        (FIRMS, FINANCIALS.iloc[[2]], r"financials\.csv: no rows to read; 1 quarantined, the first for bad_firm_id$"),
    ],
    ids=["a firm twice", "a firm-year twice", "header only", "every row quarantined"],
)
def test_a_panel_that_cannot_be_read_whole_is_one_line_naming_the_file(firms, financials, message, tmp_path):
    with pytest.raises(PanelError, match=message):
        read_imported_panel(_panel(tmp_path, firms=firms.reset_index(drop=True), financials=financials))
