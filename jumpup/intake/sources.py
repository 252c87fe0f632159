"""Itemised firm-year sources (FnGuide statements, DART 직원현황) and combining them into one panel.

``import_itemised`` reads one CSV with one row per firm and year, maps its columns through a
versioned table in ``data/reference/`` (``fnguide_items.csv``: Korean item names in 억원;
``dart_employee_items.csv``: headcount and pay in won), converts amounts to won and writes a
source directory: ``financials.csv`` (firm_id, fiscal_year, fields), ``provenance.parquet`` (per
value: source, file, row, column, unit, multiplier), ``quarantine.csv`` and ``manifest.json``.
Every row is accepted or quarantined (read = accepted + quarantined).

``combine_panels`` joins a base panel (firms and financials, e.g. the KOSDAQ panel or a TS-2000
import) with such sources: for each field the first source in the declared precedence
(``sources.precedence`` in params.yaml) that has a value wins, provenance is kept per value, and
where two sources differ by more than ``sources.conflict_tolerance`` (relative to the larger
absolute value) the pair goes to ``conflicts.csv``. A firm-year's equity and liabilities come from
the source of its total assets or not at all (``one_balance_source``). Only firms of the base panel are kept; the base
panel's own values carry source ``panel``.

Errors: ``SourceError`` (a ``ValueError``) names the file and the column that is missing.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.intake.quarantine import QUARANTINE_COLUMNS
from jumpup.intake.readers import read_decoded_csv
from jumpup.provenance import code_version, file_sha256, frame_sha256, write_json
from jumpup.reference import table_version

UNIT_MULTIPLIER = {"원": 1.0, "천원": 1e3, "백만원": 1e6, "억원": 1e8, "count": 1.0}
NONNEGATIVE = {
    "revenue",
    "total_assets",
    "total_liabilities",
    "rd_expense",
    "personnel_expense",
    "personnel_expense_sga",
    "employees",
    "payroll",
    "avg_pay",
    "tangible_assets",
    "intangible_assets",
}
# Fields whose source is also written beside the value in the combined financials (``source_<field>``),
# so the indicators built on them, and the reports, can say where each figure came from.
SOURCE_NOTED_FIELDS = (
    "revenue",
    "rd_expense",
    "patents_granted",
    "capex_intangible",
    "intangible_assets",
    "employees",
    "personnel_expense",
    "personnel_expense_sga",
    "payroll",
    "value_added",
    "audit_opinion_clean",
    "interest_coverage",
)
# Balance-sheet items that must come from the same source as total assets in one firm-year.
BALANCE_MEMBERS = ("total_equity", "total_liabilities")
SOURCES = {
    "fnguide": {"table": "fnguide_items", "firm": "code", "year": "year"},
    "dart_employees": {"table": "dart_employee_items", "firm": "stockCode", "year": "year"},
}


class SourceError(ValueError):
    """A source file that cannot be read; the message names file and column."""


def _issue_frame(rows, column, values, rule, message, file) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": file,
            "row": np.asarray(rows),
            "column": column,
            "value": np.asarray(values, dtype=object),
            "rule": rule,
            "message": message,
            "other_problems": "",
        }
    )


def import_itemised(path: Path, out_dir: Path, source: str, max_fiscal_year: int | None = None) -> dict:
    """Import one itemised source file (``fnguide`` or ``dart_employees``) into ``out_dir``.

    Returns the manifest. Raises ``SourceError`` for a missing file or a missing key column.
    """
    started = time.perf_counter()
    path, out_dir = Path(path), Path(out_dir)
    if source not in SOURCES:
        raise SourceError(f"unknown source '{source}'; known: {', '.join(SOURCES)}")
    spec = SOURCES[source]
    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    raw, encoding = read_decoded_csv(path, SourceError, dtype=object, keep_default_na=False)
    raw.columns = [str(c).strip() for c in raw.columns]
    for key in (spec["firm"], spec["year"]):
        if key not in raw.columns:
            raise SourceError(f"{path}: no column '{key}'; is this a {source} file?")
    version = table_version(spec["table"])
    items = pd.read_csv(version.path, dtype=str, keep_default_na=False)
    mapped = items[items["column"].isin(raw.columns)]
    if mapped.empty:
        raise SourceError(f"{path}: none of the columns in {version.path.name} is present")
    rows = np.arange(2, len(raw) + 2)
    file = path.name
    issues: list[pd.DataFrame] = []
    firm = raw[spec["firm"]].str.strip()
    firm = firm.where(~firm.str.fullmatch(r"\d{1,5}"), firm.str.zfill(6))
    bad_firm = ~firm.str.fullmatch(r"[0-9A-Z]{6}")
    issues.append(
        _issue_frame(rows[bad_firm], spec["firm"], firm[bad_firm], "bad_firm_id", "not a 6-character stock code", file)
    )
    year = pd.to_numeric(raw[spec["year"]].str.strip(), errors="coerce")
    bad_year = year.isna() | (year % 1 != 0)
    issues.append(
        _issue_frame(
            rows[bad_year], spec["year"], raw[spec["year"]][bad_year], "non_integer", "year is not a year", file
        )
    )
    limit = max_fiscal_year or pd.Timestamp.today().year
    future = ~bad_year & (year > limit)
    issues.append(_issue_frame(rows[future], spec["year"], year[future], "future_fiscal_year", f"after {limit}", file))
    out = pd.DataFrame({"firm_id": firm, "fiscal_year": year})
    for item in mapped.itertuples():
        cell = raw[item.column].str.strip().str.replace(",", "", regex=False)
        empty = cell.isin(["", "NA", "nan", "-", "null"])
        number = pd.to_numeric(cell.mask(empty), errors="coerce")
        bad = (~empty & number.isna()).to_numpy()
        issues.append(_issue_frame(rows[bad], item.column, cell[bad], "non_numeric", "not a number", file))
        if item.field in NONNEGATIVE:
            negative = (number < 0).to_numpy()
            issues.append(
                _issue_frame(rows[negative], item.column, cell[negative], "negative_value", f"{item.field} < 0", file)
            )
        out[item.field] = number * UNIT_MULTIPLIER[item.unit]
    issues_all = pd.concat([i for i in issues if len(i)] or [pd.DataFrame(columns=QUARANTINE_COLUMNS)])
    bad_rows = set(issues_all["row"].astype(int))
    out["_row"] = rows
    out = out[~out["_row"].isin(bad_rows)]
    quarantine = issues_all.drop_duplicates("row", keep="first")
    # Duplicate keys: an exact repeat keeps the first copy; conflicting repeats all go.
    dup = out.duplicated(["firm_id", "fiscal_year"], keep=False)
    if dup.any():
        values = out.drop(columns="_row")
        exact_later = dup & values.duplicated(keep="first")
        conflicting = dup & ~values.duplicated(keep=False)
        conflicting = out.set_index(["firm_id", "fiscal_year"]).index.isin(
            out.loc[conflicting, ["firm_id", "fiscal_year"]].apply(tuple, axis=1)
        )
        drop = exact_later.to_numpy() | conflicting
        quarantine = pd.concat(
            [
                quarantine,
                _issue_frame(out["_row"][drop], None, None, "duplicate_key", "repeated firm and year", file),
            ]
        )
        out = out[~drop]
    out = out.assign(fiscal_year=out["fiscal_year"].astype(int)).sort_values(["firm_id", "fiscal_year"])
    fields = list(mapped["field"])
    provenance = out.melt(
        id_vars=["firm_id", "fiscal_year", "_row"], value_vars=fields, var_name="field", value_name="value"
    ).dropna(subset=["value"])
    units = dict(zip(mapped["field"], mapped["unit"], strict=True))
    columns = dict(zip(mapped["field"], mapped["column"], strict=True))
    provenance = pd.DataFrame(
        {
            "firm_id": provenance["firm_id"],
            "fiscal_year": provenance["fiscal_year"],
            "field": provenance["field"],
            "source": source,
            "file": file,
            "row": provenance["_row"],
            "column": provenance["field"].map(columns),
            "item_code": "",
            "basis": "as published",
            "unit": provenance["field"].map(units),
            "multiplier": provenance["field"].map(units).map(UNIT_MULTIPLIER),
        }
    ).sort_values(["firm_id", "fiscal_year", "field"], kind="stable")
    for name in fields:
        if units[name] != "count":
            out[name] = out[name].round()
    financials = out.drop(columns="_row").reset_index(drop=True)
    quarantine = quarantine[QUARANTINE_COLUMNS].sort_values("row", kind="stable").reset_index(drop=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    financials.to_csv(out_dir / "financials.csv", index=False, encoding="utf-8")
    quarantine.to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8")
    provenance.reset_index(drop=True).to_parquet(out_dir / "provenance.parquet", index=False)
    read = len(raw)
    if read != len(financials) + len(quarantine):
        raise AssertionError("rows read != accepted + quarantined")
    manifest = {
        "stage": f"import_{source}",
        "source": source,
        "code_version": code_version(),
        "reference_table": {"name": version.name, "version": version.version},
        "file": file,
        "sha256": file_sha256(path),
        "encoding": encoding,
        "rows_read": read,
        "rows_accepted": len(financials),
        "rows_quarantined": len(quarantine),
        "quarantined_by_rule": {k: int(v) for k, v in quarantine["rule"].value_counts().sort_index().items()},
        "firms": int(financials["firm_id"].nunique()),
        "fiscal_years": [int(financials["fiscal_year"].min()), int(financials["fiscal_year"].max())]
        if len(financials)
        else [],
        "values_by_field": {f: int(financials[f].notna().sum()) for f in fields},
        "columns_mapped": columns,
        "columns_not_mapped": [c for c in raw.columns if c not in set(mapped["column"]) | {spec["firm"], spec["year"]}],
        "units": units,
    }
    write_json(out_dir / "manifest.json", manifest)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest


def _read_financials(directory: Path) -> pd.DataFrame:
    for name in ("financials.csv", "financials.parquet"):
        path = directory / name
        if path.exists():
            if path.suffix == ".parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path, dtype={"firm_id": str}, low_memory=False)
    raise SourceError(f"{directory}: no financials.csv or financials.parquet")


def one_balance_source(chosen: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep a firm-year's balance sheet from one source: that of its chosen total assets.

    ``chosen`` is the long table of chosen values (firm_id, fiscal_year, field, source, value).
    Equity or liabilities chosen from another source than total assets are left out (missing), since
    assets = liabilities + equity only holds within one statement: a panel's assets next to another
    source's equity would fail the balance check and cost the whole firm-year. Returns the kept rows
    and how many values were left out.
    """
    key = ["firm_id", "fiscal_year"]
    lead = chosen.loc[chosen["field"] == "total_assets", [*key, "source"]].rename(columns={"source": "_balance"})
    tagged = chosen.merge(lead, on=key, how="left")
    mixed = (
        tagged["field"].isin(BALANCE_MEMBERS).to_numpy()
        & tagged["_balance"].notna().to_numpy()
        & (tagged["source"] != tagged["_balance"]).to_numpy()
    )
    return tagged.loc[~mixed].drop(columns="_balance"), int(mixed.sum())


