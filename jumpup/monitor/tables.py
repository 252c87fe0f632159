"""Monitoring tables as pure functions: firms already in crisis set apart, change since the previous
year, grade migration, newly flagged firms, and aggregates by group that never show a group of
fewer than ``min_size`` firms.

Inputs are score tables (one row per firm and year: firm_id, as_of, probability, grade, flagged)
as the crisis pyfunc returns them.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

POOLED = "기타 (소규모 그룹 통합)"


def set_apart_in_crisis(scores: pd.DataFrame, state: pd.DataFrame, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores of firms not in crisis in ``year``, state rows of the firms that are).

    ``scores``: score rows of one year (firm_id, ...); ``state``: ``jumpup.models.crisis.in_crisis``
    output (firm_id, fiscal_year, in_crisis, crisis_reason, ...). A firm already in crisis (interest
    coverage below the threshold, or a 부적정 / 의견거절 opinion, in ``year``) is past the event the
    model predicts, so its "may enter crisis" score is dropped; it is returned in the second table
    instead, one row per firm, sorted by firm_id.
    """
    now = state[(state["fiscal_year"] == year) & state["in_crisis"]]
    firms = set(now["firm_id"].astype(str))
    kept = scores[~scores["firm_id"].astype(str).isin(firms)].reset_index(drop=True)
    return kept, now.sort_values("firm_id").reset_index(drop=True)


def year_over_year(
    current: pd.DataFrame, previous: pd.DataFrame, labels: list[str], previous_in_crisis: Iterable[str] = ()
) -> pd.DataFrame:
    """``current`` with previous_probability, previous_grade, previous_flagged, grade_change and
    newly_flagged. ``grade_change``: ``worse`` / ``better`` / ``same`` along ``labels`` (first =
    highest risk), ``from_crisis`` when the firm was in crisis a year before (``previous_in_crisis``,
    so not scored then), ``new`` when it was not scored a year before for another reason.
    ``newly_flagged``: flagged now, scored and not flagged a year before.
    """
    before = previous[["firm_id", "probability", "grade", "flagged"]].rename(
        columns={"probability": "previous_probability", "grade": "previous_grade", "flagged": "previous_flagged"}
    )
    out = current.merge(before, on="firm_id", how="left", validate="one_to_one")
    rank = {label: i for i, label in enumerate(labels)}
    now = out["grade"].map(rank)
    then = out["previous_grade"].map(rank)
    was_in_crisis = out["firm_id"].astype(str).isin({str(f) for f in previous_in_crisis})
    out["grade_change"] = np.select(
        [then.isna() & was_in_crisis, then.isna(), now < then, now > then],
        ["from_crisis", "new", "worse", "better"],
        default="same",
    ).astype(object)
    out["newly_flagged"] = out["flagged"].astype(bool) & out["previous_flagged"].eq(False)
    out["previous_flagged"] = out["previous_flagged"].astype(object)
    return out


def migration_matrix(table: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Firms by previous grade (rows) and current grade (columns), every label in ``labels`` order;
    a row ``from_crisis`` counts firms in crisis a year before, ``new`` other firms not scored then."""
    rows = table["previous_grade"].astype(object)
    if "grade_change" in table:
        rows = rows.where(table["grade_change"] != "from_crisis", "from_crisis")
    rows = rows.fillna("new")
    index = [*labels, "from_crisis", "new"]
    matrix = pd.crosstab(rows, table["grade"]).reindex(index=index, columns=labels, fill_value=0)
    matrix.index.name, matrix.columns.name = "previous_grade", "grade"
    return matrix.astype("int64")


def group_aggregates(table: pd.DataFrame, by: str, min_size: int) -> tuple[pd.DataFrame, dict]:
    """Per value of ``by``: firms, mean probability, flagged share and newly flagged count.

    Groups of fewer than ``min_size`` firms are pooled into one row labelled ``POOLED`` (with how
    many groups it holds); if the pool itself has fewer than ``min_size`` firms it is not shown.
    Returns (table, note) where note counts the pooled and withheld groups and firms. A missing
    ``by`` value is its own group ``(미상)``.
    """
    keys = table[by].astype(object).where(table[by].notna(), "(미상)")
    sizes = keys.value_counts()
    small = set(sizes[sizes < min_size].index)
    label = keys.where(~keys.isin(small), POOLED)
    frame = table.assign(_group=label)
    out = (
        frame.groupby("_group", sort=True)
        .agg(
            firms=("firm_id", "size"),
            mean_probability=("probability", "mean"),
            flagged_share=("flagged", "mean"),
            newly_flagged=("newly_flagged", "sum"),
        )
        .reset_index()
        .rename(columns={"_group": by})
    )
    out["groups_pooled"] = np.where(out[by] == POOLED, len(small), 1)
    note = {"groups_pooled": len(small), "firms_pooled": int(sizes[list(small)].sum()) if small else 0}
    withheld = (out[by] == POOLED) & (out["firms"] < min_size)
    note["firms_withheld"] = int(out.loc[withheld, "firms"].sum())
    out = out[~withheld].reset_index(drop=True)
    out["newly_flagged"] = out["newly_flagged"].astype("int64")
    return out, note
