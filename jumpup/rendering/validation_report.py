"""Render the validation report (a dict from models.training) as one self-contained HTML page.

Its charts are inline SVG from ``jumpup.rendering.charts``, the chart module of every other page.
"""

from __future__ import annotations

from jumpup.rendering.charts import grade_rate_chart, reliability_chart
from jumpup.rendering.jinja import render


def _split_charts(split: dict) -> dict[str, str]:
    """The reliability curve and the realised-against-predicted rate per grade of one split, as SVG."""
    curve = split["calibration"]["reliability"]
    grades = [g for g in split["grades"] if g["count"]]
    reliability = reliability_chart(
        {"model": ([c["predicted"] for c in curve], [c["realised"] for c in curve])},
        {"x": "predicted probability", "y": "realised rate"},
    )
    rates = grade_rate_chart(
        [g["grade"] for g in grades],
        [g["realised_rate"] for g in grades],
        [g["jeffreys_low"] for g in grades],
        [g["jeffreys_high"] for g in grades],
        [g["predicted_rate"] for g in grades],
        {"realised": "realised", "predicted": "predicted", "y": "rate"},
    )
    return {"reliability": reliability, "rates": rates}


def render_validation_html(report: dict, meta: dict) -> str:
    """The validation report as one HTML page (str, UTF-8 text, no external files).

    ``report`` is ``TrainingResult.report`` (splits with discrimination, grades, calibration and
    concentration; comparison; PSI; monotone checks; master scale); ``meta`` gives ``run_name``,
    ``target_ko``, ``model_version``, ``run_id``, ``code_version`` and ``data_sha256``. A missing
    key raises KeyError (or jinja2's UndefinedError for ``meta``). Splits skipped for holding a
    single class get no grade table and no charts.
    """
    charts = {name: _split_charts(s) for name, s in report["splits"].items() if s.get("grades")}
    return render("validation_report.html.j2", report=report, meta=meta, charts=charts)
