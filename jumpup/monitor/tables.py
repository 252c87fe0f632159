"""Monitoring tables as pure functions: change since the previous year, grade migration, newly
flagged firms, and aggregates by group that never show a group of fewer than ``min_size`` firms.

Inputs are score tables (one row per firm and year: firm_id, as_of, probability, grade, flagged)
as the crisis pyfunc returns them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

POOLED = "기타 (소규모 그룹 통합)"


def year_over_year(current: pd.DataFrame, previous: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """``current`` with previous_probability, previous_grade, previous_flagged, grade_change and
    newly_flagged. ``grade_change``: ``worse`` / ``better`` / ``same`` along ``labels`` (first =
    highest risk), ``new`` when the firm was not scored a year before. ``newly_flagged``: flagged
    now, scored and not flagged a year before.
    """
    before = previous[["firm_id", "probability", "grade", "flagged"]].rename(
        columns={"probability": "previous_probability", "grade": "previous_grade", "flagged": "previous_flagged"}
    )
    out = current.merge(before, on="firm_id", how="left", validate="one_to_one")
    rank = {label: i for i, label in enumerate(labels)}
    now = out["grade"].map(rank)
    then = out["previous_grade"].map(rank)
    out["grade_change"] = np.select(
        [then.isna(), now < then, now > then], ["new", "worse", "better"], default="same"
    ).astype(object)
    out["newly_flagged"] = out["flagged"].astype(bool) & out["previous_flagged"].eq(False)
    out["previous_flagged"] = out["previous_flagged"].astype(object)
    return out


def migration_matrix(table: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Firms by previous grade (rows) and current grade (columns), every label in ``labels`` order;
    a row ``new`` counts firms not scored a year before."""
    rows = table["previous_grade"].fillna("new")
    matrix = pd.crosstab(rows, table["grade"]).reindex(index=[*labels, "new"], columns=labels, fill_value=0)
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
