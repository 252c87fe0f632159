"""Input contracts after STEP 1: STEP 2 evaluations, the evaluator registry, overrides and appeals,
and the yearly progress-review inputs; and one reader that validates such a file with quarantine.

Every file goes through the same path as the round's files (``jumpup.intake.quarantine``): parse
to contract types, validate every row lazily, quarantine a failing row under its first problem
with the others listed, and account for every row (rows read = accepted + quarantined). Rows that
point to a firm the stage does not know (an evaluation for a firm that did not pass STEP 1, a
review row for a firm outside the cohort) are quarantined with their own rule, not dropped.
Documented for users in docs/data_contract.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from jumpup.intake.contracts import EVALUATOR_ROLES, UNIT_MULTIPLIERS, FileContract
from jumpup.intake.ingest import FileReport, IngestResult, is_ingested, open_panel
from jumpup.intake.quarantine import (
    ROW,
    duplicate_key_issues,
    make_issues,
    no_issues,
    parse_table,
    schema_issues,
    split_rows,
)
from jumpup.intake.readers import InputFileError, find_input, read_raw_table
from jumpup.provenance import file_sha256
from jumpup.settings import IngestSettings

STEP2_ITEMS = {
    "innovation": "신기술 혁신성",
    "growth": "성장성",
    "market_expansion": "시장확장성",
    "challenge": "도전의지",
}
"""STEP 2 evaluation items (혁신역량 평가항목) of the program plan, in its order."""

STEP2_ROLES = {
    "technology_expert": "기술전문가 (공공연·대학교수)",
    "investor": "투자전문가 (VC·CVC·PE)",
    "industry_executive": "대기업 前임원",
    "founder": "벤처 창업주",
}
"""STEP 2 committee member kinds (혁신역량 평가위원 구성) of the program plan."""

VOTES = ("select", "reject")
VOTE_ALIASES = {"선정": "select", "탈락": "reject", "select": "select", "reject": "reject"}
OVERRIDE_KINDS = ("override", "appeal")
OVERRIDE_KIND_ALIASES = {"재심": "appeal", "이의신청": "appeal", "변경": "override"}

STEP2_EVALUATIONS = FileContract(
    name="step2_evaluations",
    key=("firm_id", "evaluator_id", "item"),
    required=("firm_id", "evaluator_id", "evaluator_role", "item", "score", "vote"),
    text=("firm_id", "evaluator_id", "evaluator_role", "affiliation", "item", "vote", "committee", "round_id"),
    scores=("score",),
)
"""One score per firm, committee member and item, with the member's vote (select or reject)."""

EVALUATORS = FileContract(
    name="evaluators",
    key=("evaluator_id",),
    required=("evaluator_id", "affiliation"),
    text=("evaluator_id", "affiliation", "evaluator_role", "name"),
)
"""The evaluator registry: field-audit and STEP 2 members with their affiliation (소속)."""

OVERRIDES = FileContract(
    name="overrides",
    key=(),
    required=("firm_id", "decision", "reason", "author"),
    text=("firm_id", "kind", "decision", "reason", "author"),
    dates=("decided_on",),
)
"""Human overrides and appeals (재심), applied in file order; each needs a reason and an author."""

REVIEW_INPUTS = FileContract(
    name="review_inputs",
    key=("firm_id", "fiscal_year"),
    required=("firm_id", "fiscal_year", "milestones_planned", "milestones_met", "voucher_granted", "voucher_spent"),
    text=("firm_id", "note"),
    integers=("fiscal_year",),
    counts=("milestones_planned", "milestones_met"),
    amounts=("voucher_granted", "voucher_spent"),
)
"""Progress-review inputs per firm and reviewed fiscal year: milestones (사업 진척도) and voucher spending (won)."""

RULE_MESSAGES = {
    "unknown_step2_item": "item must be one of " + ", ".join(STEP2_ITEMS),
    "score_out_of_range": "score is outside the STEP 2 scale (step2.score_min-score_max in params.yaml)",
    "unknown_committee_role": "evaluator_role must be one of " + ", ".join(STEP2_ROLES),
    "unknown_vote": "vote must be select (선정) or reject (탈락)",
    "unknown_override_kind": "kind must be override or appeal (재심)",
}

