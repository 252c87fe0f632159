"""Monitoring tables: change since last year, migration, groups of at least five firms."""

from __future__ import annotations

import pandas as pd

from jumpup.monitor.tables import POOLED, group_aggregates, migration_matrix, year_over_year

LABELS = ["severe", "alert", "caution", "watch", "normal"]


def _scores(rows):
    return pd.DataFrame(rows, columns=["firm_id", "probability", "grade", "flagged"])


def test_change_since_last_year_and_newly_flagged():
    previous = _scores([("a", 0.08, "watch", False), ("b", 0.3, "alert", True), ("c", 0.5, "severe", True)])
    current = _scores(
        [("a", 0.25, "alert", True), ("b", 0.3, "alert", True), ("c", 0.06, "watch", False), ("d", 0.5, "severe", True)]
    )
    table = year_over_year(current, previous, LABELS).set_index("firm_id")
    assert table["grade_change"].to_dict() == {"a": "worse", "b": "same", "c": "better", "d": "new"}
    assert table["newly_flagged"].to_dict() == {"a": True, "b": False, "c": False, "d": False}
    matrix = migration_matrix(table.reset_index(), LABELS)
    assert matrix.loc["watch", "alert"] == 1 and matrix.loc["new", "severe"] == 1
    assert matrix.to_numpy().sum() == 4
    assert list(matrix.columns) == LABELS


def test_small_groups_are_pooled_or_withheld():
    groups = ["A"] * 6 + ["B"] * 5 + ["C"] * 2 + ["D"] * 2 + ["E"] * 1
    table = pd.DataFrame(
        {
            "firm_id": [str(i) for i in range(len(groups))],
            "region": groups,
            "probability": 0.1,
            "flagged": False,
            "newly_flagged": False,
        }
    )
    out, note = group_aggregates(table, "region", 5)
    assert out.set_index("region")["firms"].to_dict() == {"A": 6, "B": 5, POOLED: 5}
    assert (out["firms"] >= 5).all()
    assert note == {"groups_pooled": 3, "firms_pooled": 5, "firms_withheld": 0}
    out, note = group_aggregates(table[table["region"] != "E"], "region", 5)
    assert POOLED not in set(out["region"]) and note["firms_withheld"] == 4
    assert (out["firms"] >= 5).all()


def test_firms_in_crisis_are_set_apart_and_their_return_is_named():
    from jumpup.monitor.tables import set_apart_in_crisis

    scores = _scores([("a", 0.1, "caution", False), ("b", 0.5, "severe", True), ("c", 0.02, "normal", False)])
    state = pd.DataFrame(
        {
            "firm_id": ["a", "b", "c", "a"],
            "fiscal_year": [2023, 2023, 2023, 2022],
            "in_crisis": [False, True, False, True],
            "crisis_reason": ["", "이자보상배율 0.20 (< 1)", "", "감사의견 DS"],
        }
    )
    kept, now = set_apart_in_crisis(scores, state, 2023)
    assert list(kept["firm_id"]) == ["a", "c"] and list(now["firm_id"]) == ["b"]
    previous = _scores([("c", 0.02, "normal", False)])
    table = year_over_year(kept, previous, LABELS, previous_in_crisis=["a"]).set_index("firm_id")
    assert table["grade_change"].to_dict() == {"a": "from_crisis", "c": "same"}
    assert not table["newly_flagged"].any()
    matrix = migration_matrix(table.reset_index(), LABELS)
    assert matrix.loc["from_crisis", "caution"] == 1 and matrix.loc["new"].sum() == 0
    assert matrix.to_numpy().sum() == len(kept)
