"""Render the validation report (a dict from models.training) as one self-contained HTML page."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from jinja2 import Environment

TEMPLATE_PATH = Path(__file__).parent / "templates" / "validation_report.html.j2"


def _reliability_chart(split: dict) -> str:
    curve = split["calibration"]["reliability"]
    grades = [g for g in split["grades"] if g["count"]]
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=90)
    axes[0].plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    axes[0].plot([c["predicted"] for c in curve], [c["realised"] for c in curve], marker="o")
    axes[0].set(xlabel="predicted probability", ylabel="realised rate", title="reliability")
    labels = [g["grade"] for g in grades]
    axes[1].bar(labels, [g["realised_rate"] for g in grades], color="#4a78b5", label="realised")
    axes[1].errorbar(
        labels,
        [g["realised_rate"] for g in grades],
        yerr=[
            [max(g["realised_rate"] - g["jeffreys_low"], 0.0) for g in grades],
            [max(g["jeffreys_high"] - g["realised_rate"], 0.0) for g in grades],
        ],
        fmt="none",
        color="#222",
    )
    axes[1].plot(labels, [g["predicted_rate"] for g in grades], color="#d9534f", marker="D", label="predicted")
    axes[1].set(title="rate by grade", ylabel="rate")
    axes[1].legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def render_validation_html(report: dict, meta: dict) -> str:
    charts = {name: _reliability_chart(s) for name, s in report["splits"].items() if s.get("grades")}
    template = Environment(autoescape=True).from_string(TEMPLATE_PATH.read_text(encoding="utf-8"))
    return template.render(report=report, meta=meta, charts=charts)
