"""Program eligibility of a round's applicants, judged when the round runs (지원 자격).

Eligibility is program policy, not a property of the trained model: it is computed from the
round's own tables with the round's ``params.yaml`` (``program.*``), so changing the policy
changes the next round without retraining. Rules (source: Jump-Up program plan):

- **size** (규모): SME Act size class (중소기업기본법 시행령 별표1·별표3) of the firm's latest
  statements up to the as-of year, read on the size table valid on the *application date* — the
  law in force when the firm applies. A date no table covers stops the round with
  ``SizeTableMissing`` (one operator error naming the table, the dates and how to add one).
- **age** (업력): full years from the founding date (``founded_on``, else 1 January of
  ``founded_year``) to the application date (``applications.applied_on``), at least
  ``program.min_age_years`` (default 7; seed plan: "7년 이후 중소기업").
- **focus field** (중점분야), when ``program.require_focus_field``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from jumpup.features.focus_fields import classify_focus_fields
from jumpup.features.size_class import classify_size, eligibility_rules, tables_on
from jumpup.frames import is_known
from jumpup.reference import REFERENCE_DIR, TableVersion, load_catalog, operator_table
from jumpup.settings import ProgramSettings, SizeClassSettings

ELIGIBILITY_COLUMNS = [
    "firm_id",
    "eligibility_date",
    "size_class",
    "size_rule",
    "size_table_version",
    "firm_age",
    "firm_age_basis",
    "focus_field",
    "eligible",
    "ineligible_reason",
]


class SizeTableMissing(ValueError):
    """No SME Act size table covers an application date of the round (an operator error)."""


def program_tables(program: ProgramSettings) -> tuple[TableVersion, ...]:
    """The operator's extra size tables (``program.size_tables``) as table versions."""
    return tuple(
        operator_table("sme_size_criteria", t.file, t.valid_from, t.valid_to, t.source) for t in program.size_tables
    )


def check_size_tables(applications: pd.DataFrame, program: ProgramSettings) -> None:
    """Raise ``SizeTableMissing`` (one line) when an application date has no size table.

    ``applications`` needs ``applied_on``. The message names the table, the uncovered dates,
    the tables held and the two ways to add one.
    """
    extra = program_tables(program)
    versions = load_catalog(REFERENCE_DIR)["sme_size_criteria"] + extra
    dates = pd.to_datetime(applications["applied_on"])
    # A round has few distinct dates: each is looked up once, however many firms applied on it.
    uncovered = sorted(d for d in dates.dropna().dt.date.unique() if not any(v.covers(d) for v in versions))
    if not uncovered:
        return
    count = int(dates.dt.date.isin(uncovered).sum())
    span = f"{uncovered[0]}" if len(uncovered) == 1 else f"{uncovered[0]}..{uncovered[-1]}"
    held = ", ".join(f"{v.valid_from}..{v.valid_to or 'open'}" for v in versions)
    raise SizeTableMissing(
        f"no SME Act size table (sme_size_criteria) covers the application date(s) {span} of {count} applicant(s); "
        f"tables held cover {held}. Add a table covering {uncovered[0]} as a CSV with columns "
        f"row_no,ksic10_divisions,medium_max_avg_rev_eok,small_max_avg_rev_eok,chugyeon_candidate_min_rev_ge_eok "
        f"(KRW 억; docs/reference_tables.md) and name it in params.yaml under program.size_tables "
        f"(file, valid_from, valid_to, source), or add it to data/reference/catalog.yaml"
    )


def age_at(founded: pd.Series, on: pd.Series) -> pd.Series:
    """Full years from ``founded`` to ``on`` (both datetime-like, aligned); NaN where either is missing."""
    founded = pd.to_datetime(founded, errors="coerce")
    on = pd.to_datetime(on, errors="coerce")
    before_anniversary = (on.dt.month < founded.dt.month) | (
        (on.dt.month == founded.dt.month) & (on.dt.day < founded.dt.day)
    )
    years = (on.dt.year - founded.dt.year - before_anniversary.astype("float64")).astype("float64")
    return years.where(founded.notna() & on.notna())


