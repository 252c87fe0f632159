"""FeatureBuilder: raw panel rows in, one feature row per firm-year out (scikit-learn conventions).

``fit`` learns the *reference population*: its firm indicators, size classes, industry
statistics per division and year, and the family scores used for peer medians. ``transform``
builds features for any panel rows — the training panel itself or an application round of a few
hundred firms — against that reference, so applicants are compared with the whole population.
Everything at fiscal year t uses the firm's own data up to t and the reference of the latest
year at or before t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from jumpup.features.focus_fields import classify_focus_fields
from jumpup.features.industry import INDUSTRY_COLUMNS, attach_industry, industry_statistics
from jumpup.features.peers import (
    PEER_LEVELS,
    assign_peer_level,
    encode_levels,
    peer_group_keys,
    percentile_in_groups,
    reference_year_for,
    stacked_codes,
)
from jumpup.features.ratios import KEY, clip_to_limits, firm_indicators
from jumpup.features.real_items import real_item_indicators
from jumpup.features.registry import FAMILIES, FAMILY_INPUTS, INDICATORS, PEER_COMPARED
from jumpup.features.size_class import classify_size, eligibility
from jumpup.settings import FeatureSettings, ProgramSettings, SizeClassSettings

FIRM_COLUMNS = (
    "firm_id",
    "name",
    "ksic_division",
    "ksic_code",
    "main_products",
    "business_description",
    "region",
    "founded_year",
    "listed_on",
    "industry_group",
    "ksic_divisions",
)
FIRM_FAMILIES = ("management", "technology", "activity", "human")


def split_panel_rows(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Panel rows (financials joined with firm attributes) -> (firms, financials)."""
    firm_columns = [c for c in FIRM_COLUMNS if c in rows]
    firms = rows[firm_columns].drop_duplicates("firm_id", keep="last").reset_index(drop=True)
    financials = rows.drop(columns=[c for c in firm_columns if c != "firm_id"])
    # Nullable integer amounts (e.g. from Parquet) become float64 so that missing values are NaN throughout.
    numeric = [
        c
        for c in financials.columns
        if c not in ("firm_id", "fiscal_year") and pd.api.types.is_numeric_dtype(financials[c])
    ]
    financials = financials.astype({c: "float64" for c in numeric} | {"fiscal_year": "int64"})
    return firms, financials


def panel_rows(firms: pd.DataFrame, financials: pd.DataFrame) -> pd.DataFrame:
    """Join firm attributes onto each financial row: the single table a model scores."""
    firm_columns = [c for c in FIRM_COLUMNS if c in firms]
    return financials.merge(firms[firm_columns], on="firm_id", how="left", validate="many_to_one")


def family_input_notes(financials: pd.DataFrame) -> pd.DataFrame:
    """Per firm-year, which inputs of each ``FAMILY_INPUTS`` family are missing and where the present ones came from.

    Shapes: in, financials (one row per firm-year) with any of the inputs and optional
    ``source_<field>`` columns (source code per value, written by ``jumpup import combine``); out, the
    key plus ``missing_inputs_<family>`` (input names joined by ';', empty when none) and
    ``sources_<family>`` (``field=source`` joined by ';'; ``panel`` when the panel names no source).
    An interest coverage left empty because the firm had no interest expense counts as present.
    Errors: none; an absent column is a missing input for every row.
    """
    panel = financials.sort_values(KEY, kind="stable").reset_index(drop=True)
    out = panel[KEY].copy()
    out["fiscal_year"] = out["fiscal_year"].astype("int64")
    for family, inputs in FAMILY_INPUTS.items():
        present, names, codes = {}, {}, {}
        pattern = np.zeros(len(panel), dtype=np.int64)  # one code per distinct (present, source) pattern
        for field in inputs:
            seen = panel[field].notna().to_numpy() if field in panel else np.zeros(len(panel), dtype=bool)
            if field == "interest_coverage" and "no_interest_expense" in panel:
                seen = seen | (pd.to_numeric(panel["no_interest_expense"], errors="coerce") == 1).to_numpy()
            present[field] = seen
            source_column = f"source_{field}"
            if source_column in panel:
                code, found = pd.factorize(panel[source_column].astype("string").fillna("panel"))
                codes[field], names[field] = code.astype(np.int64), np.asarray(found, dtype=object)
            else:
                codes[field], names[field] = np.zeros(len(panel), dtype=np.int64), np.array(["panel"], dtype=object)
            for part, base in ((seen.astype(np.int64), 2), (codes[field], max(len(names[field]), 1))):
                pattern, _ = pd.factorize(pattern * base + part)  # renumbered at each step: never overflows
        # Worded once per distinct pattern: a panel has few patterns, many rows.
        _, first, group = np.unique(pattern, return_index=True, return_inverse=True)
        missing = [";".join(f for f in inputs if not present[f][r]) for r in first]
        sources = [";".join(f"{f}={names[f][codes[f][r]]}" for f in inputs if present[f][r]) for r in first]
        # one text per pattern, spread to the rows by position (an Arrow take, not a Python loop)
        out[f"missing_inputs_{family}"] = pd.Series(missing, dtype="str").take(group.reshape(-1)).array
        out[f"sources_{family}"] = pd.Series(sources, dtype="str").take(group.reshape(-1)).array
    return out