_FIRM_ID = pa.Column(str, pa.Check.str_matches(r"^\S+$", name="bad_firm_id", error="bad_firm_id"), nullable=False)


def evaluations_schema(score_min: float, score_max: float) -> pa.DataFrameSchema:
    """Contract for STEP 2 evaluations: known item, member kind and vote; score within the scale."""
    return pa.DataFrameSchema(
        {
            "firm_id": _FIRM_ID,
            "evaluator_id": pa.Column(str, nullable=False),
            "evaluator_role": pa.Column(
                str, pa.Check.isin(list(STEP2_ROLES), name="unknown_committee_role", error="unknown_committee_role")
            ),
            "item": pa.Column(
                str, pa.Check.isin(list(STEP2_ITEMS), name="unknown_step2_item", error="unknown_step2_item")
            ),
            "vote": pa.Column(str, pa.Check.isin(list(VOTES), name="unknown_vote", error="unknown_vote")),
            "score": pa.Column(
                "float64",
                pa.Check.in_range(score_min, score_max, name="score_out_of_range", error="score_out_of_range"),
                nullable=False,
            ),
        },
        strict=False,
        name="step2_evaluations",
    )


def evaluators_schema() -> pa.DataFrameSchema:
    """Contract for the evaluator registry: an id and an affiliation; a role, when given, is known."""
    roles = sorted({*EVALUATOR_ROLES, *STEP2_ROLES})
    return pa.DataFrameSchema(
        {
            "evaluator_id": pa.Column(str, nullable=False),
            "affiliation": pa.Column(str, nullable=False),
            "evaluator_role": pa.Column(
                str,
                pa.Check.isin(roles, name="unknown_evaluator_role", error="unknown_evaluator_role"),
                nullable=True,
                required=False,
            ),
        },
        strict=False,
        name="evaluators",
    )


def overrides_schema() -> pa.DataFrameSchema:
    """Contract for overrides and appeals: a decision of select or reject, a reason and an author."""
    return pa.DataFrameSchema(
        {
            "firm_id": _FIRM_ID,
            "kind": pa.Column(
                str, pa.Check.isin(list(OVERRIDE_KINDS), name="unknown_override_kind", error="unknown_override_kind")
            ),
            "decision": pa.Column(str, pa.Check.isin(list(VOTES), name="unknown_vote", error="unknown_vote")),
            "reason": pa.Column(str, pa.Check.str_matches(r"\S", name="missing_required", error="missing_required")),
            "author": pa.Column(str, pa.Check.str_matches(r"\S", name="missing_required", error="missing_required")),
        },
        strict=False,
        name="overrides",
    )


def review_inputs_schema() -> pa.DataFrameSchema:
    """Contract for progress-review inputs: non-negative counts and amounts, a plausible year."""
    nonnegative = pa.Check.ge(0, name="negative_value", error="negative_value")
    return pa.DataFrameSchema(
        {
            "firm_id": _FIRM_ID,
            "year": pa.Column(
                "Int64", pa.Check.in_range(1990, 2200, name="implausible_year", error="implausible_year")
            ),
            "milestones_planned": pa.Column("float64", nonnegative),
            "milestones_met": pa.Column("float64", nonnegative),
            "voucher_granted": pa.Column("float64", nonnegative),
            "voucher_spent": pa.Column("float64", nonnegative),
        },
        strict=False,
        name="review_inputs",
    )


@dataclass(frozen=True)
class CheckedFile:
    """One input file after its contract: accepted rows, quarantined rows, and the file's accounting."""

    frame: pd.DataFrame
    quarantine: pd.DataFrame
    report: FileReport


@dataclass(frozen=True)
class KnownIds:
    """Ids a file's rows must point to; other rows are quarantined under ``rule`` with ``message``."""

    column: str
    ids: frozenset[str]
    rule: str
    message: str


