"""Targets: what happens to a firm in the ``horizon`` years after fiscal year t.

Each label for origin t reads only years t+1..t+h, and features for origin t read only years
<= t, so a label can never leak into a feature. A firm whose outcome is unknown (it stopped
filing, or the panel ends before t+h) gets no label and is left out of training and
validation — ``label_status`` says why.

- ``high_growth``: revenue CAGR from t to t+h above the threshold (OECD-Eurostat: 20% a year
  over 3 years), for firms with at least ``min_start_employees`` at t where the headcount is known;
- ``high_growth_employment``: the same on headcount (needs a headcount at t and t+h);
- ``size_upgrade``: a higher SME Act size class in any year t+1..t+h than at t;
- ``distress``: an administrative-issue flag (관리종목) in any year t+1..t+h.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.features.ratios import sort_panel
from jumpup.settings import TargetSettings

SIZE_RANK = {"small": 0, "medium": 1, "midsize_candidate": 2, "midsize": 3}
TARGET_KO = {
    "high_growth": "고성장 (매출 연평균 20% 초과)",
    "high_growth_employment": "고성장 (고용 연평균 20% 초과)",
    "size_upgrade": "규모 상향 (중견후보·중견 진입)",
    "distress": "부실 (관리종목 지정)",
    "crisis": "위기징후 (한계기업 진입 또는 부적정·의견거절)",
}

# +1 for a good outcome (growth, a size upgrade), -1 for a bad one (distress). Monotone directions
# in params.yaml are written for good outcomes, so a distress model applies them reversed, and the
# naive past-growth baseline turns its sign (faster growth, less distress).
TARGET_ORIENTATION = {"high_growth": 1, "high_growth_employment": 1, "size_upgrade": 1, "distress": -1, "crisis": -1}


def _lead(panel: pd.DataFrame, column: str, years: int) -> pd.Series:
    """Value of ``column`` for the same firm exactly ``years`` fiscal years later (else NaN)."""
    shifted = panel[["firm_id", "fiscal_year", column]].copy()
    shifted["fiscal_year"] = shifted["fiscal_year"] - years
    merged = panel[["firm_id", "fiscal_year"]].merge(shifted, on=["firm_id", "fiscal_year"], how="left")
    return pd.Series(merged[column].to_numpy(dtype="float64"), index=panel.index)


def make_targets(financials: pd.DataFrame, size_class: pd.DataFrame | None, settings: TargetSettings) -> pd.DataFrame:
    """One row per firm and origin year t: ``target`` (0/1 or NaN), ``label_status`` and the outcome."""
    if settings.name == "crisis":
        raise ValueError(
            "the crisis target is built by jumpup.models.crisis.crisis_targets (jumpup train --target crisis)"
        )
    panel = sort_panel(financials).copy()
    h = settings.horizon
    out = panel[["firm_id", "fiscal_year"]].copy()
    last_year = int(panel["fiscal_year"].max())
    beyond_panel = panel["fiscal_year"] + h > last_year

    if settings.name in ("high_growth", "high_growth_employment"):
        column = "revenue" if settings.name == "high_growth" else "employees"
        if column not in panel:
            panel[column] = np.nan
        start = panel[column].astype("float64")
        end = _lead(panel, column, h)
        growth = np.power(end / start.where(start > 0), 1.0 / h) - 1.0
        target = (growth > settings.growth_threshold).astype("float64").where(growth.notna())
        employees = (
            panel["employees"].astype("float64") if "employees" in panel else pd.Series(np.nan, index=panel.index)
        )
        too_small = employees.notna() & (employees < settings.min_start_employees)
        target[too_small] = np.nan
        out["outcome"] = growth
        status = np.select(
            [beyond_panel, too_small, start.isna() | (start <= 0), end.isna()],
            ["outcome_after_panel_end", "below_min_employees", "no_start_value", "no_end_value_(exit_or_gap)"],
            default="labelled",
        )
    elif settings.name == "size_upgrade":
        if size_class is None:
            raise ValueError("size_upgrade needs size classes (features.size_class.classify_size)")
        ranks = size_class[["firm_id", "fiscal_year"]].assign(rank=size_class["size_class"].map(SIZE_RANK))
        panel = panel.merge(ranks, on=["firm_id", "fiscal_year"], how="left")
        future = pd.concat([_lead(panel, "rank", k) for k in range(1, h + 1)], axis=1)
        best = future.max(axis=1)
        target = (best > panel["rank"]).astype("float64").where(best.notna() & panel["rank"].notna())
        out["outcome"] = best - panel["rank"]
        status = np.select(
            [beyond_panel, panel["rank"].isna(), best.isna()],
            ["outcome_after_panel_end", "no_start_class", "no_later_class"],
            default="labelled",
        )
    else:  # distress
        flag = "administrative_issue"
        if flag not in panel:
            panel[flag] = np.nan
        future = pd.concat([_lead(panel, flag, k) for k in range(1, h + 1)], axis=1)
        observed = future.notna().sum(axis=1)
        target = (future.max(axis=1) > 0).astype("float64").where(observed > 0)
        out["outcome"] = future.max(axis=1)
        status = np.select(
            [beyond_panel, observed == 0], ["outcome_after_panel_end", "flag_not_observed"], default="labelled"
        )

    out["target"] = target.where(~beyond_panel).to_numpy()
    out["label_status"] = status
    out.loc[out["target"].isna() & (out["label_status"] == "labelled"), "label_status"] = "undetermined"
    return out.reset_index(drop=True)
