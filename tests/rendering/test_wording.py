"""Golden wording of the evaluator pages: particles, growth sentences, reasons, group tables, what-if."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.models.growth_engine import probability_above_quantiles
from jumpup.rendering import charts, wording
from jumpup.rendering.round_reports import (
    group_table,
    leniency_note,
    model_label,
    outcome_reason,
    outcome_reasons,
    variable_label,
    whatif_note,
)
from jumpup.rendering.step1_pages import whatif_label

LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)


def test_particles_follow_the_last_sound_of_numbers_and_words():
    assert wording.josa("PSI 0.190", "이") == "PSI 0.190이"
    assert wording.josa("0.069", "을") == "0.069를"
    assert wording.josa("141억 원", "을") == "141억 원을"
    assert wording.josa("매출액증가율", "이") == "매출액증가율이"
    assert wording.josa("유사기업 60개의 실제 성장경로", "으로") == "유사기업 60개의 실제 성장경로로"


def test_probabilities_are_read_off_the_plotted_quantiles():
    q = np.array([[-0.2, -0.1, 0.1, 0.3, 0.5], [-0.5, -0.4, -0.3, -0.2, -0.1]])
    above_zero = probability_above_quantiles(q, LEVELS, 0.0)
    assert np.allclose(above_zero, [1 - 0.375, 0.0])  # 0 lies halfway between q25 and q50 in the first row
    # a median above the threshold always means more than half above it
    rng = np.random.default_rng(0)
    rows = np.sort(rng.normal(size=(500, 5)), axis=1)
    p = probability_above_quantiles(rows, LEVELS, 0.0)
    assert ((rows[:, 2] > 0) <= (p > 0.5)).all() and ((rows[:, 2] < 0) <= (p < 0.5)).all()
    assert np.isnan(probability_above_quantiles(np.array([[np.nan] * 5]), LEVELS, 0.0)).all()


def _end(**kw):
    row = dict(
        year=2027,
        revenue_q10=153e8,
        revenue_q25=240e8,
        revenue_q50=347e8,
        revenue_q75=500e8,
        revenue_q90=851e8,
        p_decline=0.38,
        p_next_size_class=0.27,
        method="pooled",
        peer_count=60,
    )
    row.update(kw)
    return pd.Series(row)


def test_growth_sentence_names_the_method_used_and_repeats_no_high_growth_figure():
    text = wording.growth_sentence(_end(), 2024)
    assert text == (
        "2027년 매출 중앙값 347억 원 (80% 구간 153–851억 원), 2024년보다 매출이 줄어들 확률 38%, "
        "다음 규모 구간에 들어설 확률 27%. 예측 구간과 확률은 모두 학습 기업 전체에 맞춘 분위 회귀(LightGBM)로 "
        "계산한 같은 분포에서 나왔습니다."
    )
    assert "유사기업 60개" not in text and "고성장" not in text
    peers = wording.growth_sentence(_end(method="peers", p_next_size_class=float("nan")), 2024)
    assert peers.endswith("유사기업 60개의 실제 성장경로로 계산한 같은 분포에서 나왔습니다.")
    assert "규모 구간" not in peers


def test_reasons_show_the_value_and_peer_median_and_flag_a_counter_intuitive_contribution():
    line = wording.reason_line("경영성과 +14점: 매출액증가율", "revenue_growth_1y", -0.487, -0.009)
    assert line == "경영성과 +14점: 매출액증가율 — -48.7% (유사그룹 중앙값 -0.9%) · 중앙값보다 나쁜데도 점수를 올림"
    plain = wording.reason_line("경영성과 +14점: 매출액증가율", "revenue_growth_1y", 0.30, 0.05)
    assert plain == "경영성과 +14점: 매출액증가율 — +30.0% (유사그룹 중앙값 +5.0%)"
    assert wording.reason_line("기술성 -5점: x", "peer_pct_rd_intensity", 0.2, None).endswith(
        "유사그룹 내 20% 위치 (중앙값 50%)"
    )
    assert wording.reason_line("x", "", 1, 1) == "x"
    assert wording.reason_line("기업 개요 -3점: 매출 규모", "revenue", 14_678_426_000, 5_725_309_000) == (
        "기업 개요 -3점: 매출 규모 — 146.8억 원 (유사그룹 중앙값 57.3억 원)"
    )


def test_profile_reasons_show_their_value_and_say_why_a_median_is_missing():
    assert wording.reason_line("기업 개요 -1점: 기업 규모 구분", "size_class", "medium", None) == (
        "기업 개요 -1점: 기업 규모 구분 — 중기업 (규모 구분은 유사그룹을 나누는 기준이라 중앙값과 비교하지 않음)"
    )
    assert wording.reason_line("기업 개요 +2점: 업력", "firm_age", 7.0, 11.0) == (
        "기업 개요 +2점: 업력 — 7년 (유사그룹 중앙값 11년)"
    )
    assert wording.reason_line("기업 개요 +2점: 업력", "firm_age", 7.0, None) == (
        "기업 개요 +2점: 업력 — 7년 (유사그룹 중앙값 없음)"
    )


def test_a_reason_on_a_missing_value_says_the_absence_itself_moved_the_score():
    assert wording.reason_line("인적효율성 +1점: 1인당 매출액", "revenue_per_employee", None, 3.1e8) == (
        "인적효율성 +1점: 1인당 매출액 — 값 없음 (값이 없다는 것 자체가 점수를 올림)"
    )
    assert wording.reason_line("기술성 -4점: 매출액 대비 연구개발비", "peer_pct_rd_intensity", float("nan"), None) == (
        "기술성 -4점: 매출액 대비 연구개발비 — 값 없음 (값이 없다는 것 자체가 점수를 내림)"
    )
    assert "유사그룹 중앙값" not in wording.reason_line("기업 개요 +2점: 업력", "firm_age", None, 11.0)


def test_group_tables_never_show_a_group_under_the_minimum():
    table = pd.DataFrame(
        {
            "firm_id": [f"F{i}" for i in range(14)],
            "region": ["서울"] * 8 + ["부산"] * 3 + ["제주"] * 3,
            "decision": ["pass", "fail"] * 7,
        }
    )
    rows = group_table(table, "region", 5)
    assert [r["group"] for r in rows] == ["서울", "기타 (소수 그룹 2개 합산)"]
    assert all(r["applicants"] >= 5 for r in rows) and sum(r["applicants"] for r in rows) == 14
    folded = group_table(table.iloc[:10], "region", 5)  # 서울 8 + 부산 2: the pool takes 서울 in and says so
    assert folded == [{"group": "기타 (서울 및 소수 그룹 1개 합산)", "applicants": 10, "passed": 5}]
    # the demo round's outcome table: 3 firms of small reasons never inflate the largest named reason
    outcomes = pd.DataFrame(
        {
            "firm_id": [f"F{i}" for i in range(112)],
            "outcome": ["규모 요건 미충족"] * 96
            + ["업력 요건 미충족"] * 7
            + ["관리종목"] * 6
            + ["판정 불가"] * 2
            + ["X"],
            "decision": "fail",
        }
    )
    rows = group_table(outcomes, "outcome", 5)
    assert rows == [
        {"group": "규모 요건 미충족", "applicants": 96, "passed": 0},
        {"group": "업력 요건 미충족", "applicants": 7, "passed": 0},
        {"group": "기타 (관리종목 및 소수 그룹 2개 합산)", "applicants": 9, "passed": 0},
    ]
    assert group_table(table.iloc[:3], "region", 5) == []


def test_korean_labels_for_decisions_models_variables_and_what_if():
    assert wording.decision_ko("pass") == "통과" and wording.decision_ko("fail") == "미통과"
    assert model_label({"model_version": "file 2c5677769ad7"}) == "파일 2c5677769ad7"
    assert model_label({"model_version": "bundle 199ada8e29f2"}) == "파일 199ada8e29f2"
    assert model_label({"model_version": "3", "model_alias": "champion"}) == "3 (champion)"
    assert variable_label("score (probability)") == "AI 점수 (확률)"
    assert "_" not in variable_label("log_revenue")
    assert whatif_label("audit_weight_0.2") == "현장실사 20%"  # the legend and the table share it


def test_outcome_reason_and_what_if_note():
    rows = pd.DataFrame(
        {
            "decision": ["pass", "fail", "fail", "fail", "fail"],
            "step1_grade": ["A", None, "B", None, "BB"],
            "step1_points": [700.0, None, 500.0, None, 560.0],
            "eligible": [True, False, True, True, True],
            "ineligible_reason": [None, "size_class", None, None, None],
            "hard_flags": ["", "", "distress", "", ""],
        }
    )
    reasons = [outcome_reason(r, "BBB") for r in rows.itertuples(index=False)]
    assert reasons[0] == "통과: STEP 1 등급 A ≥ 기준등급 BBB"
    assert reasons[1].startswith("지원 자격 미충족: ")
    assert reasons[2] == "결격 사유: 관리종목 지정 (부실 징후)"
    assert reasons[3] == "STEP 1 점수 없음"
    assert reasons[4] == "STEP 1 등급 BB < 기준등급 BBB"
    whatif = pd.DataFrame({"reference_grade": ["A", "D"], "audit_weight_0.2": [1, 2]})
    note = whatif_note(whatif, rows)
    assert note.startswith("곡선은 2개사에서 더 오르지 않습니다.") and "지원 자격 미충족 1개사" in note
    assert " 0개사" not in whatif_note(whatif, rows.iloc[[0, 1]])
    assert "결격 사유 1개사" in note and "STEP 1 점수가 없는 기업(현장실사 점수 없음 등) 1개사" in note


def test_family_bars_keep_value_labels_clear_of_the_median_tick_and_say_why_a_score_is_missing():
    svg = charts.family_bars(["경영성과", "기술성"], [40.0, float("nan")], [60.0, 50.0], "유사그룹 중앙값", "산출 불가")
    x_value = float(svg.split('class="family-value" x="')[1].split('"')[0])
    x_median = float(svg.split('class="peer-median" x1="')[1].split('"')[0])
    assert x_value > x_median  # the label sits right of the tick, not under it
    assert "산출 불가" in svg and ">—<" not in svg


def test_fan_chart_draws_the_average_revenue_that_decided_the_size_class():
    svg = charts.fan_chart(
        [2022, 2023, 2024],
        [360.0, 570.0, 290.0],
        [2025],
        {f"q{q}": [300.0] for q in (10, 25, 50, 75, 90)},
        {"소기업 상한": 50.0},
        {"unit": "억 원", "actual": "실적", "median": "중앙값"},
        ("3년 평균 매출", 407.0, [2022, 2023, 2024]),
    )
    assert 'class="size-average"' in svg and "3년 평균 매출 407" in svg


def test_workbook_sheets_are_korean_with_amounts_in_eok_and_units_in_headers():
    from jumpup.rendering.workbook import evaluator_frame

    frame = pd.DataFrame(
        {
            "firm_id": ["R1"],
            "revenue": [40_700_000_000.0],
            "probability": [0.25],
            "size_class": ["medium"],
            "decision": ["pass"],
            "eligible": [True],
            "investment_stage": ["series_c"],
            "reasons": ["투자사 추천 가점 +5점 (KB, VC, series_c)"],
            "reason_feature_up_1": ["revenue_growth_1y"],
            "evaluator_role": ["technology_expert"],
            "focus_field": ["digital_comm"],
            "reason_up_1": ["경영성과 +14점: 매출액증가율"],
        }
    )
    out = evaluator_frame(frame, {"technology_expert": {"ko": "기술전문가"}})
    assert list(out.columns) == [
        "기업코드",
        "매출액 (억 원)",
        "3년 고성장 확률 (%)",
        "규모",
        "STEP1판정",
        "지원자격",
        "투자 단계",
        "판정근거",
        "역할",
        "중점분야",
        "상향 요인 1",
    ]
    row = out.iloc[0].tolist()
    assert row == [
        "R1",
        407.0,
        25.0,
        "중기업",
        "통과",
        "예",
        "시리즈 C",
        "투자사 추천 가점 +5점 (KB, VC, 시리즈 C)",
        "기술전문가",
        "디지털·통신",
        "경영성과 +14점: 매출액증가율",
    ]


def test_workbook_headers_and_values_leave_no_column_name_or_code_in_english():
    from jumpup.rendering.workbook import evaluator_frame

    frame = pd.DataFrame(
        {
            "firm_id": ["R1", "R2"],
            "focus_field": ["none", None],
            "missing_inputs": ["employees;rd_expense", ""],
            "missing_features": ["hiring_growth;peer_pct_hiring_growth;family_score_human", ""],
            "missing_feature_count": [3, 0],
            "eligibility_date": ["2025-03-05", "2025-03-05"],
            "firm_age_basis": ["founded_year (1 January)", "founded_on"],
            "size_table_version": ["2015-01-01", "2015-01-01"],
            "p_high_growth": [0.4, 0.1],
            "p_decline": [0.2, 0.3],
        }
    )
    out = evaluator_frame(frame)
    assert list(out.columns) == [
        "기업코드",
        "중점분야",
        "누락 입력 항목",
        "누락 지표",
        "누락 지표 수",
        "자격 판정 기준일",
        "업력 산정 근거",
        "규모 기준표 적용일",
        "매출 감소 확률 (%)",  # the growth path's second high-growth figure is left out
    ]
    assert out.iloc[0].tolist()[1:5] == [
        "해당 없음",
        "종업원수, 연구개발비",
        "종업원증가율 (연율), 종업원증가율 (연율) (유사그룹 대비), 인적효율성 종합점수",
        3,
    ]
    assert out["업력 산정 근거"].tolist() == ["설립연도 (1월 1일로 간주)", "설립일"]
    assert out["중점분야"].tolist() == ["해당 없음", "해당 없음"]


def test_the_leniency_rule_is_worded_with_its_settings_and_particles():
    assert leniency_note(2.0, 0.5) == (
        "판정 기준: z가 ±2를 넘고 평균 편차가 0.5점 이상이면 관대(+) 또는 엄격(−)으로 표시합니다. "
        "z는 평가위원 효과(점)를 그 표준오차로 나눈 값입니다."
    )


def test_outcome_reasons_word_each_row_as_outcome_reason_does():
    rng = np.random.default_rng(5)
    n = 300
    rows = pd.DataFrame(
        {
            "decision": rng.choice(["pass", "fail"], n),
            "step1_grade": rng.choice(np.array(["A", "BB", None], dtype=object), n),
            "eligible": rng.choice([True, False], n),
            "ineligible_reason": rng.choice(np.array(["size_class", None, "firm_age"], dtype=object), n),
            "hard_flags": rng.choice(["", "distress", "negative_equity;distress"], n),
        },
        index=np.arange(n) * 3,
    )
    expected = pd.Series([outcome_reason(r, "BBB") for r in rows.itertuples(index=False)], index=rows.index)
    pd.testing.assert_series_equal(outcome_reasons(rows, "BBB"), expected)
    assert outcome_reasons(rows.iloc[:0], "BBB").empty