def combine_panels(
    base: Path,
    additions: dict[str, Path],
    out_dir: Path,
    precedence: dict[str, tuple[str, ...]],
    tolerance: float,
) -> dict:
    """Combine a base panel with source directories into ``out_dir``.

    ``additions`` maps a source name (``fnguide``, ``dart_employees``, ``ts2000`` …) to its
    directory. Writes firms.csv (the base firms), financials.csv, provenance.parquet,
    conflicts.csv and manifest.json; returns the manifest.
    """
    base, out_dir = Path(base), Path(out_dir)
    firms_path = base / "firms.csv"
    if not firms_path.exists():
        raise SourceError(f"{base}: no firms.csv; the base panel needs its firms")
    firms = pd.read_csv(firms_path, dtype={"firm_id": str, "ksic_code": str}, low_memory=False)
    frames = {"panel": _read_financials(base)}
    for name, directory in additions.items():
        if name == "panel":
            raise SourceError("'panel' is the base panel's name; give the addition another name")
        frames[name] = _read_financials(Path(directory))
    key = ["firm_id", "fiscal_year"]
    firm_set = set(firms["firm_id"])
    long_parts = []
    for order, (name, frame) in enumerate(frames.items()):
        frame = frame[frame["firm_id"].isin(firm_set)]
        numeric = [c for c in frame.columns if c not in key and pd.api.types.is_numeric_dtype(frame[c])]
        melted = frame.melt(id_vars=key, value_vars=numeric, var_name="field", value_name="value").dropna(
            subset=["value"]
        )
        long_parts.append(melted.assign(source=name, source_order=order))
    long = pd.concat(long_parts, ignore_index=True)
    names = list(frames)

    def rank(row_field: pd.Series, row_source: pd.Series) -> np.ndarray:
        out = np.empty(len(row_field), dtype=np.int64)
        for i, (f, s) in enumerate(zip(row_field, row_source, strict=True)):
            order = list(precedence.get(f, ())) + [n for n in names if n not in precedence.get(f, ())]
            out[i] = order.index(s) if s in order else len(order)
        return out

    pairs = long[["field", "source"]].drop_duplicates()
    pairs["rank"] = rank(pairs["field"], pairs["source"])
    long = long.merge(pairs, on=["field", "source"])
    long = long.sort_values([*key, "field", "rank"], kind="stable")
    chosen = long.drop_duplicates([*key, "field"], keep="first")

    # Conflicts: every other source against the chosen value, beyond the tolerance.
    others = long.merge(chosen[[*key, "field", "source", "value"]], on=[*key, "field"], suffixes=("", "_chosen"))
    others = others[others["source"] != others["source_chosen"]]
    scale = np.maximum(others["value"].abs(), others["value_chosen"].abs())
    relative = (others["value"] - others["value_chosen"]).abs() / scale.where(scale > 0, 1.0)
    conflicts = others.assign(relative_difference=relative.round(6))[relative > tolerance]
    conflicts = conflicts.rename(
        columns={
            "source_chosen": "chosen_source",
            "value_chosen": "chosen_value",
            "source": "other_source",
            "value": "other_value",
        }
    )[[*key, "field", "chosen_source", "chosen_value", "other_source", "other_value", "relative_difference"]]

    chosen, mixed_balance = one_balance_source(chosen)
    financials = chosen.pivot(index=key, columns="field", values="value").reset_index()
    financials = financials[financials["revenue"].notna()] if "revenue" in financials else financials
    text_columns = [c for c in frames["panel"].columns if c not in financials.columns and c not in key]
    if text_columns:
        financials = financials.merge(frames["panel"][[*key, *text_columns]], on=key, how="left")
    financials = financials.sort_values(key).reset_index(drop=True)

    # Provenance: each source's own provenance where it has one, else the source file and row.
    prov_parts = []
    for name, directory in [("panel", base), *additions.items()]:
        path = Path(directory) / "provenance.parquet"
        picked = chosen[chosen["source"] == name][[*key, "field"]]
        if path.exists():
            prov = pd.read_parquet(path)
            prov["firm_id"] = prov["firm_id"].astype(str)
            prov["field"] = prov["field"].astype(str)
            merged = picked.merge(prov, on=[*key, "field"], how="left")
            if "source" not in merged:
                merged["source"] = name
            merged["source"] = merged["source"].astype(object).fillna(name)
            prov_parts.append(merged)
        else:
            prov_parts.append(picked.assign(source=name, file=str(Path(directory) / "financials.csv")))
    provenance = pd.concat(prov_parts, ignore_index=True).sort_values([*key, "field"], kind="stable")
    for column in provenance.columns:
        if provenance[column].dtype == object or str(provenance[column].dtype) in ("str", "string", "category"):
            provenance[column] = provenance[column].astype(str)

    # The source of each noted value, as its provenance names it (a TS-2000 base panel's values say ts2000).
    noted = provenance[provenance["field"].isin(SOURCE_NOTED_FIELDS)].drop_duplicates([*key, "field"])
    if len(noted):
        origin = noted.pivot(index=key, columns="field", values="source")
        origin.columns = [f"source_{c}" for c in origin.columns]
        financials = financials.merge(origin.reset_index(), on=key, how="left")

    out_dir.mkdir(parents=True, exist_ok=True)
    firms.to_csv(out_dir / "firms.csv", index=False, encoding="utf-8")
    financials.to_csv(out_dir / "financials.csv", index=False, encoding="utf-8")
    conflicts.sort_values([*key, "field", "other_source"]).to_csv(out_dir / "conflicts.csv", index=False)
    provenance.reset_index(drop=True).to_parquet(out_dir / "provenance.parquet", index=False)
    manifest = {
        "stage": "combine_panels",
        "code_version": code_version(),
        "base": str(base),
        "sources": {name: str(path) for name, path in additions.items()},
        "precedence": {k: list(v) for k, v in precedence.items()},
        "conflict_tolerance": tolerance,
        "firms": len(firms),
        "firm_years": len(financials),
        "values_by_source": {k: int(v) for k, v in chosen["source"].value_counts().sort_index().items()},
        "values_by_field_and_source": {
            f"{f}:{s}": int(n) for (f, s), n in chosen.groupby(["field", "source"]).size().sort_index().items()
        },
        "conflicts": len(conflicts),
        "balance_values_left_out": mixed_balance,
        "conflicts_by_field": {k: int(v) for k, v in conflicts["field"].value_counts().sort_index().items()},
        "financials_sha256": frame_sha256(financials),
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest
