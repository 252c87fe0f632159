"""Reasons worded for a whole round equal the grade report's wording of each firm."""

import numpy as np
import pandas as pd

from jumpup.rendering.firm_report import _reasons, annotated_reasons


def _round(n: int, seed: int = 3) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    features = np.array(["revenue_growth_1y", "log_revenue", "peer_pct_roa", "equity_ratio", "not_a_column", None])
    frame = pd.DataFrame(
        {
            "firm_id": [f"F{i:05d}" for i in range(n)],
            "revenue_growth_1y": rng.normal(0.1, 0.3, n),
            "revenue": rng.uniform(10e8, 500e8, n),
            "peer_pct_roa": rng.uniform(0, 1, n),
            "equity_ratio": np.where(rng.uniform(size=n) < 0.2, np.nan, rng.uniform(0, 1, n)),
        }
    )
    for direction, sign in (("up", "+"), ("down", "-")):
        for k in (1, 2, 3):
            picked = rng.choice(features, n)
            frame[f"reason_feature_{direction}_{k}"] = picked
            points = rng.integers(1, 20, n)
            text = [f"재무 성장성 {sign}{p}점: 지표" for p in points]
            empty = rng.uniform(size=n) < 0.15
            frame[f"reason_{direction}_{k}"] = np.where(empty, "", text)
    medians = {
        f: {"revenue_growth_1y": 0.05, "revenue": 80e8, "equity_ratio": 0.4}
        for f in frame["firm_id"]
        if f[-1] != "7"  # some firms have no peer medians
    }
    return frame, medians


def test_round_wording_equals_each_firms_report_wording():
    frame, medians = _round(400)
    worded = annotated_reasons(frame, medians, "ko")
    assert list(worded.columns) == list(frame.columns)
    changed = 0
    for i, row in frame.iterrows():
        for direction in ("up", "down"):
            expected = _reasons(row, direction, medians.get(row["firm_id"], {}), "ko")
            columns = sorted(c for c in frame if c.startswith(f"reason_{direction}_") and row[c])
            assert [worded.at[i, c] for c in columns] == expected
            changed += sum(worded.at[i, c] != row[c] for c in columns)
    assert changed > 400  # values and medians were really added


def test_other_languages_and_empty_rounds_pass_through():
    frame, medians = _round(20)
    pd.testing.assert_frame_equal(annotated_reasons(frame, medians, "en"), frame)
    empty = frame.iloc[:0]
    pd.testing.assert_frame_equal(annotated_reasons(empty, medians, "ko"), empty)
