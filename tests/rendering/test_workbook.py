"""The round workbook keeps text as text: nothing an applicant writes becomes a formula."""

from __future__ import annotations

import pandas as pd
from openpyxl import load_workbook

from jumpup.rendering.workbook import write_workbook

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "plain", "=cmd|' /C calc'!A0"]


def test_formula_like_text_is_written_as_string_cells_and_numbers_stay_numbers(tmp_path):
    frame = pd.DataFrame({"name": HOSTILE, "score": [-1234, 0, 1, 2, 3, 4, 5, 6], "ratio": [-0.5] * 8})
    path = tmp_path / "w.xlsx"
    write_workbook(path, {"sheet": frame, "=SUM(1)": frame[["name"]]})
    sheet = load_workbook(path)["sheet"]
    names = [sheet.cell(row=r, column=1) for r in range(2, len(HOSTILE) + 2)]
    # the value is kept as it was (XML reads a carriage return back as a line feed)
    assert [c.value for c in names] == [v.replace("\r", "\n") for v in HOSTILE]
    assert {c.data_type for c in names} == {"s"}
    assert sheet.cell(row=2, column=2).value == -1234 and sheet.cell(row=2, column=2).data_type == "n"
    assert sheet.cell(row=2, column=3).value == -0.5 and sheet.cell(row=2, column=3).data_type == "n"
    assert not any(c.data_type == "f" for ws in load_workbook(path).worksheets for row in ws.iter_rows() for c in row)


def test_control_characters_do_not_fail_the_workbook(tmp_path):
    frame = pd.DataFrame({"value": ["nul\x00id", "bell\x07", "=\x01x"]})
    write_workbook(tmp_path / "w.xlsx", {"격리": frame})
    sheet = load_workbook(tmp_path / "w.xlsx")["격리"]
    assert [sheet.cell(row=r, column=1).value for r in (2, 3, 4)] == ["nul\\x00id", "bell\\x07", "=\\x01x"]
    assert sheet.cell(row=4, column=1).data_type == "s"
