"""SME Act size classes (중소기업기본법) and Jump-Up program eligibility.

Classes, by the firm's main industry and its average revenue over the last three fiscal years
(fewer for a firm with fewer years, as the law allows for young firms):
- ``small`` (소기업): average revenue at or below the small-firm cap;
- ``medium`` (중기업): above it, up to the medium cap, and below the mid-size-candidate band;
- ``midsize_candidate`` (중견후보): in the candidate band (at or above its floor, up to the medium
  cap). The legal status also needs 3-year average growth >= 15% or R&D >= 2% of sales; where
  the data shows neither holds, the firm stays ``medium``; where the data cannot tell, the band
  alone decides. ``size_rule`` records which rule applied;
- ``midsize`` (중견기업): above the medium cap, or total assets >= 5,000억 whatever the revenue.
The threshold table is chosen by the fiscal year-end date, so a new legal revision is one file.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from jumpup.features.ratios import lag, sort_panel
from jumpup.reference import TableVersion, size_criteria, table_version
from jumpup.settings import ProgramSettings, SizeClassSettings

EOK = 100_000_000  # won per 억
SIZE_CLASSES = ("small", "medium", "midsize_candidate", "midsize")
SIZE_CLASS_KO = {"small": "소기업", "medium": "중기업", "midsize_candidate": "중견후보기업", "midsize": "중견기업"}
# How the size class was decided (size_rule), in the words of the reports.
SIZE_RULE_KO = {
    "no_size_table_for_this_date": "해당 시점의 규모 기준표 없음",
    "unknown_industry_or_revenue": "업종 또는 매출액 미상",
    "total_assets_cap": "자산총액 5,000억 원 이상",
    "above_medium_cap": "업종별 중기업 매출 상한 초과",
    "candidate_band+growth+rd": "중견후보 매출 구간, 성장률·R&D 요건 충족",
    "candidate_band+growth": "중견후보 매출 구간, 성장률 요건 충족",
    "candidate_band+rd": "중견후보 매출 구간, R&D 요건 충족",
    "candidate_band_without_growth_or_rd": "중견후보 매출 구간이나 성장률·R&D 요건 미충족",
    "candidate_band_only(condition_not_determinable)": "중견후보 매출 구간 (성장률·R&D 요건 판단 불가)",
    "small_cap": "업종별 소기업 매출 상한 이하",
    "medium_band": "업종별 중기업 매출 구간",
}
INELIGIBLE_KO = {
    "size_class_unknown": "규모 판정 불가",
    "firm_age_unknown": "업력 판정 불가 (설립일·설립연도 없음)",
    "size_class_not_eligible": "규모 요건 미충족",
    "younger_than_minimum_age": "업력 요건 미충족",
    "no_focus_field": "중점분야 해당 없음",
}


def _division_ranges(spec: str) -> list[int]:
    """'14' -> [14]; '01-03' -> [1, 2, 3]; '58-63' -> [58..63]."""
    spec = str(spec).strip()
    if "-" in spec:
        low, high = (int(part) for part in spec.split("-"))
        return list(range(low, high + 1))
    return [int(spec)]


def thresholds_by_division(on: dt.date, extra: tuple[TableVersion, ...] = ()) -> tuple[pd.DataFrame, str]:
    """Per KSIC division number: small cap, medium cap and candidate floor (KRW 억), with the table version.

    Raises ``LookupError`` when no size table (shipped or in ``extra``) covers ``on``.
    """
    table, version = size_criteria(on, extra=extra)
    rows = []
    for record in table.itertuples():
        for number in _division_ranges(record.ksic10_divisions):
            rows.append(
                {
                    "division_number": f"{number:02d}",
                    "small_max_eok": float(record.small_max_avg_rev_eok),
                    "medium_max_eok": float(record.medium_max_avg_rev_eok),
                    "candidate_min_eok": float(record.chugyeon_candidate_min_rev_ge_eok),
                    "size_table_row": int(record.row_no),
                }
            )
    frame = pd.DataFrame(rows).drop_duplicates("division_number", keep="first")
    return frame, version.version


def tables_on(on: dt.date, extra: tuple[TableVersion, ...] = ()) -> tuple[str, str | None]:
    """The versions of the size table and of the exceptions table valid on ``on``.

    Two dates with the same pair classify every firm alike. Raises ``LookupError`` when no size
    table covers ``on``.
    """
    _, version = size_criteria(on, extra=extra)
    try:
        exceptions = table_version("sme_size_exceptions", on).version
    except LookupError:
        exceptions = None
    return version.version, exceptions


def _exceptions(on: dt.date) -> pd.DataFrame:
    try:
        version = table_version("sme_size_exceptions", on)
    except LookupError:
        return pd.DataFrame(columns=["ksic_code_prefix", "medium_max_avg_rev_eok", "chugyeon_candidate_min_rev_ge_eok"])
    return pd.read_csv(version.path, dtype={"ksic_code_prefix": str})


def average_revenue(financials: pd.DataFrame, years: int) -> pd.DataFrame:
    """Mean revenue over t-(years-1)..t of the years present, and how many years it used."""
    panel = sort_panel(financials)
    stack = [panel["revenue"].astype("float64")]
    for k in range(1, years):
        stack.append(lag(panel, ["revenue"], k)["revenue"])
    values = pd.concat(stack, axis=1)
    revenue_3y_ago = lag(panel, ["revenue"], 3)["revenue"]
    return pd.DataFrame(
        {
            "firm_id": panel["firm_id"],
            "fiscal_year": panel["fiscal_year"].astype("int64"),
            "average_revenue": values.mean(axis=1),
            "average_revenue_years": values.notna().sum(axis=1).astype("int64"),
            "growth_3y_annual": (panel["revenue"] / revenue_3y_ago.where(revenue_3y_ago > 0)) ** (1 / 3) - 1,
        }
    )


def classify_size(
    financials: pd.DataFrame,
    firms: pd.DataFrame,
    settings: SizeClassSettings,
    year_end_month_day: tuple[int, int] = (12, 31),
    table_date: dt.date | None = None,
    extra_tables: tuple[TableVersion, ...] = (),
) -> pd.DataFrame:
    """Size class per firm-year with the thresholds, the rule applied and the table version used.

    By default each fiscal year is judged on the table valid on its year-end date, and a year no
    table covers gets no class (``size_rule`` says why). With ``table_date`` every row is judged
    on the table valid on that date (eligibility on an application date) and a missing table
    raises ``LookupError``; ``extra_tables`` adds operator-supplied versions.
    """
    base = average_revenue(financials, settings.average_years)
    panel = sort_panel(financials)
    base["total_assets"] = panel["total_assets"].astype("float64").to_numpy() if "total_assets" in panel else np.nan
    rd = panel["rd_expense"].astype("float64") if "rd_expense" in panel else pd.Series(np.nan, index=panel.index)
    revenue = panel["revenue"].astype("float64")
    base["rd_intensity"] = (rd / revenue.where(revenue > 0)).to_numpy(dtype="float64")
    firm_info = firms.set_index("firm_id")
    base["ksic_division"] = base["firm_id"].map(firm_info["ksic_division"])
    codes = firm_info["ksic_code"] if "ksic_code" in firm_info else pd.Series(dtype="object")
    base["ksic_code"] = base["firm_id"].map(codes)
    base["division_number"] = base["ksic_division"].astype("string").str.slice(1, 3)

    parts = []
    for year, group in base.groupby("fiscal_year", sort=True):
        on = table_date or dt.date(int(year), *year_end_month_day)
        try:
            thresholds, version = thresholds_by_division(on, extra_tables)
        except LookupError:
            if table_date is not None:
                raise
            # No legal table for this date (before the oldest or after the newest revision held):
            # the class is unknown and says why, rather than borrowing another period's thresholds.
            merged = group.assign(
                small_max_eok=np.nan,
                medium_max_eok=np.nan,
                candidate_min_eok=np.nan,
                size_table_row=np.nan,
                size_table_version=f"none valid on {on}",
            )
            parts.append(merged)
            continue
        merged = group.merge(thresholds, on="division_number", how="left")
        merged.index = group.index
        for exception in _exceptions(on).itertuples():
            hit = merged["ksic_code"].astype("string").str.startswith(exception.ksic_code_prefix).fillna(False)
            merged.loc[hit, "medium_max_eok"] = float(exception.medium_max_avg_rev_eok)
            merged.loc[hit, "candidate_min_eok"] = float(exception.chugyeon_candidate_min_rev_ge_eok)
        merged["size_table_version"] = version
        parts.append(merged)
    frame = pd.concat(parts).sort_index()
    return _apply_rules(frame, settings)


def _apply_rules(frame: pd.DataFrame, settings: SizeClassSettings) -> pd.DataFrame:
    revenue_eok = frame["average_revenue"] / EOK
    assets_eok = frame["total_assets"] / EOK
    known = frame["medium_max_eok"].notna() & revenue_eok.notna()
    over_assets = assets_eok >= settings.assets_cap_eok
    above_cap = revenue_eok > frame["medium_max_eok"]
    in_band = (revenue_eok >= frame["candidate_min_eok"]) & ~above_cap
    small = revenue_eok <= frame["small_max_eok"]
    growth_known = frame["growth_3y_annual"].notna()
    rd_known = frame["rd_intensity"].notna()
    growth_ok = frame["growth_3y_annual"] >= settings.candidate_growth_rate
    rd_ok = frame["rd_intensity"] >= settings.candidate_rd_intensity
    condition_met = growth_ok | rd_ok
    # Failed only when the data shows both tests fail; one unknown test could still pass.
    condition_failed = (growth_known & ~growth_ok) & (rd_known & ~rd_ok)
    condition_unknown = ~condition_met & ~condition_failed

    no_table = frame["size_table_version"].astype(str).str.startswith("none valid")
    size_class = np.select(
        [~known, over_assets, above_cap, in_band & condition_failed, in_band, small],
        [None, "midsize", "midsize", "medium", "midsize_candidate", "small"],
        default="medium",
    )
    rule = np.select(
        [
            no_table,
            ~known,
            over_assets,
            above_cap,
            in_band & growth_ok & rd_ok,
            in_band & growth_ok,
            in_band & rd_ok,
            in_band & condition_failed,
            in_band & condition_unknown,
            small,
        ],
        [
            "no_size_table_for_this_date",
            "unknown_industry_or_revenue",
            "total_assets_cap",
            "above_medium_cap",
            "candidate_band+growth+rd",
            "candidate_band+growth",
            "candidate_band+rd",
            "candidate_band_without_growth_or_rd",
            "candidate_band_only(condition_not_determinable)",
            "small_cap",
        ],
        default="medium_band",
    )
    out = frame.assign(size_class=size_class, size_rule=rule)
    return out[
        [
            "firm_id",
            "fiscal_year",
            "average_revenue",
            "average_revenue_years",
            "growth_3y_annual",
            "size_class",
            "size_rule",
            "small_max_eok",
            "candidate_min_eok",
            "medium_max_eok",
            "size_table_row",
            "size_table_version",
        ]
    ].reset_index(drop=True)


def eligibility(
    size: pd.DataFrame, firms: pd.DataFrame, focus_field: pd.Series | None, settings: ProgramSettings
) -> pd.DataFrame:
    """Program eligibility per firm-year, age counted in fiscal years since the founding year.

    Used for the feature table (``firm_age`` is also a model input); a round's decisions use
    ``jumpup.step1.eligibility.round_eligibility``, which counts age to the application date.
    """
    founded = size["firm_id"].map(firms.set_index("firm_id")["founded_year"]) if "founded_year" in firms else np.nan
    age = (size["fiscal_year"] - pd.to_numeric(founded, errors="coerce")).astype("float64")
    out = eligibility_rules(size["size_class"], age, focus_field, settings)
    return pd.DataFrame({"firm_age": age, **{c: out[c] for c in out}})


def eligibility_rules(
    size_class: pd.Series, age_years: pd.Series, focus_field: pd.Series | None, settings: ProgramSettings
) -> pd.DataFrame:
    """The program's rules on given facts: size class, age in years, focus field (all aligned).

    Returns ``eligible`` (bool) and ``ineligible_reason`` (the first rule failed; "" when
    eligible). An unknown size class or age fails with its own reason, never as a class or age
    that reads ``nan``. Source: Jump-Up program plan (중기업·중견후보기업, "7년 이후 중소기업").
    """
    class_known = size_class.notna()
    class_ok = size_class.isin(settings.eligible_size_classes)
    age_known = age_years.notna()
    age_ok = (age_years >= settings.min_age_years) | (settings.min_age_years == 0)
    field_ok = pd.Series(True, index=size_class.index)
    if settings.require_focus_field and focus_field is not None:
        field_ok = focus_field.reindex(size_class.index).fillna("none") != "none"
    reasons = np.select(
        [~class_known, ~class_ok, ~age_ok & ~age_known, ~age_ok, ~field_ok],
        [
            "size_class_unknown",
            "size_class_not_eligible",
            "firm_age_unknown",
            "younger_than_minimum_age",
            "no_focus_field",
        ],
        default="",
    )
    return pd.DataFrame(
        {"eligible": class_ok & age_ok & field_ok, "ineligible_reason": reasons}, index=size_class.index
    )
