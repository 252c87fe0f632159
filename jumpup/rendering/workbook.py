"""The round workbook for operators and evaluators who work in Excel."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from jumpup.safe_text import FORMULA_STARTS

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
}


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

    workbook = Workbook(write_only=True)
    for name, frame in sheets.items():
        sheet = workbook.create_sheet(title=name[:31])
        sheet.append([_cell(sheet, KOREAN_HEADERS.get(str(c), str(c))) for c in frame.columns])
        values = frame.astype(object).where(frame.notna(), None)
        for row in values.itertuples(index=False, name=None):
            sheet.append([_cell(sheet, v.item() if hasattr(v, "item") else v) for v in row])
    workbook.save(path)


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
