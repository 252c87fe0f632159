"""STEP 1 (AI + 현장평가): combine the AI grade, the field audit and investor recommendations.

An absolute evaluation, not a ranking: a firm passes when its STEP 1 grade — AI points and audit
points combined with the weights in ``params.yaml`` and read on the model's master scale — is at or
above the reference grade (기준등급), it is eligible (size class, age, focus field when required)
and no hard flag is raised. Investor recommendations add bonus points or pass the firm outright
(``step1.recommendation_mode``); whether recommended firms stay within the planned share of those
passed is checked and reported, never forced. Every decision carries its reasons and inputs, every
run appends to the decision log, and the same inputs give byte-identical decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jumpup.features.size_class import INELIGIBLE_KO, SIZE_CLASS_KO
from jumpup.intake.contracts import INVESTMENT_STAGE_KO, INVESTMENT_STAGES
from jumpup.models.grading import MasterScale
from jumpup.notices import Notice
from jumpup.settings import Step1Settings
from jumpup.step1.audit import ScoredAudits, score_audits

FLAG_KO = {
    "distress": "관리종목 지정 (부실 징후)",
    "negative_equity": "자본잠식",
    "missing_latest_statements": "최근 사업연도 재무제표 없음",
    "no_complete_audit": "현장실사 점수 부족 (평가위원 수 미달 또는 미실시)",
    "no_ai_score": "AI 평가 결과 없음",
}


def points_to_grade(points: np.ndarray, scale: MasterScale) -> np.ndarray:
    """Read points on the master scale: points -> odds -> probability -> grade."""
    odds = scale.base_odds * np.power(2.0, (np.asarray(points, dtype="float64") - scale.base_points) / scale.pdo)
    return scale.grades(odds / (1 + odds))


def audit_points(audit_score: pd.Series, settings: Step1Settings) -> pd.Series:
    span = settings.audit_points_at_100 - settings.audit_points_at_0
    return settings.audit_points_at_0 + span * audit_score / 100.0


def valid_recommendation(applications: pd.DataFrame, settings: Step1Settings) -> pd.Series:
    """A recommendation counts when the investor type is allowed and the stage is at least the minimum."""
    stage_rank = {stage: i for i, stage in enumerate(INVESTMENT_STAGES)}
    minimum = stage_rank.get(settings.recommendation_min_stage, 0)
    has = applications.get("recommending_investor", pd.Series(None, index=applications.index)).notna()
    type_ok = applications.get("investor_type", pd.Series(None, index=applications.index)).isin(
        settings.recommendation_investor_types
    )
    stage_ok = (
        applications.get("investment_stage", pd.Series(None, index=applications.index)).map(stage_rank) >= minimum
    )
    return has & type_ok & stage_ok.fillna(False)


def step1_points(
    ai_points: pd.Series, audit: pd.Series, bonus: pd.Series, ai_weight: float, audit_weight: float, require_audit: bool
) -> pd.Series:
    """Weighted points; without an audit (when not required) the AI points stand alone."""
    combined = ai_weight * ai_points + audit_weight * audit
    if not require_audit:
        combined = combined.where(audit.notna(), ai_points)
    return combined + bonus


def decide(
    scores: pd.DataFrame,
    applications: pd.DataFrame,
    audit_summary: pd.DataFrame,
    expected_year: int,
    settings: Step1Settings,
    scale: MasterScale,
    eligibility: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One decision per applicant with its STEP 1 grade, reasons and every input used.

    ``eligibility``: the round-time eligibility per firm (``jumpup.step1.eligibility``); its
    columns replace the eligibility facts carried by the scores.
    """
    frame = applications[["firm_id", "round_id", "applied_on"]].copy()
    frame["recommending_investor"] = applications.get("recommending_investor")
    frame["investor_type"] = applications.get("investor_type")
    frame["investment_stage"] = applications.get("investment_stage")
    frame["recommended"] = valid_recommendation(applications, settings).to_numpy()
    score_columns = [
        "firm_id",
        "as_of",
        "probability",
        "score",
        "grade",
        "size_class",
        "focus_field",
        "eligible",
        "ineligible_reason",
        "firm_age",
        "negative_equity",
        "administrative_issue",
    ]
    if eligibility is not None:
        score_columns = [c for c in score_columns if c == "firm_id" or c not in eligibility]
    frame = frame.merge(scores[[c for c in score_columns if c in scores]], on="firm_id", how="left")
    if eligibility is not None:
        frame = frame.merge(eligibility, on="firm_id", how="left", validate="many_to_one")
    frame = frame.rename(columns={"probability": "ai_probability", "score": "ai_points", "grade": "ai_grade"})
    frame = frame.merge(
        audit_summary[["firm_id", "audit_score", "evaluators", "complete_evaluators", "audit_flag"]],
        on="firm_id",
        how="left",
    )
    frame["audit_points"] = audit_points(frame["audit_score"], settings).round(2)
    bonus_on = settings.recommendation_mode == "bonus"
    frame["recommendation_bonus"] = np.where(frame["recommended"] & bonus_on, settings.recommendation_bonus_points, 0.0)
    frame["step1_points"] = step1_points(
        frame["ai_points"],
        frame["audit_points"],
        frame["recommendation_bonus"],
        settings.ai_weight,
        settings.audit_weight,
        settings.require_audit,
    ).round(2)
    grades = points_to_grade(frame["step1_points"].fillna(-1e9).to_numpy(), scale)
    frame["step1_grade"] = np.where(frame["step1_points"].notna(), grades, None)

    flags = {
        "no_ai_score": frame["ai_points"].isna(),
        "distress": frame["administrative_issue"].fillna(0) > 0,
        "negative_equity": frame["negative_equity"].fillna(0) > 0,
        "missing_latest_statements": frame["as_of"].isna() | (frame["as_of"] < expected_year),
        "no_complete_audit": frame["audit_score"].isna(),
    }
    active = {"no_ai_score", *settings.hard_flags}
    if not settings.require_audit:
        active.discard("no_complete_audit")
    hard = pd.Series(False, index=frame.index)
    flag_text = pd.Series("", index=frame.index, dtype="object")
    for name, raised in flags.items():
        if name in active:
            hard |= raised
            flag_text = flag_text.where(~raised, flag_text + np.where(flag_text == "", "", ";") + name)
    frame["hard_flags"] = flag_text
    eligible = frame["eligible"].astype("boolean").fillna(False).astype(bool)
    at_or_above = scale.at_or_above(frame["step1_grade"]).fillna(False).astype(bool)
    direct = frame["recommended"] & (settings.recommendation_mode == "direct_pass")
    frame["passed"] = eligible & ~hard & (at_or_above | direct)
    frame["recommendation_used"] = np.select(
        [frame["recommended"] & bonus_on, direct], ["bonus", "direct_pass"], default=""
    )
    frame["decision"] = np.where(frame["passed"], "pass", "fail")
    frame["meets_reference"] = at_or_above
    frame["reasons"] = reason_texts(frame, scale, settings)
    frame = frame.sort_values("firm_id", kind="stable").reset_index(drop=True)
    ordered = [
        "firm_id",
        "round_id",
        "decision",
        "step1_grade",
        "step1_points",
        "reasons",
        "recommendation_used",
        "ai_grade",
        "ai_points",
        "ai_probability",
        "audit_score",
        "audit_points",
        "recommendation_bonus",
        "eligible",
        "ineligible_reason",
        "hard_flags",
        "size_class",
        "focus_field",
        "firm_age",
        "as_of",
        "evaluators",
        "complete_evaluators",
        "audit_flag",
        "recommended",
        "recommending_investor",
        "investor_type",
        "investment_stage",
        "applied_on",
    ]
    ordered += [c for c in ("eligibility_date", "firm_age_basis", "size_rule", "size_table_version") if c in frame]
    return frame[ordered]


