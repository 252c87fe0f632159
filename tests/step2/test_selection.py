"""STEP 2 rules on small hand-made tables: unanimity, split committees, conflicts of interest,
field-audit teams, overrides, investment tracks, the cohort cap and the recommendation share."""

from __future__ import annotations

import pandas as pd
import pytest

from jumpup.intake.step2_contracts import STEP2_ITEMS
from jumpup.settings import Step2Settings
from jumpup.step2.selection import (
    apply_overrides,
    decide_step2,
    final_selection,
    normalise_name,
    recommendation_share,
)

ROLES = ("technology_expert", "investor", "industry_executive", "founder")


def step1_table(n: int, recommended: set[int] = frozenset(), staged: set[int] = frozenset()) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "firm_id": [f"F{i:02d}" for i in range(n)],
            "round_id": "2025-1",
            "step1_grade": "A",
            "step1_points": [700.0 - i for i in range(n)],
            "ai_grade": "A",
            "size_class": "medium",
            "focus_field": ["ai_smart" if i % 2 else "none" for i in range(n)],
            "recommended": [i in recommended for i in range(n)],
            "recommending_investor": ["한빛벤처스" if i in recommended else None for i in range(n)],
            "investment_stage": ["series_b" if i in staged else None for i in range(n)],
            "as_of": 2024,
        }
    )


def evaluations(votes: dict[str, list[str]], affiliation: dict[str, str] | None = None) -> pd.DataFrame:
    rows = []
    for firm, firm_votes in votes.items():
        for k, vote in enumerate(firm_votes):
            member = f"M{k}"
            for item in STEP2_ITEMS:
                rows.append(
                    {
                        "firm_id": firm,
                        "evaluator_id": member,
                        "evaluator_role": ROLES[k % 4],
                        "item": item,
                        "score": 4.0 if vote == "select" else 2.0,
                        "vote": vote,
                        "affiliation": (affiliation or {}).get(member),
                    }
                )
    return pd.DataFrame(rows)


def audits_for(firms: list[str], roles=("technology_expert", "growth_expert", "agency_examiner")) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"firm_id": f, "evaluator_id": f"E{r}", "evaluator_role": role, "item": "novelty", "score": 3}
            for f in firms
            for r, role in enumerate(roles)
        ]
    )


def run(step1, evals, settings=None, registry=None, overrides=None, audits=None, financials=None):
    firms = pd.DataFrame({"firm_id": step1["firm_id"], "name": "기업" + step1["firm_id"]})
    return decide_step2(
        step1,
        firms,
        financials if financials is not None else pd.DataFrame(columns=["firm_id", "fiscal_year", "investment_raised"]),
        audits if audits is not None else audits_for(list(step1["firm_id"])),
        evals,
        registry if registry is not None else pd.DataFrame(columns=["evaluator_id", "affiliation"]),
        overrides
        if overrides is not None
        else pd.DataFrame(columns=["firm_id", "kind", "decision", "reason", "author"]),
        settings or Step2Settings(),
        {"ai_smart": "AI·스마트 분과", "general": "일반 분과"},
    )


SELECT4 = ["select"] * 4


def test_unanimous_committees_decide_and_a_split_committee_is_recorded_not_averaged():
    step1 = step1_table(3)
    # F02: three select and one reject — a majority and a high average, still no unanimous decision
    result = run(step1, evaluations({"F00": SELECT4, "F01": ["reject"] * 4, "F02": ["select"] * 3 + ["reject"]}))
    d = result.decisions.set_index("firm_id")
    assert d.loc["F00", "consensus"] == "unanimous_select" and d.loc["F00", "final"] == "selected"
    assert d.loc["F01", "consensus"] == "unanimous_reject" and d.loc["F01", "final"] == "not_selected"
    assert d.loc["F02", "consensus"] == "split"
    assert d.loc["F02", "committee_decision"] == "undecided" and d.loc["F02", "final"] == "not_selected"
    assert (d.loc["F02", "select_votes"], d.loc["F02", "reject_votes"]) == (3, 1)
    assert (d.loc["F02", "innovation_min"], d.loc["F02", "innovation_max"]) == (2.0, 4.0)  # a range, not a mean
    assert "합의 불성립" in d.loc["F02", "reasons"]
    assert d.loc["F01", "committee"] == "ai_smart" and d.loc["F00", "committee"] == "general"
    assert any("split" in w for w in result.warnings)


