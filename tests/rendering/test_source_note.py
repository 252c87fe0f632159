"""The grade report names the source of each technology and human-efficiency figure."""

from __future__ import annotations

from jumpup.reference import audit_rubric
from jumpup.rendering.firm_report import firm_report, source_note
from tests.rendering.test_pages import AUDIT, HISTORY, META, PATH, SCALE, _firm

REAL = {
    "sources_technology": "rd_expense=fnguide;capex_intangible=fnguide;intangible_assets=fnguide",
    "missing_inputs_technology": "patents_granted;patent_disclosed;certifications",
    "sources_human": "employees=dart_employees;payroll=dart_employees;personnel_expense=ts2000",
    "missing_inputs_human": "value_added",
}


def test_source_note_names_each_source_with_its_figures_and_the_missing_ones():
    technology, human = source_note(_firm(**REAL), "ko")
    assert (
        technology
        == "기술성 — FnGuide: 연구개발비, 무형자산 투자, 무형자산 · 자료 없음: 등록특허, 특허 공시, 기업 인증"
    )
    assert human == "인적효율성 — DART 직원현황: 종업원수, 급여총액 · TS-2000: 인건비 · 자료 없음: 부가가치"
    english = source_note(_firm(**REAL), "en")
    assert english[1].startswith(
        "human efficiency — DART employee status: headcount, payroll · TS-2000: personnel cost"
    )


def test_grade_report_carries_the_source_note_under_the_family_bars():
    html = firm_report(_firm(**REAL), HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META)
    note = html.split('id="family-sources"')[1].split("</p>")[0]
    assert "지표 자료 출처" in note and "FnGuide: 연구개발비" in note and "DART 직원현황: 종업원수" in note
    assert html.index('id="family-chart"') < html.index('id="family-sources"') < html.index("성장경로 예측")


def test_a_panel_without_named_sources_is_called_submitted_data_and_old_rows_get_no_note():
    lines = source_note(_firm(sources_technology="rd_expense=panel", missing_inputs_technology=""), "ko")
    assert lines == ["기술성 — 제출 자료: 연구개발비"]
    html = firm_report(_firm(), HISTORY, PATH, AUDIT, audit_rubric(), SCALE.table(), META)
    assert 'id="family-sources"' not in html