REASON_INPUTS = [
    "step1_grade",
    "step1_points",
    "meets_reference",
    "ai_grade",
    "ai_points",
    "audit_score",
    "audit_points",
    "recommended",
    "recommending_investor",
    "investor_type",
    "investment_stage",
    "eligible",
    "size_class",
    "ineligible_reason",
    "hard_flags",
]


def reason_texts(frame: pd.DataFrame, scale: MasterScale, settings: Step1Settings) -> np.ndarray:
    """``_reasons`` of every row of ``frame`` (one row per firm with the ``REASON_INPUTS`` columns).

    The same words, built a clause at a time over whole columns: each clause is worded only for
    the rows it applies to, and the clauses are joined with " | ". Returns an object array of str.
    """
    n = len(frame)
    column = {c: frame[c].to_numpy(dtype=object) for c in REASON_INPUTS}
    text = np.full(n, "", dtype=object)

    def add(mask: np.ndarray, clauses: list[str]) -> None:
        where = np.flatnonzero(mask)
        text[where] = [t + " | " + c if t else c for t, c in zip(text[where], clauses, strict=True)]

    def is_text(name: str) -> np.ndarray:
        return np.fromiter((isinstance(v, str) for v in column[name]), dtype=bool, count=n)

    reference = scale.reference_grade
    graded = is_text("step1_grade")
    add(
        graded,
        [
            f"STEP 1 등급 {g} ({p:.1f}점) {'≥' if m else '<'} 기준등급 {reference}"
            for g, p, m in zip(
                column["step1_grade"][graded],
                column["step1_points"][graded],
                column["meets_reference"][graded],
                strict=True,
            )
        ],
    )
    ai = is_text("ai_grade")
    add(
        ai,
        [f"AI 등급 {g} ({p:.1f}점)" for g, p in zip(column["ai_grade"][ai], column["ai_points"][ai], strict=True)],
    )
    audited = pd.notna(column["audit_score"])
    add(
        audited,
        [
            f"현장실사 {a:.1f}/100 → {p:.1f}점"
            for a, p in zip(column["audit_score"][audited], column["audit_points"][audited], strict=True)
        ],
    )
    recommended = np.fromiter((bool(v) for v in column["recommended"]), dtype=bool, count=n)
    investors = zip(
        column["recommending_investor"][recommended],
        column["investor_type"][recommended],
        column["investment_stage"][recommended],
        strict=True,
    )
    if settings.recommendation_mode == "bonus":
        bonus = f"투자사 추천 가점 +{settings.recommendation_bonus_points:.0f}점"
        add(recommended, [f"{bonus} ({i}, {t}, {INVESTMENT_STAGE_KO.get(st, st)})" for i, t, st in investors])
    elif settings.recommendation_mode == "direct_pass":
        add(recommended, [f"투자사 추천으로 STEP 1 직행 ({i}, {t})" for i, t, _ in investors])
    ineligible = np.fromiter((v is not True and v is not np.True_ for v in column["eligible"]), dtype=bool, count=n)
    sizes = [SIZE_CLASS_KO.get(v, v) if isinstance(v, str) else "미상" for v in column["size_class"][ineligible]]
    codes = column["ineligible_reason"][ineligible]
    whys = [INELIGIBLE_KO.get(v, v) or "판정 불가" if isinstance(v, str) else "판정 불가" for v in codes]
    # A firm too young for the program is told its age (full years at the application date), not only the rule.
    ages = frame["firm_age"].to_numpy(dtype=object)[ineligible] if "firm_age" in frame else [None] * len(codes)
    details = [
        f"업력 {float(age):.0f}년, " if code == "younger_than_minimum_age" and age is not None and pd.notna(age) else ""
        for code, age in zip(codes, ages, strict=True)
    ]
    add(
        ineligible,
        [f"지원 자격 미충족: {why} ({d}규모: {size})" for why, d, size in zip(whys, details, sizes, strict=True)],
    )
    flags = [str(v) for v in column["hard_flags"]]
    worded = {
        value: " | ".join(f"결격 사유: {FLAG_KO.get(f, f)}" for f in filter(None, value.split(";")))
        for value in set(flags)
    }
    flag_text = np.array([worded[v] for v in flags], dtype=object)
    add(flag_text != "", list(flag_text[flag_text != ""]))
    return text


