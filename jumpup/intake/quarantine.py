"""Row-level validation that loses nothing: every row is accepted or quarantined with a reason.

Pure functions on DataFrames. Each raw table carries ``_row`` (the row number in its file); each
problem found becomes an *issue* (file, row, column, value, rule, message). A row with at least one
issue is quarantined once, under its first issue, with the rest listed; all others are accepted.
The invariant ``rows read == accepted + quarantined`` is checked for every file.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

from jumpup.frames import is_known
from jumpup.intake.contracts import FileContract

ROW = "_row"
ISSUE_COLUMNS = ["file", "row", "column", "value", "rule", "message"]
QUARANTINE_COLUMNS = [*ISSUE_COLUMNS, "other_problems"]
NEGATIVE_MARKERS = ("△", "▲", "−", "－")  # Korean statements print negatives as △1,234
NIL_TOKEN = "-"  # a dash in a Korean statement is nil (0), not "unknown"
# Problems in an optional column that drop the value (null it and flag the row in flags.csv)
# instead of quarantining the whole row: a bad founding date must not take a firm's statements.
OPTIONAL_VALUE_RULES = frozenset(
    {"non_numeric", "non_integer", "bad_date", "bad_month", "bad_flag", "unknown_industry_code"}
)
FIRM_OPTIONAL_VALUE_RULES = OPTIONAL_VALUE_RULES | {"future_year", "implausible_year"}
RULE_MESSAGES = {
    "negative_value": "'{column}' must not be negative",
    "future_fiscal_year": "fiscal year is after the latest allowed year",
    "future_year": "'{column}' is in the future",
    "implausible_year": "'{column}' is implausibly early",
    "unknown_industry_code": "'{column}' is not a KSIC code (9th or 10th revision)",
    "bad_firm_id": "firm_id must be ASCII letters and digits, then . _ -, at most 64 characters",
    "bad_month": "'{column}' must be a month 1-12",
    "bad_flag": "'{column}' must be 0 or 1",
    "unknown_investor_type": "investor_type must be VC, CVC or PE",
    "unknown_investment_stage": "investment_stage is not a known stage",
    "unknown_evaluator_role": "evaluator_role must be technology_expert, growth_expert or agency_examiner",
    "unknown_rubric_item": "item is not in the audit rubric",
    "score_out_of_range": "score is outside the rubric scale",
    "missing_required": "required column '{column}' is empty",
    "implausible_magnitude": "'{column}' is implausibly large (above the ingest.max_* limit); check the unit",
}


def make_issues(file: str, rows, column: str | None, values, rule: str, message) -> pd.DataFrame:
    """Build an issue table; ``values`` and ``message`` may be scalars or aligned sequences."""
    rows = np.asarray(rows, dtype="int64")
    n = len(rows)

    def broadcast(value):
        if isinstance(value, (pd.Series, np.ndarray, list)):
            return [None if pd.isna(v) else str(v) for v in value]
        return [value] * n

    return pd.DataFrame(
        {
            "file": [file] * n,
            "row": rows,
            "column": [column] * n,
            "value": broadcast(values),
            "rule": [rule] * n,
            "message": broadcast(message),
        },
        columns=ISSUE_COLUMNS,
    )


def no_issues() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in ISSUE_COLUMNS})


def parse_numbers(text: pd.Series) -> pd.Series:
    """Parse amounts as Korean spreadsheets write them: '1,234', '(1,234)', '（1,234）', '△1,234',
    '▲1,234', '−1,234' (U+2212), '1,234-' (trailing minus), '1234원', full-width digits.

    Plain numbers, the common case, are parsed directly; only values that fail go through the
    string clean-up, which is the slow part on large files. Anything still unreadable is NaN and
    the caller reports it; a sign is never dropped.
    """
    direct = _plain_numbers(text)
    retry = direct.isna() & text.notna()
    if not retry.any():
        return direct
    cleaned = text[retry].astype("string").map(lambda v: unicodedata.normalize("NFKC", v), na_action="ignore")
    cleaned = cleaned.astype("string").str.replace(r"[,\s원₩]", "", regex=True)
    negative_paren = cleaned.str.match(r"^\(.*\)$", na=False)
    cleaned = cleaned.where(~negative_paren, "-" + cleaned.str.slice(1, -1))
    for marker in NEGATIVE_MARKERS:
        cleaned = cleaned.str.replace(marker, "-", regex=False)
    trailing_minus = cleaned.str.fullmatch(r"\d[\d.]*-", na=False)
    cleaned = cleaned.where(~trailing_minus, "-" + cleaned.str.slice(0, -1))
    cleaned = cleaned.str.replace(r"^--", "", regex=True)  # '-(1,234)' is still one negative
    direct[retry] = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    return direct


# A number as every parser reads it alike: optional sign, digits with at most one point, exponent.
_PLAIN_NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"


def _plain_numbers(text: pd.Series) -> pd.Series:
    """float64 of the cells written as plain numbers (Arrow's parser); NaN for every other cell."""
    try:
        strings = pyarrow.array(text.array if text.dtype != object else text.to_numpy(), type=pyarrow.string())
        plain = pc.fill_null(pc.match_substring_regex(strings, _PLAIN_NUMBER), False)
        values = pc.cast(pc.if_else(plain, strings, pyarrow.scalar(None, pyarrow.string())), pyarrow.float64())
    except (pyarrow.ArrowException, TypeError, ValueError):  # cells that are not text: the general parser
        return pd.to_numeric(text, errors="coerce").astype("float64")
    return pd.Series(values.to_numpy(zero_copy_only=False), index=text.index, dtype="float64")


def demote_optional_issues(
    frame: pd.DataFrame, issues: pd.DataFrame, required: tuple[str, ...], rules: frozenset[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split issues in optional columns off as flags and null the value they are about.

    A value that cannot be read in an optional column (``ksic_code`` written ``46712.0`` after
    normalising fails, a date in a wrong format, a flag of 2) loses only that value: the row is kept,
    the field set to missing and the problem listed in ``flags.csv`` with file, row, column, value
    and rule. A row quarantined for another reason keeps these problems in ``other_problems``.

    Returns (frame with the values nulled, issues that still quarantine, flags).
    """
    if issues.empty:
        return frame, issues, no_issues()
    optional = issues["column"].notna() & ~issues["column"].isin(required) & issues["rule"].isin(rules)
    optional &= issues["column"].isin(frame.columns)
    hard = issues.loc[~optional]
    soft = issues.loc[optional]
    if soft.empty:
        return frame, issues, no_issues()
    on_rejected = soft["row"].isin(hard["row"])
    frame = frame.copy()
    for column, rows in soft.loc[~on_rejected].groupby("column")["row"]:
        mask = frame[ROW].isin(rows)
        frame[column] = (
            frame[column].astype("object").where(~mask, None)
            if frame[column].dtype == object
            else (frame[column].mask(mask))
        )
    flags = soft.loc[~on_rejected].copy()
    flags["message"] = flags["message"].astype(str) + "; the value is dropped and the row kept"
    remaining = pd.concat([hard, soft.loc[on_rejected]], ignore_index=True)
    return frame, remaining, flags.reset_index(drop=True)


@dataclass(frozen=True)
class ParsedTable:
    """A raw table converted to contract types, with the problems met while converting."""

    frame: pd.DataFrame
    issues: pd.DataFrame


def parse_table(
    raw: pd.DataFrame, contract: FileContract, file: str, unit_multipliers: dict[str, float]
) -> ParsedTable:
    """Convert text columns to contract types; unparseable values become issues, never NaN silently.

    ``unit_multipliers`` maps amount columns to the factor that converts them to won.
    """
    frame = raw.copy()
    nil_means_zero = set(contract.amounts) | set(contract.counts)
    for column in frame.columns:
        if column == ROW:
            continue
        nil = frame[column].eq(NIL_TOKEN).fillna(False).astype(bool)
        if nil.any():
            frame[column] = frame[column].mask(nil, "0" if column in nil_means_zero else None)
    issue_parts = [no_issues()]
    for column in contract.required:
        missing = frame[column].isna() if column in frame else pd.Series(True, index=frame.index)
        if missing.any():
            issue_parts.append(
                make_issues(
                    file,
                    frame.loc[missing, ROW],
                    column,
                    None,
                    "missing_required",
                    f"required column '{column}' is empty",
                )
            )
    for column in contract.numeric:
        if column not in frame:
            continue
        text = frame[column]
        numbers = parse_numbers(text)
        bad = text.notna() & numbers.isna()
        if bad.any():
            issue_parts.append(
                make_issues(file, frame.loc[bad, ROW], column, text[bad], "non_numeric", f"'{column}' must be a number")
            )
        if column in contract.integers:
            fractional = numbers.notna() & (numbers % 1 != 0)
            if fractional.any():
                issue_parts.append(
                    make_issues(
                        file,
                        frame.loc[fractional, ROW],
                        column,
                        text[fractional],
                        "non_integer",
                        f"'{column}' must be a whole number",
                    )
                )
            frame[column] = numbers.where(~fractional).round().astype("Int64")
        else:
            frame[column] = numbers * unit_multipliers.get(column, 1)
    for column in contract.dates:
        if column not in frame:
            continue
        text = frame[column]
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = text.notna() & parsed.isna()
        if bad.any():
            issue_parts.append(
                make_issues(
                    file,
                    frame.loc[bad, ROW],
                    column,
                    text[bad],
                    "bad_date",
                    f"'{column}' must be a date such as 2025-03-31",
                )
            )
        frame[column] = parsed.astype("datetime64[ns]")
    for column in contract.text:
        if column in frame:
            # pandas' own text dtype, as the ingested Parquet tables read back: pandera checks it by dtype
            frame[column] = frame[column].astype("str")
    return ParsedTable(frame, pd.concat(issue_parts, ignore_index=True))


def schema_issues(
    frame: pd.DataFrame, schema: pa.DataFrameSchema, file: str, raw: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Run a pandera schema lazily and turn each failure case into an issue with its file row.

    With ``raw`` (the text table the frame was parsed from), issues quote the value as written.
    """
    # Without coercion, pandera's only change to a frame is none at all: skip its defensive copy.
    coerces = schema.coerce or any(column.coerce for column in schema.columns.values())
    try:
        schema.validate(frame, lazy=True, inplace=not coerces)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        cases = cases[cases["index"].notna()]
        if cases.empty:
            return no_issues()
        positions = cases["index"].astype("int64").to_numpy()
        rows = frame[ROW].to_numpy()[frame.index.get_indexer(positions)]
        checks = cases["check"].astype(str)
        rules = checks.str.replace(r"\(.*$", "", regex=True)
        rules = rules.where(~rules.isin(["not_nullable"]), "missing_required")
        messages = [
            RULE_MESSAGES.get(rule, "failed check {check}").format(column=col, check=chk)
            for col, chk, rule in zip(cases["column"].astype(str), checks, rules, strict=True)
        ]
        return pd.DataFrame(
            {
                "file": file,
                "row": rows,
                "column": cases["column"].astype(str).to_numpy(),
                "value": _quoted_values(cases, positions, raw),
                "rule": rules.to_numpy(),
                "message": messages,
            },
            columns=ISSUE_COLUMNS,
        )
    return no_issues()


def _quoted_values(cases: pd.DataFrame, positions, raw: pd.DataFrame | None) -> list[str | None]:
    values = []
    for column, position, parsed in zip(cases["column"], positions, cases["failure_case"], strict=True):
        if raw is not None and column in raw.columns:
            original = raw.at[position, column]
            values.append(None if pd.isna(original) else str(original))
        else:
            values.append(None if pd.isna(parsed) else str(parsed))
    return values


def duplicate_key_issues(frame: pd.DataFrame, key: list[str], file: str, compare: list[str]) -> pd.DataFrame:
    """Repeated keys: exact repeats keep the first row; conflicting repeats are all quarantined.

    Keeping one of two conflicting rows would be a guess about which statement is right.
    """
    complete = frame[key].notna().all(axis=1)
    candidates = frame.loc[complete]
    repeated = candidates.duplicated(key, keep=False)
    if not repeated.any():
        return no_issues()
    group = candidates.loc[repeated]
    width = group[compare].astype("string").fillna("\x00").agg("\x1f".join, axis=1)
    distinct = width.groupby([group[k] for k in key]).transform("nunique")
    first_row = group[ROW].groupby([group[k] for k in key]).transform("min")
    key_text = group[key].astype(str).agg("/".join, axis=1)
    exact_extra = (distinct == 1) & (group[ROW] != first_row)
    conflicting = distinct > 1
    parts = [no_issues()]
    if exact_extra.any():
        parts.append(
            make_issues(
                file,
                group.loc[exact_extra, ROW],
                "/".join(key),
                key_text[exact_extra],
                "duplicate_key",
                "exact repeat of row " + first_row[exact_extra].astype(str) + "; the first copy is kept",
            )
        )
    if conflicting.any():
        rows_by_key = group[ROW].astype(str).groupby([group[k] for k in key]).transform(lambda s: ", ".join(s))
        parts.append(
            make_issues(
                file,
                group.loc[conflicting, ROW],
                "/".join(key),
                key_text[conflicting],
                "duplicate_key",
                "conflicting rows for the same key (rows " + rows_by_key[conflicting] + "); none is kept",
            )
        )
    return pd.concat(parts, ignore_index=True)


def orphan_issues(
    frame: pd.DataFrame, known_ids: pd.Series | pd.Index | set, file: str, parent: str, column: str = "firm_id"
) -> pd.DataFrame:
    """Rows that point to a firm (or application) that was not accepted."""
    orphan = frame[column].notna() & ~is_known(frame[column], known_ids)
    if not orphan.any():
        return no_issues()
    return make_issues(
        file,
        frame.loc[orphan, ROW],
        column,
        frame.loc[orphan, column],
        "orphan_row",
        f"{column} has no accepted row in {parent}",
    )


def split_rows(frame: pd.DataFrame, issues: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accepted rows (no issue) and one quarantine record per rejected row (first issue, others listed)."""
    if issues.empty:
        return frame.drop(columns=[ROW]).reset_index(drop=True), pd.DataFrame(columns=QUARANTINE_COLUMNS)
    ordered = issues.reset_index(drop=True)
    ordered["_order"] = np.arange(len(ordered))
    ordered = ordered.sort_values(["row", "_order"], kind="stable")
    # A cell already rejected (a score that is not a number, a short line) is also empty once
    # parsed; its "missing_required" repeats the same cell and is not listed again.
    cell = ordered[["row", "column"]].assign(column=ordered["column"].fillna(""))
    repeated = (ordered["rule"] == "missing_required") & cell.duplicated(keep="first")
    ordered = ordered[~repeated]
    description = ordered["rule"] + ":" + ordered["column"].fillna("")
    others = description.groupby(ordered["row"]).agg(lambda s: "; ".join(s.iloc[1:]))
    first = ordered.drop_duplicates("row", keep="first").set_index("row")
    first["other_problems"] = others
    quarantine = first.reset_index()[QUARANTINE_COLUMNS]
    rejected = frame[ROW].isin(quarantine["row"])
    accepted = frame.loc[~rejected].drop(columns=[ROW]).reset_index(drop=True)
    return accepted, quarantine.reset_index(drop=True)
