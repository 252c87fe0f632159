"""Grade reports evaluators read: one page per firm, a round summary, an index, an Excel workbook.

Static HTML with charts drawn as inline SVG (they open in a browser with no server and print on
A4), Korean by default. Peer information appears only as aggregates of at least
``reports.min_group_size`` firms (params.yaml) — never another applicant's name or figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jumpup.features.focus_fields import load_focus_fields
from jumpup.features.registry import FAMILIES
from jumpup.features.size_class import EOK, INELIGIBLE_KO, SIZE_CLASS_KO, SIZE_RULE_KO
from jumpup.rendering import charts as svg_charts
from jumpup.rendering import wording
from jumpup.rendering.jinja import template

PEER_LEVEL_KO = {"division": "산업 중분류 기준", "section": "산업 대분류 기준", "all": "전체 기업 기준"}
TEXT = {
    "ko": {
        "title": "기업 성장성 평가 보고서",
        "grade_head": "AI 등급 %s",
        "model": "모형",
        "data": "데이터",
        "code": "코드",
        "as_of": "기준 사업연도",
        "points": "점",
        "probability": "3년 고성장 확률",
        "size_class": "기업 규모",
        "focus_field": "중점분야",
        "eligibility": "지원 자격",
        "yes": "충족",
        "no": "미충족",
        "families": "6대 지표군 점수 (유사그룹 중앙값 대비)",
        "sources": "지표 자료 출처",
        "peer_note": "유사그룹: 동일 산업·규모 기업 %s개 (%s)의 중앙값. 개별 기업 정보는 표시하지 않습니다.",
        "growth_path": "성장경로 예측 (매출액)",
        "no_growth": "성장경로 예측을 산출할 수 없습니다: 기준 사업연도의 매출이 없거나 비교할 과거 기업이 부족합니다.",
        "reasons": "등급 사유",
        "up": "상향 요인",
        "down": "하향 요인",
        "reasons_note": "사유는 모형이 이 기업의 점수를 올리거나 내린 정도(기여도)이며, 옆에 지표 값과 "
        "유사그룹 중앙값을 함께 적었습니다. 기여도는 다른 지표와 함께 작용하므로 지표가 중앙값보다 나빠도 "
        "점수를 올릴 수 있습니다.",
        "no_reason_up": "점수를 0.5점 넘게 올린 요인이 없습니다.",
        "peer_hidden": "유사그룹이 %s개사 미만이라 중앙값을 표시하지 않습니다 (개별 기업 정보 보호).",
        "no_step1": "STEP 1 판정 근거가 기록되지 않았습니다.",
        "no_reason_down": "점수를 0.5점 넘게 내린 요인이 없습니다.",
        "size_basis": "{years}년 평균 매출 {average:,.0f}억 원",
        "probability_note": "3년 고성장(매출 연평균 {rate:.0%} 초과) 확률은 등급 모형의 값 하나만 표시합니다.",
        "audit": "현장실사 결과",
        "item": "평가항목",
        "mean": "평균 (1–5)",
        "no_audit": "현장실사 점수가 없습니다.",
        "step1": "STEP 1 판정 근거",
        "grade_meaning": "{grade} 등급: 유사 재무구조 기업의 3년 고성장 확률 {low:.0%}–{high:.0%} 구간",
        "growth_text": "{year}년 매출 중앙값 {median:,.0f}억 원 (80% 구간 {low:,.0f}–{high:,.0f}억 원). "
        "연 20% 초과 고성장 확률 {p_high:.0%}, 다음 규모 구간 진입 확률 {p_next}, 매출 감소 확률 {p_decline:.0%}. "
        "유사기업 {peers}개의 실제 성장경로에 근거.",
    },
    "en": {
        "title": "Growth grade report",
        "grade_head": "grade %s",
        "model": "model",
        "data": "data",
        "code": "code",
        "as_of": "fiscal year",
        "points": " points",
        "probability": "3-year high-growth probability",
        "size_class": "size class",
        "focus_field": "focus field",
        "eligibility": "eligibility",
        "yes": "met",
        "no": "not met",
        "families": "Six indicator families against the peer median",
        "sources": "Sources of the indicator data",
        "peer_note": "Peers: median of %s firms of the same industry and size (%s level). No single firm is shown.",
        "growth_path": "Growth path (revenue)",
        "no_growth": "No growth path could be computed.",
        "reasons": "Reasons",
        "up": "Raising the grade",
        "down": "Lowering the grade",
        "reasons_note": "Reasons are each indicator family's contribution to this firm's score in the model, in "
        "points; the Korean report shows each indicator's value and peer median beside them.",
        "step1_note": "STEP 1 records its reasons in Korean; they are shown as recorded.",
        "no_focus": "none",
        "no_reason_up": "No factor raised the score by more than 0.5 points.",
        "peer_hidden": "Peer group smaller than %s firms: medians not shown.",
        "no_step1": "No STEP 1 reasons recorded.",
        "no_reason_down": "No factor lowered the score by more than 0.5 points.",
        "size_basis": "{years}-year average revenue KRW {average:,.0f} × 100M",
        "probability_note": "The 3-year high-growth (revenue CAGR above {rate:.0%}) probability is the graded model's.",
        "audit": "Field audit",
        "item": "item",
        "mean": "mean (1–5)",
        "no_audit": "No field-audit scores.",
        "step1": "STEP 1 decision",
        "grade_meaning": "Grade {grade}: 3-year high-growth probability {low:.0%}–{high:.0%}",
        "growth_text": "{year} revenue median KRW {median:,.0f} × 100M (80% band {low:,.0f}–{high:,.0f}). Next size "
        "class {p_next}, decline {p_decline:.0%}; band and probabilities from one distribution (method: {method}, "
        "{peers} similar firms).",
    },
}


CHART_TEXT = {
    "ko": {
        "unit": "억 원",
        "actual": "실적",
        "median": "중앙값",
        "average": "{years}년 평균 매출",
        "missing": "산출 불가: 입력 자료 없음",
    },
    "en": {
        "unit": "KRW 100M",
        "actual": "actual",
        "median": "median",
        "average": "{years}-year avg revenue",
        "missing": "no input data",
    },
}


# Where the technology and human-efficiency figures came from (features ``sources_<family>``,
# from the provenance ``jumpup import combine`` carries per value).
SOURCE_LABELS = {
    "ko": {
        "ts2000": "TS-2000",
        "fnguide": "FnGuide",
        "dart_employees": "DART 직원현황",
        "dart_bulk": "DART 재무정보",
        "synthetic": "합성 자료",
        "panel": "제출 자료",
    },
    "en": {
        "ts2000": "TS-2000",
        "fnguide": "FnGuide",
        "dart_employees": "DART employee status",
        "dart_bulk": "DART statements",
        "synthetic": "synthetic data",
        "panel": "submitted panel",
    },
}
INPUT_LABELS = {
    "rd_expense": ("연구개발비", "R&D expense"),
    "patents_granted": ("등록특허", "patents granted"),
    "patent_disclosed": ("특허 공시", "patent disclosure"),
    "certifications": ("기업 인증", "certifications"),
    "capex_intangible": ("무형자산 투자", "intangible investment"),
    "intangible_assets": ("무형자산", "intangible assets"),
    "employees": ("종업원수", "headcount"),
    "personnel_expense": ("인건비", "personnel cost"),
    "payroll": ("급여총액", "payroll"),
    "personnel_expense_sga": ("판관비 인건비", "SG&A personnel cost"),
    "value_added": ("부가가치", "value added"),
}
SOURCE_NOTE_FAMILIES = ("technology", "human")


def source_note(row: pd.Series, language: str) -> list[str]:
    """One line per family (기술성, 인적효율성): each source with the inputs it gave, then the inputs missing.

    Reads ``sources_<family>`` (``field=source;…``) and ``missing_inputs_<family>`` of the feature
    row; a row without them (features built before these columns existed) gives no line.
    """
    ko = language == "ko"
    labels = SOURCE_LABELS["ko" if ko else "en"]
    lines = []
    for family in SOURCE_NOTE_FAMILIES:
        sources, missing = row.get(f"sources_{family}"), row.get(f"missing_inputs_{family}")
        if not isinstance(sources, str) and not isinstance(missing, str):
            continue
        by_source: dict[str, list[str]] = {}
        for item in (sources or "").split(";") if isinstance(sources, str) else []:
            field, _, source = item.partition("=")
            if field:
                name = INPUT_LABELS.get(field, (field, field))[0 if ko else 1]
                by_source.setdefault(labels.get(source, source), []).append(name)
        parts = [f"{source}: {', '.join(names)}" for source, names in by_source.items()]
        absent = [INPUT_LABELS.get(f, (f, f))[0 if ko else 1] for f in str(missing or "").split(";") if f]
        if absent:
            parts.append(("자료 없음: " if ko else "not available: ") + ", ".join(absent))
        lines.append(f"{FAMILIES[family]['ko' if ko else 'en']} — " + " · ".join(parts))
    return lines


def family_chart(row: pd.Series, language: str) -> str:
    """The six family scores (0–100) as bars, the peer median as a tick where it may be shown."""
    return svg_charts.family_bars(
        [FAMILIES[f]["ko" if language == "ko" else "en"] for f in FAMILIES],
        [_float(row.get(f"family_score_{f}")) for f in FAMILIES],
        [_float(row.get(f"peer_median_family_score_{f}")) for f in FAMILIES],
        "유사그룹 중앙값" if language == "ko" else "peer median",
        CHART_TEXT[language]["missing"],
    )


def fan_chart(
    history: pd.DataFrame,
    path: pd.DataFrame,
    thresholds: dict[str, float],
    language: str,
    average: tuple[str, float, list[int]] | None = None,
) -> str:
    """Revenue history and predicted quantile bands (억 won), with size-class thresholds drawn in.

    ``average``: (label, 억 won, years) of the average revenue that decided the size class, drawn
    over the years it averages.
    """
    path = path.sort_values("year")
    return svg_charts.fan_chart(
        [int(v) for v in history["fiscal_year"]],
        [float(v) / EOK for v in history["revenue"]],
        [int(v) for v in path["year"]],
        {f"q{q}": [float(v) / EOK for v in path[f"revenue_q{q}"]] for q in ("10", "25", "50", "75", "90")},
        thresholds,
        CHART_TEXT[language],
        average,
    )


def _float(value) -> float:
    return float(value) if value is not None and pd.notna(value) else float("nan")


def grade_meaning(grade: str, scale_table: pd.DataFrame, language: str) -> str:
    row = scale_table.set_index("grade").loc[grade]
    return TEXT[language]["grade_meaning"].format(grade=grade, low=row["probability_from"], high=row["probability_to"])


def firm_report(
    firm: pd.Series,
    history: pd.DataFrame,
    path: pd.DataFrame,
    audit: pd.Series | None,
    rubric: dict,
    scale_table: pd.DataFrame,
    meta: dict,
    language: str = "ko",
    peer_medians: dict[str, float] | None = None,
    min_group_size: int = 5,
    high_growth_rate: float = 0.2,
) -> str:
    """One firm's grade report (HTML).

    ``firm``: the firm's scores, features and STEP 1 decision in one row; ``peer_medians``: the
    peer-group median of each indicator a reason names (only groups of ``min_group_size`` firms
    or more). Every figure for one event appears once.
    """
    t = TEXT[language]
    peer_medians = peer_medians or {}
    thresholds = {}
    for label, column in (
        ("소기업 상한" if language == "ko" else "small cap", "small_max_eok"),
        ("중견후보" if language == "ko" else "candidate", "candidate_min_eok"),
        ("중견기업" if language == "ko" else "mid-size", "medium_max_eok"),
    ):
        if pd.notna(firm.get(column)):
            thresholds[label] = float(firm[column])
    average = None
    if pd.notna(firm.get("average_revenue")) and len(history):
        years = int(firm.get("average_revenue_years") or 0) or 1
        used = sorted(int(y) for y in history["fiscal_year"] if int(y) <= int(firm["as_of"]))[-years:]
        average = (CHART_TEXT[language]["average"].format(years=years), float(firm["average_revenue"]) / EOK, used)
    fan = fan_chart(history, path, thresholds, language, average) if len(path) and len(history) else None
    growth_text = ""
    if len(path):
        end = path.sort_values("year").iloc[-1]
        if language == "ko":
            growth_text = wording.growth_sentence(end, int(firm["as_of"]))
        else:
            p_next = "—" if pd.isna(end.get("p_next_size_class")) else f"{end['p_next_size_class']:.0%}"
            growth_text = t["growth_text"].format(
                year=int(end["year"]),
                median=end["revenue_q50"] / EOK,
                low=end["revenue_q10"] / EOK,
                high=end["revenue_q90"] / EOK,
                p_next=p_next,
                p_decline=end["p_decline"],
                method=end.get("method", "peers"),
                peers=int(end["peer_count"]),
            )
    audit_items, audit_roles = [], []
    if audit is not None:
        for column, value in audit.items():
            if str(column).startswith("audit_item_") and pd.notna(value):
                item = rubric["items"][column.removeprefix("audit_item_")]
                audit_items.append((item["ko"] if language == "ko" else item["en"], float(value)))
            if str(column).startswith("audit_role_") and pd.notna(value):
                role = rubric["roles"][column.removeprefix("audit_role_")]
                audit_roles.append((role["ko"] if language == "ko" else role["en"], float(value)))
    peer_ok = firm.get("peer_group_size", 0) >= min_group_size
    if language == "ko":
        firm = firm.copy()
        firm["peer_level"] = PEER_LEVEL_KO.get(firm.get("peer_level"), firm.get("peer_level"))
    return template("firm_report.html.j2").render(
        lang=language,
        t=t,
        firm=firm,
        meta=meta,
        grade_meaning=grade_meaning(firm["grade"], scale_table, language),
        size_label=SIZE_CLASS_KO.get(firm.get("size_class"), firm.get("size_class"))
        if language == "ko"
        else firm.get("size_class"),
        size_rule=SIZE_RULE_KO.get(firm.get("size_rule"), firm.get("size_rule"))
        if language == "ko"
        else firm.get("size_rule"),
        family_chart=family_chart(
            firm if peer_ok else firm.drop([c for c in firm.index if c.startswith("peer_median")]), language
        ),
        fan_chart=fan,
        source_lines=source_note(firm, language),
        growth_text=growth_text,
        ineligible_label=(
            INELIGIBLE_KO.get(firm.get("ineligible_reason"), firm.get("ineligible_reason"))
            if language == "ko"
            else firm.get("ineligible_reason")
        )
        or "",
        reasons_up=_reasons(firm, "up", peer_medians, language),
        reasons_down=_reasons(firm, "down", peer_medians, language),
        size_basis=t["size_basis"].format(
            years=int(firm.get("average_revenue_years") or 0), average=float(firm["average_revenue"]) / EOK
        )
        if pd.notna(firm.get("average_revenue"))
        else "",
        decision_label=wording.decision_ko(firm.get("decision"))
        if language == "ko"
        else {"pass": "passed", "fail": "not passed"}.get(str(firm.get("decision")), str(firm.get("decision"))),
        focus_label=firm.get("focus_field_ko") if language == "ko" else _focus_en(firm.get("focus_field")),
        probability_note=t["probability_note"].format(rate=high_growth_rate),
        peer_ok=peer_ok,
        min_group_size=min_group_size,
        audit_items=audit_items,
        audit_roles=audit_roles,
        step1_reasons=[
            wording.korean_codes(r) if language == "ko" else r
            for r in str(firm.get("reasons", "") or "").split(" | ")
            if r.strip() and r != "nan"
        ],
    )


# model features shown through the indicator people know
def _focus_en(focus) -> str:
    names = {f["id"]: f["en"] for f in load_focus_fields()[0]}
    return names.get(focus, "none") if isinstance(focus, str) else "none"


VALUE_OF = {"log_revenue": "revenue", "size_class_rank": "size_class"}


def _reasons(firm: pd.Series, direction: str, peer_medians: dict[str, float], language: str) -> list[str]:
    """The model's reasons one way, each with the indicator's value and its peer median (Korean pages).

    A feature the firm row does not carry (a model-only transform) is shown through the indicator
    it transforms (``VALUE_OF``), or without a value when there is none.
    """
    lines = []
    for column in sorted(c for c in firm.index if str(c).startswith(f"reason_{direction}_")):
        text = firm[column]
        if not isinstance(text, str) or not text:
            continue
        feature = firm.get(f"reason_feature_{direction}_{column.rsplit('_', 1)[1]}")
        feature = VALUE_OF.get(feature, feature) if isinstance(feature, str) else ""
        if language != "ko" or not feature or feature not in firm.index:
            lines.append(text)
            continue
        lines.append(wording.reason_line(text, feature, firm.get(feature), peer_medians.get(feature)))
    return lines


def annotated_reasons(firms: pd.DataFrame, medians: dict[str, dict[str, float]], language: str) -> pd.DataFrame:
    """``firms`` (scores joined with features) with every reason_up_k / reason_down_k worded as on the report.

    Shape: the same rows and columns as ``firms``. Each non-empty reason reads as ``_reasons``
    words it on the grade report: for Korean pages, the indicator's value and its peer median
    (``medians``: {firm_id: {indicator: median}}) stand beside the points. Works one reason
    column and one indicator at a time, so a round of 100,000 firms takes seconds.
    """
    out = firms.copy()
    if language != "ko" or firms.empty:
        return out
    firm_ids = firms["firm_id"].to_numpy()
    for column in [c for c in firms if str(c).startswith(("reason_up_", "reason_down_"))]:
        direction, k = column.removeprefix("reason_").rsplit("_", 1)
        feature_column = f"reason_feature_{direction}_{k}"
        if feature_column not in firms:
            continue
        texts = firms[column].to_numpy(dtype=object)
        features = firms[feature_column].map(lambda f: VALUE_OF.get(f, f) if isinstance(f, str) else "")
        has_text = np.fromiter((isinstance(t, str) and bool(t) for t in texts), bool, len(texts))
        worded = texts.copy()
        for feature in sorted(set(features[has_text]) - {""}):
            if feature not in firms:
                continue
            rows = np.flatnonzero(has_text & (features == feature).to_numpy())
            values = firms[feature].to_numpy(dtype=object)[rows]
            for row, value in zip(rows, values, strict=True):
                median = medians.get(firm_ids[row], {}).get(feature)
                worded[row] = wording.reason_line(texts[row], feature, value, median)
        out[column] = pd.Series(worded, index=firms.index, dtype=firms[column].dtype)
    return out