def recommendation_share_check(decisions: pd.DataFrame, settings: Step1Settings) -> dict:
    passed = decisions[decisions["decision"] == "pass"]
    share = float(passed["recommended"].mean()) if len(passed) else float("nan")
    low, high = settings.recommendation_share_range
    status = "no_pass" if not len(passed) else ("below" if share < low else ("above" if share > high else "within"))
    return {
        "passed": len(passed),
        "recommended_passed": int(passed["recommended"].sum()),
        "share": share,
        "range": [low, high],
        "status": status,
    }


def what_if(decisions: pd.DataFrame, settings: Step1Settings, scale: MasterScale) -> pd.DataFrame:
    """Firms passing at every reference grade (rows) and audit weight (columns)."""
    base_ok = decisions["eligible"].astype("boolean").fillna(False).astype(bool) & (decisions["hard_flags"] == "")
    direct = decisions["recommended"] & (settings.recommendation_mode == "direct_pass")
    table = {}
    for weight in settings.whatif_audit_weights:
        points = step1_points(
            decisions["ai_points"],
            decisions["audit_points"],
            decisions["recommendation_bonus"],
            1 - weight,
            weight,
            settings.require_audit,
        )
        odds = scale.base_odds * np.power(2.0, (points.fillna(-1e9).to_numpy() - scale.base_points) / scale.pdo)
        rank = scale.grade_index(odds / (1 + odds))  # as points_to_grade, kept as the grade's position
        table[f"audit_weight_{weight:g}"] = [
            int((base_ok & ((rank <= limit) | direct)).sum()) for limit in range(len(scale.labels))
        ]
    return pd.DataFrame(table, index=pd.Index(scale.labels, name="reference_grade")).reset_index()


