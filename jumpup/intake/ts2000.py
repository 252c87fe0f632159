"""Import TS-2000 (KOCOinfo) exports of externally audited firms (외감법인) into the panel format.

The exports come as delivered by TS-2000: cp949 CSV, one row per firm and fiscal year, keyed by
``거래소코드`` (a TS-2000 id) and ``회계년도`` (``YYYY/MM``, the fiscal year-end; the month varies).
Item columns carry the TS-2000 item code, the accounting basis and the unit in the header, e.g.
``[U01210000]매출액(영업수익)(*)(천원)`` or ``[U01B100000000]매출액(수익)(*)(IFRS연결)(천원)``.

Rules, each recorded in ``manifest.json``:

- Items are mapped by code (or, for the few columns without a code, by exact header name) through
  ``data/reference/ts2000_items.csv``, never by position; unknown columns are listed, not guessed.
- Amounts are converted to won with the unit in their header (천원 → × 1,000).
- K-GAAP, K-IFRS (separate) and K-IFRS consolidated items sit in separate columns. Each firm gets
  one basis for its whole series: the basis with revenue in most of its years, ties broken by
  ``sources.ts2000_basis_precedence``. A year with revenue only under another basis is quarantined
  (``basis_missing``) rather than filled, so a growth rate never mixes bases.
- ``fiscal_year`` is the calendar year of the fiscal year-end (``2019/03`` → 2019);
  ``fiscal_year_end_month`` and ``fiscal_months`` (months since the previous year-end) are kept,
  and a year that does not cover 12 months is flagged.
- Cash-flow/audit files give operating cash flow, ``감사의견코드`` (``audit_opinion``; ``NA`` or empty
  = not known) and interest coverage; ``999999999`` means no interest expense and becomes
  ``no_interest_expense = 1`` with an empty coverage, never a number.
- The industry group exists only in the file names (``외감_<group>_부실.csv``,
  ``<group>_GAAP_재무비율.csv``); ``data/reference/ts2000_industry_groups.csv`` maps it to KSIC-10
  sections and divisions. A firm with no group, or with two different groups, is quarantined.
- Every row of every file is accepted or quarantined with a reason (read = accepted +
  quarantined, per file). Provenance (file, row, column, item code, basis, unit) is kept per value.

Errors: ``Ts2000Error`` (a ``ValueError``) for a folder without exports or a file whose header
cannot be read as a TS-2000 export; the message names the file and column.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.intake.contracts import UNIT_LABELS, UNIT_MULTIPLIERS
from jumpup.intake.quarantine import QUARANTINE_COLUMNS
from jumpup.intake.readers import InputFileError, decode_bytes, split_lines
from jumpup.provenance import code_version, file_sha256, write_json
from jumpup.reference import table_version

SOURCE = "ts2000"
BASES = ("kgaap", "ifrs", "ifrs_consolidated")
_BASIS_SUFFIX = {None: "kgaap", "IFRS": "ifrs", "IFRS연결": "ifrs_consolidated"}
_CODED = re.compile(r"^\[(?P<code>[0-9A-Z]+)\](?P<name>.*?)(?:\((?P<basis>IFRS연결|IFRS)\))?\((?P<unit>[^()]*)\)$")
_CODE_PREFIX = re.compile(r"^\[(?P<code>[0-9A-Z]+)\]")
_UNIT_TAIL = re.compile(r"^(?P<name>.*?)\((?P<unit>[^()]*)\)$")
_PERIOD = re.compile(r"^(?P<year>\d{4})\s*[/.-]\s*(?P<month>\d{1,2})$")
_FIRM_CODE = re.compile(r"^[0-9A-Za-z]{1,6}$")
KEY_HEADERS = {"회사명": "name", "거래소코드": "firm_code", "회계년도": "fiscal_period"}
MISSING = ("", "NA", "N/A", "-", "null", "nan")
# TS-2000 writes 999999999 for a coverage ratio whose denominator (interest expense) is zero.
NO_INTEREST_SENTINEL = 999999999.0
EXTRA_UNITS = {"억원": 100_000_000}
INCOME_FIELDS = (
    "revenue",
    "cost_of_sales",
    "gross_profit",
    "sga_expense",
    "operating_income",
    "pretax_income",
    "income_tax",
)


class Ts2000Error(ValueError):
    """A folder or file that cannot be read as TS-2000 exports; the message names file and column."""


@dataclass(frozen=True)
class MappedColumn:
    """One export column mapped to a panel field."""

    position: int
    header: str
    field: str
    basis: str  # kgaap, ifrs, ifrs_consolidated or none
    kind: str  # amount, ratio, count, code
    priority: int
    code: str
    unit: str
    multiplier: float


@dataclass
class Ts2000File:
    """One export read as text: key columns, mapped value columns, row numbers and bad lines."""

    path: Path
    relative: str
    kind: str  # income, cashflow_audit, ratios
    industry_group: str | None
    frame: pd.DataFrame  # _row, name, firm_code, fiscal_period, then one column per mapped position
    columns: list[MappedColumn]
    unmapped: list[str]
    bad_lines: list[tuple[int, str, str]] = field(default_factory=list)
    blank_lines: int = 0

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len(self.bad_lines)


def unit_multiplier(unit: str) -> float | None:
    """'천원' -> 1000.0; None for a label that is not a money unit."""
    label = unit.replace(" ", "").lower()
    if label in EXTRA_UNITS:
        return float(EXTRA_UNITS[label])
    if label in UNIT_LABELS:
        return float(UNIT_MULTIPLIERS[UNIT_LABELS[label]])
    return None


def load_item_map() -> pd.DataFrame:
    table = pd.read_csv(table_version("ts2000_items").path, dtype=str, keep_default_na=False)
    table["priority"] = table["priority"].astype(int)
    return table


def load_industry_groups() -> pd.DataFrame:
    table = pd.read_csv(table_version("ts2000_industry_groups").path, dtype=str, keep_default_na=False)
    table["ksic_division_exact"] = table["ksic_division_exact"].str.lower() == "true"
    return table


def load_audit_opinions() -> pd.DataFrame:
    table = pd.read_csv(table_version("ts2000_audit_opinions").path, dtype=str, keep_default_na=False)
    table["clean"] = table["clean"].astype(int)
    return table


def map_header(header: list[str], items: pd.DataFrame, path: Path) -> tuple[list[MappedColumn], list[str]]:
    """Map export headers to fields by item code (or exact name); return mapped and unmapped columns.

    Raises ``Ts2000Error`` when a mapped amount column has no money unit in its header or a coded
    item appears under a basis the table does not allow for it.
    """
    by_code = {row.key: row for row in items[items["match"] == "code"].itertuples()}
    by_name = {row.key: row for row in items[items["match"] == "name"].itertuples()}
    mapped: list[MappedColumn] = []
    unmapped: list[str] = []
    seen: dict[tuple[str, str, int], int] = {}
    for position, raw in enumerate(header):
        text = raw.strip()
        if text in KEY_HEADERS:
            continue
        coded = _CODED.match(text)
        prefix = _CODE_PREFIX.match(text)
        unit = ""
        if prefix:
            row = by_code.get(prefix.group("code"))
            if coded:
                basis, unit = _BASIS_SUFFIX[coded.group("basis")], coded.group("unit")
            else:  # no unit at the end; the basis suffix may still be there
                suffix = "IFRS연결" if "(IFRS연결)" in text else "IFRS" if "(IFRS)" in text else None
                basis = _BASIS_SUFFIX[suffix]
            if row is not None and basis not in row.bases.split(";"):
                raise Ts2000Error(
                    f"{path}: column {position + 1} '{text}': item {row.key} is not expected under basis {basis}"
                )
        else:
            row = by_name.get(text)
            if row is None and (tail := _UNIT_TAIL.match(text)) and unit_multiplier(tail.group("unit")):
                row = by_name.get(tail.group("name").strip())
                unit = tail.group("unit")
            basis = row.bases if row is not None else "none"
        if row is None:
            unmapped.append(text)
            continue
        multiplier = 1.0
        if row.kind == "amount":
            found = unit_multiplier(unit)
            if found is None:
                raise Ts2000Error(
                    f"{path}: column {position + 1} '{text}': no money unit in the header "
                    f"(got '{unit}'); expected e.g. (천원)"
                )
            multiplier = found
        slot = (row.field, basis, row.priority)
        if slot in seen:
            unmapped.append(f"{text} (repeats column {seen[slot] + 1})")
            continue
        seen[slot] = position
        mapped.append(MappedColumn(position, text, row.field, basis, row.kind, row.priority, row.key, unit, multiplier))
    return mapped, unmapped


def file_kind(path: Path, header: list[str]) -> tuple[str, str | None]:
    """(kind, industry group from the file name) of one export."""
    stem = path.stem
    if "재무비율" in stem:
        group = re.sub(r"^외감_", "", re.sub(r"_?GAAP_재무비율$", "", stem))
        return "ratios", group or None
    if "감사의견코드" in (h.strip() for h in header):
        group = re.sub(r"_부실$", "", re.sub(r"^외감_", "", stem))
        return "cashflow_audit", group or None
    return "income", None


def read_export(path: Path, root: Path, items: pd.DataFrame) -> Ts2000File:
    """Read one TS-2000 export; lines with more fields than the header are kept as bad lines."""
    try:
        text, _ = decode_bytes(path.read_bytes(), path)
    except InputFileError as exc:
        raise Ts2000Error(str(exc)) from None
    lines = split_lines(text)
    if not lines or not lines[0].strip():
        raise Ts2000Error(f"{path}: empty file; a TS-2000 export starts with a header row")
    header = next(csv.reader([lines[0]]))
    missing = [name for name in KEY_HEADERS if name not in [h.strip() for h in header]]
    if missing:
        raise Ts2000Error(
            f"{path}: header has no column {', '.join(repr(m) for m in missing)}; is this a TS-2000 export?"
        )
    columns, unmapped = map_header(header, items, path)
    kind, group = file_kind(path, header)
    # Split lines ourselves: a line whose field count differs from the header's is malformed
    # (pandas would silently shift or pad it). TS-2000 exports never quote a line break.
    width = len(header)
    kept: list[str] = []
    rows: list[int] = []
    bad: list[tuple[int, str, str]] = []
    blank_lines = 0
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip(",; \t"):
            blank_lines += 1
            continue
        count = len(next(csv.reader([line]))) if '"' in line else line.count(",") + 1
        if count != width:
            bad.append((number, line, f"expected {width} fields, saw {count}"))
            continue
        kept.append(line)
        rows.append(number)
    frame = (
        pd.read_csv(
            io.StringIO("\n".join(kept)),
            header=None,
            names=list(range(width)),
            usecols=sorted(
                {h_pos for h_pos, h in enumerate(header) if h.strip() in KEY_HEADERS} | {c.position for c in columns}
            ),
            dtype=object,
            keep_default_na=False,
            engine="c",
        )
        if kept
        else pd.DataFrame(columns=list(range(width)), dtype=object)
    )
    positions = {h.strip(): i for i, h in enumerate(header)}
    # Raw text stays in object columns: pandas' Arrow-backed strings make every later row selection
    # and merge copy the text (the import spent most of its time in those copies).
    out = pd.DataFrame({"_row": np.asarray(rows, dtype=np.int64)})
    for name, key in KEY_HEADERS.items():
        out[key] = pd.Series(frame[positions[name]].str.strip().to_numpy(dtype=object), dtype=object)
    for column in columns:
        out[column.position] = pd.Series(frame[column.position].to_numpy(dtype=object), dtype=object)
    return Ts2000File(path, root_relative(path, root), kind, group, out, columns, unmapped, bad, blank_lines)


def root_relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def _issues(export: Ts2000File, mask: np.ndarray, column: str | None, values, rule: str, message) -> pd.DataFrame:
    rows = export.frame["_row"].to_numpy()[mask]
    if not len(rows):
        return pd.DataFrame(columns=[*QUARANTINE_COLUMNS, "_index"])
    vals = np.asarray(values, dtype=object)[mask] if values is not None else [None] * len(rows)
    messages = np.asarray(message, dtype=object)[mask] if isinstance(message, np.ndarray) else [message] * len(rows)
    return pd.DataFrame(
        {
            "file": export.relative,
            "row": rows,
            "column": column,
            "value": vals,
            "rule": rule,
            "message": messages,
            "other_problems": "",
            "_index": np.flatnonzero(mask),
        }
    )


def parse_rows(export: Ts2000File, max_year: int, min_year: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Typed rows of one export (firm_id, fiscal_year, month, values by position) and their issues."""
    frame = export.frame
    issues: list[pd.DataFrame] = []
    code = frame["firm_code"].fillna("").str.strip()
    missing_id = code == ""
    issues.append(_issues(export, missing_id.to_numpy(), "거래소코드", code, "missing_required", "거래소코드 is empty"))
    bad_id = ~missing_id & ~code.str.match(_FIRM_CODE)
    issues.append(
        _issues(
            export, bad_id.to_numpy(), "거래소코드", code, "bad_firm_id", "거래소코드 must be 1-6 letters or digits"
        )
    )
    padded = code.str.fullmatch(r"\d{1,5}")
    firm_id = code.where(~padded, code.str.zfill(6))
    period = frame["fiscal_period"].fillna("").str.strip()
    parts = period.str.extract(_PERIOD)
    year = pd.to_numeric(parts["year"], errors="coerce")
    month = pd.to_numeric(parts["month"], errors="coerce")
    bad_period = year.isna() | month.isna() | ~month.between(1, 12)
    issues.append(
        _issues(
            export, bad_period.to_numpy(), "회계년도", period, "bad_date", "회계년도 must be YYYY/MM with a month 1-12"
        )
    )
    future = ~bad_period & (year > max_year)
    issues.append(
        _issues(export, future.to_numpy(), "회계년도", period, "future_fiscal_year", f"fiscal year after {max_year}")
    )
    early = ~bad_period & (year < min_year)
    issues.append(
        _issues(export, early.to_numpy(), "회계년도", period, "implausible_year", f"fiscal year before {min_year}")
    )
    typed = pd.DataFrame(
        {
            "_row": frame["_row"].to_numpy(),
            "firm_id": pd.Series(firm_id.to_numpy(dtype=object), dtype=object),
            "name": pd.Series(frame["name"].fillna("").str.strip().to_numpy(dtype=object), dtype=object),
            "fiscal_year": year.astype("Int64").to_numpy(),
            "fiscal_year_end_month": month.astype("Int64").to_numpy(),
            "firm_id_padded": padded.to_numpy(),
        }
    )
    for column in export.columns:
        raw = frame[column.position].fillna("").str.strip()
        empty = raw.isin(MISSING)
        if column.kind == "code":
            typed[column.position] = raw.mask(empty).to_numpy()
            continue
        number = pd.to_numeric(raw.str.replace(",", "", regex=False).mask(empty), errors="coerce")
        bad = (~empty & number.isna()).to_numpy()
        issues.append(_issues(export, bad, column.header, raw, "non_numeric", f"'{column.header}' is not a number"))
        typed[column.position] = number.to_numpy(dtype=float)
    return typed, issues


