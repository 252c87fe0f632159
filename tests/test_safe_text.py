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
