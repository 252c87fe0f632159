"""The round workbook for operators and evaluators who work in Excel.

Headers and codes are Korean (the same words as the reports), amounts are in 억 원 and shares in
percent with the unit in the header, and internal columns (the feature names behind reasons) are
left out.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from jumpup.features.focus_fields import load_focus_fields
from jumpup.features.size_class import EOK, INELIGIBLE_KO, SIZE_CLASS_KO, SIZE_RULE_KO
from jumpup.intake.contracts import COLUMN_ALIASES
from jumpup.provenance import output_timestamp
from jumpup.rendering.wording import DECISION_KO, STAGE_KO, korean_codes
from jumpup.safe_text import FORMULA_STARTS
from jumpup.step1.audit import ASSESSMENT_KO

KOREAN_HEADERS = {
    "firm_id": "기업코드",
    "name": "기업명",
    "as_of": "기준연도",
    "probability": "고성장확률",
    "score": "AI점수",
    "grade": "AI등급",
    "size_class": "규모",
    "focus_field": "중점분야",
    "eligible": "지원자격",
    "decision": "STEP1판정",
    "step1_grade": "STEP1등급",
    "step1_points": "STEP1점수",
    "reasons": "판정근거",
    "audit_score": "현장실사점수",
    "recommendation_used": "투자사추천",
    "hard_flags": "결격사유",
    "horizon": "예측기간",
    "year": "연도",
    "revenue_q10": "매출_하위10%",
    "revenue_q50": "매출_중앙값",
    "revenue_q90": "매출_상위10%",
    "p_high_growth": "고성장확률",
    "p_decline": "감소확률",
    "p_next_size_class": "규모상향확률",
    "file": "파일",
    "row": "행",
    "column": "열",
    "value": "값",
    "rule": "규칙",
    "message": "설명",
    "other_problems": "기타 문제",
    "round_id": "회차",
    "ksic_division": "산업 중분류",
    "size_rule": "규모 판정 규칙",
    "focus_field_ko": "중점분야",
    "ineligible_reason": "자격 미충족 사유",
    "firm_age": "업력 (년)",
    "negative_equity": "자본잠식",
    "administrative_issue": "관리종목",
    "peer_level": "유사그룹 기준",
    "peer_group_size": "유사그룹 기업 수",
    "ai_grade": "AI등급",
    "ai_points": "AI점수",
    "audit_points": "현장실사 환산점수",
    "recommendation_bonus": "추천 가점",
    "evaluators": "평가위원 수",
    "complete_evaluators": "완료 평가위원 수",
    "audit_flag": "현장실사 표시",
    "recommended": "투자사 추천 여부",
    "recommending_investor": "추천 투자사",
    "investor_type": "투자사 유형",
    "investment_stage": "투자 단계",
    "applied_on": "신청일",
    "peer_count": "유사기업 수",
    "peer_pool_size": "비교 가능 기업 수",
    "method": "예측 방법",
    "employees_growth_q50": "고용 증가율 중앙값 (%)",
    "operating_margin_q50": "영업이익률 중앙값 (%)",
    "evaluator_id": "평가위원",
    "evaluator_role": "역할",
    "scores": "채점 수",
    "firms": "기업 수",
    "mean_score": "평균 점수",
    "residual_sd": "잔차 표준편차",
    "mean_deviation": "평균 편차",
    "leniency_z": "관대/엄격 z",
    "assessment": "판정",
    "missing_inputs": "누락 입력 항목",
    "missing_features": "누락 지표",
    "missing_feature_count": "누락 지표 수",
    "eligibility_date": "자격 판정 기준일",
    "firm_age_basis": "업력 산정 근거",
    "size_table_version": "규모 기준표 적용일",
}
# Raw input columns by the Korean header a source file gives them (the first alias intake accepts).
INPUT_KO = {english: korean for korean, english in reversed(COLUMN_ALIASES.items()) if not korean.isascii()}
FIRM_AGE_BASIS_KO = {
    "founded_on": "설립일",
    "founded_year (1 January)": "설립연도 (1월 1일로 간주)",
    "unknown": "설립일·설립연도 없음",
}
# Columns left out of every sheet: the feature names behind reasons and family points (machine
# columns of scores.csv), and the growth path's second high-growth probability (a report gives
# that event one figure, the graded model's; it is in growth_paths.csv for operators).
DROPPED = ("reason_feature_", "family_points", "p_high_growth")
AMOUNT_COLUMNS = ("revenue", "revenue_q10", "revenue_q25", "revenue_q50", "revenue_q75", "revenue_q90")
AMOUNT_HEADERS = {
    "revenue": "매출액",
    "revenue_q10": "매출 하위 10%",
    "revenue_q25": "매출 하위 25%",
    "revenue_q50": "매출 중앙값",
    "revenue_q75": "매출 상위 25%",
    "revenue_q90": "매출 상위 10%",
}
PERCENT_COLUMNS = {
    "probability": "3년 고성장 확률",
    "ai_probability": "3년 고성장 확률",
    "p_high_growth": "고성장 확률",
    "p_decline": "매출 감소 확률",
    "p_next_size_class": "규모 상향 확률",
    "employees_growth_q50": "고용 증가율 중앙값",
    "operating_margin_q50": "영업이익률 중앙값",
}
YES_NO_COLUMNS = ("eligible", "negative_equity", "administrative_issue", "recommended")
CODE_VALUES = {
    "size_class": SIZE_CLASS_KO,
    "size_rule": SIZE_RULE_KO,
    "ineligible_reason": INELIGIBLE_KO,
    "decision": DECISION_KO,
    "peer_level": {"division": "산업 중분류", "section": "산업 대분류", "all": "전체"},
    "method": {"peers": "유사기업 성장경로", "pooled": "전체 분위 회귀", "blend": "두 방법 평균"},
    "investment_stage": STAGE_KO,
    "recommendation_used": {"bonus": "가점", "direct_pass": "직행", "none": "미적용"},
    "firm_age_basis": FIRM_AGE_BASIS_KO,
    "assessment": ASSESSMENT_KO,
}


def evaluator_frame(frame: pd.DataFrame, roles: dict | None = None) -> pd.DataFrame:
    """One sheet's table as people read it: Korean codes, 억 원 amounts, percent shares, Korean headers."""
    from jumpup.models.grading import feature_label
    from jumpup.step1.decisions import FLAG_KO

    out = frame.drop(columns=[c for c in frame if str(c).startswith(DROPPED)])
    if "focus_field_ko" in out and "focus_field" in out:
        out = out.drop(columns=["focus_field"])
    out = out.copy()
    headers = {}
    for column in out.columns:
        name = str(column)
        if name in AMOUNT_COLUMNS:
            out[column] = (pd.to_numeric(out[column], errors="coerce") / EOK).round(1)
            headers[column] = f"{AMOUNT_HEADERS[name]} (억 원)"
        elif name in PERCENT_COLUMNS:
            out[column] = (pd.to_numeric(out[column], errors="coerce") * 100).round(1)
            headers[column] = f"{PERCENT_COLUMNS[name]} (%)"
        elif name in YES_NO_COLUMNS:
            out[column] = out[column].map(lambda v: None if pd.isna(v) else ("예" if bool(v) else "아니오"))
        elif name in CODE_VALUES:
            out[column] = out[column].map(lambda v, m=CODE_VALUES[name]: m.get(v, v) if isinstance(v, str) else v)
        elif name == "hard_flags":
            out[column] = out[column].map(
                lambda v: "; ".join(FLAG_KO.get(f, f) for f in str(v).split(";") if f) if isinstance(v, str) else v
            )
        elif name == "focus_field":
            focus = {f["id"]: f["ko"] for f in load_focus_fields()[0]}
            out[column] = out[column].map(
                lambda v, m=focus: m.get(v, v) if isinstance(v, str) and v != "none" else "해당 없음"
            )
        elif name == "missing_inputs":
            out[column] = out[column].map(lambda v: _names(v, lambda n: INPUT_KO.get(n, n)))
        elif name == "missing_features":
            out[column] = out[column].map(lambda v: _names(v, lambda n: feature_label(n, "ko")))
        elif name.startswith(("reason_up_", "reason_down_")):
            rank = name.rsplit("_", 1)[1]
            headers[column] = f"{'상향' if name.startswith('reason_up_') else '하향'} 요인 {rank}"
        elif name == "evaluator_role" and roles:
            out[column] = out[column].map(lambda v: roles.get(v, {}).get("ko", v) if isinstance(v, str) else v)
        elif name == "reasons":
            out[column] = out[column].map(lambda v: korean_codes(v) if isinstance(v, str) else v)
        headers.setdefault(column, KOREAN_HEADERS.get(name, name))
    return out.rename(columns=headers)


