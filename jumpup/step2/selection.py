"""STEP 2 (심층토론 평가) and the final selection (최종선정), as pure functions of tables.

Source: the program plan, STEP 2 section. Firms that passed STEP 1 meet a committee (분과위원회)
of their industry/technology field; each member scores 신기술 혁신성, 성장성, 시장확장성 and
도전의지 and votes; the committee decides by unanimous agreement (전원합의). A committee that does
not agree is recorded as split — its scores are never averaged into a decision. Members affiliated
with the firm or with its recommending investor are conflicts of interest: flagged and excluded
before the votes are read. Any decision can be overridden or appealed (재심) by a named person with
a reason; the earlier decision stays beside the new one. The final selection keeps every selected
firm within the cohort cap (100개사 이내); the share of investor-recommended firms is measured on
that final selection and reported against the planned 30–50%, never forced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from jumpup.intake.contracts import EVALUATOR_ROLE_KO
from jumpup.intake.step2_contracts import STEP2_ITEMS
from jumpup.notices import Notice
from jumpup.settings import Step2Settings

GENERAL_COMMITTEE = "general"
CONSENSUS_KO = {
    "unanimous_select": "전원합의 선정",
    "unanimous_reject": "전원합의 탈락",
    "split": "합의 불성립 (의견 분열)",
    "too_few_members": "평가위원 부족 (이해충돌 제외 후)",
    "not_evaluated": "STEP 2 평가 없음",
}
DECISION_KO = {"select": "선정", "reject": "탈락", "undecided": "미결정"}
FINAL_KO = {"selected": "최종 선정", "not_selected": "미선정", "over_cap": "선정 한도 초과"}
TRACK_KO = {"entry": "진입트랙 (시리즈B 100~300억원 목표)", "growth": "성장트랙 (시리즈C 500억원 내외 목표)"}
CONFLICT_KO = {"recommending_investor": "추천 투자사 소속", "firm": "해당 기업 소속"}
SELECTION = pa.DataFrameSchema(
    {
        "firm_id": pa.Column(str, nullable=False),
        "track": pa.Column(str, pa.Check.isin(["entry", "growth"])),
        "recommended": pa.Column(bool, coerce=True),
        "as_of": pa.Column(int, pa.Check.in_range(1900, 2200), coerce=True),
        "selection_year": pa.Column(int, pa.Check.in_range(1900, 2200), coerce=True),
    },
    unique=["firm_id"],
    name="selection",
)
"""Hand-over from STEP 2 to the review: one row per selected firm with its track and first program year."""

_LEGAL_FORMS = re.compile(r"\(주\)|㈜|주식회사|\(유\)|유한회사|co\.?,?\s*ltd\.?|inc\.?|corp\.?|\s+", re.IGNORECASE)


def normalise_name(name: object) -> str:
    """An organisation name for comparison: case-folded, legal form and spaces removed ('' if missing)."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return _LEGAL_FORMS.sub("", str(name)).casefold()


def committees(step1: pd.DataFrame) -> pd.Series:
    """The committee (분과) of each firm: its focus field (중점분야), or the general committee.

    ``step1``: one row per firm with ``firm_id`` and ``focus_field`` (an id or 'none').
    Returns a Series of committee ids indexed like ``step1``.
    """
    field = step1["focus_field"].astype("object")
    return field.where(field.notna() & (field != "none"), GENERAL_COMMITTEE)


