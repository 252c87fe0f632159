"""Industry stability (산업안정성): statistics per KSIC division (or TS-2000 industry group) and fiscal year.

Computed once from the reference population and carried with the model. Each (division, year)
uses only that year's firms; volatility uses that year and earlier ones only. A division-year with
too few firms borrows its KSIC section's statistics, and ``industry_level`` says so.

Firms imported from TS-2000 carry no KSIC code, only the industry group of their export file
(``industry_group``, mapped to KSIC divisions in ``data/reference/ts2000_industry_groups.csv`` and
carried as ``ksic_divisions``). For them the narrow level is the industry group's span of KSIC
divisions: a group spanning several divisions (금속가공_전자부품: ``group:C25;C26``) is never split
or merged with listed firms of one of its divisions, a group that is exactly one division (도매:
G46) meets the listed firms of that division, and the parts of a group split by row count
(부동산1–3, all L68) form one group. The section level uses the firm's KSIC section.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.settings import FeatureSettings

INDUSTRY_COLUMNS = (
    "industry_revenue_growth",
    "industry_growth_dispersion",
    "industry_growth_volatility",
    "industry_loss_share",
    "industry_distress_share",
    "industry_concentration",
)


def industry_key(frame: pd.DataFrame, unknown: str | None = "?") -> pd.Series:
    """Narrow industry key per row: for a row with a TS-2000 industry group, its KSIC division when the
    group is exactly one division, else ``group:<divisions>`` (``group:<name>`` without ``ksic_divisions``);
    otherwise the row's KSIC division; ``unknown`` when nothing is known (None: left missing)."""
    key = frame["ksic_division"].astype("string")
    if "industry_group" in frame:
        group = frame["industry_group"].astype("string")
        span = frame["ksic_divisions"].astype("string") if "ksic_divisions" in frame else group
        span = span.where(span.notna() & (span != ""), group)
        single = span.str.fullmatch(r"[A-Z]\d{2}").fillna(False).astype(bool)
        grouped = ("group:" + span).where(~single, span)
        key = grouped.where(group.notna() & (group != ""), key)
    return key.fillna(unknown).astype(str) if unknown is not None else key.astype(object).where(key.notna(), None)


def _group_statistics(frame: pd.DataFrame, key: str, settings: FeatureSettings) -> pd.DataFrame:
    grouped = frame.groupby([key, "fiscal_year"], sort=True)
    growth = grouped["revenue_growth_1y"]
    profit = frame["net_income"].where(frame["net_income"].notna(), frame["operating_income"])
    loss = (profit < 0).astype("float64").where(profit.notna())
    distress = frame["administrative_issue"]
    share = frame["revenue"] / grouped["revenue"].transform("sum")
    stats = pd.DataFrame(
        {
            "industry_firm_count": grouped["firm_id"].count(),
            "industry_revenue_growth": growth.median(),
            "industry_growth_dispersion": growth.quantile(0.75) - growth.quantile(0.25),
            "_growth_n": growth.count(),
            "industry_loss_share": loss.groupby([frame[key], frame["fiscal_year"]]).mean(),
            "industry_distress_share": distress.groupby([frame[key], frame["fiscal_year"]]).mean(),
            "industry_concentration": (share**2).groupby([frame[key], frame["fiscal_year"]]).sum(min_count=1),
        }
    )
    stats.loc[stats["_growth_n"] < 4, "industry_growth_dispersion"] = np.nan
    stats = stats.drop(columns="_growth_n").reset_index()
    # Volatility of the yearly median growth over the trailing window (this year and earlier only).
    stats = stats.sort_values([key, "fiscal_year"])
    stats["industry_growth_volatility"] = (
        stats.groupby(key)["industry_revenue_growth"]
        .rolling(settings.industry_volatility_years, min_periods=settings.industry_volatility_min_years)
        .std()
        .reset_index(level=0, drop=True)
    )
    return stats.rename(columns={key: "industry_key"})


def industry_statistics(reference: pd.DataFrame, settings: FeatureSettings) -> pd.DataFrame:
    """Division- and section-level statistics; reference has firm_id, fiscal_year, ksic_division,
    revenue, net_income, operating_income, administrative_issue and revenue_growth_1y."""
    frame = reference.copy()
    for column in ("net_income", "operating_income", "administrative_issue"):
        if column not in frame:
            frame[column] = np.nan
    frame["ksic_section"] = frame["ksic_division"].astype("string").str.slice(0, 1)
    frame["industry_narrow_key"] = industry_key(frame, unknown=None)
    division = _group_statistics(frame, "industry_narrow_key", settings).assign(industry_level="division")
    section = _group_statistics(frame, "ksic_section", settings).assign(industry_level="section")
    return pd.concat([division, section], ignore_index=True)


def attach_industry(rows: pd.DataFrame, stats: pd.DataFrame, minimum_firms: int) -> pd.DataFrame:
    """Industry columns for rows with ksic_division and reference_year; section stats for thin divisions."""
    division = stats[stats["industry_level"] == "division"].set_index(["industry_key", "fiscal_year"])
    section = stats[stats["industry_level"] == "section"].set_index(["industry_key", "fiscal_year"])
    key_division = pd.MultiIndex.from_arrays(
        [industry_key(rows, unknown="nan"), rows["reference_year"].astype("int64")]
    )
    key_section = pd.MultiIndex.from_arrays(
        [rows["ksic_division"].astype(str).str.slice(0, 1), rows["reference_year"].astype("int64")]
    )
    by_division = division.reindex(key_division)
    by_section = section.reindex(key_section)
    thin = by_division["industry_firm_count"].fillna(0).to_numpy() < minimum_firms
    out = pd.DataFrame(index=rows.index)
    for column in (*INDUSTRY_COLUMNS, "industry_firm_count"):
        out[column] = np.where(thin, by_section[column].to_numpy(), by_division[column].to_numpy())
    out["industry_level"] = np.where(
        thin, np.where(by_section["industry_firm_count"].notna().to_numpy(), "section", "none"), "division"
    )
    return out