def _names(value, label) -> str | None:
    """A ';'-joined list of column names as their Korean labels, joined by ', '."""
    if not isinstance(value, str):
        return None
    return ", ".join(label(n) for n in value.split(";") if n)


def write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """One sheet per view with Korean headers, for evaluators who work in Excel.

    Written row by row in openpyxl's write-only mode (about four times faster than a cell-by-cell
    workbook, with flat memory); missing values are empty cells.

    Text is never a formula: a string that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return (a firm or investor name, an evaluator id, a quarantined raw value) is written
    as an explicit string cell with its value unchanged; control characters that XML cannot hold
    are shown as ``\\xNN`` instead of failing the workbook.
    """
    from openpyxl import Workbook

    stamp = output_timestamp()
    workbook = Workbook(write_only=True)
    workbook.properties.created = workbook.properties.modified = stamp.replace(tzinfo=None)
    for name, frame in sheets.items():
        sheet = workbook.create_sheet(title=name[:31])
        sheet.append([_cell(sheet, KOREAN_HEADERS.get(str(c), str(c))) for c in frame.columns])
        values = frame.astype(object).where(frame.notna(), None)
        for row in values.itertuples(index=False, name=None):
            sheet.append([_cell(sheet, v.item() if hasattr(v, "item") else v) for v in row])
    workbook.save(path)
    fix_zip_dates(path, stamp)


def fix_zip_dates(path: Path, stamp: dt.datetime) -> None:
    """Rewrite a ZIP container (xlsx) with every entry dated ``stamp``, in the same order.

    openpyxl dates each entry, and the document's modified date (``docProps/core.xml``), with the
    wall clock when it saves; fixing both makes equal content give equal bytes.
    """
    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info.filename)) for info in source.infolist()]
    date_time = stamp.timetuple()[:6]
    with zipfile.ZipFile(path, "w") as target:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=date_time)
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            if info.filename == "docProps/core.xml":
                data = _CORE_DATES.sub(rb"\g<1>" + stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>", data)
            target.writestr(fixed, data)


_CORE_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def _cell(sheet, value):
    """The value to append: text that could be read as a formula becomes an explicit string cell."""
    if not isinstance(value, str):
        return value
    if ILLEGAL_CHARACTERS_RE.search(value):
        value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    if not value.startswith(FORMULA_STARTS):
        return value
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # a string, whatever it starts with: never a formula
    return cell