def as_of_year(applications: pd.DataFrame) -> int:
    """The fiscal year a round is judged on: the year before the latest application date.

    ``applications`` needs ``applied_on`` (dates or ISO strings). Source: the program scores the
    statements of the last closed fiscal year before the application.
    """
    return int(pd.to_datetime(applications["applied_on"]).dt.year.max()) - 1


@dataclass(frozen=True)
class Step1Result:
    """Everything STEP 1 decides for one round, before anything is written.

    ``decisions``: one row per applicant (see ``decide``); ``audit_summary``: one row per applicant
    with its audit score and per-item means; ``what_if``: passes by reference grade (rows) and audit
    weight (columns); ``quality``: evaluator effects and ICC; ``share``: the recommendation-share check.
    """

    decisions: pd.DataFrame
    audit_summary: pd.DataFrame
    what_if: pd.DataFrame
    quality: dict
    share: dict
    warnings: list[Notice]


def screen(
    scores: pd.DataFrame,
    applications: pd.DataFrame,
    audits: pd.DataFrame | None,
    rubric: dict,
    settings: Step1Settings,
    scale: MasterScale,
    eligibility: pd.DataFrame | None = None,
    scored: ScoredAudits | None = None,
) -> Step1Result:
    """STEP 1 for one round as a pure function of its tables.

    ``scores``: one row per scored firm (the ``scores`` contract); ``applications`` and ``audits``:
    the ingested round tables (``audits`` may be None); ``eligibility``: round-time eligibility
    per firm (``jumpup.step1.eligibility.round_eligibility``), else the scores' own; ``scored``:
    the audit already scored by ``score_audits`` (``audits`` is then not read again). Raises
    ``ValueError`` when the scores' grades do not match ``scale`` (they were graded on another master scale).
    """
    regraded = scale.grades(scores["probability"].to_numpy())
    if (regraded != scores["grade"].to_numpy()).any():
        raise ValueError(
            "grades in the scores do not match the master scale in params.yaml (grade_scale); "
            "score with a model that uses the same scale"
        )
    if scored is None:
        scored = score_audits(
            audits, applications["firm_id"], rubric, settings.leniency_z, settings.leniency_min_deviation
        )
    summary, quality = scored.summary, scored.quality
    decisions = decide(scores, applications, summary, as_of_year(applications), settings, scale, eligibility)
    share = recommendation_share_check(decisions, settings)
    warnings = []
    if share["status"] in ("below", "above"):
        low, high = share["range"]
        warnings.append(
            Notice(
                f"recommended firms are {share['share']:.1%} of those passed, outside the planned {low:.0%}-{high:.0%}",
                f"투자사 추천 기업이 STEP 1 통과 기업의 {share['share']:.1%}로, 계획한 {low:.0%}–{high:.0%} 범위를 "
                f"벗어났습니다.",
            )
        )
    if audits is None or audits.empty:
        # Not an input error (the file is optional), but every applicant then lacks a complete field audit.
        warnings.append(
            Notice(
                "no field-audit row was accepted (audits file absent, empty or wholly quarantined): "
                "no applicant has a complete field audit",
                "채택된 현장실사 행이 없습니다 (현장실사 파일이 없거나 비었거나 모든 행이 격리됨): "
                "현장실사를 모두 마친 신청 기업이 없습니다.",
            )
        )
    flagged = quality.get("flagged_evaluators", [])
    if flagged:
        warnings.append(
            Notice(
                f"{len(flagged)} evaluator(s) score far from their panels: {', '.join(flagged)}",
                f"소속 평가단과 크게 다르게 채점한 평가위원 {len(flagged)}명: {', '.join(flagged)}",
            )
        )
    return Step1Result(decisions, summary, what_if(decisions, settings, scale), quality, share, warnings)