def conflicts_of_interest(pairs: pd.DataFrame, registry: pd.DataFrame, firms: pd.DataFrame) -> pd.DataFrame:
    """Evaluator-firm pairs where the evaluator belongs to the firm or to its recommending investor.

    ``pairs``: firm_id, evaluator_id (and optionally an inline ``affiliation``); ``registry``:
    evaluator_id, affiliation; ``firms``: firm_id, name, recommending_investor. Names are compared
    after ``normalise_name``. Returns firm_id, evaluator_id, affiliation, conflict_with
    ('firm' or 'recommending_investor'), one row per conflicted pair.
    """
    columns = ["firm_id", "evaluator_id", "affiliation", "conflict_with"]
    frame = pairs[["firm_id", "evaluator_id", *(["affiliation"] if "affiliation" in pairs else [])]].drop_duplicates(
        ["firm_id", "evaluator_id"]
    )
    known = registry.drop_duplicates("evaluator_id").set_index("evaluator_id")["affiliation"] if len(registry) else {}
    inline = frame["affiliation"] if "affiliation" in frame else pd.Series(None, index=frame.index, dtype="object")
    frame = frame.assign(affiliation=inline.where(inline.notna(), frame["evaluator_id"].map(known)))
    info = firms.drop_duplicates("firm_id").set_index("firm_id")
    affiliation = frame["affiliation"].map(normalise_name)
    investor = frame["firm_id"].map(info.get("recommending_investor", pd.Series(dtype=object))).map(normalise_name)
    name = frame["firm_id"].map(info.get("name", pd.Series(dtype=object))).map(normalise_name)
    own_id = frame["firm_id"].map(normalise_name)
    present = affiliation != ""
    with_investor = present & (affiliation == investor)
    with_firm = present & ((affiliation == name) | (affiliation == own_id))
    frame["conflict_with"] = np.select([with_firm, with_investor], ["firm", "recommending_investor"], default="")
    return (
        frame.loc[frame["conflict_with"] != "", columns].sort_values(["firm_id", "evaluator_id"]).reset_index(drop=True)
    )


def audit_governance(
    audits: pd.DataFrame, firm_ids: pd.Series, conflicts: pd.DataFrame, required_roles: tuple[str, ...]
) -> pd.DataFrame:
    """Field-audit team checks per firm: the required mix of roles once conflicted evaluators are excluded.

    ``audits``: the round's audit scores (firm_id, evaluator_id, evaluator_role); ``conflicts``:
    from ``conflicts_of_interest`` on the audit pairs. Returns one row per firm: team size,
    conflicted evaluators, roles missing after exclusion, and ``governance_ok``.
    """
    teams = audits[["firm_id", "evaluator_id", "evaluator_role"]].drop_duplicates(["firm_id", "evaluator_id"])
    teams = teams[teams["firm_id"].isin(firm_ids)]
    key = teams["firm_id"] + "\x1f" + teams["evaluator_id"]
    conflicted_keys = set(conflicts["firm_id"] + "\x1f" + conflicts["evaluator_id"]) if len(conflicts) else set()
    teams = teams.assign(conflicted=key.isin(conflicted_keys))
    rows = []
    grouped = dict(tuple(teams.groupby("firm_id")))
    for firm in sorted(set(firm_ids)):
        team = grouped.get(firm, teams.iloc[0:0])
        kept = team[~team["conflicted"]]
        missing = [r for r in required_roles if r not in set(kept["evaluator_role"])]
        rows.append(
            {
                "firm_id": firm,
                "audit_team": len(team),
                "conflicted_evaluators": ";".join(sorted(team.loc[team["conflicted"], "evaluator_id"])),
                "roles_missing": ";".join(missing),
                "governance_ok": not missing and not team["conflicted"].any(),
            }
        )
    return pd.DataFrame(
        rows, columns=["firm_id", "audit_team", "conflicted_evaluators", "roles_missing", "governance_ok"]
    )


def committee_votes(evaluations: pd.DataFrame, conflicts: pd.DataFrame) -> pd.DataFrame:
    """One row per firm and member: role, vote, the four item scores, and whether the member is excluded."""
    wide = evaluations.pivot_table(index=["firm_id", "evaluator_id"], columns="item", values="score", aggfunc="first")
    wide = wide.reindex(columns=list(STEP2_ITEMS)).add_prefix("score_")
    first = evaluations.drop_duplicates(["firm_id", "evaluator_id"]).set_index(["firm_id", "evaluator_id"])
    votes = first[["evaluator_role", "vote"]].join(wide).reset_index()
    conflicted = conflicts.set_index(["firm_id", "evaluator_id"])["conflict_with"] if len(conflicts) else None
    if conflicted is not None:
        index = pd.MultiIndex.from_frame(votes[["firm_id", "evaluator_id"]])
        votes["conflict_with"] = conflicted.reindex(index).fillna("").to_numpy()
    else:
        votes["conflict_with"] = ""
    votes["excluded"] = votes["conflict_with"] != ""
    return votes.sort_values(["firm_id", "evaluator_id"], kind="stable").reset_index(drop=True)