def _normalise(frame: pd.DataFrame, contract: FileContract) -> pd.DataFrame:
    """Accept the Korean words for votes and override kinds; trim text."""
    frame = frame.copy()
    for column in contract.text:
        if column in frame:
            text = frame[column].astype("string").str.strip()
            frame[column] = text.astype("object").where(text.notna() & (text != ""), None)
    if "vote" in frame:
        frame["vote"] = frame["vote"].map(lambda v: VOTE_ALIASES.get(str(v).lower(), v) if v is not None else v)
    if contract is OVERRIDES:
        if "kind" not in frame:
            frame["kind"] = "override"
        frame["kind"] = frame["kind"].map(lambda v: "override" if v is None else OVERRIDE_KIND_ALIASES.get(v, v))
        if "decision" in frame:
            frame["decision"] = frame["decision"].map(lambda v: VOTE_ALIASES.get(str(v).lower(), v) if v else v)
    return frame


def _consistency_issues(frame: pd.DataFrame, contract: FileContract, file: str) -> pd.DataFrame:
    parts = [no_issues()]
    if contract is STEP2_EVALUATIONS and len(frame):
        votes = frame.dropna(subset=["firm_id", "evaluator_id", "vote"])
        distinct = votes.groupby(["firm_id", "evaluator_id"])["vote"].transform("nunique")
        mixed = votes[distinct > 1]
        if len(mixed):
            parts.append(
                make_issues(
                    file,
                    mixed[ROW],
                    "vote",
                    mixed["vote"],
                    "conflicting_vote",
                    "one member gives different votes for the same firm; a member has one vote",
                )
            )
    if contract is REVIEW_INPUTS and len(frame):
        over = frame["milestones_met"] > frame["milestones_planned"]
        if over.any():
            parts.append(
                make_issues(
                    file,
                    frame.loc[over, ROW],
                    "milestones_met",
                    frame.loc[over, "milestones_met"],
                    "met_exceeds_planned",
                    "more milestones met than planned",
                )
            )
        overspent = frame["voucher_spent"] > frame["voucher_granted"] * 1.0001
        if overspent.any():
            parts.append(
                make_issues(
                    file,
                    frame.loc[overspent, ROW],
                    "voucher_spent",
                    frame.loc[overspent, "voucher_spent"],
                    "spent_exceeds_granted",
                    "voucher spending is larger than the voucher granted",
                )
            )
    return pd.concat(parts, ignore_index=True)