def test_a_member_affiliated_with_the_recommending_investor_is_excluded_from_the_vote():
    step1 = step1_table(2, recommended={0})
    # M3 belongs to the firm's recommending investor: their lone reject must not split the committee
    evals = evaluations(
        {"F00": ["select"] * 3 + ["reject"], "F01": ["select"] * 3 + ["reject"]}, {"M3": "(주)한빛벤처스"}
    )
    result = run(step1, evals)
    d = result.decisions.set_index("firm_id")
    assert d.loc["F00", "consensus"] == "unanimous_select" and d.loc["F00", "excluded_members"] == 1
    assert d.loc["F01", "consensus"] == "split"  # F01 has no recommending investor: no conflict
    conflicts = result.conflicts
    assert conflicts[["firm_id", "evaluator_id", "conflict_with", "stage"]].values.tolist() == [
        ["F00", "M3", "recommending_investor", "step2"]
    ]
    votes = result.votes.set_index(["firm_id", "evaluator_id"])
    assert votes.loc[("F00", "M3"), "excluded"] and not votes.loc[("F01", "M3"), "excluded"]


def test_a_member_of_the_firm_itself_is_a_conflict_and_too_few_members_leave_the_firm_undecided():
    step1 = step1_table(1)
    evals = evaluations({"F00": ["select"] * 3})
    registry = pd.DataFrame({"evaluator_id": ["M0"], "affiliation": ["기업F00"]})
    result = run(step1, evals, registry=registry)
    d = result.decisions.iloc[0]
    assert d["excluded_members"] == 1 and d["members"] == 2
    assert d["consensus"] == "too_few_members" and d["final"] == "not_selected"


def test_field_audit_team_without_a_required_role_or_with_a_conflicted_auditor_is_flagged():
    step1 = step1_table(3, recommended={2})
    audits = pd.concat(
        [audits_for(["F00"]), audits_for(["F01"], roles=("technology_expert", "growth_expert")), audits_for(["F02"])]
    )
    registry = pd.DataFrame({"evaluator_id": ["E1"], "affiliation": ["한빛벤처스"]})  # F02's recommending investor
    result = run(step1, evaluations({f: SELECT4 for f in step1["firm_id"]}), registry=registry, audits=audits)
    g = result.governance.set_index("firm_id")
    assert g.loc["F00", "governance_ok"]
    assert not g.loc["F01", "governance_ok"] and g.loc["F01", "roles_missing"] == "agency_examiner"
    assert not g.loc["F02", "governance_ok"] and g.loc["F02", "conflicted_evaluators"] == "E1"
    assert g.loc["F02", "roles_missing"] == "growth_expert"  # excluded, the team lacks its growth expert
    assert ["F02", "E1", "field_audit"] in result.conflicts[["firm_id", "evaluator_id", "stage"]].values.tolist()
    reasons = result.decisions.set_index("firm_id")["reasons"]
    assert "필수 역할 누락 심사역" in reasons["F01"] and "agency_examiner" not in reasons["F01"]  # Korean on pages


def test_the_cohort_cap_keeps_the_higher_step1_points_and_reports_the_rest():
    step1 = step1_table(5)
    result = run(step1, evaluations({f: SELECT4 for f in step1["firm_id"]}), settings=Step2Settings(cohort_cap=3))
    d = result.decisions.set_index("firm_id")
    assert list(result.selection["firm_id"]) == ["F00", "F01", "F02"]  # 700, 699, 698 points
    assert list(d.loc[["F03", "F04"], "final"]) == ["over_cap", "over_cap"]
    assert "선정 한도 초과" in d.loc["F04", "reasons"]
    assert any("cohort cap of 3" in w for w in result.warnings)


def test_recommendation_share_is_measured_on_the_final_selection_not_on_step1_passes():
    # 4 of 10 STEP 1 passes are recommended (40%, within 30-50%), but 3 of the 4 selected are (75%)
    step1 = step1_table(10, recommended={0, 1, 2, 9})
    votes = {f: (SELECT4 if f in ("F00", "F01", "F02", "F03") else ["reject"] * 4) for f in step1["firm_id"]}
    result = run(step1, evaluations(votes))
    share = result.share
    assert share["measured_on"] == "final_selection"
    assert (share["selected"], share["recommended_selected"]) == (4, 3)
    assert share["share"] == pytest.approx(0.75) and share["status"] == "above"
    assert any("75.0% of the final selection" in w for w in result.warnings)
    assert recommendation_share(result.decisions.assign(final="not_selected"), Step2Settings())["status"] == (
        "none_selected"
    )


def test_investment_track_comes_from_the_application_and_the_statements():
    step1 = step1_table(3, staged={0})
    financials = pd.DataFrame(
        {"firm_id": ["F01", "F01", "F02"], "fiscal_year": [2023, 2025, 2025], "investment_raised": [5e9, 0.0, 3e9]}
    )
    result = run(step1, evaluations({f: SELECT4 for f in step1["firm_id"]}), financials=financials)
    d = result.decisions.set_index("firm_id")
    assert d.loc["F00", "track"] == "growth" and "series_b" in d.loc["F00", "track_basis"]
    assert d.loc["F01", "track"] == "growth" and "50.0억원" in d.loc["F01", "track_basis"]
    assert d.loc["F02", "track"] == "entry"  # investment after the as-of year is not on the application's record


