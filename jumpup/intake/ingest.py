"""Intake: read a panel or application-round directory, keep good rows, quarantine the rest.

Reads ``firms``, ``financials`` and, for a round, ``applications`` and ``audits`` (CSV in UTF-8 or
cp949, Parquet or .xlsx), normalises amounts to won, and writes typed Parquet tables plus
``quarantine.csv``. For every file, rows read = rows accepted + rows quarantined; the run fails
only when a required file or column is missing or a file cannot be read at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from jumpup.frames import is_known
from jumpup.intake import contracts
from jumpup.intake.contracts import APPLICATIONS, AUDITS, FINANCIALS, FIRMS, UNIT_MULTIPLIERS, FileContract
from jumpup.intake.quarantine import (
    FIRM_OPTIONAL_VALUE_RULES,
    OPTIONAL_VALUE_RULES,
    ROW,
    demote_optional_issues,
    duplicate_key_issues,
    make_issues,
    no_issues,
    orphan_issues,
    parse_table,
    schema_issues,
    split_rows,
)
from jumpup.intake.readers import InputFileError, RawTable, find_input, read_raw_table
from jumpup.notices import Notice
from jumpup.provenance import code_version, file_sha256, write_json
from jumpup.reference import audit_rubric, ksic_divisions, ksic_known_codes
from jumpup.settings import IngestSettings


@dataclass
class FileReport:
    """Accounting for one input file: every row read is accepted or quarantined."""

    table: str
    path: str
    sha256: str
    encoding: str
    rows_read: int
    accepted: int
    quarantined: int
    blank_rows_skipped: int
    units: dict[str, str] = field(default_factory=dict)  # units written in the headers
    renamed_columns: dict[str, str] = field(default_factory=dict)
    title_row_unit: str | None = None  # a unit from a title row above the header ('(단위: 천원)')
    amount_units: dict[str, str] = field(default_factory=dict)  # the unit each amount column was read in

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined


@dataclass
class IngestResult:
    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    reports: list[FileReport]
    warnings: list[str]
    max_fiscal_year: int
    flags: pd.DataFrame = field(default_factory=no_issues)


def _unit_multipliers(raw: RawTable, contract: FileContract, declared: str) -> dict[str, float]:
    """Header annotation wins ('매출액(천원)'), then a title row ('(단위: 천원)'), then the declared unit;
    'auto' means won."""
    return {c: UNIT_MULTIPLIERS[unit] for c, unit in _amount_units(raw, contract, declared).items()}


def _amount_units(raw: RawTable, contract: FileContract, declared: str) -> dict[str, str]:
    """The unit each of the contract's amount columns is read in, by the precedence of ``_unit_multipliers``."""
    default = raw.table_unit or ("won" if declared == "auto" else declared)
    return {c: raw.column_units.get(c, default) for c in contract.amounts}


def _require_columns(raw: RawTable, contract: FileContract) -> None:
    columns = set(raw.frame.columns)
    missing = [c for c in contract.required if c not in columns and contract.derived_from.get(c) not in columns]
    if missing:
        present = ", ".join(c for c in raw.frame.columns if c != ROW)
        raise InputFileError(
            f"{raw.path}: required column(s) {', '.join(missing)} missing. Columns found: {present}. "
            f"Rename the header(s) or see docs/data_contract.md for accepted names."
        )


def _bad_line_issues(raw: RawTable, file: str) -> pd.DataFrame:
    if not raw.bad_lines:
        return no_issues()
    rows, texts, whys = zip(*raw.bad_lines, strict=True)
    return make_issues(file, list(rows), None, list(texts), "malformed_line", [f"cannot split line: {w}" for w in whys])


def _load(directory: Path, contract: FileContract, required: bool) -> RawTable | None:
    path = find_input(directory, contract.name)
    if path is None:
        if required:
            raise InputFileError(f"{directory}: required file '{contract.name}' (.csv, .xlsx or .parquet) not found")
        return None
    raw = read_raw_table(path)
    _require_columns(raw, contract)
    return raw