def founding_dates(firms: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per firm (indexed by firm_id): the founding date and which field it came from."""
    info = firms.drop_duplicates("firm_id", keep="last").set_index("firm_id")
    on = pd.to_datetime(info["founded_on"], errors="coerce") if "founded_on" in info else None
    year = pd.to_numeric(info["founded_year"], errors="coerce") if "founded_year" in info else None
    from_year = pd.Series(pd.NaT, index=info.index, dtype="datetime64[ns]")
    if year is not None:
        known = year.notna()
        from_year[known] = pd.to_datetime(year[known].astype("int64").astype(str) + "-01-01")
    founded = from_year if on is None else on.where(on.notna(), from_year)
    basis = pd.Series(
        np.where(founded.isna(), "unknown", np.where(from_year.notna(), "founded_year (1 January)", "unknown")),
        index=info.index,
        dtype="object",
    )
    if on is not None:
        basis[on.notna()] = "founded_on"
    return founded, basis


def round_eligibility(
    firms: pd.DataFrame,
    financials: pd.DataFrame,
    applications: pd.DataFrame,
    as_of: int,
    size_settings: SizeClassSettings,
    program: ProgramSettings,
) -> pd.DataFrame:
    """One row per applying firm (``ELIGIBILITY_COLUMNS``), judged on its application date.

    ``firms``, ``financials``, ``applications``: the ingested round tables; ``as_of``: the fiscal
    year the round is judged on (statements after it are not read). The size class uses the
    firm's latest statements up to ``as_of``; a firm with none has no size class and fails with
    ``size_class_unknown``. Raises ``SizeTableMissing`` when an application date has no table.
    """
    check_size_tables(applications, program)
    extra = program_tables(program)
    apps = applications[["firm_id", "applied_on"]].copy()
    apps["applied_on"] = pd.to_datetime(apps["applied_on"])
    apps = apps.sort_values("applied_on", kind="stable").drop_duplicates("firm_id", keep="last")
    history = financials[is_known(financials["firm_id"], apps["firm_id"]) & (financials["fiscal_year"] <= as_of)]
    # Dates under the same size and exceptions tables classify alike: one classification per pair.
    tables = {day: "|".join(map(str, tables_on(day.date(), extra))) for day in apps["applied_on"].unique()}
    apps_tables = apps["applied_on"].map(tables)
    parts = []
    for key in sorted(set(tables.values())):
        group = apps[apps_tables == key]
        rows = history[is_known(history["firm_id"], group["firm_id"])]
        if rows.empty:
            continue
        day = group["applied_on"].min().date()
        size = classify_size(rows, firms, size_settings, table_date=day, extra_tables=extra)
        parts.append(size.sort_values("fiscal_year").groupby("firm_id").tail(1))
    size_columns = ["firm_id", "size_class", "size_rule", "size_table_version"]
    size = pd.concat(parts)[size_columns] if parts else pd.DataFrame(columns=size_columns)
    out = apps.merge(size, on="firm_id", how="left").reset_index(drop=True)
    out["size_rule"] = out["size_rule"].fillna("no_statements_up_to_as_of")
    founded, basis = founding_dates(firms)
    out["firm_age"] = age_at(out["firm_id"].map(founded), out["applied_on"])
    out["firm_age_basis"] = out["firm_id"].map(basis).fillna("unknown")
    focus = classify_focus_fields(firms).drop_duplicates("firm_id", keep="last").set_index("firm_id")["focus_field"]
    out["focus_field"] = out["firm_id"].map(focus)
    rules = eligibility_rules(out["size_class"], out["firm_age"], out["focus_field"], program)
    out = pd.concat([out, rules], axis=1)
    out["eligibility_date"] = out["applied_on"].dt.strftime("%Y-%m-%d")
    return out[ELIGIBILITY_COLUMNS].sort_values("firm_id", kind="stable").reset_index(drop=True)


def eligibility_record(program: ProgramSettings, size_settings: SizeClassSettings, on: list[dt.date]) -> dict:
    """What the decision log and the round manifest record of the eligibility policy used."""
    extra = program_tables(program)
    versions = load_catalog(REFERENCE_DIR)["sme_size_criteria"] + extra
    used = sorted({max((v for v in versions if v.covers(d)), key=lambda v: v.valid_from).version for d in on})
    return {
        "program": program.model_dump(mode="json"),
        "size_class": size_settings.model_dump(mode="json"),
        "size_tables_used": used,
        "age_counted": "full years from founded_on (else 1 January of founded_year) to applications.applied_on",
    }
