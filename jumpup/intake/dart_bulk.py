"""Import DART bulk downloads (재무정보 일괄다운로드) into the panel format.

DART publishes one tab-separated, cp949 text file per statement type and year, one line per
statement item, with this year's (당기), last year's (전기) and the year before's (전전기) amounts.
This importer reads every line it can, maps items to panel fields through the explicit table
``data/reference/dart_element_map.csv`` (taxonomy element ids first, then exact line names), and
writes ``firms.csv`` and ``financials.csv``.

Choices, each reported in ``import_report.json``:
- a firm-year's value comes from that year's own file (당기) when present; otherwise from the
  next year's 전기, then from the 전전기 of the year after — so a missing file is filled, and
  fiscal years reach two years before the oldest file;
- separate (별도) or consolidated (연결) statements by ``--statements``; with
  ``prefer-consolidated``, consolidated where the firm files them, separate otherwise, and the
  basis used is kept in the ``statement_basis`` column;
- amounts not in KRW are left out (they cannot be added to won);
- a line that cannot be decoded, is cut short or has a non-numeric amount is quarantined with
  the reason, and the rest of the file is still imported;
- a firm-year with statement lines but no line that maps to revenue is reported by name, never
  guessed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from jumpup.intake.quarantine import ISSUE_COLUMNS
from jumpup.provenance import code_version, file_sha256, write_json
from jumpup.reference import ksic_divisions, table_version

StatementMode = Literal["separate", "consolidated", "prefer-consolidated"]
FIELDS = (
    "revenue",
    "operating_income",
    "pretax_income",
    "net_income",
    "total_assets",
    "total_liabilities",
    "total_equity",
)
HEADER_NAMES = {
    "statement": "재무제표종류",
    "stock_code": "종목코드",
    "name": "회사명",
    "market": "시장구분",
    "ksic": "업종",
    "industry_name": "업종명",
    "fiscal_month": "결산월",
    "period_end": "결산기준일",
    "report": "보고서종류",
    "currency": "통화",
    "element": "항목코드",
    "item": "항목명",
}
AMOUNT_HEADERS = {"당기": 0, "전기": 1, "전전기": 2}  # years before the file's fiscal year
_NUMBERING = re.compile(r"^(?:[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]+|[IVX]+|\d+|[가-하])\s*[.)]\s*")
_AMOUNT = re.compile(r"^-?\d+(?:\.\d+)?$")
_STOCK_CODE = re.compile(r"^[0-9A-Z]{6}$")


@dataclass(frozen=True)
class DartFile:
    """One bulk file read line by line: usable lines, quarantined lines and counts."""

    path: Path
    lines: pd.DataFrame
    quarantine: pd.DataFrame
    lines_read: int


def _column_positions(header: list[str], path: Path) -> dict[str, int]:
    """Locate named columns; the amount columns sit among unnamed ones, so find them by name."""
    positions: dict[str, int] = {}
    for key, name in HEADER_NAMES.items():
        if name not in header:
            raise ValueError(f"{path}: header has no column '{name}'; is this a DART bulk-download file?")
        positions[key] = header.index(name)
    for name in AMOUNT_HEADERS:
        if name not in header:
            raise ValueError(f"{path}: header has no amount column '{name}'")
        positions[name] = header.index(name)
    return positions


def _issue(path: Path, row: int, column: str | None, value: str | None, rule: str, message: str) -> dict:
    return {"file": path.name, "row": row, "column": column, "value": value, "rule": rule, "message": message}


def read_dart_file(path: Path) -> DartFile:
    """Read one DART bulk file, decoding each line on its own so one bad line loses only itself."""
    raw_lines = path.read_bytes().split(b"\n")
    if raw_lines and raw_lines[-1].strip() == b"":
        raw_lines = raw_lines[:-1]
    if not raw_lines:
        raise ValueError(f"{path}: empty file")
    header_bytes = raw_lines[0].rstrip(b"\r")
    try:
        header = header_bytes.decode("cp949").split("\t")
    except UnicodeDecodeError:
        header = header_bytes.decode("utf-8-sig").split("\t")
    positions = _column_positions(header, path)
    needed = max(positions.values()) + 1
    records: list[list] = []
    issues: list[dict] = []
    for offset, raw in enumerate(raw_lines[1:]):
        row = offset + 2
        raw = raw.rstrip(b"\r")
        if not raw.strip():
            continue
        try:
            text = raw.decode("cp949")
        except UnicodeDecodeError as exc:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                snippet = raw[max(0, exc.start - 8) : exc.start + 8].hex(" ")
                issues.append(
                    _issue(
                        path,
                        row,
                        None,
                        snippet,
                        "undecodable_line",
                        f"bytes at {exc.start} are neither cp949 nor UTF-8",
                    )
                )
                continue
        fields = text.split("\t")
        if len(fields) < needed:
            issues.append(
                _issue(
                    path, row, None, text[:80], "truncated_line", f"{len(fields)} fields, expected at least {needed}"
                )
            )
            continue
        amounts = []
        bad = None
        for name in AMOUNT_HEADERS:
            cell = fields[positions[name]].strip().replace(",", "")
            if cell == "":
                amounts.append(np.nan)
            elif _AMOUNT.match(cell):
                amounts.append(float(cell))
            else:
                bad = (name, fields[positions[name]])
                break
        if bad:
            issues.append(_issue(path, row, bad[0], bad[1], "non_numeric", f"amount in {bad[0]} is not a number"))
            continue
        stock_code = fields[positions["stock_code"]].strip().strip("[]")
        if not _STOCK_CODE.match(stock_code):
            issues.append(
                _issue(
                    path,
                    row,
                    "종목코드",
                    fields[positions["stock_code"]],
                    "missing_stock_code",
                    "no 6-character stock code; the firm cannot be identified",
                )
            )
            continue
        records.append([row, *(fields[positions[k]] for k in HEADER_NAMES), *amounts])
    lines = pd.DataFrame(records, columns=["row", *HEADER_NAMES, *AMOUNT_HEADERS])
    return DartFile(path, lines, pd.DataFrame(issues, columns=ISSUE_COLUMNS), len(raw_lines) - 1)


def normalise_item_name(name: pd.Series) -> pd.Series:
    """'   Ⅰ. 매출액 ' -> '매출액': drop numbering and every space so equal names compare equal."""
    stripped = name.str.strip().str.replace(_NUMBERING, "", regex=True)
    return stripped.str.replace(r"\s+", "", regex=True)


def load_element_map() -> pd.DataFrame:
    table = pd.read_csv(table_version("dart_element_map").path, dtype=str)
    table["priority"] = table["priority"].astype(int)
    return table


def map_lines(lines: pd.DataFrame, element_map: pd.DataFrame) -> pd.DataFrame:
    """Match lines to fields: element ids anywhere, names only on top-level (unindented) lines.

    When a line's element id and its name point to different fields (a line named 영업수익,
    revenue, tagged ``dart_OperatingIncomeLoss``), the printed name wins and the element match is
    dropped, so one line never feeds two fields (``element_name_conflicts`` lists such lines).
    Lines need ``file`` and ``row`` to be told apart.
    """
    matched_element, matched_name = _matches(lines, element_map)
    conflicts = element_name_conflicts(matched_element, matched_name)
    if len(conflicts):
        drop = matched_element.set_index(["file", "row"]).index.isin(conflicts.set_index(["file", "row"]).index)
        matched_element = matched_element[~drop]
    return pd.concat([matched_element, matched_name], ignore_index=True)


def _matches(lines: pd.DataFrame, element_map: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_element = element_map[element_map["match"] == "element"]
    by_name = element_map[element_map["match"] == "name"]
    lines = lines.assign(item_key=normalise_item_name(lines["item"]), top_level=~lines["item"].str.match(r"^\s"))
    matched_element = lines.merge(by_element, left_on="element", right_on="pattern", how="inner")
    top = lines[lines["top_level"]]
    matched_name = top.merge(by_name, left_on="item_key", right_on="pattern", how="inner")
    return matched_element, matched_name


def element_name_conflicts(matched_element: pd.DataFrame, matched_name: pd.DataFrame) -> pd.DataFrame:
    """Lines whose element id maps to one field and whose name to another: firm, file, row, both fields."""
    by_name = matched_name[["file", "row", "field"]].rename(columns={"field": "name_says"})
    both = matched_element.merge(by_name, on=["file", "row"], how="inner")
    both = both[both["field"] != both["name_says"]].rename(columns={"field": "element_says"})
    return both[["firm_id", "file", "row", "element", "item", "element_says", "name_says"]].reset_index(drop=True)


def _basis(statement: pd.Series) -> pd.Series:
    return np.where(statement.str.contains("연결"), "consolidated", "separate")


_FILE_DATE = re.compile(r"_(\d{8})$")
SHORT_PERIOD_MONTHS = 11  # a statement covering fewer months is a transition period, not a fiscal year


def _period_months(lines: pd.DataFrame) -> pd.DataFrame:
    """Months each statement covers: from the firm's previous period end (12 for its first one).

    A fiscal year-end change (결산기 변경) shows as a period end fewer than 12 months after the one
    before (March to December: a 9-month transition period).
    """
    ends = lines[["firm_id", "period_end_date"]].dropna().drop_duplicates().sort_values(["firm_id", "period_end_date"])
    previous = ends.groupby("firm_id")["period_end_date"].shift(1)
    months = (ends["period_end_date"].dt.year - previous.dt.year) * 12 + (
        ends["period_end_date"].dt.month - previous.dt.month
    )
    return ends.assign(period_start=previous + pd.Timedelta(days=1), period_months=months.fillna(12).astype(int))


def _set_aside(frame: pd.DataFrame, column, values, rule: str, messages) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "file": frame["file"].to_numpy(),
            "row": frame["row"].to_numpy(),
            "column": np.asarray(column) if not isinstance(column, str) else column,
            "value": list(values),
            "rule": rule,
            "message": list(messages),
        },
        columns=ISSUE_COLUMNS,
    )


def _short_periods(lines: pd.DataFrame, periods: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Lines of transition periods (set aside with rule ``short_period``) and the year-end changes."""
    gone = lines[lines["period_months"] < SHORT_PERIOD_MONTHS]
    if gone.empty:
        return pd.DataFrame(columns=ISSUE_COLUMNS), []
    messages = (
        gone["period_months"].astype(str)
        + "-month transition period "
        + gone["period_start"].dt.strftime("%Y-%m-%d")
        + ".."
        + gone["period_end_date"].dt.strftime("%Y-%m-%d")
        + " after a fiscal year-end change (결산기 변경); a fiscal year is 12 months, so it is not one"
    )
    changes = []
    for (firm, end), group in gone.groupby(["firm_id", "period_end_date"]):
        before = periods.loc[(periods["firm_id"] == firm) & (periods["period_end_date"] < end), "period_end_date"]
        changes.append(
            {
                "firm_id": firm,
                "from_month": int(before.max().month) if len(before) else None,
                "to_month": int(end.month),
                "transition_period": f"{group['period_start'].iloc[0]:%Y-%m-%d}..{end:%Y-%m-%d}",
                "months": int(group["period_months"].iloc[0]),
            }
        )
    return _set_aside(gone, "결산기준일", gone["period_end"].str.strip(), "short_period", messages), changes


