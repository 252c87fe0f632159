"""STEP 1 pages: the STEP 2 dossier of each firm that passed, and the what-if chart.

Both are drawn with the one chart module (``jumpup.rendering.charts``) and the shared templates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from jumpup.features.focus_fields import load_focus_fields
from jumpup.features.size_class import SIZE_CLASS_KO
from jumpup.frames import is_known
from jumpup.paths import safe_slug
from jumpup.rendering import charts, wording
from jumpup.rendering.jinja import template


def whatif_label(column: str) -> str:
    """A what-if column in the words and number format of both the chart legend and the table."""
    if not column.startswith("audit_weight_"):
        return column
    return f"현장실사 {float(column.removeprefix('audit_weight_')):.0%}"


def whatif_chart(whatif: pd.DataFrame, current_weight: float, reference_grade: str) -> str:
    """Inline SVG: firms passing STEP 1 by cut-off grade, one line per field-audit weight.

    ``whatif`` has ``reference_grade`` and one ``audit_weight_<w>`` column per weight (counts of
    firms); the line of ``current_weight`` is drawn thicker and ``reference_grade`` is marked.
    """
    columns = [c for c in whatif.columns if c.startswith("audit_weight_")]
    names = {c: whatif_label(c) for c in columns}
    current = next(
        (names[c] for c in columns if abs(float(c.removeprefix("audit_weight_")) - current_weight) < 1e-9), None
    )
    return charts.line_chart(
        [str(g) for g in whatif["reference_grade"]],
        {names[c]: whatif[c].astype("float64").tolist() for c in columns},
        current,
        reference_grade,
        {"x": "기준등급 (컷오프)", "y": "STEP 1 통과 기업 수"},
    )


def write_whatif_chart(whatif: pd.DataFrame, path: Path, current_weight: float, reference_grade: str) -> Path:
    """Write ``whatif_chart`` as a standalone SVG file; returns ``path``."""
    svg = whatif_chart(whatif, current_weight, reference_grade)
    path.write_text(svg if svg.startswith("<?xml") else '<?xml version="1.0" encoding="UTF-8"?>\n' + svg, "utf-8")
    return path


def write_dossiers(
    decisions: pd.DataFrame,
    scores: pd.DataFrame,
    audit_summary: pd.DataFrame,
    firms: pd.DataFrame,
    rubric: dict,
    out_dir: Path,
    growth_summary: dict[str, str] | None = None,
    model: dict | None = None,
) -> list[Path]:
    dossier = template("step2_dossier.html.j2")
    names = firms.set_index("firm_id")["name"].to_dict() if "name" in firms else {}
    passed = decisions[decisions["decision"] == "pass"]
    reason_columns = [c for c in scores.columns if c.startswith(("reason_up_", "reason_down_"))]
    reasons_by_firm = scores[is_known(scores["firm_id"], passed["firm_id"])].set_index("firm_id")[reason_columns]
    reasons_by_firm = reasons_by_firm[~reasons_by_firm.index.duplicated()].to_dict("index")
    item_columns = [c for c in audit_summary.columns if c.startswith("audit_item_")]
    items_by_firm = audit_summary.set_index("firm_id")[item_columns]
    items_by_firm = items_by_firm[~items_by_firm.index.duplicated()].to_dict("index")
    item_names = {c: rubric["items"][c.removeprefix("audit_item_")]["ko"] for c in item_columns}
    focus_ko = {f["id"]: f["ko"] for f in load_focus_fields()[0]}
    out_dir.mkdir(parents=True, exist_ok=True)
    # The model that graded the round, and whether it is the promoted champion (wording.model_label).
    model_line = wording.model_label(model) if model and "model_version" in model else None
    written = []
    for d in passed.itertuples(index=False):
        reasons = reasons_by_firm.get(d.firm_id, {})
        strengths = [r for c, r in reasons.items() if c.startswith("reason_up") and isinstance(r, str) and r]
        risks = [r for c, r in reasons.items() if c.startswith("reason_down") and isinstance(r, str) and r]
        items = [(item_names[c], v) for c, v in items_by_firm.get(d.firm_id, {}).items() if pd.notna(v)]
        html = dossier.render(
            d=d,
            name=names.get(d.firm_id, d.firm_id),
            strengths=strengths,
            risks=risks,
            decision_label=wording.decision_ko(d.decision),
            field_ko=focus_ko.get(d.focus_field, "해당 없음") if isinstance(d.focus_field, str) else "해당 없음",
            step1_reasons=[
                wording.korean_codes(r) for r in str(d.reasons or "").split(" | ") if r.strip() and r != "nan"
            ],
            items=items,
            size_ko=SIZE_CLASS_KO.get(d.size_class, d.size_class),
            growth=(growth_summary or {}).get(d.firm_id),
            model_line=model_line,
        )
        path = out_dir / f"{safe_slug(d.firm_id)}.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written