def _normalise_code(code: pd.Series, known: frozenset[str]) -> tuple[pd.Series, pd.Series]:
    """KSIC codes in the shapes they arrive in: '[26429]', 'C2642', '107.0', '26 429', and a code
    whose leading 0 Excel dropped ('1110' for 01110, rice farming) when only the padded form exists.

    Returns (normalised codes, mask of codes whose leading zero was restored). A code that is still
    unknown is returned as written (after clean-up) and caught by the contract.
    """
    text = code.astype("string").map(lambda v: unicodedata.normalize("NFKC", v), na_action="ignore").astype("string")
    text = text.str.replace(r"[\s\[\]\(\)]", "", regex=True)
    text = text.str.replace(r"^([0-9]+)\.0+$", r"\1", regex=True)  # Excel float '107.0'
    text = text.str.replace(r"^[A-Za-z](?=[0-9])", "", regex=True)  # section letter 'C2642'
    text = text.mask(text.eq(""))
    unknown = text.notna() & ~text.isin(known)
    padded = ("0" + text).where(unknown)
    restore = (unknown & padded.isin(known)).fillna(False).astype(bool)
    return text.where(~restore, padded), restore


def normalise_industry(raw: pd.DataFrame, file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accept the division as 'C26', '26', 'C 26' or '3' (for A03), the code in the shapes of
    ``_normalise_code``, and derive the division from a known code when it is empty
    (docs/data_contract.md). Works on the text table before parsing so that a derived division
    counts for the required-column check.

    Returns (the text table normalised, flags for codes whose leading zero was restored).
    """
    frame = raw.copy()
    if "ksic_division" not in frame:  # a file with the code alone: every division is derived from it
        frame["ksic_division"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    divisions = ksic_divisions()
    by_number = dict(zip(divisions["division_number"], divisions["division"], strict=True))
    division = (
        frame["ksic_division"].astype("string").map(lambda v: unicodedata.normalize("NFKC", v), na_action="ignore")
    )
    division = division.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    division = division.str.replace(r"^([A-Z]?[0-9]+)\.0+$", r"\1", regex=True)
    numeric_only = division.str.fullmatch(r"\d{1,2}", na=False)
    division = division.where(~numeric_only, division.str.zfill(2).map(by_number).fillna(division))
    flags = no_issues()
    if "ksic_code" in frame:
        known = ksic_known_codes()
        code, restored = _normalise_code(frame["ksic_code"], known)
        if restored.any():
            flags = make_issues(
                file,
                frame.loc[restored, ROW],
                "ksic_code",
                frame.loc[restored, "ksic_code"],
                "leading_zero_restored",
                "KSIC code read as " + code[restored].astype(str) + " (a leading 0 was lost, e.g. by Excel)",
            )
        frame["ksic_code"] = code.astype("object").where(code.notna(), None)
        derived = code.where(code.isin(known)).str.slice(0, 2).map(by_number)
        division = division.where(division.notna(), derived)
    frame["ksic_division"] = division.astype("object").where(division.notna(), None)
    return frame, flags


def restore_leading_zeros(raws: dict[str, RawTable]) -> pd.DataFrame:
    """One firm written '5930' in one file and '005930' in another is one firm: the zeros were lost.

    Excel turns a stock or business number typed as text into a number and drops its leading
    zeros. Among all-digit firm_ids that differ only in leading zeros across the input files, the
    longest form is kept and every shorter one rewritten to it (in the raw text tables, in place);
    each rewritten row is flagged ``leading_zeros_restored``. Returns the flags.
    """
    forms: dict[str, set[str]] = {}
    for raw in raws.values():
        ids = raw.frame["firm_id"].dropna().astype(str)
        for value in ids[ids.str.fullmatch(r"\d+")].unique():
            forms.setdefault(value.lstrip("0"), set()).add(value)
    canonical = {form: max(group, key=len) for group in forms.values() if len(group) > 1 for form in group}
    canonical = {form: full for form, full in canonical.items() if form != full}
    if not canonical:
        return no_issues()
    parts = [no_issues()]
    for raw in raws.values():
        ids = raw.frame["firm_id"]
        hit = ids.isin(list(canonical)).fillna(False).astype(bool)
        if not hit.any():
            continue
        restored = ids[hit].map(canonical)
        parts.append(
            make_issues(
                raw.path.name,
                raw.frame.loc[hit, ROW],
                "firm_id",
                ids[hit],
                "leading_zeros_restored",
                "firm_id read as " + restored + ", the form another input file gives it (leading zeros lost)",
            )
        )
        raw.frame.loc[hit, "firm_id"] = restored
    return pd.concat(parts, ignore_index=True)


def _firm_issues(
    frame: pd.DataFrame, file: str, settings: IngestSettings, max_year: int, raw: pd.DataFrame
) -> pd.DataFrame:
    known_divisions = frozenset(ksic_divisions()["division"])
    schema = contracts.firms_schema(known_divisions, ksic_known_codes(), max_year, settings.min_founded_year)
    parts = [schema_issues(frame, schema, file, raw)]
    parts.append(duplicate_key_issues(frame, ["firm_id"], file, [c for c in frame.columns if c != ROW]))
    return pd.concat(parts, ignore_index=True)


def industry_code_flags(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """KSIC code outside the stated division: kept (sources often disagree), but flagged for review."""
    if "ksic_code" not in frame:
        return no_issues()
    division_number = frame["ksic_division"].astype("string").str.slice(1, 3)
    code_prefix = frame["ksic_code"].astype("string").str.slice(0, 2)
    mismatch = (frame["ksic_code"].notna() & frame["ksic_division"].notna() & (code_prefix != division_number)).fillna(
        False
    )
    if not mismatch.any():
        return no_issues()
    return make_issues(
        file,
        frame.loc[mismatch, ROW],
        "ksic_code",
        frame.loc[mismatch, "ksic_code"],
        "industry_code_mismatch",
        "KSIC code is outside division " + frame.loc[mismatch, "ksic_division"].astype(str) + "; division kept",
    )


def _financial_issues(
    frame: pd.DataFrame, file: str, settings: IngestSettings, max_year: int, raw: pd.DataFrame
) -> pd.DataFrame:
    schema = contracts.financials_schema(
        max_year,
        settings.min_fiscal_year,
        max_amount_won=settings.max_amount_won,
        max_counts={"employees": settings.max_employees, "patents_granted": settings.max_patents_granted},
    )
    parts = [schema_issues(frame, schema, file, raw)]
    if {"total_assets", "total_liabilities", "total_equity"} <= set(frame.columns):
        assets, liabilities, equity = frame["total_assets"], frame["total_liabilities"], frame["total_equity"]
        gap = (assets - (liabilities + equity)).abs()
        off = assets.notna() & liabilities.notna() & equity.notna() & (gap > settings.balance_tolerance * assets.abs())
        if off.any():
            parts.append(
                make_issues(
                    file,
                    frame.loc[off, ROW],
                    "total_assets",
                    assets[off],
                    "balance_mismatch",
                    "liabilities + equity = "
                    + (liabilities[off] + equity[off]).map("{:,.0f}".format)
                    + f" is more than {settings.balance_tolerance:.0%} away from total assets",
                )
            )
    if {"export_revenue", "revenue"} <= set(frame.columns):
        over = (
            frame["export_revenue"].notna()
            & frame["revenue"].notna()
            & (frame["export_revenue"] > frame["revenue"] * 1.0001)
        )
        if over.any():
            parts.append(
                make_issues(
                    file,
                    frame.loc[over, ROW],
                    "export_revenue",
                    frame.loc[over, "export_revenue"],
                    "export_exceeds_revenue",
                    "export revenue is larger than revenue",
                )
            )
    if "currency" in frame:
        currency = frame["currency"].astype("string").str.strip().str.upper()
        foreign = (currency.notna() & ~currency.isin(contracts.WON_CURRENCIES)).fillna(False).astype(bool)
        if foreign.any():
            parts.append(
                make_issues(
                    file,
                    frame.loc[foreign, ROW],
                    "currency",
                    frame.loc[foreign, "currency"],
                    "currency_not_krw",
                    "amounts in another currency than won cannot be read as won",
                )
            )
    if "statement_basis" in frame:
        basis = frame["statement_basis"].astype("string").str.strip().str.lower()
        unknown = (basis.notna() & ~basis.isin(contracts.STATEMENT_BASES)).fillna(False).astype(bool)
        if unknown.any():
            parts.append(
                make_issues(
                    file,
                    frame.loc[unknown, ROW],
                    "statement_basis",
                    frame.loc[unknown, "statement_basis"],
                    "unknown_statement_basis",
                    "statement_basis must be consolidated or separate",
                )
            )
    parts.append(duplicate_key_issues(frame, ["firm_id", "fiscal_year"], file, [c for c in frame.columns if c != ROW]))
    return pd.concat(parts, ignore_index=True)


def _audit_issues(frame: pd.DataFrame, file: str, settings: IngestSettings, raw: pd.DataFrame) -> pd.DataFrame:
    rubric = audit_rubric()
    schema = contracts.audits_schema(list(rubric["items"]), settings.audit_score_min, settings.audit_score_max)
    parts = [schema_issues(frame, schema, file, raw)]
    parts.append(
        duplicate_key_issues(frame, ["firm_id", "evaluator_id", "item"], file, [c for c in frame.columns if c != ROW])
    )
    return pd.concat(parts, ignore_index=True)


def _application_issues(frame: pd.DataFrame, file: str, raw: pd.DataFrame) -> pd.DataFrame:
    parts = [schema_issues(frame, contracts.applications_schema(), file, raw)]
    if "recommending_investor" in frame:
        incomplete = frame["recommending_investor"].notna() & (
            frame.get("investor_type", pd.Series(None, index=frame.index)).isna()
        )
        if incomplete.any():
            parts.append(
                make_issues(
                    file,
                    frame.loc[incomplete, ROW],
                    "investor_type",
                    None,
                    "missing_required",
                    "a recommendation needs investor_type (VC, CVC or PE)",
                )
            )
    parts.append(duplicate_key_issues(frame, ["firm_id", "round_id"], file, [c for c in frame.columns if c != ROW]))
    return pd.concat(parts, ignore_index=True)


def _finish(
    raw: RawTable,
    contract: FileContract,
    parsed_frame: pd.DataFrame,
    issues: pd.DataFrame,
    file: str,
    amount_units: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, FileReport]:
    issues = pd.concat([_bad_line_issues(raw, file), issues], ignore_index=True)
    accepted, quarantined = split_rows(parsed_frame, issues)
    ordered = [c for c in contract.columns if c in accepted.columns]
    extra = sorted(c for c in accepted.columns if c not in ordered)
    accepted = accepted[ordered + extra]
    report = FileReport(
        table=contract.name,
        path=str(raw.path),
        sha256=file_sha256(raw.path),
        encoding=raw.encoding,
        rows_read=raw.rows_read,
        accepted=len(accepted),
        quarantined=len(quarantined),
        blank_rows_skipped=raw.blank_rows,
        units={k: v for k, v in raw.column_units.items()},
        renamed_columns=raw.renamed,
        title_row_unit=raw.table_unit,
        amount_units={c: u for c, u in (amount_units or {}).items() if c in raw.frame.columns},
    )
    if not report.balanced:  # an internal error, never a user error
        raise AssertionError(f"{raw.path}: {report.rows_read} read != {report.accepted} + {report.quarantined}")
    return accepted, quarantined, report


def evaluator_roles_named(raw: RawTable) -> RawTable:
    """The audit file with evaluator roles written in Korean or in words ('기술전문가', '지원기관
    심사역', 'growth expert') read as the rubric's role ids; any other value is left for the contract.

    The labels are the rubric's own (``data/reference``, ``roles``) and the contract's short forms
    (``contracts.EVALUATOR_ROLE_KO``). Returns a new ``RawTable`` when a label was renamed.
    """
    if "evaluator_role" not in raw.frame:
        return raw
    labels: dict[str, str] = {}
    for role, names in audit_rubric()["roles"].items():
        for label in (role, names.get("ko"), names.get("en"), contracts.EVALUATOR_ROLE_KO.get(role)):
            if label:
                labels[_role_key(label)] = role
    written = raw.frame["evaluator_role"]
    renamed = {
        value: labels[_role_key(value)]
        for value in written.dropna().unique().tolist()
        if _role_key(value) in labels and labels[_role_key(value)] != value
    }
    if not renamed:  # every role already an id (or unknown): the table as it is
        return raw
    frame = raw.frame.assign(evaluator_role=written.replace(renamed))
    return dataclasses.replace(raw, frame=frame)


def _role_key(label: str) -> str:
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", str(label))).lower()


def _check_linked(
    raw: RawTable,
    contract: FileContract,
    file_issues: Callable[[pd.DataFrame, str, pd.DataFrame], pd.DataFrame],
    known_ids: pd.Series,
    parent: str,
) -> tuple[pd.DataFrame, pd.DataFrame, FileReport]:
    """A file whose rows belong to firms of another file (applications, audits): parsed, checked by
    ``file_issues`` and for orphans against ``known_ids`` of ``parent``; (accepted, quarantined, report)."""
    file = raw.path.name
    parsed = parse_table(raw.frame, contract, file, {})
    issues = pd.concat(
        [
            parsed.issues,
            file_issues(parsed.frame, file, raw.frame),
            orphan_issues(parsed.frame, known_ids, file, parent),
        ],
        ignore_index=True,
    )
    return _finish(raw, contract, parsed.frame, issues, file)


@dataclass
class RawInputs:
    """Every input file of a panel or round directory read as text, before any row is checked.

    ``raws``: ``firms``, ``financials`` and, when present, ``applications`` and ``audits``
    (``read_raw_table``), with firm ids' lost leading zeros already restored across the files;
    ``flags``: the rows so restored (``restore_leading_zeros``).
    """

    raws: dict[str, RawTable]
    flags: pd.DataFrame


@dataclass
class PanelChecked:
    """A directory with its panel tables checked and the round's field audit still to check.

    ``result``: firms, financials and applications accepted and quarantined, with the directory's
    warnings and flags whole (the audit file adds none); ``check_audits`` completes it.
    """

    result: IngestResult
    quarantines: list[pd.DataFrame]
    raw_audits: RawTable | None


def require_directory(directory: Path) -> Path:
    """``directory`` as a ``Path``; raises ``InputFileError`` (one line) when it is not a directory.

    A command calls it before it loads a model, so a mistyped input folder is named as such
    rather than hidden behind a model error.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(f"{directory}: not a directory")
    return directory


def read_inputs(directory: Path, round_mode: bool = False) -> RawInputs:
    """Read a panel (firms, financials) or a round (plus applications, audits) directory as text.

    Raises ``InputFileError`` (one line) for a missing directory, a missing required file or
    column, or a file that cannot be read at all; rows are not checked here (``check_panel``).
    """
    directory = require_directory(directory)
    raws = {
        "firms": _load(directory, FIRMS, required=True),
        "financials": _load(directory, FINANCIALS, required=True),
        "applications": _load(directory, APPLICATIONS, required=round_mode),
        "audits": _load(directory, AUDITS, required=False)
        if round_mode or (directory / "audits.csv").exists()
        else None,
    }
    raws = {name: raw for name, raw in raws.items() if raw is not None}
    return RawInputs(raws, restore_leading_zeros(raws))


def check_panel(inputs: RawInputs, settings: IngestSettings) -> PanelChecked:
    """Check the rows of the firms, financials and applications files against their contracts.

    Rejected rows go to quarantine with the reason; the audit file, when there is one, is left
    for ``check_audits`` (nothing in the panel depends on it), so a round can build features
    while the largest file is still being checked.
    """
    max_year = settings.max_fiscal_year or dt.date.today().year
    warnings: list[str] = []
    tables: dict[str, pd.DataFrame] = {}
    flags: list[pd.DataFrame] = [inputs.flags]
    quarantines: list[pd.DataFrame] = []
    reports: list[FileReport] = []
    raw_firms, raw_financials = inputs.raws["firms"], inputs.raws["financials"]
    raw_applications = inputs.raws.get("applications")

    # firms
    file = raw_firms.path.name
    text_frame, industry_flags = normalise_industry(raw_firms.frame, file)
    parsed = parse_table(text_frame, FIRMS, file, {})
    issues = pd.concat(
        [parsed.issues, _firm_issues(parsed.frame, file, settings, max_year, raw_firms.frame)], ignore_index=True
    )
    frame, issues, dropped = demote_optional_issues(parsed.frame, issues, FIRMS.required, FIRM_OPTIONAL_VALUE_RULES)
    firms, quarantined, report = _finish(raw_firms, FIRMS, frame, issues, file)
    kept = ~frame[ROW].isin(quarantined["row"])
    flags.append(industry_flags[industry_flags["row"].isin(frame.loc[kept, ROW])])
    flags.append(dropped)
    flags.append(industry_code_flags(frame[kept], file))
    tables["firms"] = firms
    quarantines.append(quarantined)
    reports.append(report)

    # financials
    file = raw_financials.path.name
    multipliers = _unit_multipliers(raw_financials, FINANCIALS, settings.amount_unit)
    parsed = parse_table(raw_financials.frame, FINANCIALS, file, multipliers)
    issues = pd.concat(
        [
            parsed.issues,
            _financial_issues(parsed.frame, file, settings, max_year, raw_financials.frame),
            orphan_issues(parsed.frame, firms["firm_id"], file, "firms"),
        ],
        ignore_index=True,
    )
    frame, issues, dropped = demote_optional_issues(parsed.frame, issues, FINANCIALS.required, OPTIONAL_VALUE_RULES)
    amount_units = _amount_units(raw_financials, FINANCIALS, settings.amount_unit)
    financials, quarantined, report = _finish(raw_financials, FINANCIALS, frame, issues, file, amount_units)
    flags.append(dropped)
    tables["financials"] = financials.sort_values(["firm_id", "fiscal_year"], kind="stable").reset_index(drop=True)
    quarantines.append(quarantined)
    reports.append(report)
    if len(financials) and financials["revenue"].median() < settings.implausible_median_revenue_won:
        median = financials["revenue"].median()
        warnings.append(
            Notice(
                f"{file}: median revenue is {median:,.0f} won, implausibly small for the "
                f"program's firms; if amounts are in 천원 or 백만원, declare it with --amount-unit or a header such as "
                f"'revenue(천원)'",
                f"{file}: 매출액 중앙값이 {median:,.0f}원으로 지원 대상 기업으로 보기에 지나치게 작습니다. 금액 단위가 "
                f"천원이나 백만원이면 --amount-unit 옵션이나 '매출액(천원)' 같은 머리글로 밝혀 주십시오.",
            )
        )
    without = ~is_known(firms["firm_id"], financials["firm_id"])
    without_statements = sorted(firms.loc[without, "firm_id"].unique().tolist())
    if without_statements:
        warnings.append(
            Notice(
                f"{len(without_statements)} accepted firm(s) have no accepted financial rows, "
                f"e.g. {without_statements[:5]}",
                f"채택된 기업 {len(without_statements)}곳에 채택된 재무제표 행이 없습니다 "
                f"(예: {', '.join(without_statements[:5])}).",
            )
        )

    if raw_applications is not None:
        applications, quarantined, report = _check_linked(
            raw_applications, APPLICATIONS, _application_issues, firms["firm_id"], "firms"
        )
        tables["applications"] = applications
        quarantines.append(quarantined)
        reports.append(report)
    flag_table = pd.concat(flags, ignore_index=True)
    if len(flag_table):
        warnings.append(
            Notice(
                f"{len(flag_table)} accepted row(s) flagged for review (see flags.csv)",
                f"채택된 행 중 {len(flag_table)}건은 검토가 필요합니다 (flags.csv 참조).",
            )
        )
    quarantine = pd.concat(quarantines, ignore_index=True) if quarantines else pd.DataFrame()
    result = IngestResult(tables, quarantine, reports, warnings, max_year, flag_table)
    return PanelChecked(result, quarantines, inputs.raws.get("audits"))


def check_audits(checked: PanelChecked, settings: IngestSettings) -> IngestResult:
    """The directory's ``IngestResult`` whole: ``checked`` with the field-audit file's rows checked.

    An audit row of a firm that did not apply (or, outside a round, that is not in the firms
    file) is quarantined as an orphan. Returns the same result as ``ingest_directory``.
    """
    result = checked.result
    raw_audits = checked.raw_audits
    if raw_audits is None:
        return result
    tables, quarantines, reports = dict(result.tables), list(checked.quarantines), list(result.reports)
    firms = tables["firms"]
    applicants = tables["applications"]["firm_id"] if "applications" in tables else firms["firm_id"]
    parent = "applications" if "applications" in tables else "firms"
    raw_audits = evaluator_roles_named(raw_audits)

    def issues_of(frame: pd.DataFrame, file: str, raw: pd.DataFrame) -> pd.DataFrame:
        return _audit_issues(frame, file, settings, raw)

    audits, quarantined, report = _check_linked(raw_audits, AUDITS, issues_of, applicants, parent)
    tables["audits"] = audits
    quarantines.append(quarantined)
    reports.append(report)

    quarantine = pd.concat(quarantines, ignore_index=True)
    return IngestResult(tables, quarantine, reports, result.warnings, result.max_fiscal_year, result.flags)


def ingest_directory(directory: Path, settings: IngestSettings, round_mode: bool = False) -> IngestResult:
    """Validate a panel (firms, financials) or a round (plus applications, audits) directory.

    ``read_inputs``, then ``check_panel`` and ``check_audits``; raises ``InputFileError`` as
    ``read_inputs`` does. For every file, rows read = rows accepted + rows quarantined.
    """
    return check_audits(check_panel(read_inputs(directory, round_mode), settings), settings)


INGEST_REPORT = "ingest_report.json"


def is_ingested(directory: Path) -> bool:
    """True when ``directory`` holds the output of the ingest stage (``write_outputs``)."""
    return (Path(directory) / INGEST_REPORT).is_file()


def load_ingested(directory: Path) -> IngestResult:
    """The ingest stage's output read back: typed Parquet tables, quarantine, flags and file accounting.

    Later stages read this instead of the raw files, so every raw file is read and validated once.
    Raises ``InputFileError`` when the directory is not an ingest output or a table is missing.
    """
    directory = Path(directory)
    if not is_ingested(directory):
        raise InputFileError(f"{directory}: not an ingested directory (no {INGEST_REPORT}); run 'jumpup ingest' first")
    report = json.loads((directory / INGEST_REPORT).read_text(encoding="utf-8"))
    files = [FileReport(**f) for f in report["files"]]
    tables = {}
    for name in dict.fromkeys(f.table for f in files):
        path = directory / f"{name}.parquet"
        if not path.is_file():
            raise InputFileError(f"{path}: table missing from the ingested directory; run 'jumpup ingest' again")
        tables[name] = pd.read_parquet(path)
    quarantine = pd.read_csv(directory / "quarantine.csv", dtype=str, keep_default_na=False)
    flags = pd.read_csv(directory / "flags.csv", dtype=str, keep_default_na=False)
    warnings = [
        Notice(en, ko) for en, ko in zip(report["warnings"], report.get("warnings_ko", report["warnings"]), strict=True)
    ]
    return IngestResult(tables, quarantine, files, warnings, report["max_fiscal_year"], flags)


def open_panel(directory: Path, settings: IngestSettings, round_mode: bool = False) -> IngestResult:
    """The panel behind ``--panel DIR``: an ingested directory is read as it is; a raw one is ingested.

    Commands accept either, so a user can point at the files they have; ``dvc.yaml`` chains the
    stages on the ingested directories, so there every raw file is read once.
    """
    return check_audits(open_checked_panel(directory, settings, round_mode), settings)


def open_checked_panel(directory: Path, settings: IngestSettings, round_mode: bool = False) -> PanelChecked:
    """``open_panel`` in two steps: the panel checked now, the field-audit file by ``check_audits``.

    An ingested directory comes whole (its audits already checked); a raw one is read and its
    panel tables checked (``read_inputs``, ``check_panel``). Raises ``InputFileError`` as they do.
    """
    if is_ingested(directory):
        result = load_ingested(directory)
        return PanelChecked(result, [result.quarantine], None)
    return check_panel(read_inputs(Path(directory), round_mode=round_mode), settings)


def input_sha256(checked: PanelChecked) -> dict[str, str]:
    """SHA-256 of each input file, by table, in reading order, the audit file's included."""
    hashes = {r.table: r.sha256 for r in checked.result.reports}
    if checked.raw_audits is not None:
        hashes["audits"] = file_sha256(checked.raw_audits.path)
    return hashes


def write_outputs(result: IngestResult, out_dir: Path, started: float | None = None) -> dict:
    """Write typed Parquet tables, quarantine.csv and ingest_report.json; return the report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, frame in result.tables.items():
        frame.to_parquet(out_dir / f"{name}.parquet", index=False)
    for stale in {"applications", "audits"} - set(result.tables):
        (out_dir / f"{stale}.parquet").unlink(missing_ok=True)
    result.quarantine.to_csv(out_dir / "quarantine.csv", index=False, encoding="utf-8")
    result.flags.to_csv(out_dir / "flags.csv", index=False, encoding="utf-8")
    report = {
        "stage": "ingest",
        "code_version": code_version(),
        "max_fiscal_year": result.max_fiscal_year,
        "files": [asdict(r) for r in result.reports],
        "quarantine_by_rule": result.quarantine["rule"].value_counts().sort_index().to_dict()
        if len(result.quarantine)
        else {},
        "flags_by_rule": result.flags["rule"].value_counts().sort_index().to_dict() if len(result.flags) else {},
        "warnings": result.warnings,
        "warnings_ko": [getattr(w, "ko", str(w)) for w in result.warnings],
    }
    write_json(out_dir / "ingest_report.json", report)
    if started is not None:
        write_json(out_dir / "timings.json", {"ingest_seconds": round(time.perf_counter() - started, 3)})
    return report