def committee_decisions(votes: pd.DataFrame, firm_ids: pd.Series, min_members: int) -> pd.DataFrame:
    """The committee's decision per firm by unanimous agreement (전원합의) of the members not excluded.

    All select: ``select``; all reject: ``reject``; anything else: ``undecided`` with consensus
    ``split`` (or ``too_few_members`` below ``min_members``) — the scores are reported as each item's
    range over the members, never averaged into a decision.
    """
    kept = votes[~votes["excluded"]]
    counts = kept.groupby("firm_id")["vote"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(columns=["select", "reject"], fill_value=0)
    excluded = votes[votes["excluded"]].groupby("firm_id").size()
    frame = pd.DataFrame({"firm_id": sorted(set(firm_ids))})
    frame["members"] = frame["firm_id"].map(kept.groupby("firm_id").size()).fillna(0).astype(int)
    frame["excluded_members"] = frame["firm_id"].map(excluded).fillna(0).astype(int)
    frame["select_votes"] = frame["firm_id"].map(counts["select"]).fillna(0).astype(int)
    frame["reject_votes"] = frame["firm_id"].map(counts["reject"]).fillna(0).astype(int)
    evaluated = frame["firm_id"].isin(votes["firm_id"])
    enough = frame["members"] >= min_members
    frame["consensus"] = np.select(
        [
            ~evaluated,
            ~enough,
            frame["select_votes"] == frame["members"],
            frame["reject_votes"] == frame["members"],
        ],
        ["not_evaluated", "too_few_members", "unanimous_select", "unanimous_reject"],
        default="split",
    )
    frame["committee_decision"] = (
        frame["consensus"].map({"unanimous_select": "select", "unanimous_reject": "reject"}).fillna("undecided")
    )
    for item in STEP2_ITEMS:
        column = f"score_{item}"
        span = kept.groupby("firm_id")[column].agg(["min", "max"])
        frame[f"{item}_min"] = frame["firm_id"].map(span["min"])
        frame[f"{item}_max"] = frame["firm_id"].map(span["max"])
    return frame


def apply_overrides(decisions: pd.DataFrame, overrides: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Apply overrides and appeals in file order; each keeps the decision it replaced beside the new one.

    ``decisions``: firm_id, committee_decision; ``overrides``: firm_id, kind, decision, reason,
    author (and optionally decided_on). Returns the decisions with ``earlier_decision``,
    ``decision``, ``decided_by`` ('committee' or the author), ``override_kind`` and
    ``override_reason``, and one log entry per override applied.
    """
    frame = decisions.copy()
    frame["decision"] = frame["committee_decision"]
    frame["earlier_decision"] = ""
    frame["decided_by"] = "committee"
    frame["override_kind"] = ""
    frame["override_reason"] = ""
    position = {firm: i for i, firm in enumerate(frame["firm_id"])}
    entries = []
    for row in overrides.itertuples(index=False):
        i = position[row.firm_id]
        before = frame.at[i, "decision"]
        frame.at[i, "earlier_decision"] = before
        frame.at[i, "decision"] = row.decision
        frame.at[i, "decided_by"] = row.author
        frame.at[i, "override_kind"] = row.kind
        frame.at[i, "override_reason"] = row.reason
        entries.append(
            {
                "event": row.kind,
                "firm_id": row.firm_id,
                "earlier_decision": before,
                "decision": row.decision,
                "author": row.author,
                "reason": row.reason,
                "decided_on": None if pd.isna(getattr(row, "decided_on", None)) else str(row.decided_on)[:10],
            }
        )
    return frame, entries


def compare_with_previous(decisions: pd.DataFrame, previous: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """A re-evaluation beside the earlier one: ``previous_decision`` and ``previous_final`` per firm.

    ``previous``: the ``step2_decisions.csv`` of an earlier STEP 2 run of the same round (firm_id,
    decision, final). Returns the decisions with the two columns ('' for firms not in the earlier
    run) and one ``re_evaluation`` log entry per firm whose decision or final result changed.
    """
    earlier = previous.drop_duplicates("firm_id").set_index("firm_id")
    frame = decisions.copy()
    frame["previous_decision"] = frame["firm_id"].map(earlier["decision"]).fillna("")
    frame["previous_final"] = frame["firm_id"].map(earlier["final"]).fillna("")
    changed = (frame["previous_decision"] != "") & (
        (frame["previous_decision"] != frame["decision"]) | (frame["previous_final"] != frame["final"])
    )
    entries = [
        {
            "event": "re_evaluation",
            "firm_id": r.firm_id,
            "earlier_decision": r.previous_decision,
            "earlier_final": r.previous_final,
            "decision": r.decision,
            "final": r.final,
        }
        for r in frame[changed].itertuples(index=False)
    ]
    return frame, entries


def investment_tracks(step1: pd.DataFrame, financials: pd.DataFrame) -> pd.DataFrame:
    """The investment track (투자유치 트랙) from the application's investment record.

    Growth track (성장트랙, Series C target) when the application records an institutional or private
    investment stage or the statements up to the as-of year show investment raised; otherwise the
    entry track (진입트랙, Series B target). Returns firm_id, track, track_basis.
    """
    stage = step1.get("investment_stage", pd.Series(None, index=step1.index))
    raised_by_firm = pd.Series(dtype="float64")
    if "investment_raised" in financials and len(financials):
        as_of = step1.set_index("firm_id")["as_of"]
        rows = financials[financials["fiscal_year"] <= financials["firm_id"].map(as_of)]
        raised_by_firm = rows.groupby("firm_id")["investment_raised"].sum(min_count=1)
    raised = step1["firm_id"].map(raised_by_firm).fillna(0) > 0
    staged = stage.notna() & (stage.astype("object") != "")
    track = np.where(staged | raised, "growth", "entry")
    raised_eok = (step1["firm_id"].map(raised_by_firm).fillna(0) / 1e8).round(1)
    basis = np.where(
        staged.to_numpy(),
        ("투자단계 기록: " + stage.astype(str)).to_numpy(),
        np.where(
            raised.to_numpy(),
            ("재무제표상 투자유치 " + raised_eok.astype(str) + "억원").to_numpy(),
            "기관·민간 투자유치 기록 없음",
        ),
    )
    return pd.DataFrame({"firm_id": step1["firm_id"].to_numpy(), "track": track, "track_basis": basis})


def final_selection(decisions: pd.DataFrame, cap: int) -> pd.DataFrame:
    """Selected firms within the cohort cap; beyond it, the higher STEP 1 points are kept (ties: firm id).

    STEP 2 is an absolute evaluation, so the cap binds only when more firms are selected than it
    allows; those left out are ``over_cap`` with their rank, never silently dropped.
    """
    frame = decisions.copy()
    chosen = frame["decision"] == "select"
    order = frame[chosen].sort_values(["step1_points", "firm_id"], ascending=[False, True], kind="stable")
    rank = pd.Series(np.arange(1, len(order) + 1), index=order.index)
    frame["selection_rank"] = rank.reindex(frame.index).astype("Int64")
    frame["final"] = np.select(
        [chosen & (frame["selection_rank"] <= cap).fillna(False), chosen], ["selected", "over_cap"], "not_selected"
    )
    return frame


def recommendation_share(final: pd.DataFrame, settings: Step2Settings) -> dict:
    """Share of investor-recommended firms in the final selection, against the planned range."""
    selected = final[final["final"] == "selected"]
    share = float(selected["recommended"].astype(bool).mean()) if len(selected) else float("nan")
    low, high = settings.recommendation_share_range
    status = (
        "none_selected" if not len(selected) else ("below" if share < low else "above" if share > high else "within")
    )
    return {
        "selected": len(selected),
        "recommended_selected": int(selected["recommended"].astype(bool).sum()),
        "share": share,
        "range": [low, high],
        "status": status,
        "measured_on": "final_selection",
    }


def _reasons(row) -> str:
    parts = [
        f"분과 {row.committee_ko}",
        f"{CONSENSUS_KO[row.consensus]} (선정 {row.select_votes}·탈락 {row.reject_votes})",
    ]
    if row.excluded_members:
        parts.append(f"이해충돌 위원 {row.excluded_members}명 제외")
    if row.override_kind:
        kind = "재심" if row.override_kind == "appeal" else "결정 변경"
        parts.append(
            f"{kind}: {DECISION_KO.get(row.earlier_decision, row.earlier_decision)} → "
            f"{DECISION_KO[row.decision]} ({row.decided_by}: {row.override_reason})"
        )
    if row.previous_decision and (row.previous_decision != row.decision or row.previous_final != row.final):
        parts.append(
            f"재평가: 이전 {DECISION_KO.get(row.previous_decision, row.previous_decision)}·"
            f"{FINAL_KO.get(row.previous_final, row.previous_final)} → {DECISION_KO.get(row.decision, row.decision)}"
        )
    if row.final == "over_cap":
        parts.append(f"선정 한도 초과 (STEP 1 {row.step1_points:.1f}점, {int(row.selection_rank)}위)")
    if row.final == "selected":
        parts.append(TRACK_KO[row.track])
    if not row.governance_ok:
        roles = ", ".join(EVALUATOR_ROLE_KO.get(r, r) for r in str(row.roles_missing).split(";") if r)
        missing = f"필수 역할 누락 {roles}" if row.roles_missing else ""
        conflicted = f"이해충돌 실사위원 {row.conflicted_evaluators}" if row.conflicted_evaluators else ""
        parts.append("현장실사 구성 점검: " + ", ".join(p for p in (missing, conflicted) if p))
    return " | ".join(parts)


@dataclass(frozen=True)
class Step2Result:
    """Everything STEP 2 decides for one round, before anything is written.

    ``decisions``: one row per firm that passed STEP 1; ``votes``: one row per firm and member;
    ``conflicts``: conflicted evaluator-firm pairs (STEP 2 and field audit); ``governance``: the
    field-audit team check per firm; ``share``: the recommendation share on the final selection;
    ``log_entries``: one entry per override or appeal.
    """

    decisions: pd.DataFrame
    votes: pd.DataFrame
    conflicts: pd.DataFrame
    governance: pd.DataFrame
    share: dict
    log_entries: list[dict]
    warnings: list[Notice]

    @property
    def selection(self) -> pd.DataFrame:
        return self.decisions[self.decisions["final"] == "selected"].reset_index(drop=True)


def decide_step2(
    step1: pd.DataFrame,
    firms: pd.DataFrame,
    financials: pd.DataFrame,
    audits: pd.DataFrame,
    evaluations: pd.DataFrame,
    registry: pd.DataFrame,
    overrides: pd.DataFrame,
    settings: Step2Settings,
    committee_names: dict[str, str],
    previous: pd.DataFrame | None = None,
) -> Step2Result:
    """STEP 2 and the final selection for one round as a pure function of its tables.

    ``step1``: the STEP 1 decisions of the firms that passed (firm_id, step1_points, focus_field,
    recommended, recommending_investor, investment_stage, as_of, …); ``evaluations``, ``registry``
    and ``overrides``: accepted rows of their contracts (``jumpup.intake.step2_contracts``) —
    every firm they name has passed STEP 1. ``committee_names``: Korean name by committee id.
    ``previous``: the decisions of an earlier run of the same round, shown beside the new ones.
    """
    step1 = step1.sort_values("firm_id", kind="stable").reset_index(drop=True)
    people = firms.merge(step1[["firm_id", "recommending_investor"]], on="firm_id", how="right")
    step2_conflicts = conflicts_of_interest(evaluations, registry, people).assign(stage="step2")
    audit_pairs = audits[audits["firm_id"].isin(step1["firm_id"])] if len(audits) else audits
    audit_conflicts = (
        conflicts_of_interest(audit_pairs, registry, people).assign(stage="field_audit")
        if len(audit_pairs)
        else step2_conflicts.iloc[0:0]
    )
    governance = audit_governance(audit_pairs, step1["firm_id"], audit_conflicts, settings.required_audit_roles)
    votes = committee_votes(evaluations, step2_conflicts) if len(evaluations) else _empty_votes()
    committee = committee_decisions(votes, step1["firm_id"], settings.min_committee_members)
    frame = step1[
        ["firm_id", "round_id", "step1_grade", "step1_points", "ai_grade", "size_class", "focus_field"]
    ].copy()
    frame["committee"] = committees(step1)
    frame["committee_ko"] = [committee_names.get(c, c) for c in frame["committee"]]
    frame["recommended"] = step1["recommended"].astype(bool).to_numpy()
    frame["recommending_investor"] = step1["recommending_investor"].to_numpy()
    frame["as_of"] = step1["as_of"].to_numpy()
    frame = frame.merge(committee, on="firm_id", how="left")
    frame, entries = apply_overrides(frame, overrides)
    frame = frame.merge(investment_tracks(step1, financials), on="firm_id", how="left")
    frame = frame.merge(governance, on="firm_id", how="left")
    frame = final_selection(frame, settings.cohort_cap)
    if previous is not None:
        frame, re_evaluated = compare_with_previous(frame, previous)
        entries = [*entries, *re_evaluated]
    else:
        frame["previous_decision"] = ""
        frame["previous_final"] = ""
    frame["reasons"] = [_reasons(row) for row in frame.itertuples(index=False)]
    share = recommendation_share(frame, settings)
    warnings = _warnings(frame, share, step2_conflicts, audit_conflicts, governance, settings)
    conflicts = pd.concat([step2_conflicts, audit_conflicts], ignore_index=True)
    ordered = [
        "firm_id",
        "round_id",
        "committee",
        "committee_ko",
        "final",
        "decision",
        "earlier_decision",
        "decided_by",
        "override_kind",
        "override_reason",
        "previous_decision",
        "previous_final",
        "committee_decision",
        "consensus",
        "members",
        "excluded_members",
        "select_votes",
        "reject_votes",
        *[f"{item}_{end}" for item in STEP2_ITEMS for end in ("min", "max")],
        "selection_rank",
        "track",
        "track_basis",
        "recommended",
        "recommending_investor",
        "step1_grade",
        "step1_points",
        "ai_grade",
        "size_class",
        "focus_field",
        "as_of",
        "audit_team",
        "conflicted_evaluators",
        "roles_missing",
        "governance_ok",
        "reasons",
    ]
    return Step2Result(frame[ordered], votes, conflicts, governance, share, entries, warnings)


def _empty_votes() -> pd.DataFrame:
    columns = ["firm_id", "evaluator_id", "evaluator_role", "vote", *[f"score_{i}" for i in STEP2_ITEMS]]
    return pd.DataFrame(columns=[*columns, "conflict_with", "excluded"])


def _warnings(frame, share, step2_conflicts, audit_conflicts, governance, settings) -> list[Notice]:
    warnings = []
    if share["status"] in ("below", "above"):
        low, high = share["range"]
        warnings.append(
            Notice(
                f"recommended firms are {share['share']:.1%} of the final selection, "
                f"outside the planned {low:.0%}-{high:.0%}",
                f"투자사 추천 기업이 최종 선정 기업의 {share['share']:.1%}로, "
                f"계획한 {low:.0%}–{high:.0%} 범위를 벗어났습니다.",
            )
        )
    over = int((frame["final"] == "over_cap").sum())
    if over:
        warnings.append(
            Notice(
                f"{over} firm(s) selected by their committee fall beyond the cohort cap of {settings.cohort_cap}",
                f"분과위원회가 선정한 {over}개사가 선정 한도 {settings.cohort_cap}개사를 넘어 제외되었습니다.",
            )
        )
    split = int((frame["consensus"] == "split").sum())
    if split:
        warnings.append(
            Notice(
                f"{split} committee decision(s) are split (no unanimous agreement); they need a decision with a reason",
                f"전원합의에 이르지 못한 분과 결정 {split}건: 사유를 밝힌 결정이 필요합니다.",
            )
        )
    if len(step2_conflicts) or len(audit_conflicts):
        warnings.append(
            Notice(
                f"conflicts of interest: {len(step2_conflicts)} STEP 2 and {len(audit_conflicts)} field-audit "
                "evaluator-firm pair(s): STEP 2 members excluded from the votes, "
                "field auditors flagged (conflicts.csv)",
                f"이해충돌: STEP 2 {len(step2_conflicts)}건, 현장실사 {len(audit_conflicts)}건 — "
                "STEP 2 위원은 표결에서 "
                "제외하고 현장실사 위원은 표시했습니다 (conflicts.csv).",
            )
        )
    breaches = int((~governance["governance_ok"]).sum()) if len(governance) else 0
    if breaches:
        warnings.append(
            Notice(
                f"{breaches} field-audit team(s) lack a required role or include a conflicted evaluator "
                "(audit_governance.csv)",
                f"현장실사 평가단 {breaches}곳이 필수 구성(기술·성장 전문가, 심사역)을 갖추지 못했거나 이해충돌 위원을 "
                "포함했습니다 (audit_governance.csv).",
            )
        )
    return warnings