def _first_issue_per_row(issues: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [i for i in issues if len(i)]
    if not frames:
        return pd.DataFrame(columns=[*QUARANTINE_COLUMNS, "_index"])
    allissues = pd.concat(frames, ignore_index=True)
    others = allissues.groupby(["file", "_index"])["rule"].agg(lambda r: ";".join(r.iloc[1:]))
    first = allissues.drop_duplicates(["file", "_index"], keep="first").set_index(["file", "_index"])
    first["other_problems"] = others
    return first.reset_index()


def _field_frame(typed: pd.DataFrame, export: Ts2000File, first_id: int) -> pd.DataFrame:
    """Long table of present values: _index (row in ``typed``), col (global column id), value in won."""
    parts = []
    for offset, column in enumerate(export.columns):
        values = typed[column.position]
        present = values.notna().to_numpy()
        if not present.any():
            continue
        picked = values.to_numpy()[present]
        parts.append(
            pd.DataFrame(
                {
                    "_index": np.flatnonzero(present),
                    "col": first_id + offset,
                    "value": picked * column.multiplier if column.kind == "amount" else picked,
                }
            )
        )
    if not parts:
        return pd.DataFrame({"_index": np.array([], dtype=int), "col": np.array([], dtype=int), "value": []})
    return pd.concat(parts, ignore_index=True)


def choose_basis(income: pd.DataFrame, precedence: tuple[str, ...]) -> pd.DataFrame:
    """One basis per firm: the one with revenue in most years; ties by ``precedence``.

    ``income`` holds firm_id, fiscal_year and ``revenue_<basis>`` columns. Returns firm_id,
    accounting_basis and ``years_<basis>`` (years with revenue under each basis).
    """
    counts = pd.DataFrame({"firm_id": income["firm_id"]})
    for basis in BASES:
        counts[f"years_{basis}"] = income[f"revenue_{basis}"].notna().astype(int)
    counts = counts.groupby("firm_id", sort=True).sum()
    order = [b for b in precedence if b in BASES] + [b for b in BASES if b not in precedence]
    matrix = counts[[f"years_{b}" for b in order]].to_numpy()
    best = np.asarray(order)[matrix.argmax(axis=1)]  # argmax takes the first maximum: precedence breaks ties
    out = counts.reset_index()
    out["accounting_basis"] = np.where(matrix.max(axis=1) > 0, best, None)
    return out


def _value_columns(rows: pd.DataFrame) -> list[str]:
    suffixes = tuple(f"_{b}" for b in (*BASES, "none"))
    return sorted(c for c in rows.columns if isinstance(c, str) and c.endswith(suffixes))


def _dedupe(rows: pd.DataFrame, value_columns: list) -> tuple[pd.Series, pd.Series]:
    """Masks (quarantine exact repeat, quarantine conflicting repeat) over firm_id and fiscal_year."""
    key = ["firm_id", "fiscal_year"]
    dup_any = rows.duplicated(key, keep=False)
    if not dup_any.any():
        false = pd.Series(False, index=rows.index)
        return false, false
    signature = pd.util.hash_pandas_object(rows.loc[dup_any, key + value_columns], index=False)
    variants = signature.groupby([rows.loc[dup_any, "firm_id"], rows.loc[dup_any, "fiscal_year"]]).transform("nunique")
    conflicting = pd.Series(False, index=rows.index)
    conflicting.loc[variants.index] = variants > 1
    exact_repeat = dup_any & ~conflicting & rows.duplicated(key, keep="first")
    return exact_repeat, conflicting


def import_ts2000(
    source: Path,
    out_dir: Path,
    basis_precedence: tuple[str, ...] = BASES,
    max_fiscal_year: int | None = None,
    min_fiscal_year: int = 1950,
) -> dict:
    """Read every TS-2000 export under ``source`` and write a panel directory to ``out_dir``.

    Writes firms.csv, financials.csv (amounts in won), quarantine.csv, flags.csv,
    provenance.parquet (one row per value: source, file, row, column, item code, basis, unit) and
    manifest.json. Returns the manifest. Raises ``Ts2000Error`` for a folder without exports.
    """
    started = time.perf_counter()
    source, out_dir = Path(source), Path(out_dir)
    if not source.is_dir():
        raise Ts2000Error(f"{source}: not a folder of TS-2000 exports")
    paths = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if not paths:
        raise Ts2000Error(f"{source}: no TS-2000 exports (*.csv) found")
    max_year = max_fiscal_year or pd.Timestamp.today().year
    items = load_item_map()
    groups = load_industry_groups()
    opinions = load_audit_opinions()
    exports = [read_export(p, source, items) for p in paths]
    if not any(e.kind == "income" for e in exports):
        raise Ts2000Error(f"{source}: no income-statement export (a file with [U01210000] 매출액 columns)")

    parsed: dict[str, list[tuple[Ts2000File, pd.DataFrame, pd.DataFrame]]] = {
        "income": [],
        "cashflow_audit": [],
        "ratios": [],
    }
    known_groups = set(groups["industry_group"])
    warnings_: list[str] = []
    for export in exports:
        typed, issues = parse_rows(export, max_year, min_fiscal_year)
        if export.kind != "income" and export.industry_group not in known_groups:
            warnings_.append(
                f"{export.relative}: industry group '{export.industry_group}' is not in "
                f"data/reference/ts2000_industry_groups.csv; its firms get no industry from this file"
            )
        parsed[export.kind].append((export, typed, _first_issue_per_row(issues)))

    quarantined: list[pd.DataFrame] = []

    all_files = [e.relative for e in exports]
    file_type = pd.CategoricalDtype(all_files)
    meta_rows: list[dict] = []

    def stack(kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        frames = []
        for order, (export, typed, first) in enumerate(parsed[kind]):
            bad = np.zeros(len(typed), dtype=bool)
            bad[first["_index"].to_numpy(dtype=int)] = True
            quarantined.append(first.drop(columns="_index"))
            first_id = len(meta_rows)
            for column in export.columns:
                meta_rows.append(
                    {
                        "col": len(meta_rows),
                        "field": column.field,
                        "basis": column.basis,
                        "priority": column.priority,
                        "kind": column.kind,
                        "column": column.header,
                        "item_code": column.code,
                        "unit": column.unit,
                        "multiplier": column.multiplier,
                    }
                )
            longs = _field_frame(typed, export, first_id)
            keep = typed[["_row", "firm_id", "name", "fiscal_year", "fiscal_year_end_month", "firm_id_padded"]].assign(
                _index=np.arange(len(typed)), _order=order
            )
            keep["_file"] = pd.Categorical([export.relative] * len(keep), dtype=file_type)
            keep["_group"] = pd.Series(
                [export.industry_group if export.industry_group in known_groups else None] * len(keep),
                dtype=object,
                index=keep.index,
            )
            keep = keep[~bad]
            longs = longs[~bad[longs["_index"].to_numpy(dtype=int)]]
            longs = longs.assign(_file=pd.Categorical([export.relative] * len(longs), dtype=file_type))
            frames.append((keep, longs))
        if not frames:
            return pd.DataFrame(), pd.DataFrame()
        rows = pd.concat([f[0] for f in frames], ignore_index=True)
        longs = pd.concat([f[1] for f in frames], ignore_index=True)
        return rows, longs

    def quarantine_rows(rows: pd.DataFrame, mask, column, values, rule, message) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        picked = rows[mask]
        quarantined.append(
            pd.DataFrame(
                {
                    "file": picked["_file"].to_numpy(),
                    "row": picked["_row"].to_numpy(),
                    "column": column,
                    "value": np.asarray(values, dtype=object)[mask] if values is not None else None,
                    "rule": rule,
                    "message": np.asarray(message, dtype=object)[mask] if isinstance(message, np.ndarray) else message,
                    "other_problems": "",
                }
            )
        )

    def wide(rows: pd.DataFrame, longs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Attach values (best priority per field and basis) to rows as '<field>_<basis>' columns."""
        meta = pd.DataFrame(meta_rows)
        meta["slot"] = meta["field"] + "_" + meta["basis"]
        keyed = longs.merge(rows[["_file", "_index"]].reset_index(), on=["_file", "_index"])
        keyed = keyed.merge(meta[["col", "slot", "priority"]], on="col")
        keyed = keyed.sort_values(["index", "slot", "priority"], kind="stable")
        keyed = keyed.drop_duplicates(["index", "slot"])
        values = keyed.pivot(index="index", columns="slot", values="value")
        return rows.join(values), keyed[["index", "_file", "_index", "col", "slot"]]

    # Income: one row per firm-year, basis chosen per firm.
    inc_rows, inc_longs = stack("income")
    inc_rows, inc_keyed = wide(inc_rows, inc_longs)
    for basis in BASES:
        if f"revenue_{basis}" not in inc_rows:
            inc_rows[f"revenue_{basis}"] = np.nan
    exact, conflict = _dedupe(inc_rows, _value_columns(inc_rows))
    quarantine_rows(inc_rows, exact, None, None, "duplicate_key", "exact repeat of an earlier row for this firm-year")
    quarantine_rows(inc_rows, conflict, None, None, "duplicate_key", "two different rows for this firm and fiscal year")
    inc_rows = inc_rows[~(exact | conflict)]

    no_revenue = inc_rows[[f"revenue_{b}" for b in BASES]].isna().all(axis=1)
    quarantine_rows(inc_rows, no_revenue, "매출액", None, "missing_required", "revenue is empty under every basis")
    inc_rows = inc_rows[~no_revenue]

    # Industry group: from cash-flow/audit files, else ratio files; two groups = ambiguous.
    cf_rows, cf_longs = stack("cashflow_audit")
    ra_rows, ra_longs = stack("ratios")
    group_sources = []
    for rows in (cf_rows, ra_rows):
        if len(rows):
            pairs = rows.dropna(subset=["_group"])[["firm_id", "_group"]].drop_duplicates()
            g = pairs.sort_values(["firm_id", "_group"]).groupby("firm_id")["_group"].agg(tuple)
            group_sources.append(g)
        else:
            group_sources.append(pd.Series(dtype=object))
    firm_group = group_sources[0].combine_first(group_sources[1]) if len(group_sources[0]) else group_sources[1]
    groups_of = inc_rows["firm_id"].map(firm_group)
    no_group = groups_of.isna().to_numpy()
    quarantine_rows(
        inc_rows,
        no_group,
        "거래소코드",
        inc_rows["firm_id"],
        "unknown_industry_group",
        "the firm is in no cash-flow/audit or ratio export, the only source of its industry group",
    )
    ambiguous = np.array([isinstance(g, tuple) and len(g) > 1 for g in groups_of])
    quarantine_rows(
        inc_rows,
        ambiguous,
        "거래소코드",
        inc_rows["firm_id"],
        "ambiguous_industry_group",
        np.array(
            [
                "the firm appears under industry groups " + " and ".join(g) if isinstance(g, tuple) else ""
                for g in groups_of
            ],
            dtype=object,
        ),
    )
    inc_rows = inc_rows[~(no_group | ambiguous)].copy()
    inc_rows["industry_group"] = inc_rows["firm_id"].map(firm_group).str[0]

    # Basis per firm; a year without revenue under the firm's basis is not filled from another.
    bases = choose_basis(inc_rows, tuple(basis_precedence))
    inc_rows = inc_rows.merge(bases[["firm_id", "accounting_basis"]], on="firm_id", how="left")
    chosen_revenue = np.select(
        [inc_rows["accounting_basis"] == b for b in BASES], [inc_rows[f"revenue_{b}"] for b in BASES], np.nan
    )
    other_only = np.isnan(chosen_revenue)
    quarantine_rows(
        inc_rows,
        other_only,
        "매출액",
        None,
        "basis_missing",
        np.array(
            [f"revenue only under another basis; this firm's series uses {b}" for b in inc_rows["accounting_basis"]],
            dtype=object,
        ),
    )
    negative = ~other_only & (np.nan_to_num(chosen_revenue) < 0)
    quarantine_rows(inc_rows, negative, "매출액", chosen_revenue, "negative_value", "'revenue' must not be negative")
    inc_rows = inc_rows[~(other_only | negative)].reset_index(drop=True)

    financials = inc_rows[
        ["firm_id", "fiscal_year", "fiscal_year_end_month", "accounting_basis", "industry_group"]
    ].copy()
    provenance_parts = []
    for field_name in INCOME_FIELDS:
        values = np.full(len(inc_rows), np.nan)
        for basis in BASES:
            column = f"{field_name}_{basis}"
            if column in inc_rows:
                take = (inc_rows["accounting_basis"] == basis).to_numpy()
                values[take] = inc_rows.loc[take, column].to_numpy()
        financials[field_name] = values
    meta = pd.DataFrame(meta_rows)
    prov = inc_keyed.merge(meta, on="col").merge(
        inc_rows[["_file", "_index", "firm_id", "fiscal_year", "accounting_basis", "_row"]], on=["_file", "_index"]
    )
    provenance_parts.append(prov[prov["basis"] == prov["accounting_basis"]])

    # Cash-flow/audit and ratio rows attach to accepted income firm-years.
    accepted_keys = financials[["firm_id", "fiscal_year", "accounting_basis"]]
    attached: dict[str, pd.DataFrame] = {}
    for kind, rows, longs in (("cashflow_audit", cf_rows, cf_longs), ("ratios", ra_rows, ra_longs)):
        if not len(rows):
            continue
        rows, keyed = wide(rows, longs)
        exact, conflict = _dedupe(rows, _value_columns(rows))
        quarantine_rows(rows, exact, None, None, "duplicate_key", "exact repeat of an earlier row for this firm-year")
        quarantine_rows(rows, conflict, None, None, "duplicate_key", "two different rows for this firm and fiscal year")
        rows = rows[~(exact | conflict)]
        if "personnel_expense_kgaap" in rows:
            negative = (rows["personnel_expense_kgaap"] < 0).to_numpy()
            quarantine_rows(
                rows,
                negative,
                "인건비",
                rows["personnel_expense_kgaap"],
                "negative_value",
                "'personnel_expense' must not be negative",
            )
            rows = rows[~negative]
        rows = rows.merge(accepted_keys, on=["firm_id", "fiscal_year"], how="left")
        orphan = rows["accounting_basis"].isna().to_numpy()
        quarantine_rows(
            rows,
            orphan,
            "거래소코드",
            rows["firm_id"],
            "orphan_row",
            "no accepted income statement for this firm and fiscal year",
        )
        rows = rows[~orphan].reset_index(drop=True)
        attached[kind] = rows
        prov = keyed.merge(meta, on="col").merge(
            rows[["_file", "_index", "firm_id", "fiscal_year", "accounting_basis", "_row"]], on=["_file", "_index"]
        )
        prov = prov[
            (prov["basis"] == prov["accounting_basis"])
            | (prov["basis"] == "none")
            | ((prov["kind"] == "amount") & (prov["field"].isin(["value_added", "personnel_expense"])))
        ]
        provenance_parts.append(prov)

    def take(rows: pd.DataFrame, column: str) -> pd.Series:
        if column not in rows:
            return pd.Series(np.nan, index=financials.index)
        return financials[["firm_id", "fiscal_year"]].merge(
            rows[["firm_id", "fiscal_year", column]], on=["firm_id", "fiscal_year"], how="left"
        )[column]

    empty = pd.DataFrame(columns=["firm_id", "fiscal_year", "_file", "_row"])
    cf = attached.get("cashflow_audit", empty)
    ra = attached.get("ratios", empty)
    ocf = np.full(len(financials), np.nan)
    for basis in BASES:
        series = take(cf, f"operating_cash_flow_{basis}").to_numpy(dtype=float)
        pick = (financials["accounting_basis"] == basis).to_numpy()
        ocf[pick] = series[pick]
    financials["operating_cash_flow"] = ocf
    opinion = take(cf, "audit_opinion_none")
    financials["audit_opinion"] = opinion.to_numpy()
    clean = dict(zip(opinions["code"], opinions["clean"], strict=True))
    financials["audit_opinion_clean"] = opinion.map(clean).astype("Int64").to_numpy()
    coverage_cf = take(cf, "interest_coverage_none")
    coverage_ra = take(ra, "interest_coverage_none")
    coverage = coverage_cf.combine_first(coverage_ra).to_numpy(dtype=float)
    net_cf = take(cf, "interest_coverage_net_finance_none")
    net_ra = take(ra, "interest_coverage_net_finance_none")
    net = net_cf.combine_first(net_ra).to_numpy(dtype=float)
    financials["no_interest_expense"] = pd.array(
        np.where(np.isnan(coverage), pd.NA, coverage == NO_INTEREST_SENTINEL), dtype="Int64"
    )
    financials["interest_coverage"] = np.where(coverage == NO_INTEREST_SENTINEL, np.nan, coverage)
    financials["interest_coverage_net_finance"] = np.where(net == NO_INTEREST_SENTINEL, np.nan, net)
    employees = take(ra, "employees_none")
    # The ratio exports write 0 where the headcount was not reported (their per-employee ratios are 0 too).
    financials["employees"] = employees.mask(employees == 0).astype("Int64").to_numpy()
    financials["value_added"] = take(ra, "value_added_kgaap").to_numpy()
    financials["personnel_expense"] = take(ra, "personnel_expense_kgaap").to_numpy()

    provenance = pd.concat(provenance_parts, ignore_index=True)
    # First part wins: income, then cash-flow/audit, then ratio files (the precedence used above).
    provenance = provenance.drop_duplicates(["firm_id", "fiscal_year", "field"], keep="first")
    for name in (*INCOME_FIELDS, "operating_cash_flow", "value_added", "personnel_expense"):
        financials[name] = pd.to_numeric(financials[name]).round().astype("Int64")
    financials["net_income"] = (financials["pretax_income"] - financials["income_tax"]).astype("Int64")
    derived = financials.loc[financials["net_income"].notna(), ["firm_id", "fiscal_year", "accounting_basis"]]
    derived = derived.merge(inc_rows[["firm_id", "fiscal_year", "_file", "_row"]], on=["firm_id", "fiscal_year"])
    provenance = pd.concat(
        [
            provenance,
            derived.assign(
                field="net_income",
                basis=derived["accounting_basis"],
                column="법인세비용차감전손익 − 법인세비용 (derived)",
                item_code="derived",
                unit="천원",
                multiplier=1000.0,
            ),
        ],
        ignore_index=True,
    )

    # Months covered by each fiscal year (a changed year-end gives a short or long year).
    financials = financials.sort_values(["firm_id", "fiscal_year"]).reset_index(drop=True)
    end = financials["fiscal_year"].astype(int) * 12 + financials["fiscal_year_end_month"].astype(int)
    previous = end.groupby(financials["firm_id"]).shift(1)
    months = end - previous
    # A gap of a year or more is a missing year, not a long fiscal year.
    financials["fiscal_months"] = months.where(months < 24).astype("Int64")

    # Flags: accepted rows that deserve a look.
    flag_parts = []
    padded = inc_rows.loc[inc_rows["firm_id_padded"], ["_file", "_row", "firm_id"]]
    flag_parts.append(
        padded.assign(
            flag="firm_id_zero_padded",
            column="거래소코드",
            value=padded["firm_id"].str.lstrip("0"),
            message="거래소코드 had fewer than 6 digits; leading zeros restored",
        )
    )
    odd = financials[financials["fiscal_months"].notna() & (financials["fiscal_months"] != 12)]
    odd_rows = odd.merge(inc_rows[["firm_id", "fiscal_year", "_file", "_row"]], on=["firm_id", "fiscal_year"])
    flag_parts.append(
        odd_rows.assign(
            flag="fiscal_year_not_12_months",
            column="회계년도",
            value=odd_rows["fiscal_months"].astype(str) + " months",
            message="the year-end moved; this year's flows do not cover 12 months",
        )
    )
    unknown_opinion = financials["audit_opinion"].notna() & financials["audit_opinion_clean"].isna()
    unknown_rows = financials[unknown_opinion].merge(
        cf[["firm_id", "fiscal_year", "_file", "_row"]], on=["firm_id", "fiscal_year"]
    )
    flag_parts.append(
        unknown_rows.assign(
            flag="unknown_audit_opinion",
            column="감사의견코드",
            value=unknown_rows["audit_opinion"],
            message="audit opinion code not in ts2000_audit_opinions.csv",
        )
    )
    flag_table = pd.concat(
        [
            p.rename(columns={"_file": "file", "_row": "row"})[
                ["file", "row", "firm_id", "flag", "column", "value", "message"]
            ]
            for p in flag_parts
        ],
        ignore_index=True,
    ).sort_values(["file", "row", "flag"], kind="stable")

    # Firms: latest name and year-end month, industry group mapped to KSIC.
    latest = inc_rows.sort_values(["firm_id", "fiscal_year"]).drop_duplicates("firm_id", keep="last")
    firms = latest[["firm_id", "name", "industry_group", "fiscal_year_end_month"]].merge(
        groups[["industry_group", "ksic_sections", "ksic_divisions", "ksic_division", "ksic_division_exact"]],
        on="industry_group",
        how="left",
    )
    firms = firms.merge(bases, on="firm_id", how="left")
    firms = (
        firms[
            [
                "firm_id",
                "name",
                "ksic_division",
                "ksic_division_exact",
                "ksic_sections",
                "ksic_divisions",
                "industry_group",
                "fiscal_year_end_month",
                "accounting_basis",
                *[f"years_{b}" for b in BASES],
            ]
        ]
        .sort_values("firm_id")
        .reset_index(drop=True)
    )

    provenance = provenance.assign(source=SOURCE, unit=provenance["unit"].fillna(""))
    provenance = (
        provenance.rename(columns={"_file": "file", "_row": "row"})[
            [
                "firm_id",
                "fiscal_year",
                "field",
                "source",
                "file",
                "row",
                "column",
                "item_code",
                "basis",
                "unit",
                "multiplier",
            ]
        ]
        .sort_values(["firm_id", "fiscal_year", "field"], kind="stable")
        .reset_index(drop=True)
    )
    for name in ("field", "source", "file", "column", "item_code", "basis", "unit"):
        provenance[name] = provenance[name].astype(str).astype("category")
    quarantine = (
        pd.concat([q for q in quarantined if len(q)], ignore_index=True)
        if any(len(q) for q in quarantined)
        else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )
    bad_line_rows = [
        {
            "file": e.relative,
            "row": r,
            "column": None,
            "value": text[:80],
            "rule": "malformed_line",
            "message": why,
            "other_problems": "",
        }
        for e in exports
        for r, text, why in e.bad_lines
    ]
    if bad_line_rows:
        quarantine = pd.concat([quarantine, pd.DataFrame(bad_line_rows)], ignore_index=True)
    quarantine = quarantine[QUARANTINE_COLUMNS].sort_values(["file", "row"], kind="stable").reset_index(drop=True)

    financials = financials.drop(columns=["industry_group"])
    columns = [
        "firm_id",
        "fiscal_year",
        "fiscal_year_end_month",
        "fiscal_months",
        "accounting_basis",
        *INCOME_FIELDS,
        "net_income",
        "operating_cash_flow",
        "audit_opinion",
        "audit_opinion_clean",
        "interest_coverage",
        "no_interest_expense",
        "interest_coverage_net_finance",
        "employees",
        "value_added",
        "personnel_expense",
    ]
    financials = financials[columns]

    # Per-file accounting: read = accepted + quarantined.
    quarantined_by_file = quarantine["file"].value_counts()
    per_file = []
    for export in exports:
        q = int(quarantined_by_file.get(export.relative, 0))
        read = export.rows_read
        per_file.append(
            {
                "file": export.relative,
                "kind": export.kind,
                "industry_group": export.industry_group,
                "sha256": file_sha256(export.path),
                "rows_read": read,
                "rows_accepted": read - q,
                "rows_quarantined": q,
                "blank_lines": export.blank_lines,
                "columns_mapped": {c.header: f"{c.field} ({c.basis})" for c in export.columns},
                "columns_not_mapped": export.unmapped,
            }
        )
    rows_read = sum(f["rows_read"] for f in per_file)
    if rows_read != sum(f["rows_accepted"] for f in per_file) + len(quarantine):
        raise AssertionError("rows read != accepted + quarantined")  # an importer bug, never the user's

    out_dir.mkdir(parents=True, exist_ok=True)
    firms.to_csv(out_dir / "firms.csv", index=False, encoding="utf-8")
    financials.to_csv(out_dir / "financials.csv", index=False, encoding="utf-8")
    quarantine.to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8")
    flag_table.to_csv(out_dir / "flags.csv", index=False, encoding="utf-8")
    provenance.to_parquet(out_dir / "provenance.parquet", index=False)
    years = financials["fiscal_year"]
    manifest = {
        "stage": "import_ts2000",
        "source": SOURCE,
        "code_version": code_version(),
        "reference_tables": {
            name: table_version(name).version
            for name in ("ts2000_items", "ts2000_industry_groups", "ts2000_audit_opinions")
        },
        "basis_precedence": list(basis_precedence),
        "files": per_file,
        "rows_read": rows_read,
        "rows_accepted": rows_read - len(quarantine),
        "rows_quarantined": len(quarantine),
        "quarantined_by_rule": {k: int(v) for k, v in quarantine["rule"].value_counts().sort_index().items()},
        "flags_by_kind": {k: int(v) for k, v in flag_table["flag"].value_counts().sort_index().items()},
        "firms": len(firms),
        "firm_years": len(financials),
        "fiscal_years": [int(years.min()), int(years.max())] if len(years) else [],
        "firms_by_basis": {k: int(v) for k, v in firms["accounting_basis"].value_counts().sort_index().items()},
        "firms_by_industry_group": {k: int(v) for k, v in firms["industry_group"].value_counts().sort_index().items()},
        "fiscal_year_end_months": {
            int(k): int(v) for k, v in financials["fiscal_year_end_month"].value_counts().sort_index().items()
        },
        "amount_unit": "won",
        "warnings": warnings_,
    }
    write_json(out_dir / "manifest.json", manifest)
    manifest["seconds"] = round(time.perf_counter() - started, 2)
    return manifest