def test_an_override_and_an_appeal_keep_the_earlier_decision_beside_the_new_one():
    step1 = step1_table(2)
    overrides = pd.DataFrame(
        {
            "firm_id": ["F00", "F01"],
            "kind": ["override", "appeal"],
            "decision": ["select", "select"],
            "reason": ["분과 재토론 결과 전원 동의", "재심: 신규 수주 계약 확인"],
            "author": ["김위원장", "운영위원회"],
        }
    )
    result = run(step1, evaluations({"F00": ["select"] * 3 + ["reject"], "F01": ["reject"] * 4}), overrides=overrides)
    d = result.decisions.set_index("firm_id")
    assert (d.loc["F00", "earlier_decision"], d.loc["F00", "decision"], d.loc["F00", "decided_by"]) == (
        "undecided",
        "select",
        "김위원장",
    )
    assert d.loc["F00", "consensus"] == "split"  # the committee's record is kept as it was
    assert (d.loc["F01", "earlier_decision"], d.loc["F01", "decision"]) == ("reject", "select")
    assert set(result.selection["firm_id"]) == {"F00", "F01"}
    assert "재심: 탈락 → 선정 (운영위원회" in d.loc["F01", "reasons"]
    assert [
        (e["event"], e["firm_id"], e["earlier_decision"], e["decision"], e["author"]) for e in result.log_entries
    ] == [
        ("override", "F00", "undecided", "select", "김위원장"),
        ("appeal", "F01", "reject", "select", "운영위원회"),
    ]


def test_overrides_apply_in_order_so_a_later_appeal_sees_the_earlier_override():
    decisions = pd.DataFrame({"firm_id": ["F00"], "committee_decision": ["reject"]})
    overrides = pd.DataFrame(
        {
            "firm_id": ["F00", "F00"],
            "kind": ["override", "appeal"],
            "decision": ["select", "reject"],
            "reason": ["a", "b"],
            "author": ["x", "y"],
        }
    )
    frame, entries = apply_overrides(decisions, overrides)
    assert frame.loc[0, "earlier_decision"] == "select" and frame.loc[0, "decision"] == "reject"
    assert [e["earlier_decision"] for e in entries] == ["reject", "select"]


def test_final_selection_without_any_select_selects_nobody():
    frame = pd.DataFrame({"firm_id": ["a", "b"], "decision": ["reject", "undecided"], "step1_points": [1.0, 2.0]})
    assert set(final_selection(frame, 10)["final"]) == {"not_selected"}


def test_names_compare_without_legal_form_spacing_or_case():
    assert normalise_name("(주) 한빛 벤처스") == normalise_name("한빛벤처스주식회사") == "한빛벤처스"
    assert normalise_name("Scale Up Partners Co., Ltd.") == "scaleuppartners"
    assert normalise_name(None) == "" and normalise_name(float("nan")) == ""


def test_a_re_evaluation_shows_the_earlier_run_beside_the_new_one_and_logs_each_change():
    step1 = step1_table(3)
    first = run(step1, evaluations({"F00": SELECT4, "F01": ["select"] * 3 + ["reject"], "F02": SELECT4}))
    previous = first.decisions[["firm_id", "decision", "final"]]
    firms = pd.DataFrame({"firm_id": step1["firm_id"], "name": "기업" + step1["firm_id"]})
    second = decide_step2(
        step1,
        firms,
        pd.DataFrame(columns=["firm_id", "fiscal_year", "investment_raised"]),
        audits_for(list(step1["firm_id"])),
        evaluations({"F00": SELECT4, "F01": SELECT4, "F02": ["reject"] * 4}),
        pd.DataFrame(columns=["evaluator_id", "affiliation"]),
        pd.DataFrame(columns=["firm_id", "kind", "decision", "reason", "author"]),
        Step2Settings(),
        {},
        previous,
    )
    d = second.decisions.set_index("firm_id")
    assert (d.loc["F01", "previous_decision"], d.loc["F01", "decision"]) == ("undecided", "select")
    assert (d.loc["F02", "previous_final"], d.loc["F02", "final"]) == ("selected", "not_selected")
    assert "재평가: 이전 선정·최종 선정 → 탈락" in d.loc["F02", "reasons"]
    assert [(e["event"], e["firm_id"]) for e in second.log_entries] == [
        ("re_evaluation", "F01"),
        ("re_evaluation", "F02"),
    ]
    assert first.decisions["previous_decision"].eq("").all()
