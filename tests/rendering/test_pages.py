"""Report pages rendered from hand-made tables: the grade report, the round summary and the STEP 1 pages."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jumpup.features.registry import FAMILIES
from jumpup.models.grading import MasterScale
from jumpup.reference import audit_rubric
from jumpup.rendering.firm_report import firm_report
from jumpup.rendering.round_reports import summary_page
from jumpup.rendering.step1_pages import whatif_chart, write_dossiers, write_whatif_chart
from jumpup.settings import load_settings

SETTINGS = load_settings()
SCALE = MasterScale.from_settings(SETTINGS.grade_scale)
META = {"model_version": "7 (champion)", "code_version": "abc123", "data_sha256": "f" * 64}


def _firm(**changes) -> pd.Series:
    row = {
        "firm_id": "000123",
        "name": "가온<script>alert(1)</script>",
        "as_of": 2024,
        "grade": SCALE.labels[2],
        "score": 612.0,
        "probability": 0.31,
        "size_class": "small",
        "size_rule": "revenue",
        "focus_field_ko": "해당 없음",
        "eligible": True,
        "ineligible_reason": None,
        "peer_level": "division",
        "peer_group_size": 12,
        "round_id": "2025-1",
        "decision": "pass",
        "step1_grade": SCALE.labels[2],
        "step1_points": 640.0,
        "reasons": "등급 충족 | 현장실사 양호",
        "reason_up_1": "매출 성장률 높음",
        "reason_down_1": "부채비율 높음",
        "small_max_eok": 120.0,
        "candidate_min_eok": 150.0,
        "medium_max_eok": float("nan"),
    }
    for i, family in enumerate(FAMILIES):
        row[f"family_score_{family}"] = 40.0 + 10 * i
        row[f"peer_median_family_score_{family}"] = 50.0
    row.update(changes)
    return pd.Series(row)


HISTORY = pd.DataFrame({"fiscal_year": [2022, 2023, 2024], "revenue": [50e8, 60e8, 75e8]})
PATH = pd.DataFrame(
    {
        "year": [2025, 2026],
        **{f"revenue_q{q}": [v * 1e8, v * 1.2e8] for q, v in (("10", 60), ("25", 70), ("50", 80), ("75", 90))},
        "revenue_q90": [100e8, 130e8],
        "p_high_growth": [0.2, 0.3],
        "p_decline": [0.1, 0.15],
        "p_next_size_class": [np.nan, 0.05],
        "peer_count": [40, 40],
    }
)
AUDIT = pd.Series({"audit_item_novelty": 4.0, "audit_item_management": 3.5, "audit_role_technology_expert": 3.8})


def _svgs(html: str) -> list[str]:
    parts = html.split("<svg")[1:]
    return ["<svg" + part.split("</svg>")[0] + "</svg>" for part in parts]


def test_grade_report_shows_grade_scale_reasons_audit_and_two_valid_charts():
    html = firm_report(_firm(), HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META)
    assert "기업 성장성 평가 보고서" in html and "000123" in html and "7 (champion)" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html  # a firm name is text, not markup
    assert "매출 성장률 높음" in html and "부채비율 높음" in html and "현장실사 양호" in html
    assert "2026년 매출 중앙값 96억 원" in html and "유사기업 40개" in html
    charts = _svgs(html)
    assert len(charts) == 2 and all(ET.fromstring(svg) is not None for svg in charts)
    assert charts[0].count('class="family-bar"') == len(FAMILIES)
    assert charts[0].count('class="peer-median"') == len(FAMILIES)
    assert charts[1].count('class="threshold"') == 2  # the NaN threshold is left out, the two within range drawn
    low, high = SCALE.table().set_index("grade").loc[SCALE.labels[2], ["probability_from", "probability_to"]]
    assert f"{low:.0%}–{high:.0%}" in html


def test_every_reason_on_the_report_shows_a_value_and_a_median_or_why_not():
    firm = _firm(
        reason_up_1="경영성과 +21점: 매출액 3년 연평균증가율",
        reason_feature_up_1="revenue_cagr_3y",
        revenue_cagr_3y=0.302,
        reason_down_1="기업 개요 -1점: 기업 규모 구분",
        reason_feature_down_1="size_class_rank",
        size_class="medium",
    )
    html = firm_report(
        firm, HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META, peer_medians={"revenue_cagr_3y": -0.007}
    )
    assert "경영성과 +21점: 매출액 3년 연평균증가율 — +30.2% (유사그룹 중앙값 -0.7%)" in html
    assert (
        "기업 개요 -1점: 기업 규모 구분 — 중기업 (규모 구분은 유사그룹을 나누는 기준이라 중앙값과 비교하지 않음)"
        in html
    )


def test_peer_medians_are_hidden_below_the_minimum_peer_group():
    html = firm_report(
        _firm(peer_group_size=load_settings().reports.min_group_size - 1),
        HISTORY,
        PATH,
        None,
        audit_rubric(),
        SCALE.table(),
        META,
    )
    assert 'class="peer-median"' not in html and "현장실사 점수가 없습니다" in html


def test_without_a_growth_path_the_report_says_so_and_draws_one_chart():
    html = firm_report(_firm(), HISTORY, PATH.iloc[0:0], AUDIT, audit_rubric(), SCALE.table(), META)
    assert len(_svgs(html)) == 1 and "band-80" not in html


def test_english_report_uses_english_labels():
    html = firm_report(_firm(), HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META, language="en")
    assert "Growth grade report" in html and "기업 성장성 평가 보고서" not in html


def test_english_report_has_no_korean_outside_the_recorded_step1_reasons():
    """``--language en`` (round and score): every label, unit and code on the page is English;
    only STEP 1's reasons, recorded in Korean, stay as recorded and the page says so."""
    import re

    firm = _firm(
        name="Gaon",
        focus_field="bio",
        average_revenue=60e8,
        average_revenue_years=3,
        reason_up_1="management performance +14 pts: revenue growth (1 year)",
        reason_feature_up_1="revenue_growth_1y",
        reason_down_1="technology -3 pts: R&D intensity",
        revenue_growth_1y=0.3,
        reasons="STEP 1 등급 A (640.0점) ≥ 기준등급 BBB",
    )
    html = firm_report(firm, HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META, language="en")
    head, step1 = html.split("STEP 1 decision</h2>")
    text = re.sub(r"<[^>]+>", " ", head)
    assert re.findall(r"[가-힣]+", text) == []
    assert "bio and health" in text and "passed" in text and "KRW 60 × 100M" in text and "KRW 96 × 100M" in text
    assert "640.0 points" in text and "management performance +14 pts" in text
    assert "STEP 1 records its reasons in Korean" in step1 and "STEP 1 등급 A (640.0점)" in step1