NOTE_COLUMNS = tuple(f"{kind}_{family}" for family in FAMILY_INPUTS for kind in ("missing_inputs", "sources"))


def _scored(family: str) -> list[str]:
    return [i.name for i in INDICATORS if i.family == family and i.direction != 0]


def years_listed(frame: pd.DataFrame, firms: pd.DataFrame) -> pd.Series:
    """Fiscal years since listing; missing when unlisted at t (a later listing is not known at t)."""
    if "listed_on" not in firms:
        return pd.Series(np.nan, index=frame.index)
    listed_year = pd.to_datetime(firms.set_index("firm_id")["listed_on"], errors="coerce").dt.year
    years = frame["fiscal_year"] - frame["firm_id"].map(listed_year).astype("float64")
    return years.where(years >= 0)


class FeatureBuilder(TransformerMixin, BaseEstimator):
    """Builds K-value-style indicators, size class, focus field and peer comparisons.

    Parameters are the typed settings sections; ``fit`` stores the reference population in
    attributes ending in ``_``.
    """

    def __init__(
        self,
        feature_settings: FeatureSettings | None = None,
        size_settings: SizeClassSettings | None = None,
        program_settings: ProgramSettings | None = None,
    ):
        self.feature_settings = feature_settings
        self.size_settings = size_settings
        self.program_settings = program_settings

    def _settings(self) -> tuple[FeatureSettings, SizeClassSettings, ProgramSettings]:
        return (
            self.feature_settings or FeatureSettings(),
            self.size_settings or SizeClassSettings(),
            self.program_settings or ProgramSettings(),
        )

    def _firm_level(self, rows: pd.DataFrame) -> pd.DataFrame:
        features, sizes, program = self._settings()
        firms, financials = split_panel_rows(rows)
        indicators = firm_indicators(financials, features)
        real = clip_to_limits(real_item_indicators(financials, features.marginal_firm_years), features)
        indicators = indicators.merge(real, on=KEY, how="left", validate="one_to_one")
        indicators = indicators.merge(family_input_notes(financials), on=KEY, how="left", validate="one_to_one")
        size = classify_size(financials, firms, sizes)
        focus = classify_focus_fields(firms)
        frame = indicators.merge(size, on=["firm_id", "fiscal_year"], how="left", validate="one_to_one")
        frame = frame.merge(focus, on="firm_id", how="left", validate="many_to_one")
        frame = frame.merge(
            firms[[c for c in ("firm_id", "ksic_division", "industry_group", "ksic_divisions") if c in firms]],
            on="firm_id",
            how="left",
        )
        if "industry_group" not in frame:
            frame["industry_group"] = pd.Series(pd.NA, index=frame.index, dtype="string")
        frame["ksic_section"] = frame["ksic_division"].astype("string").str.slice(0, 1)
        eligible = eligibility(frame[["firm_id", "fiscal_year", "size_class"]], firms, frame["focus_field"], program)
        frame = pd.concat([frame, eligible], axis=1)
        frame["years_listed"] = years_listed(frame, firms)
        raw = financials.set_index(["firm_id", "fiscal_year"])
        key = pd.MultiIndex.from_frame(frame[["firm_id", "fiscal_year"]])
        for column in ("revenue", "operating_income", "net_income", "administrative_issue", "total_assets"):
            frame[column] = raw[column].reindex(key).to_numpy(dtype="float64") if column in raw else np.nan
        return frame

    def fit(self, X: pd.DataFrame, y=None) -> FeatureBuilder:
        features, _, _ = self._settings()
        reference = self._firm_level(X)
        reference["reference_year"] = reference["fiscal_year"]
        self.industry_statistics_ = industry_statistics(reference, features)
        reference = pd.concat(
            [reference, attach_industry(reference, self.industry_statistics_, features.min_peer_group_size)], axis=1
        )
        self.reference_ = reference
        self._index_reference()
        scores = self._family_scores(reference, self._peer_percentiles(reference))
        for family in FAMILIES:
            self.reference_[f"family_score_{family}"] = scores[f"family_score_{family}"].to_numpy()
        return self

    def _index_reference(self) -> None:
        """Years and peer-group codes of the reference population (derived from ``reference_``)."""
        self.reference_years_ = np.sort(self.reference_["fiscal_year"].unique())
        self.reference_keys_ = peer_group_keys(self.reference_)
        self.peer_key_index_ = encode_levels(self.reference_keys_)
        self.reference_codes_ = stacked_codes(self.reference_keys_, self.peer_key_index_)

    @classmethod
    def from_reference(
        cls,
        reference: pd.DataFrame,
        industry_statistics: pd.DataFrame,
        feature_settings: FeatureSettings | None = None,
        size_settings: SizeClassSettings | None = None,
        program_settings: ProgramSettings | None = None,
    ) -> FeatureBuilder:
        """A fitted builder from its stored state: the reference population (``reference_``, with
        its family scores) and the industry statistics; everything else is derived from them."""
        builder = cls(feature_settings, size_settings, program_settings)
        builder.reference_ = reference
        builder.industry_statistics_ = industry_statistics
        builder._index_reference()
        return builder

    def _peer_percentiles(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Percentile of each compared indicator in the row's peer group (one sorted search per indicator)."""
        features, _, _ = self._settings()
        keys = peer_group_keys(frame)
        levels = assign_peer_level(keys, self.reference_keys_, features.min_peer_group_size)
        query_codes = stacked_codes(keys, self.peer_key_index_)
        chosen = np.full(len(frame), -1, dtype=np.int64)
        for level in PEER_LEVELS:
            rows = (levels["peer_level"] == level).to_numpy()
            chosen[rows] = query_codes[level][rows]
        reference_groups = np.concatenate([self.reference_codes_[level] for level in PEER_LEVELS])
        out = levels.copy()
        for name in PEER_COMPARED:
            reference_values = np.tile(self.reference_[name].to_numpy(dtype="float64"), len(PEER_LEVELS))
            values = frame[name].to_numpy(dtype="float64").copy()
            values[chosen < 0] = np.nan
            out[f"peer_pct_{name}"] = percentile_in_groups(reference_values, reference_groups, values, chosen)
        return out

    def _family_scores(self, frame: pd.DataFrame, peers: pd.DataFrame) -> pd.DataFrame:
        """Family sub-scores 0-100: mean direction-adjusted percentile among the year's reference firms."""
        by_name = {i.name: i for i in INDICATORS}
        out = pd.DataFrame(index=frame.index)
        year_ref = self.reference_["reference_year"].to_numpy(dtype=np.int64)
        year_query = frame["reference_year"].to_numpy(dtype=np.int64)
        for family in (*FIRM_FAMILIES, "industry"):
            parts = []
            for name in _scored(family):
                pct = percentile_in_groups(
                    self.reference_[name].to_numpy(dtype="float64"),
                    year_ref,
                    frame[name].to_numpy(dtype="float64"),
                    year_query,
                )
                parts.append(pct if by_name[name].direction > 0 else 1 - pct)
            with np.errstate(all="ignore"):
                stacked = np.vstack(parts)
                counts = (~np.isnan(stacked)).sum(axis=0)
                out[f"family_score_{family}"] = np.where(
                    counts > 0, 100 * np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan
                )
        peer_parts = [
            peers[f"peer_pct_{name}"].to_numpy()
            if by_name[name].direction > 0
            else 1 - peers[f"peer_pct_{name}"].to_numpy()
            for name in PEER_COMPARED
        ]
        stacked = np.vstack(peer_parts)
        counts = (~np.isnan(stacked)).sum(axis=0)
        out["family_score_peer"] = np.where(
            counts > 0, 100 * np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan
        )
        return out

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Features of every row of ``X`` (panel rows, one per firm and fiscal year), as of that row's year.

        Returns one row per firm-year, sorted by firm and year, with ``output_columns()``.
        """
        check_is_fitted(self, "reference_")
        return self._compare(self._firm_level(X))

    def transform_latest(self, X: pd.DataFrame) -> pd.DataFrame:
        """``transform(X)`` restricted to each firm's latest fiscal year, computed only for those rows.

        Firm-level indicators need every earlier year (lags, averages), but the comparisons against
        the reference population (industry, peer percentiles, family scores) depend only on the row
        itself, so they run on one row per firm. Equal to filtering ``transform(X)``.
        """
        check_is_fitted(self, "reference_")
        frame = self._firm_level(X)
        latest = frame.groupby("firm_id", sort=False)["fiscal_year"].transform("max")
        return self._compare(frame[frame["fiscal_year"] == latest].reset_index(drop=True))

    def _compare(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Industry, peer and family comparisons of firm-level rows against the fitted reference."""
        features, _, _ = self._settings()
        frame["reference_year"], frame["reference_year_after_row"] = reference_year_for(
            frame["fiscal_year"], self.reference_years_
        )
        frame = pd.concat(
            [frame, attach_industry(frame, self.industry_statistics_, features.min_peer_group_size)], axis=1
        )
        peers = self._peer_percentiles(frame)
        scores = self._family_scores(frame, peers)
        frame = pd.concat([frame, peers, scores], axis=1)
        for family in FAMILIES:
            frame[f"peer_median_family_score_{family}"] = self._peer_medians(family, peers)
        return (
            frame[self.output_columns()].sort_values(["firm_id", "fiscal_year"], kind="stable").reset_index(drop=True)
        )

    def _peer_medians(self, family: str, peers: pd.DataFrame) -> np.ndarray:
        result = np.full(len(peers), np.nan)
        score = self.reference_[f"family_score_{family}"]
        for level in ("division", "section", "all"):
            medians = score.groupby(self.reference_keys_[level].to_numpy()).median()
            rows = (peers["peer_level"] == level).to_numpy()
            result[rows] = peers.loc[rows, "peer_group"].map(medians).to_numpy(dtype="float64")
        return result

    @staticmethod
    def output_columns() -> list[str]:
        context = [
            "firm_id",
            "fiscal_year",
            "ksic_division",
            "ksic_section",
            "industry_group",
            "revenue",
            "total_assets",
            "average_revenue",
            "average_revenue_years",
            "size_class",
            "size_rule",
            "size_table_version",
            "small_max_eok",
            "candidate_min_eok",
            "medium_max_eok",
            "focus_field",
            "focus_field_ko",
            "focus_field_evidence",
            "focus_field_version",
            "firm_age",
            "years_listed",
            "administrative_issue",
            "eligible",
            "ineligible_reason",
            "reference_year",
            "reference_year_after_row",
            "industry_level",
            "industry_firm_count",
            "peer_level",
            "peer_group_size",
        ]
        indicators = [i.name for i in INDICATORS if i.family != "industry"]
        peers = [f"peer_pct_{n}" for n in PEER_COMPARED]
        scores = [f"family_score_{f}" for f in FAMILIES] + [f"peer_median_family_score_{f}" for f in FAMILIES]
        return [*context, *indicators, *NOTE_COLUMNS, *INDUSTRY_COLUMNS, *peers, *scores]
