"""The crisis-sign monitoring report (위기징후 모니터링 보고서), in Korean, and its workbook.

Receives finished tables (per-firm scores with the change since last year, the migration matrix,
aggregates already pooled to groups of at least ``min_group_size`` firms) and only draws them:
one static HTML page (no scripts; text escaped by Jinja), printed to PDF through the shared
headless-browser printer, and an xlsx workbook written through ``write_workbook`` (text never
becomes a formula).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jumpup.rendering.browser import BrowserError, HeadlessBrowser, find_browser
from jumpup.rendering.jinja import render
from jumpup.rendering.workbook import write_workbook

GRADE_KO = {
    "severe": "심각",
    "alert": "경계",
    "caution": "주의",
    "watch": "관심",
    "normal": "정상",
    "new": "신규",
    "from_crisis": "전년 위기 상태",
}
CHANGE_KO = {"worse": "악화", "better": "개선", "same": "유지", "new": "신규", "from_crisis": "위기 상태에서 벗어남"}
STAGE_KO = {"leading": "선도", "preliminary": "예비", "potential": "잠재", "none": "해당없음"}
FIRM_COLUMNS = {
    "firm_id": "기업 ID",
    "name": "기업명",
    "industry_group": "업종군",
    "region": "지역",
    "as_of": "기준 사업연도",
    "probability": "위기 확률",
    "grade": "조기경보 등급",
    "previous_grade": "전년 등급",
    "grade_change": "등급 변화",
    "flagged": "경보 대상",
    "newly_flagged": "신규 경보",
    "reason_1": "주요 사유 1",
    "reason_2": "주요 사유 2",
    "reason_3": "주요 사유 3",
    "growth_stage": "성장단계",
    "stage_missing_inputs": "성장단계 판정에 없는 자료",
}


IN_CRISIS_COLUMNS = {
    "firm_id": "기업 ID",
    "name": "기업명",
    "industry_group": "업종군",
    "region": "지역",
    "interest_coverage": "이자보상배율",
    "audit_opinion": "감사의견",
    "crisis_reason": "위기 상태 사유",
    "previous_in_crisis": "전년에도 위기 상태",
    "previous_grade": "전년 조기경보 등급",
    "previous_flagged": "전년 경보 대상",
}


def _ko_in_crisis(table: pd.DataFrame) -> pd.DataFrame:
    out = table[[c for c in IN_CRISIS_COLUMNS if c in table]].copy()
    if "previous_grade" in out:
        out["previous_grade"] = out["previous_grade"].map(lambda v: GRADE_KO.get(v, v) if isinstance(v, str) else "")
    for column in ("previous_in_crisis", "previous_flagged"):
        if column in out:
            out[column] = out[column].map({True: "예", False: "아니오"})
    return out.rename(columns=IN_CRISIS_COLUMNS)


def _ko_firms(table: pd.DataFrame) -> pd.DataFrame:
    out = table[[c for c in FIRM_COLUMNS if c in table]].copy()
    for column in ("grade", "previous_grade"):
        if column in out:
            out[column] = out[column].map(lambda v: GRADE_KO.get(v, v) if isinstance(v, str) else v)
    if "grade_change" in out:
        out["grade_change"] = out["grade_change"].map(CHANGE_KO)
    if "growth_stage" in out:
        out["growth_stage"] = out["growth_stage"].map(STAGE_KO)
    for column in ("flagged", "newly_flagged"):
        if column in out:
            out[column] = out[column].map({True: "예", False: "아니오"})
    return out.rename(columns=FIRM_COLUMNS)


def _aggregate_rows(table: pd.DataFrame | None, by: str) -> list[dict]:
    if table is None:
        return []
    return [
        {
            "group": row[by],
            "firms": int(row["firms"]),
            "mean_probability": float(row["mean_probability"]),
            "flagged_share": float(row["flagged_share"]),
            "newly_flagged": int(row["newly_flagged"]),
            "pooled": int(row["groups_pooled"]),
        }
        for _, row in table.iterrows()
    ]


def render_monitor_html(
    firms: pd.DataFrame,
    migration: pd.DataFrame,
    aggregates: dict[str, pd.DataFrame | None],
    notes: dict[str, dict | str],
    manifest: dict,
    max_listed: int = 200,
    in_crisis: pd.DataFrame | None = None,
) -> str:
    """The report page as HTML text. ``aggregates`` maps ``industry_group`` / ``region`` to a pooled
    table (or None when the panel lacks the column); ``notes`` says what was pooled or withheld;
    ``in_crisis`` lists the firms already in crisis, set apart from the scored firms."""
    in_crisis = in_crisis if in_crisis is not None else pd.DataFrame(columns=list(IN_CRISIS_COLUMNS))
    labels = list(migration.columns)
    flagged = firms[firms["flagged"]].sort_values("probability", ascending=False)
    newly = firms[firms["newly_flagged"]].sort_values("probability", ascending=False)
    grade_counts = firms["grade"].value_counts().reindex(labels, fill_value=0)
    stages = firms["growth_stage"].value_counts() if "growth_stage" in firms else pd.Series(dtype=int)
    context = {
        "manifest": manifest,
        "grades": [{"grade": GRADE_KO.get(g, g), "firms": int(n)} for g, n in grade_counts.items()],
        "migration_columns": [GRADE_KO.get(c, c) for c in labels],
        "migration": [
            {"grade": GRADE_KO.get(str(index), str(index)), "counts": [int(v) for v in row]}
            for index, row in migration.iterrows()
        ],
        "industry": _aggregate_rows(aggregates.get("industry_group"), "industry_group"),
        "region": _aggregate_rows(aggregates.get("region"), "region"),
        "notes": notes,
        "min_group_size": manifest["min_group_size"],
        "newly": _ko_firms(newly.head(max_listed)).to_dict("records"),
        "newly_total": len(newly),
        "flagged": _ko_firms(flagged.head(max_listed)).to_dict("records"),
        "flagged_total": len(flagged),
        "stages": [{"stage": STAGE_KO.get(k, k), "firms": int(v)} for k, v in stages.items()],
        "stage_incomplete": int((~firms["stage_complete"]).sum()) if "stage_complete" in firms else 0,
        "in_crisis": _ko_in_crisis(in_crisis.head(max_listed)).to_dict("records"),
        "in_crisis_total": len(in_crisis),
    }
    return render("monitor_report.html.j2", **context)


def write_monitor_report(
    out_dir: Path,
    firms: pd.DataFrame,
    migration: pd.DataFrame,
    aggregates: dict[str, pd.DataFrame | None],
    notes: dict,
    manifest: dict,
    pdf: bool = True,
    timeout: float = 120.0,
    in_crisis: pd.DataFrame | None = None,
) -> dict:
    """Write ``monitor_report.html``, its PDF (when a browser is found) and ``monitor.xlsx``.

    Returns {"html", "pdf" (path or None), "workbook", "warnings"}. A missing browser is a warning,
    never an error: the HTML and the workbook are written either way.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = out_dir / "monitor_report.html", out_dir / "monitor_report.pdf"
    html_path.write_text(
        render_monitor_html(firms, migration, aggregates, notes, manifest, in_crisis=in_crisis), encoding="utf-8"
    )
    record: dict = {"html": str(html_path), "pdf": None, "warnings": []}
    pdf_path.unlink(missing_ok=True)
    browser = find_browser() if pdf else None
    if pdf and browser is None:
        record["warnings"].append("PDF not written: no Chromium on this machine (Debian package 'chromium')")
    if browser is not None:
        try:
            with HeadlessBrowser(browser, 1, timeout) as b:
                b.print_pdfs([(html_path, pdf_path)])
            record["pdf"] = str(pdf_path)
        except BrowserError as exc:
            record["warnings"].append(f"PDF not written: {exc}")
    sheets = {
        "기업별 위기징후": _ko_firms(firms),
        "등급 이동": migration.rename(index=GRADE_KO, columns=GRADE_KO).reset_index(names="전년 등급 \\ 올해 등급"),
    }
    if in_crisis is not None:
        sheets["위기 상태 기업"] = _ko_in_crisis(in_crisis)
    for key, title in (("industry_group", "업종군별"), ("region", "지역별")):
        table = aggregates.get(key)
        if table is not None:
            sheets[title] = table.rename(
                columns={
                    key: "그룹",
                    "firms": "기업 수",
                    "mean_probability": "평균 위기 확률",
                    "flagged_share": "경보 비율",
                    "newly_flagged": "신규 경보",
                    "groups_pooled": "통합된 그룹 수",
                }
            )
    workbook = out_dir / "monitor.xlsx"
    write_workbook(workbook, sheets)
    record["workbook"] = str(workbook)
    return record
