"""The round workbook for operators and evaluators who work in Excel."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pandas as pd

from jumpup.provenance import output_timestamp

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
    """
    from openpyxl import Workbook

    stamp = output_timestamp()
    workbook = Workbook(write_only=True)
    workbook.properties.created = workbook.properties.modified = stamp.replace(tzinfo=None)
    for name, frame in sheets.items():
        sheet = workbook.create_sheet(title=name[:31])
        sheet.append([KOREAN_HEADERS.get(str(c), str(c)) for c in frame.columns])
        values = frame.astype(object).where(frame.notna(), None)
        for row in values.itertuples(index=False, name=None):
            sheet.append([v.item() if hasattr(v, "item") else v for v in row])
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
