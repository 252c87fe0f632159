"""Percentiles within groups of a reference population, with a widening fallback for small groups.

A round of a few hundred applicants is compared with the whole reference population (the
training panel) of the same fiscal year, never only with itself. Peer groups (유사그룹) are
KSIC division (for TS-2000 firms, their industry group) x size class; below a minimum number of
reference firms the group widens to the KSIC section, then to all firms, and the level used is
recorded.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.features.industry import industry_key

PEER_LEVELS = ("division", "section", "all")


def percentile_in_groups(
    reference_values: np.ndarray, reference_groups: np.ndarray, query_values: np.ndarray, query_groups: np.ndarray
) -> np.ndarray:
    """Mid-rank percentile of each query value among reference values of its group.

    percentile = (#reference below + 0.5 * #reference equal) / #reference in the group, ignoring
    missing reference values. Missing query values, or groups with no reference value, give NaN.
    Vectorised: values become global ranks, (group, rank) one integer key, and one sorted search
    answers every query at once.
    """
    reference_values = np.asarray(reference_values, dtype="float64")
    query_values = np.asarray(query_values, dtype="float64")
    result = np.full(len(query_values), np.nan)
    keep = ~np.isnan(reference_values)
    valid = ~np.isnan(query_values)
    if not keep.any() or not valid.any():
        return result
    ref_v = reference_values[keep]
    qry_v = query_values[valid]
    ref_groups, qry_groups = np.asarray(reference_groups)[keep], np.asarray(query_groups)[valid]
    if np.issubdtype(ref_groups.dtype, np.integer) and np.issubdtype(qry_groups.dtype, np.integer):
        ref_g, qry_g = ref_groups.astype(np.int64), qry_groups.astype(np.int64)  # already codes (>= 0)
    else:
        group_codes, _ = pd.factorize(np.concatenate([ref_groups, qry_groups]), sort=False)
        ref_g, qry_g = group_codes[: len(ref_v)].astype(np.int64), group_codes[len(ref_v) :].astype(np.int64)
    ranks = np.unique(np.concatenate([ref_v, qry_v]), return_inverse=True)[1].astype(np.int64)
    width = np.int64(ranks.max() + 2)
    ref_key = np.sort(ref_g * width + ranks[: len(ref_v)])
    qry_key = qry_g * width + ranks[len(ref_v) :]
    group_start = np.searchsorted(ref_key, qry_g * width, side="left")
    group_end = np.searchsorted(ref_key, (qry_g + 1) * width, side="left")
    below = np.searchsorted(ref_key, qry_key, side="left") - group_start
    not_above = np.searchsorted(ref_key, qry_key, side="right") - group_start
    size = group_end - group_start
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(size > 0, (below + 0.5 * (not_above - below)) / size, np.nan)
    result[valid] = pct
    return result


def reference_year_for(query_years: pd.Series, reference_years: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """The latest reference year at or before each query year (the earliest when none is), and a flag."""
    years = np.sort(np.unique(reference_years))
    position = np.searchsorted(years, query_years.to_numpy(), side="right") - 1
    before_all = position < 0
    chosen = years[np.clip(position, 0, len(years) - 1)]
    return pd.Series(chosen, index=query_years.index), pd.Series(before_all, index=query_years.index)


def peer_group_keys(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Group keys for each fallback level; ``frame`` has reference_year, ksic_division, size_class and
    optionally industry_group (the narrow level is then the TS-2000 industry group, ``industry_key``)."""
    year = frame["reference_year"].astype("int64").astype(str)
    size = frame["size_class"].fillna("unknown").astype(str)
    division = frame["ksic_division"].fillna("?").astype(str)
    return {
        "division": year + "|" + industry_key(frame) + "|" + size,
        "section": year + "|" + division.str.slice(0, 1) + "|" + size,
        "all": year,
    }


def assign_peer_level(
    query_keys: dict[str, pd.Series], reference_keys: dict[str, pd.Series], minimum: int
) -> pd.DataFrame:
    """For each query row, the narrowest level whose reference group has at least ``minimum`` firms."""
    level = pd.Series("all", index=query_keys["all"].index, dtype="object")
    size = pd.Series(0, index=level.index, dtype="int64")
    group = query_keys["all"].copy()
    decided = pd.Series(False, index=level.index)
    for name in PEER_LEVELS:
        counts = reference_keys[name].value_counts()
        n = query_keys[name].map(counts).fillna(0).astype("int64")
        take = ~decided & ((n >= minimum) | (name == "all"))
        level[take], size[take], group[take] = name, n[take], query_keys[name][take]
        decided |= take
    return pd.DataFrame({"peer_level": level, "peer_group_size": size, "peer_group": group})


def encode_levels(reference_keys: dict[str, pd.Series]) -> dict[str, pd.Index]:
    """Index of the distinct group keys at each level, to turn keys into integer codes."""
    return {level: pd.Index(pd.unique(keys.to_numpy())) for level, keys in reference_keys.items()}


def stacked_codes(keys: dict[str, pd.Series], index: dict[str, pd.Index]) -> dict[str, np.ndarray]:
    """Integer codes per level, offset so that the levels never share a code (-1: unknown group)."""
    codes, offset = {}, 0
    for level in PEER_LEVELS:
        raw = index[level].get_indexer(keys[level].to_numpy())
        codes[level] = np.where(raw >= 0, raw + offset, -1)
        offset += len(index[level])
    return codes