def read_checked(
    path: Path,
    contract: FileContract,
    schema: pa.DataFrameSchema,
    known: tuple[KnownIds, ...] = (),
) -> CheckedFile:
    """Read one file (CSV in UTF-8 or cp949, xlsx or Parquet) through its contract, with quarantine.

    ``known`` lists the ids rows must point to (e.g. firms that passed STEP 1). Raises
    ``InputFileError`` (one line naming the file) when the file is missing, unreadable or lacks a
    required column; every other problem quarantines its row with file, row, column, value and rule.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: {contract.name} file not found")
    raw = read_raw_table(path)
    missing = [c for c in contract.required if c not in raw.frame.columns]
    if missing:
        present = ", ".join(c for c in raw.frame.columns if c != ROW)
        raise InputFileError(
            f"{path}: required column(s) {', '.join(missing)} missing. Columns found: {present}. "
            f"See docs/data_contract.md for the {contract.name} columns."
        )
    file = path.name
    multipliers = {c: UNIT_MULTIPLIERS[raw.column_units.get(c, "won")] for c in contract.amounts}
    parsed = parse_table(raw.frame, contract, file, multipliers)
    frame = _normalise(parsed.frame, contract)
    issues = [parsed.issues, schema_issues(frame, schema, file, raw.frame)]
    messages = {r: m for r, m in RULE_MESSAGES.items()}
    if len(issues[1]):
        rules = issues[1]["rule"]
        issues[1]["message"] = [messages.get(r, m) for r, m in zip(rules, issues[1]["message"], strict=True)]
    if contract.key:
        issues.append(duplicate_key_issues(frame, list(contract.key), file, [c for c in frame.columns if c != ROW]))
    issues.append(_consistency_issues(frame, contract, file))
    for rule in known:
        outside = frame[rule.column].notna() & ~frame[rule.column].isin(rule.ids)
        if outside.any():
            issues.append(
                make_issues(
                    file, frame.loc[outside, ROW], rule.column, frame.loc[outside, rule.column], rule.rule, rule.message
                )
            )
    if raw.bad_lines:
        rows, texts, whys = zip(*raw.bad_lines, strict=True)
        issues.insert(
            0,
            make_issues(
                file, list(rows), None, list(texts), "malformed_line", [f"cannot split line: {w}" for w in whys]
            ),
        )
    found = pd.concat(issues, ignore_index=True).drop_duplicates(["row", "column", "rule"])
    accepted, quarantined = split_rows(frame, found)
    ordered = [c for c in contract.columns if c in accepted.columns]
    accepted = accepted[ordered + sorted(c for c in accepted.columns if c not in ordered)]
    report = FileReport(
        table=contract.name,
        path=str(path),
        sha256=file_sha256(path),
        encoding=raw.encoding,
        rows_read=raw.rows_read,
        accepted=len(accepted),
        quarantined=len(quarantined),
        blank_rows_skipped=raw.blank_rows,
        units=dict(raw.column_units),
        renamed_columns=raw.renamed,
    )
    if not report.balanced:  # an internal error, never a user error
        raise AssertionError(f"{path}: {report.rows_read} read != {report.accepted} + {report.quarantined}")
    return CheckedFile(accepted, quarantined, report)


def ingest_statements(directory: Path, settings: IngestSettings, known: frozenset[str]) -> IngestResult:
    """New statements of a cohort through ``jumpup.intake``: the usual ingest, then rows of firms
    outside ``known`` (the cohort) quarantined as ``unknown_firm`` with their file row.

    ``directory`` holds firms and financials (raw files, or the output of ``jumpup ingest``).
    Rows read = accepted + quarantined still holds for every file.
    """
    directory = Path(directory)
    result = open_panel(directory, settings)
    raw_dir = None if is_ingested(directory) else directory
    quarantine = [result.quarantine]
    tables = dict(result.tables)
    reports = []
    for report in result.reports:
        table = tables.get(report.table)
        if table is None or "firm_id" not in table:
            reports.append(report)
            continue
        outside = ~table["firm_id"].isin(known)
        if not outside.any():
            reports.append(report)
            continue
        rows = _file_rows(raw_dir, report.table, table[outside])
        quarantine.append(
            make_issues(
                Path(report.path).name,
                rows,
                "firm_id",
                table.loc[outside, "firm_id"],
                "unknown_firm",
                "firm_id is not a firm of this cohort",
            ).assign(other_problems="")
        )
        tables[report.table] = table[~outside].reset_index(drop=True)
        moved = int(outside.sum())
        reports.append(
            dataclasses.replace(report, accepted=report.accepted - moved, quarantined=report.quarantined + moved)
        )
    merged = (
        pd.concat([q for q in quarantine if len(q)], ignore_index=True)
        if any(len(q) for q in quarantine)
        else result.quarantine
    )
    return IngestResult(tables, merged, reports, result.warnings, result.max_fiscal_year, result.flags)


def _file_rows(raw_dir: Path | None, name: str, rows: pd.DataFrame) -> list[int]:
    """The file row of each accepted row (matched on firm_id and fiscal year); 0 when not known."""
    path = find_input(raw_dir, name) if raw_dir is not None else None
    if path is None:
        return [0] * len(rows)
    raw = read_raw_table(path).frame
    firm = raw["firm_id"].astype("string").str.strip()
    key = firm + "\x1f" + (raw["fiscal_year"].astype("string").str.strip() if "fiscal_year" in raw else "")
    where = dict(zip(key, raw[ROW], strict=True))
    wanted = rows["firm_id"].astype(str) + "\x1f" + (rows["fiscal_year"].astype(str) if "fiscal_year" in rows else "")
    return [int(where.get(k, 0)) for k in wanted]
