"""STEP 1: hand-built cases for every rule, audit checks, what-if, and byte-identical reruns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jumpup.intake.ingest import ingest_directory
from jumpup.models.grading import MasterScale
from jumpup.pipelines import step1 as step1_stage
from jumpup.reference import audit_rubric
from jumpup.settings import GradeScaleSettings, load_settings
from jumpup.step1 import decisions as step1
from jumpup.step1.audit import audit_quality, firm_audit_summary, icc_one_way

SCALE = MasterScale.from_settings(GradeScaleSettings())
RUBRIC = audit_rubric()
ITEMS = list(RUBRIC["items"])
ROLES = list(RUBRIC["roles"])


def lower_points(grade: str) -> float:
    table = SCALE.table().set_index("grade")
    return float(table.loc[grade, "points_from"])


def scores_row(firm, points, **extra):
    odds = SCALE.base_odds * 2 ** ((points - SCALE.base_points) / SCALE.pdo)
    probability = odds / (1 + odds)
    row = {
        "firm_id": firm,
        "as_of": 2024,
        "probability": probability,
        "score": points,
        "grade": SCALE.grades(np.array([probability]))[0],
        "size_class": "medium",
        "focus_field": "bio",
        "eligible": True,
        "ineligible_reason": "",
        "firm_age": 12,
        "negative_equity": 0.0,
        "administrative_issue": 0.0,
    }
    row.update(extra)
    return row


def audits_for(firm, score, evaluators=3, items=ITEMS):
    return [
        {"firm_id": firm, "evaluator_id": f"E{firm}{k}", "evaluator_role": ROLES[k % 3], "item": item, "score": score}
        for k in range(evaluators)
        for item in items
    ]


def applications(firms, recommended=()):
    return pd.DataFrame(
        {
            "firm_id": firms,
            "round_id": "2025-1",
            "applied_on": pd.Timestamp("2025-03-02"),
            "recommending_investor": ["한빛벤처스" if f in recommended else None for f in firms],
            "investor_type": ["VC" if f in recommended else None for f in firms],
            "investment_stage": ["series_b" if f in recommended else None for f in firms],
        }
    )


def run_decide(scores, audits, apps, **overrides):
    settings = load_settings(overrides={"step1": overrides}).step1
    summary = firm_audit_summary(pd.DataFrame(audits), apps["firm_id"], RUBRIC)
    return step1.decide(pd.DataFrame(scores), apps, summary, 2024, settings, SCALE).set_index("firm_id")


def test_tie_at_the_cutoff_passes_and_one_point_below_fails():
    # audit score 50 -> 600 points; choose AI points so that STEP 1 points land exactly on BBB's floor
    floor = lower_points("BBB")
    ai_exact = (floor - 0.4 * 600) / 0.6
    scores = [scores_row("tie", ai_exact), scores_row("below", ai_exact - 2)]
    audits = audits_for("tie", 3) + audits_for("below", 3)
    decisions = run_decide(scores, audits, applications(["tie", "below"]))
    assert decisions.loc["tie", "step1_points"] == pytest.approx(floor, abs=0.01)
    assert decisions.loc["tie", "decision"] == "pass" and decisions.loc["tie", "step1_grade"] == "BBB"
    assert decisions.loc["below", "decision"] == "fail" and decisions.loc["below", "step1_grade"] == "BB"


def test_firm_without_audit_fails_unless_audit_is_optional():
    scores = [scores_row("noaudit", 700)]
    decisions = run_decide(scores, [], applications(["noaudit"]))
    assert decisions.loc["noaudit", "decision"] == "fail"
    assert "no_complete_audit" in decisions.loc["noaudit", "hard_flags"]
    assert "현장실사 점수 부족" in decisions.loc["noaudit", "reasons"]
    optional = run_decide(
        scores,
        [],
        applications(["noaudit"]),
        require_audit=False,
        hard_flags=["distress", "negative_equity", "missing_latest_statements"],
    )
    assert optional.loc["noaudit", "decision"] == "pass" and optional.loc["noaudit", "step1_points"] == 700


def test_too_few_or_incomplete_evaluators_are_not_averaged():
    audits = audits_for("two", 4, evaluators=2) + audits_for("partial", 4, evaluators=3)
    audits = [
        a
        for a in audits
        if not (a["firm_id"] == "partial" and a["evaluator_id"].endswith("2") and a["item"] == ITEMS[0])
    ]
    summary = firm_audit_summary(pd.DataFrame(audits), pd.Series(["two", "partial"]), RUBRIC).set_index("firm_id")
    assert np.isnan(summary.loc["two", "audit_score"]) and summary.loc["two", "audit_flag"].startswith("fewer_than_3")
    assert summary.loc["partial", "complete_evaluators"] == 2 and np.isnan(summary.loc["partial", "audit_score"])


def test_recommended_firm_below_the_cutoff_bonus_versus_direct_pass():
    scores = [scores_row("rec", 560)]
    audits = audits_for("rec", 2)
    apps = applications(["rec"], recommended={"rec"})
    bonus = run_decide(scores, audits, apps)
    assert bonus.loc["rec", "recommendation_bonus"] == 15 and bonus.loc["rec", "decision"] == "fail"
    assert "투자사 추천 가점 +15점" in bonus.loc["rec", "reasons"]
    direct = run_decide(scores, audits, apps, recommendation_mode="direct_pass")
    assert direct.loc["rec", "decision"] == "pass" and direct.loc["rec", "recommendation_used"] == "direct_pass"
    early = applications(["rec"], recommended={"rec"}).assign(investment_stage="series_a")
    assert not run_decide(scores, audits, early).loc["rec", "recommended"]  # below Series B: not counted


def test_eligibility_and_hard_flags_override_a_high_grade():
    scores = [
        scores_row("big", 720, size_class="midsize", eligible=False, ineligible_reason="size_class_not_eligible"),
        scores_row("distressed", 720, administrative_issue=1.0),
        scores_row("stale", 720, as_of=2022),
    ]
    audits = audits_for("big", 5) + audits_for("distressed", 5) + audits_for("stale", 5)
    decisions = run_decide(scores, audits, applications(["big", "distressed", "stale"]))
    assert (decisions["decision"] == "fail").all()
    assert "지원 자격 미충족" in decisions.loc["big", "reasons"]
    assert decisions.loc["distressed", "hard_flags"] == "distress"
    assert decisions.loc["stale", "hard_flags"] == "missing_latest_statements"


def test_recommendation_share_breach_is_reported():
    firms = [f"f{i}" for i in range(4)]
    scores = [scores_row(f, 720) for f in firms]
    audits = [a for f in firms for a in audits_for(f, 5)]
    decisions = run_decide(scores, audits, applications(firms, recommended={"f0", "f1", "f2"}))
    check = step1.recommendation_share_check(decisions.reset_index(), load_settings().step1)
    assert check["passed"] == 4 and check["share"] == 0.75 and check["status"] == "above"


def test_what_if_counts_fall_as_the_cutoff_rises():
    firms = [f"f{i}" for i in range(6)]
    scores = [scores_row(f, 540 + 30 * i) for i, f in enumerate(firms)]
    audits = [a for f in firms for a in audits_for(f, 3)]
    decisions = run_decide(scores, audits, applications(firms)).reset_index()
    table = step1.what_if(decisions, load_settings().step1, SCALE).set_index("reference_grade")
    column = table["audit_weight_0.4"]
    assert (np.diff(column.to_numpy()) >= 0).all() and column.loc["D"] == 6
    assert column.loc["BBB"] == (decisions["decision"] == "pass").sum()


def test_icc_and_leniency():
    perfect = pd.DataFrame({"a": [1, 2, 3, 4], "b": [1, 2, 3, 4]})
    assert icc_one_way(perfect)["icc1"] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.normal(size=(300, 3)))
    assert abs(icc_one_way(noise)["icc1"]) < 0.1
    rows = []
    for f in range(40):
        for k, bias in enumerate([0, 0, 1.5]):
            for item in ITEMS:
                rows.append(
                    {
                        "firm_id": f"f{f}",
                        "evaluator_id": f"E{k}",
                        "evaluator_role": ROLES[k],
                        "item": item,
                        "score": float(np.clip(3 + bias + rng.normal(scale=0.3), 1, 5)),
                    }
                )
    quality = audit_quality(pd.DataFrame(rows), RUBRIC, leniency_z=2.0, min_deviation=0.5)
    assert quality["flagged_evaluators"] == ["E2"]


@pytest.fixture
def tiny_round(tmp_path):
    directory = tmp_path / "round"
    directory.mkdir()
    firms = [f"00000{i}" for i in range(1, 6)]
    pd.DataFrame(
        {"firm_id": firms, "name": [f"회사{i}" for i in range(5)], "ksic_division": "C26", "founded_year": 2010}
    ).to_csv(directory / "firms.csv", index=False)
    pd.DataFrame({"firm_id": firms, "fiscal_year": 2024, "revenue": 2e10, "total_assets": 1e10}).to_csv(
        directory / "financials.csv", index=False
    )
    applications(firms, recommended={firms[0]}).assign(applied_on="2025-03-02").to_csv(
        directory / "applications.csv", index=False
    )
    pd.DataFrame([a for i, f in enumerate(firms) for a in audits_for(f, 2 + i % 3)]).to_csv(
        directory / "audits.csv", index=False
    )
    scores = pd.DataFrame(
        [
            scores_row(f, 580 + 25 * i, reason_up_1="경영성과 +10점: 매출액증가율", reason_down_1="")
            for i, f in enumerate(firms)
        ]
    )
    scores.to_csv(tmp_path / "scores.csv", index=False)
    return tmp_path


def ingested(root, settings):
    return ingest_directory(root / "round", settings.ingest, round_mode=True)


def test_run_writes_every_output_and_reruns_are_byte_identical(tiny_round):
    settings = load_settings(overrides={"ingest": {"max_fiscal_year": 2024}})
    log = tiny_round / "decision_log.jsonl"
    first = step1_stage.run(
        tiny_round / "scores.csv", ingested(tiny_round, settings), tiny_round / "out1", settings, log_path=log
    )
    second = step1_stage.run(
        tiny_round / "scores.csv", ingested(tiny_round, settings), tiny_round / "out2", settings, log_path=log
    )
    a = (tiny_round / "out1" / "step1_decisions.csv").read_bytes()
    assert a == (tiny_round / "out2" / "step1_decisions.csv").read_bytes()
    assert first["decisions_sha256"] == second["decisions_sha256"]
    assert len(log.read_text().splitlines()) == 2
    for name in ("whatif.csv", "whatif.svg", "audit_quality.json", "audit_per_firm.csv", "step1_summary.json"):
        assert (tiny_round / "out1" / name).exists()
    passed = pd.read_csv(tiny_round / "out1" / "step1_decisions.csv", dtype={"firm_id": str})
    passed = passed[passed["decision"] == "pass"]
    dossiers = sorted(p.stem for p in (tiny_round / "out1" / "dossiers").glob("*.html"))
    assert dossiers == sorted(passed["firm_id"]) and dossiers
    html = (tiny_round / "out1" / "dossiers" / f"{dossiers[0]}.html").read_text()
    assert "STEP 2 심층토론 자료" in html and "신기술성" in html
    # an empty reason (read back from CSV as missing) is left out, never printed as 'nan'
    assert "경영성과 +10점: 매출액증가율" in html and ">nan<" not in html
    assert "<li>—</li>" not in html and "<li></li>" not in html and "0.5점 넘게" in html  # no empty bullets


def test_scores_from_another_master_scale_are_refused(tiny_round):
    settings = load_settings(
        overrides={
            "ingest": {"max_fiscal_year": 2024},
            "grade_scale": {"probability_cutpoints": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]},
        }
    )
    with pytest.raises(ValueError, match="master scale"):
        step1_stage.run(
            tiny_round / "scores.csv",
            ingested(tiny_round, settings),
            tiny_round / "out",
            settings,
            log_path=tiny_round / "log.jsonl",
        )


def _row_reasons(row, scale: MasterScale, settings) -> str:
    """The row-by-row wording the column-wise ``reason_texts`` must reproduce."""
    from jumpup.features.size_class import INELIGIBLE_KO, SIZE_CLASS_KO
    from jumpup.intake.contracts import INVESTMENT_STAGE_KO

    reasons = []
    if isinstance(row.step1_grade, str):
        relation = "≥" if row.meets_reference else "<"
        reasons.append(
            f"STEP 1 등급 {row.step1_grade} ({row.step1_points:.1f}점) {relation} 기준등급 {scale.reference_grade}"
        )
    if isinstance(row.ai_grade, str):
        reasons.append(f"AI 등급 {row.ai_grade} ({row.ai_points:.1f}점)")
    if pd.notna(row.audit_score):
        reasons.append(f"현장실사 {row.audit_score:.1f}/100 → {row.audit_points:.1f}점")
    if row.recommended:
        if settings.recommendation_mode == "bonus":
            reasons.append(
                f"투자사 추천 가점 +{settings.recommendation_bonus_points:.0f}점 ({row.recommending_investor}, "
                f"{row.investor_type}, {INVESTMENT_STAGE_KO.get(row.investment_stage, row.investment_stage)})"
            )
        elif settings.recommendation_mode == "direct_pass":
            reasons.append(f"투자사 추천으로 STEP 1 직행 ({row.recommending_investor}, {row.investor_type})")
    if row.eligible is not True and row.eligible is not np.True_:
        size = SIZE_CLASS_KO.get(row.size_class, row.size_class) if isinstance(row.size_class, str) else "미상"
        reason = row.ineligible_reason if isinstance(row.ineligible_reason, str) else ""
        young = reason == "younger_than_minimum_age" and pd.notna(row.firm_age)
        age = f"업력 {row.firm_age:.0f}년, " if young else ""
        reasons.append(f"지원 자격 미충족: {INELIGIBLE_KO.get(reason, reason) or '판정 불가'} ({age}규모: {size})")
    for flag in filter(None, str(row.hard_flags).split(";")):
        reasons.append(f"결격 사유: {step1.FLAG_KO.get(flag, flag)}")
    return " | ".join(reasons)


@pytest.mark.parametrize("mode", ["bonus", "direct_pass", "none"])
def test_reason_texts_word_every_row_as_the_row_by_row_rule(mode):
    settings = load_settings().step1.model_copy(update={"recommendation_mode": mode})
    scale = MasterScale.from_settings(GradeScaleSettings())
    rng = np.random.default_rng(7)
    n = 400
    nan_or = lambda values: rng.choice(np.array([*values, None], dtype=object), n)  # noqa: E731
    frame = pd.DataFrame(
        {
            "step1_grade": nan_or(["A", "BBB", "B"]),
            "step1_points": rng.uniform(300, 900, n).round(3),
            "meets_reference": rng.random(n) < 0.5,
            "ai_grade": nan_or(["AA", "BB"]),
            "ai_points": rng.uniform(300, 900, n),
            "audit_score": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 100, n)),
            "audit_points": rng.uniform(0, 300, n),
            "recommended": rng.random(n) < 0.3,
            "recommending_investor": nan_or(["KB인베스트먼트", "LB"]),
            "investor_type": rng.choice(["VC", "PE"], n),
            "investment_stage": nan_or(["series_a", "series_b", "pre_ipo"]),
            "eligible": rng.choice(np.array([True, False, None], dtype=object), n),
            "size_class": nan_or(["small", "medium", "large"]),
            "ineligible_reason": nan_or(["size_class_not_eligible", "younger_than_minimum_age", "unknown_rule"]),
            "firm_age": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 30, n)),
            "hard_flags": rng.choice(np.array(["", "distress", "distress;negative_equity", None], dtype=object), n),
        }
    )
    expected = [_row_reasons(r, scale, settings) for r in frame.itertuples(index=False)]
    assert list(step1.reason_texts(frame, scale, settings)) == expected
    assert len(step1.reason_texts(frame.iloc[:0], scale, settings)) == 0


def test_a_round_without_any_accepted_audit_row_says_so_once():
    scores = pd.DataFrame([scores_row("a", 700), scores_row("b", 650)])
    apps = applications(["a", "b"])
    settings = load_settings().step1
    for audits in (None, pd.DataFrame(audits_for("a", 3)).iloc[0:0]):
        result = step1.screen(scores, apps, audits, RUBRIC, settings, SCALE, None)
        texts = [str(w) for w in result.warnings if "field-audit" in w]
        assert len(texts) == 1 and "no applicant has a complete field audit" in texts[0]
    with_audits = step1.screen(scores, apps, pd.DataFrame(audits_for("a", 3)), RUBRIC, settings, SCALE, None)
    assert not [w for w in with_audits.warnings if "field-audit" in w]
