"""User text never becomes a spreadsheet formula."""

from __future__ import annotations

import pandas as pd

from jumpup.safe_text import guard_formulas, unguard_formulas


def test_formula_like_text_is_quoted_and_numbers_stay_numbers():
    frame = pd.DataFrame(
        {
            "text": ['=HYPERLINK("http://x")', "+1", "-cmd", "@SUM(A1)", "\tx", "plain", None],
            "number": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    guarded = guard_formulas(frame)
    assert list(guarded["text"])[:6] == ['\'=HYPERLINK("http://x")', "'+1", "'-cmd", "'@SUM(A1)", "'\tx", "plain"]
    assert pd.isna(guarded["text"].iloc[6])
    assert guarded["number"].tolist() == frame["number"].tolist()
    assert frame["text"].iloc[0].startswith("=")  # the input is not modified
    assert unguard_formulas(guarded["text"]).tolist()[:6] == frame["text"].tolist()[:6]
    assert unguard_formulas(pd.Series(["'plain"])).tolist() == ["'plain"]  # only what the guard added


def test_write_csv_quotes_formula_text_keeps_numbers_and_never_splits_a_row(tmp_path):
    import csv

    from jumpup.safe_text import write_csv

    frame = pd.DataFrame(
        {
            "name": ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "ok", None],
            "amount": [-1234, 1, 2, 3, 4, 5, 6, 7],
            "share": [-0.25] * 8,
        }
    )
    path = write_csv(frame, tmp_path / "t.csv", encoding="utf-8")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "ok", ""]
    assert rows[1][1:] == ["-1234", "-0.25"]  # numeric columns stay numbers


def test_write_csv_of_a_frame_without_risky_text_is_what_pandas_writes(tmp_path):
    from jumpup.safe_text import write_csv

    frame = pd.DataFrame({"firm_id": ["005930", "A1"], "points": [-3.5, 2.0], "reason": ["수익성 -3점", ""]})
    write_csv(frame, tmp_path / "a.csv")
    frame.to_csv(tmp_path / "b.csv", index=False)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_mixed_object_and_string_columns_are_guarded_alike():
    mixed = pd.Series([1, "=x", None, 2.5, "ok", "-y"], dtype=object)
    typed = pd.Series(["=x", None, "ok", "\r-y"], dtype="string")
    guarded = guard_formulas(pd.DataFrame({"mixed": mixed}))["mixed"].tolist()
    assert guarded[:2] == [1, "'=x"] and guarded[3:] == [2.5, "ok", "'-y"]
    assert guard_formulas(pd.DataFrame({"typed": typed}))["typed"].tolist()[::2] == ["'=x", "ok"]