def test_an_unknown_grade_is_an_error_not_a_blank_page():
    with pytest.raises(KeyError):
        firm_report(_firm(grade="Z"), HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META)


WHATIF = pd.DataFrame(
    {
        "reference_grade": SCALE.labels[:4],
        "audit_weight_0.2": [3, 8, 15, 20],
        "audit_weight_0.3": [2, 7, 14, 20],
        "audit_weight_0.5": [1, 5, 12, 19],
    }
)


def test_whatif_chart_draws_one_line_per_audit_weight_and_marks_the_current_setting(tmp_path):
    svg = whatif_chart(WHATIF, 0.3, SCALE.labels[2])
    root = ET.fromstring(svg)
    lines = root.findall("{http://www.w3.org/2000/svg}polyline[@class='series']")
    assert len(lines) == 3 and [line.get("stroke-width") for line in lines] == ["1.3", "3", "1.3"]
    assert svg.count('class="marker"') == 1 and "현장실사 30%" in svg
    path = write_whatif_chart(WHATIF, tmp_path / "whatif.svg", 0.3, SCALE.labels[2])
    assert path.read_text(encoding="utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg')


def test_dossiers_are_written_for_passed_firms_only(tmp_path):
    decisions = pd.DataFrame(
        {
            "firm_id": ["A1", "B2"],
            "decision": ["pass", "fail"],
            "size_class": ["small", "medium"],
            "step1_grade": SCALE.labels[:2],
            "step1_points": [700.0, 650.0],
            "ai_grade": SCALE.labels[:2],
            "ai_points": [690.0, 640.0],
            "ai_probability": [0.4, 0.3],
            "audit_score": [4.2, 2.5],
            "complete_evaluators": [3, 3],
            "reasons": ["ok", "low"],
            "round_id": ["R", "R"],
            "focus_field": [None, None],
        }
    )
    scores = pd.DataFrame({"firm_id": ["A1", "B2"], "reason_up_1": ["수출 증가", ""], "reason_down_1": [None, "x"]})
    audit = pd.DataFrame({"firm_id": ["A1", "B2"], "audit_item_novelty": [4.5, 2.0]})
    firms = pd.DataFrame({"firm_id": ["A1", "B2"], "name": ["<가온>", "나래"]})
    written = write_dossiers(decisions, scores, audit, firms, audit_rubric(), tmp_path / "dossiers")
    assert [p.name for p in written] == ["A1.html"]
    html = written[0].read_text(encoding="utf-8")
    assert "&lt;가온&gt;" in html and "수출 증가" in html and "나래" not in html


def test_dossiers_written_in_shares_are_the_files_of_one_writer(tmp_path):
    from jumpup.pipelines.step1 import clear_dossiers, dossier_shares, write_dossier_files

    ids = [f"F{i}" for i in range(7)]
    decisions = pd.DataFrame(
        {
            "firm_id": ids,
            "decision": ["pass", "fail", "pass", "pass", "pass", "fail", "pass"],
            "size_class": ["small"] * 7,
            "step1_grade": [SCALE.labels[0]] * 7,
            "step1_points": [700.0 - i for i in range(7)],
            "ai_grade": [SCALE.labels[0]] * 7,
            "ai_points": [690.0] * 7,
            "ai_probability": [0.4] * 7,
            "audit_score": [4.2] * 7,
            "complete_evaluators": [3] * 7,
            "reasons": ["ok"] * 7,
            "round_id": ["R"] * 7,
            "focus_field": [None] * 7,
        }
    )
    passed = decisions[decisions["decision"] == "pass"]
    inputs = {
        "decisions": passed,
        "scores": pd.DataFrame({"firm_id": ids, "reason_up_1": [f"강점 {i}" for i in range(7)]}),
        "audit_summary": pd.DataFrame({"firm_id": ids, "audit_item_novelty": [4.0] * 7}),
        "firms": pd.DataFrame({"firm_id": ids, "name": [f"기업{i}" for i in range(7)]}),
    }
    growth = {f: f"{f} 성장" for f in ids}
    write_dossier_files(tmp_path / "one", growth_summary=growth, model={}, **inputs)
    (tmp_path / "two" / "dossiers" / "F1.html").parent.mkdir(parents=True)
    (tmp_path / "two" / "dossiers" / "F1.html").write_text("an earlier run's dossier")
    clear_dossiers(tmp_path / "two")
    shares = dossier_shares(inputs, 2)
    assert [len(share["decisions"]) for share in shares] == [3, 2]
    assert all(set(share["scores"]["firm_id"]) == set(share["decisions"]["firm_id"]) for share in shares)
    for share in shares:
        write_dossier_files(tmp_path / "two", growth_summary=growth, model={}, clear=False, **share)
    one = {p.name: p.read_bytes() for p in (tmp_path / "one" / "dossiers").iterdir()}
    two = {p.name: p.read_bytes() for p in (tmp_path / "two" / "dossiers").iterdir()}
    assert sorted(one) == ["F0.html", "F2.html", "F3.html", "F4.html", "F6.html"] and one == two


def test_round_summary_counts_grades_breakdowns_and_the_whatif_chart():
    decisions = pd.DataFrame(
        {
            "firm_id": ["A", "B", "C"],
            "decision": ["pass", "fail", "pass"],
            "step1_grade": [SCALE.labels[0], SCALE.labels[5], SCALE.labels[1]],
            "size_class": ["small", "medium", "small"],
            "focus_field": [None, None, None],
            "eligible": [True, False, True],
            "ineligible_reason": [None, "size_class_not_eligible", None],
            "hard_flags": ["", "", ""],
            "step1_points": [700.0, 560.0, 650.0],
            "reasons": ["", "", ""],
        }
    )
    scores = pd.DataFrame({"firm_id": ["A", "B", "C"], "grade": [SCALE.labels[0], SCALE.labels[5], SCALE.labels[0]]})
    outputs = SimpleNamespace(
        scores=scores,
        decisions=decisions,
        scale=SCALE,
        result=SimpleNamespace(
            tables={"firms": pd.DataFrame({"firm_id": ["A", "B", "C"], "region": ["서울", "<부산>", "서울"]})}
        ),
        manifest={
            "round_id": ["2025-1"],
            "model": {"model_version": "3", "model_alias": "champion"},
            "counts": {"applicants": 3, "passed": 2, "quarantined_rows": 1},
            "as_of": 2024,
            "code_version": "abc123",
            "files": {},
        },
        step1=SimpleNamespace(
            what_if=WHATIF.assign(reference_grade=SCALE.labels[:4]),
            quality={
                "icc_total": {"icc1": 0.61, "icc1k": 0.82, "firms": 3},
                "flagged_evaluators": ["E3"],
                "evaluators": [
                    {"evaluator_id": "E3", "assessment": "lenient", "leniency_z": 9.93, "mean_deviation": 0.52},
                    {
                        "evaluator_id": "E4",
                        "assessment": "slightly severe",
                        "leniency_z": -12.1,
                        "mean_deviation": -0.45,
                    },
                ],
            },
        ),
        stability=[{"variable": "score", "psi": 0.01, "critical_value": 0.2, "shifted": False}],
        warnings=[],
    )
    html = summary_page(outputs, SETTINGS)
    assert "2025-1" in html and "3 (champion)" in html and "<부산>" not in html
    assert "&lt;부산&gt;" not in html  # a one-firm region is hidden (peer privacy)
    assert len(_svgs(html)) == 1 and ET.fromstring(_svgs(html)[0]) is not None
    assert "0.61" in html and "0.82" in html
    assert "관대/엄격 평가위원: E3 관대 (z +9.9, 평균 편차 +0.52점)</p>" in html and "E4" not in html


def test_the_headline_score_is_written_as_the_step1_section_and_the_dossier_write_it():
    html = firm_report(
        _firm(score=649.94, step1_grade="A", step1_points=651.25),
        HISTORY,
        PATH,
        AUDIT,
        audit_rubric(),
        SCALE.table(),
        META,
    )
    assert "649.9점" in html and "650 점" not in html and "650점" not in html