def _superseded(long: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Own-year figures that a revised report (정정) or a later download replaced with another value."""
    own = long[long["years_back"] == 0]
    kept = best[["firm_id", "fiscal_year", "field", "value", "file", "row", "report", "revision", "file_date"]]
    both = own.merge(kept, on=["firm_id", "fiscal_year", "field"], suffixes=("", "_kept"))
    later = (both["revision_kept"] > both["revision"]) | (
        (both["revision_kept"] == both["revision"]) & (both["file_date_kept"] > both["file_date"])
    )
    # a line matched by element id and by name is one line
    replaced = both[later & (both["value"] != both["value_kept"])].drop_duplicates(["file", "row", "field"])
    if replaced.empty:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    messages = (
        "replaced by "
        + replaced["file_kept"]
        + " row "
        + replaced["row_kept"].astype(str)
        + " ("
        + replaced["report_kept"].str.strip()
        + ", "
        + replaced["value_kept"].map("{:,.0f}".format)
        + "); the later revision wins"
    )
    values = replaced["value"].map("{:.0f}".format)
    return _set_aside(replaced, replaced["field"].to_numpy(), values, "superseded_by_revision", messages)


def assemble(files: list[DartFile], mode: StatementMode) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Build (firms, financials, facts) from read files.

    ``facts`` holds counts for the report plus ``sources`` (where every value came from) and
    ``superseded`` (lines kept out of the panel, each with its rule: an original replaced by a
    revised report (정정) or a later download, ``superseded_by_revision``; a transition period
    after a fiscal year-end change, ``short_period``).
    """
    element_map = load_element_map()
    frames = []
    for order, dart_file in enumerate(files):
        if dart_file.lines.empty:
            continue
        date = _FILE_DATE.search(dart_file.path.stem)
        frames.append(
            dart_file.lines.assign(
                file=dart_file.path.name, file_order=order, file_date=date.group(1) if date else "00000000"
            )
        )
    lines = pd.concat(frames, ignore_index=True)
    lines["firm_id"] = lines["stock_code"].str.strip().str.strip("[]")
    lines["period_end_date"] = pd.to_datetime(lines["period_end"].str.strip(), errors="coerce")
    lines["fiscal_year"] = lines["period_end_date"].dt.year
    lines["basis"] = _basis(lines["statement"])
    lines["function_form"] = lines["statement"].str.contains("기능별")
    lines["revision"] = lines["report"].str.contains("정정").astype(int)
    non_krw = lines["currency"].str.strip() != "KRW"
    facts: dict = {
        "lines_usable": len(lines),
        "lines_not_krw": int(non_krw.sum()),
        "firms_not_krw": sorted(lines.loc[non_krw, "firm_id"].unique().tolist()),
    }
    lines = lines[~non_krw & lines["fiscal_year"].notna()]

    periods = _period_months(lines)
    lines = lines.merge(periods, on=["firm_id", "period_end_date"], how="left")
    short, changes = _short_periods(lines, periods)
    lines = lines[lines["period_months"] >= SHORT_PERIOD_MONTHS]
    facts["fiscal_year_end_changes"] = changes

    matched_element, matched_name = _matches(lines, element_map)
    facts["element_name_conflicts"] = element_name_conflicts(matched_element, matched_name).to_dict("records")
    mapped = map_lines(lines, element_map)
    facts["lines_mapped"] = int(mapped["row"].count())
    keep = ["firm_id", "fiscal_year", "basis", "function_form", "field", "priority", "file", "file_order"]
    keep += ["file_date", "revision", "report", "row", "period_end"]
    long = mapped.melt(id_vars=keep, value_vars=list(AMOUNT_HEADERS), var_name="column", value_name="value")
    long = long.dropna(subset=["value"])
    long["years_back"] = long["column"].map(AMOUNT_HEADERS)
    long["fiscal_year"] = long["fiscal_year"].astype(int) - long["years_back"]
    # After a year-end change, a statement's prior-year columns cover other periods than the
    # 12-month steps their labels assume (전전기 of FY2024 to December is the year to March 2023).
    long["period_end_date"] = pd.to_datetime(long["period_end"].str.strip(), errors="coerce")
    first_change = {c["firm_id"]: pd.Timestamp(c["transition_period"][:10]) for c in reversed(changes)}
    change_start = pd.to_datetime(long["firm_id"].map(first_change), errors="coerce")
    changed_after = (long["period_end_date"] >= change_start).fillna(False).astype(bool)
    long = long[(long["years_back"] == 0) | ~changed_after]

    if mode == "separate":
        long = long[long["basis"] == "separate"]
    elif mode == "consolidated":
        long = long[long["basis"] == "consolidated"]
    else:
        has_consolidated = long.groupby(["firm_id", "fiscal_year"])["basis"].transform(
            lambda b: (b == "consolidated").any()
        )
        long = long[(long["basis"] == "consolidated") | ~has_consolidated]
    # Best source per firm-year-field: own-year figure, then the latest revision (정정) and the
    # most recent download, then mapping priority, then function form.
    order = ["firm_id", "fiscal_year", "field", "years_back", "revision", "file_date", "priority", "function_form"]
    long = long.sort_values(
        [*order, "file_order", "row"],
        ascending=[True, True, True, True, False, False, True, False, True, True],
        kind="stable",
    )
    best = long.drop_duplicates(["firm_id", "fiscal_year", "field"], keep="first")
    superseded = pd.concat([short, _superseded(long, best)], ignore_index=True)
    financials = best.pivot(index=["firm_id", "fiscal_year"], columns="field", values="value")
    financials = financials.reindex(columns=[f for f in FIELDS if f in financials.columns]).reset_index()
    basis = best.sort_values(["firm_id", "fiscal_year", "years_back"]).drop_duplicates(["firm_id", "fiscal_year"])
    period_end = [
        None if pd.isna(end) else f"{end - pd.DateOffset(years=int(back)):%Y-%m-%d}"
        for end, back in zip(basis["period_end_date"], basis["years_back"], strict=True)
    ]
    basis = basis.assign(period_end=period_end)
    financials = financials.merge(
        basis[["firm_id", "fiscal_year", "basis", "period_end"]], on=["firm_id", "fiscal_year"], how="left"
    )
    financials = financials.rename(columns={"basis": "statement_basis"})

    # Firm-years seen in any statement but without revenue: reported, not guessed.
    seen = lines[["firm_id", "fiscal_year", "name"]].drop_duplicates(["firm_id", "fiscal_year"])
    seen = seen.assign(fiscal_year=seen["fiscal_year"].astype(int))
    with_revenue = (
        financials.loc[financials["revenue"].notna(), ["firm_id", "fiscal_year"]]
        if "revenue" in financials
        else financials.iloc[:0]
    )
    unresolved = seen.merge(with_revenue, on=["firm_id", "fiscal_year"], how="left", indicator=True)
    unresolved = unresolved[unresolved["_merge"] == "left_only"].drop(columns="_merge")
    facts["firm_years_without_revenue"] = unresolved.sort_values(["firm_id", "fiscal_year"]).to_dict("records")
    filled = best[best["years_back"] > 0]
    facts["values_filled_from_prior_year_columns"] = {
        field: int(n) for field, n in filled.groupby("field").size().items()
    }
    facts["firm_years_filled_from_prior_year_columns"] = int(
        filled[["firm_id", "fiscal_year"]].drop_duplicates().shape[0]
    )
    financials = financials[financials["revenue"].notna()] if "revenue" in financials else financials
    financials = financials.assign(fiscal_year=financials["fiscal_year"].astype(int))
    for field in FIELDS:
        if field in financials:
            financials[field] = financials[field].round().astype("Int64")

    firms = _firms_from_lines(lines)
    firms = firms[firms["firm_id"].isin(financials["firm_id"])].reset_index(drop=True)
    switches = financials.groupby("firm_id")["statement_basis"].nunique()
    facts["firms_with_basis_switch"] = sorted(switches[switches > 1].index.tolist())
    columns = ["firm_id", "fiscal_year", "field", "file", "row", "column", "basis", "report"]
    sources = best[columns].reset_index(drop=True)
    facts["lines_superseded_by_rule"] = superseded["rule"].value_counts().to_dict() if len(superseded) else {}
    return firms, financials.reset_index(drop=True), {**facts, "sources": sources, "superseded": superseded}


def _firms_from_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per firm from its most recent line: name, KSIC (업종, 3 digits), market, year-end month."""
    latest = lines.sort_values(["firm_id", "fiscal_year", "file_order", "row"]).drop_duplicates("firm_id", keep="last")
    divisions = ksic_divisions()
    by_number = dict(zip(divisions["division_number"], divisions["division"], strict=True))
    ksic = latest["ksic"].str.strip()
    by_name = dict(zip(divisions["division"], divisions["division_name"], strict=True))
    division = ksic.str.slice(0, 2).map(by_number)
    return pd.DataFrame(
        {
            "firm_id": latest["firm_id"].to_numpy(),
            "name": latest["name"].str.strip().to_numpy(),
            "ksic_division": division.to_numpy(),
            "industry_name": latest["industry_name"].str.strip().to_numpy(),
            "market": latest["market"].str.strip().to_numpy(),
            "fiscal_year_end_month": pd.to_numeric(latest["fiscal_month"], errors="coerce").astype("Int64").to_numpy(),
            "ksic_code": ksic.to_numpy(),
            "ksic_division_name": division.map(by_name).to_numpy(),
        }
    )


def import_dart_bulk(source: Path, out_dir: Path, mode: StatementMode = "prefer-consolidated") -> dict:
    """Read every DART bulk file in ``source`` and write a panel directory to ``out_dir``."""
    started = time.perf_counter()
    source, out_dir = Path(source), Path(out_dir)
    paths = sorted(p for p in source.iterdir() if p.suffix.lower() == ".txt")
    if not paths:
        raise FileNotFoundError(f"{source}: no DART bulk files (*.txt) found")
    files: list[DartFile] = []
    unreadable: list[dict] = []
    for path in paths:
        try:
            files.append(read_dart_file(path))
        except (ValueError, UnicodeDecodeError) as exc:
            unreadable.append({"file": path.name, "reason": str(exc)})
    if not files:
        raise ValueError(f"{source}: none of the {len(paths)} files could be read: {unreadable}")
    firms, financials, facts = assemble(files, mode)
    sources = facts.pop("sources")
    superseded = facts.pop("superseded")
    quarantine = pd.concat([f.quarantine for f in files], ignore_index=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    firms.to_csv(out_dir / "firms.csv", index=False, encoding="utf-8")
    financials.to_csv(out_dir / "financials.csv", index=False, encoding="utf-8")
    quarantine.to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8")
    sources.to_csv(out_dir / "sources.csv", index=False, encoding="utf-8")
    superseded.to_csv(out_dir / "superseded.csv", index=False, encoding="utf-8")
    per_file = [
        {
            "file": f.path.name,
            "sha256": file_sha256(f.path),
            "lines_read": f.lines_read,
            "lines_usable": len(f.lines),
            "lines_quarantined": len(f.quarantine),
        }
        for f in files
    ]
    years = financials["fiscal_year"]
    report = {
        "stage": "import_dart_bulk",
        "code_version": code_version(),
        "statements": mode,
        "element_map_version": table_version("dart_element_map").version,
        "files": per_file,
        "unreadable_files": unreadable,
        "firms": int(firms.shape[0]),
        "firm_years": int(financials.shape[0]),
        "firm_years_with_revenue": int(financials["revenue"].notna().sum()),
        "fiscal_years": [int(years.min()), int(years.max())] if len(years) else [],
        "firm_years_by_year": {int(k): int(v) for k, v in years.value_counts().sort_index().items()},
        "firm_years_by_basis": financials["statement_basis"].value_counts().to_dict(),
        "quarantined_lines_by_rule": quarantine["rule"].value_counts().to_dict() if len(quarantine) else {},
        **facts,
    }
    write_json(out_dir / "import_report.json", report)
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report
