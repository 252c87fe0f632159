"""CSV cells meant for spreadsheets: formula-like text gets a leading quote (OWASP); numbers do not."""

from __future__ import annotations

import csv

import pandas as pd

from jumpup.spreadsheet import formula_like, write_csv


def test_formula_like_text_is_quoted_and_numbers_are_left_alone(tmp_path):
    frame = pd.DataFrame(
        {
            "name": ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "ok", None, "-1234", "-"],
            "amount": [-1234, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            "share": [-0.25] * 10,
        }
    )
    path = write_csv(frame, tmp_path / "t.csv", encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "ok", "", "-1234", "'-"]
    assert rows[1][1:] == ["-1234", "-0.25"]
    assert not any(formula_like(cell) for row in rows for cell in row)


def test_a_frame_without_risky_text_is_written_exactly_as_pandas_writes_it(tmp_path):
    frame = pd.DataFrame({"firm_id": ["005930", "A1"], "points": [-3.5, 2.0], "reason": ["수익성 -3점", ""]})
    write_csv(frame, tmp_path / "a.csv")
    frame.to_csv(tmp_path / "b.csv", index=False)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
