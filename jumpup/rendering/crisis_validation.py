"""The crisis model's validation report (위기징후 조기경보 모형 검증 보고서), in Korean, as one HTML page.

Receives the report dict of ``jumpup.models.crisis.train_crisis`` (design, tuning, the validation
pack per split, the held-out evaluation against the plain baselines with firm-clustered paired
bootstrap intervals, label status) and only draws it: Jinja (text escaped), inline SVG charts from
``jumpup.rendering.charts``, no scripts and no external files.
"""

from __future__ import annotations

from jumpup.rendering.charts import grade_rate_chart, reliability_chart
from jumpup.rendering.jinja import render

GRADE_KO = {"severe": "심각", "alert": "경계", "caution": "주의", "watch": "관심", "normal": "정상"}
SPLIT_KO = {
    "train": "학습 (적합 기업·적합 기준연도)",
    "out_of_sample": "표본 외 (보류 기업·적합 기준연도)",
    "out_of_time": "시점 외 (보류 기업·평가 기준연도)",
}
MODEL_KO = {
    "crisis_model": "위기징후 모형",
    "plain_lgbm": "기본 LightGBM (10개 비율)",
    "logistic": "로지스틱 회귀 (10개 비율)",
    "interest_coverage": "이자보상배율 단독",
}
LABEL_STATUS_KO = {
    "labelled": "판정됨",
    "start_coverage_unknown": "기준연도 이자보상배율 미상",
    "start_coverage_below_threshold": "기준연도에 이미 1 미만",
    "outcome_after_panel_end": "결과 연도가 자료 이후",
    "vanished_or_gap": "이후 연도 자료 없음 (소멸·공백)",
    "undetermined": "판정 불가",
}


def _charts(split: dict) -> dict[str, str]:
    curve = split["calibration"]["reliability"]
    grades = [g for g in split["grades"] if g["count"]]
    return {
        "reliability": reliability_chart(
            {"모형": ([c["predicted"] for c in curve], [c["realised"] for c in curve])},
            {"x": "예측 위기 확률", "y": "실현 위기율"},
        ),
        "rates": grade_rate_chart(
            [GRADE_KO.get(g["grade"], g["grade"]) for g in grades],
            [g["realised_rate"] for g in grades],
            [g["jeffreys_low"] for g in grades],
            [g["jeffreys_high"] for g in grades],
            [g["predicted_rate"] for g in grades],
            {"realised": "실현", "predicted": "예측", "y": "위기율"},
        ),
    }


def _comparisons(auc: dict) -> tuple[list[dict], list[dict]]:
    """(one row per model, one row per paired difference crisis model - other), Korean names."""
    models, differences = [], []
    for name, entry in auc.items():
        if "_minus_" not in name:
            models.append({"name": MODEL_KO.get(name, name), **entry})
        elif name.startswith("crisis_model_minus_"):
            other = name.removeprefix("crisis_model_minus_")
            differences.append({"name": f"위기징후 모형 − {MODEL_KO.get(other, other)}", **entry})
    return models, differences


def render_crisis_validation_html(report: dict, meta: dict) -> str:
    """The validation report as one HTML page (str).

    ``report``: ``CrisisTraining.report`` (with ``label_status`` when the stage added it);
    ``meta``: ``model_version``, ``run_name``, ``code_version``, ``data_sha256``. A missing key
    raises KeyError (or jinja2's UndefinedError). Splits skipped for a single class get no table.
    """
    splits = {name: s for name, s in report["splits"].items() if s.get("grades")}
    models, differences = _comparisons(report["evaluation"]["auc"])
    context = {
        "report": report,
        "meta": meta,
        "design": report["design"],
        "evaluation": report["evaluation"],
        "splits": splits,
        "split_ko": SPLIT_KO,
        "grade_ko": GRADE_KO,
        "charts": {name: _charts(s) for name, s in splits.items()},
        "models": models,
        "differences": differences,
        "label_status": [
            {"status": LABEL_STATUS_KO.get(k, k), "rows": v} for k, v in report.get("label_status", {}).items()
        ],
        "skipped": {name: s for name, s in report["splits"].items() if not s.get("grades")},
    }
    return render("crisis_validation_report.html.j2", **context)
