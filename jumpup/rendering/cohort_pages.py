"""Pages after STEP 1, in Korean: the STEP 2 selection summary, the cohort dashboard of a progress
review (realised revenue against the forecast fans, grade and size-class migration, monitoring)
and one progress page per firm. Static HTML with inline SVG; file names built from firm ids go
through ``safe_slug``.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from jumpup.features.size_class import EOK, SIZE_CLASS_KO
from jumpup.intake.contracts import EVALUATOR_ROLE_KO
from jumpup.paths import safe_slug
from jumpup.rendering.charts import ACTUAL_COLOUR, BAND_COLOUR, MEDIAN_COLOUR, _num, _open_with_y_grid, nice_ticks
from jumpup.rendering.jinja import render
from jumpup.rendering.wording import model_label
from jumpup.review.progress import BAND_KO, INDICATORS, STATUS_KO, UNKNOWN_KO, ReviewResult
from jumpup.step2.selection import CONSENSUS_KO, DECISION_KO, FINAL_KO, TRACK_KO, Step2Result

REALISED_COLOUR = "#d9534f"
PERCENT = ("revenue_growth_1y", "operating_margin", "equity_ratio", "rd_intensity", "probability")


def write_selection_page(result: Step2Result, selection: pd.DataFrame, manifest: dict, path: Path) -> Path:
    """The STEP 2 summary: committees, consensus, overrides, conflicts, governance and the final selection."""
    decisions = result.decisions
    committees = (
        decisions.groupby("committee_ko")
        .agg(
            firms=("firm_id", "size"),
            selected=("final", lambda s: int((s == "selected").sum())),
            split=("consensus", lambda s: int((s == "split").sum())),
        )
        .reset_index()
        .to_dict("records")
    )
    rows = [
        {
            "firm_id": r.firm_id,
            "committee": r.committee_ko,
            "consensus": CONSENSUS_KO.get(r.consensus, r.consensus),
            "decision": DECISION_KO.get(r.decision, r.decision),
            "earlier": " / ".join(
                x
                for x in (
                    DECISION_KO.get(r.earlier_decision, r.earlier_decision),
                    f"이전 평가 {DECISION_KO.get(r.previous_decision, r.previous_decision)}"
                    if r.previous_decision
                    else "",
                )
                if x
            ),
            "decided_by": "분과위원회" if r.decided_by == "committee" else r.decided_by,
            "final": FINAL_KO.get(r.final, r.final),
            "track": TRACK_KO.get(r.track, r.track) if r.final == "selected" else "",
            "reasons": r.reasons,
        }
        for r in decisions.itertuples(index=False)
    ]
    html = render(
        "cohort_selection.html.j2",
        model_line=model_label(manifest["model"]),
        manifest=manifest,
        committees=committees,
        rows=rows,
        share=result.share,
        conflicts=result.conflicts.to_dict("records"),
        breaches=result.governance[~result.governance["governance_ok"]]
        .assign(
            roles_missing=lambda g: g["roles_missing"].map(
                lambda v: ", ".join(EVALUATOR_ROLE_KO.get(r, r) for r in str(v).split(";") if r)
            )
        )
        .to_dict("records")
        if len(result.governance)
        else [],
        warnings=manifest.get("warnings_ko", []),
        selected=len(selection),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def realised_fan(
    history: pd.DataFrame, path: pd.DataFrame, realised: tuple[int, float] | None, width: int = 520, height: int = 220
) -> str:
    """Revenue history to selection, the forecast q10–q90 / q25–q75 bands from selection, and the
    realised revenue of the review year as a red point (억 won). Returns an ``<svg>`` string."""
    left, right, top, bottom = 58, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    hist = history.sort_values("fiscal_year")
    path = path.sort_values("year")
    h_years = [int(v) for v in hist["fiscal_year"]]
    h_values = [float(v) / EOK for v in hist["revenue"]]
    p_years = [int(v) for v in path["year"]]
    q = {k: [float(v) / EOK for v in path[f"revenue_q{k}"]] for k in ("10", "25", "50", "75", "90")}
    if h_years and p_years:
        start = (h_years[-1], h_values[-1])
        band_years = [start[0], *p_years]
        q = {k: [start[1], *v] for k, v in q.items()}
    else:
        band_years = p_years
    values = [v for v in [*h_values, *q.get("90", []), *(realised[1:] if realised else [])] if np.isfinite(v)]
    years = [*h_years, *p_years]
    if not values or not years:
        return ""
    ticks = nice_ticks(0.0, max(values) * 1.05)
    y_top = ticks[-1] if ticks else max(values)
    x_low, x_high = min(years), max(years)

    def x(year: float) -> float:
        return left + plot_w * (year - x_low) / max(x_high - x_low, 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_top) if y_top > 0 else top + plot_h

    def points(xs, ys) -> str:
        return " ".join(f"{_num(x(a))},{_num(y(b))}" for a, b in zip(xs, ys, strict=True))

    parts = _open_with_y_grid(width, height, left, right, ticks, y)
    for year in sorted(set(years)):
        parts.append(
            f'<text x="{_num(x(year))}" y="{top + plot_h + 16}" text-anchor="middle" fill="#666" font-size="11">'
            f"{year}</text>"
        )
    if band_years:
        outer = points(band_years, q["10"]) + " " + points(band_years[::-1], q["90"][::-1])
        inner = points(band_years, q["25"]) + " " + points(band_years[::-1], q["75"][::-1])
        parts.append(f'<polygon class="band-80" points="{outer}" fill="{BAND_COLOUR}" fill-opacity="0.18"/>')
        parts.append(f'<polygon class="band-50" points="{inner}" fill="{BAND_COLOUR}" fill-opacity="0.35"/>')
        parts.append(
            f'<polyline class="median" points="{points(band_years, q["50"])}" fill="none" '
            f'stroke="{MEDIAN_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/>'
        )
    if h_years:
        parts.append(
            f'<polyline class="actual" points="{points(h_years, h_values)}" fill="none" '
            f'stroke="{ACTUAL_COLOUR}" stroke-width="2"/>'
        )
    if realised and np.isfinite(realised[1]):
        parts.append(
            f'<circle class="realised" cx="{_num(x(realised[0]))}" cy="{_num(y(realised[1]))}" r="5" '
            f'fill="{REALISED_COLOUR}"><title>{escape(f"{realised[0]} 실적 {realised[1]:,.0f}억 원")}</title></circle>'
        )
    parts.append(
        f'<text x="{left}" y="{height - 6}" font-size="11" fill="#555">'
        "(억 원) 실선: 실적 · 점선: 선정 시 예측 중앙값 · "
        f"음영: 50%·80% 예측구간 · 붉은 점: 점검연도 실적</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _size_ko(value) -> str:
    return SIZE_CLASS_KO.get(value, str(value)) if isinstance(value, str) and value else UNKNOWN_KO


def _fmt(name: str, value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return "—"
    if name in ("revenue", "revenue_per_employee"):
        return f"{value / EOK:,.2f}억"
    if name in PERCENT:
        return f"{value:.1%}"
    return f"{value:,.1f}"


def _fmt_change(name: str, value) -> str:
    if value is None or pd.isna(value):
        return "—"
    if name in ("revenue", "revenue_per_employee"):
        return f"{value / EOK:+,.2f}억"
    if name in PERCENT:
        return f"{value * 100:+.1f}%p"
    return f"{value:+,.1f}"


def write_review_pages(
    result: ReviewResult,
    cohort: pd.DataFrame,
    history: pd.DataFrame,
    paths: pd.DataFrame,
    manifest: dict,
    out_dir: Path,
) -> dict:
    """Write ``dashboard.html`` and ``firms/<slug>.html`` under ``out_dir``; returns their paths.

    ``history``: statements up to the selection's as-of year (firm_id, fiscal_year, revenue);
    ``paths``: the growth paths made at selection.
    """
    out_dir = Path(out_dir)
    firm_dir = out_dir / "firms"
    firm_dir.mkdir(parents=True, exist_ok=True)
    for stale in firm_dir.glob("*.html"):
        stale.unlink()
    year = manifest["year"]
    names = cohort.drop_duplicates("firm_id").set_index("firm_id")["name"].to_dict() if "name" in cohort else {}
    histories = dict(tuple(history.groupby("firm_id"))) if len(history) else {}
    firm_paths = dict(tuple(paths.groupby("firm_id"))) if len(paths) else {}
    decisions = result.decisions.set_index("firm_id")
    cards, links = [], []
    for row in result.progress.itertuples(index=False):
        realised = (year, row.revenue_after / EOK) if pd.notna(row.revenue_after) else None
        chart = realised_fan(
            histories.get(row.firm_id, history.iloc[0:0]), firm_paths.get(row.firm_id, paths.iloc[0:0]), realised
        )
        decision = decisions.loc[row.firm_id]
        slug = safe_slug(row.firm_id)
        card = {
            "firm_id": row.firm_id,
            "name": names.get(row.firm_id, row.firm_id),
            "href": f"firms/{slug}.html",
            "band": BAND_KO.get(row.band, row.band),
            "status": STATUS_KO[decision["status"]],
            "status_key": decision["status"],
            "chart": chart,
        }
        cards.append(card)
        indicators = [
            {
                "label": label,
                "before": _fmt(name, getattr(row, f"{name}_before")),
                "after": _fmt(name, getattr(row, f"{name}_after")),
                "change": _fmt_change(name, getattr(row, f"{name}_change")),
            }
            for name, label in INDICATORS.items()
        ]
        page = render(
            "progress_page.html.j2",
            model_line=model_label(manifest["model"]),
            card=card,
            row=row,
            decision=decision,
            reasons=str(decision["reasons"]).split(" | "),
            indicators=indicators,
            size_before=_size_ko(row.size_class_before),
            size_after=_size_ko(row.size_class_after),
            voucher=_fmt("revenue", decision["next_year_voucher_won"]),
            manifest=manifest,
        )
        target = firm_dir / f"{slug}.html"
        target.write_text(page, encoding="utf-8")
        links.append(target)
    counts = result.decisions["status"].value_counts().to_dict()
    dropped = [
        {"firm_id": r.firm_id, "name": names.get(r.firm_id, r.firm_id), "reasons": r.reasons}
        for r in result.dropped.itertuples(index=False)
    ]
    html = render(
        "cohort_dashboard.html.j2",
        model_line=model_label(manifest["model"]),
        manifest=manifest,
        counts={STATUS_KO[k]: int(counts.get(k, 0)) for k in STATUS_KO},
        dropped=dropped,
        coverage=result.monitoring["band_coverage"],
        band_names=BAND_KO,
        grades=result.monitoring["grades"],
        grade_migration=result.grade_migration,
        size_migration=result.size_migration,
        cards=cards,
        warnings=manifest.get("warnings_ko", []),
    )
    dashboard = out_dir / "dashboard.html"
    dashboard.write_text(html, encoding="utf-8")
    return {"dashboard": str(dashboard), "firm_pages": len(links)}
