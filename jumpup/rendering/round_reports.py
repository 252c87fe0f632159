"""The reports stage of a round: per-firm grade reports (HTML and PDF), the round summary, an index.

Pages are static files that open in a browser with no server. A Korean font subset to the
round's characters ships with them (``reports/assets``), so Hangul shows in a real CJK font on
any machine, and PDFs come from one headless Chromium session for the whole round.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment

from jumpup.features.focus_fields import load_focus_fields
from jumpup.features.size_class import SIZE_CLASS_KO
from jumpup.intake.ingest import IngestResult
from jumpup.models.bundle import GrowthModelBundle
from jumpup.models.grading import MasterScale
from jumpup.notices import Notice, in_language
from jumpup.paths import safe_slug
from jumpup.reference import audit_rubric
from jumpup.rendering import firm_report as reports
from jumpup.rendering.browser import BrowserError, HeadlessBrowser, find_browser
from jumpup.rendering.fonts import write_report_fonts
from jumpup.rendering.step1_pages import whatif_chart
from jumpup.settings import Settings
from jumpup.step1.decisions import Step1Result


def model_label(info: dict) -> str:
    """How reports name the model: version and alias, or the bundle file's hash."""
    alias = f" ({info['model_alias']})" if info.get("model_alias") else ""
    return f"{info['model_version']}{alias}"


@dataclass
class RoundOutputs:
    """Everything the reports read, gathered once the computing stages are done."""

    result: IngestResult
    bundle: GrowthModelBundle
    scale: MasterScale
    features: pd.DataFrame
    scores: pd.DataFrame
    paths: pd.DataFrame
    step1: Step1Result
    manifest: dict
    stability: list[dict]
    warnings: list[Notice]

    @property
    def decisions(self) -> pd.DataFrame:
        return self.step1.decisions


def _render(template: str, **context) -> str:
    return (
        Environment(autoescape=True)
        .from_string((reports.TEMPLATES / template).read_text(encoding="utf-8"))
        .render(**context)
    )


def firm_pages(outputs: RoundOutputs, settings: Settings, language: str) -> dict[str, str]:
    """The HTML of every firm's grade report, by firm id."""
    result, features, scores, paths = outputs.result, outputs.features, outputs.scores, outputs.paths
    decisions, manifest = outputs.decisions, outputs.manifest
    rubric = audit_rubric()
    scale_table = outputs.scale.table()
    firms = result.tables["firms"].set_index("firm_id")
    audit = outputs.step1.audit_summary.round(4).set_index("firm_id")
    joined = scores.merge(
        features.drop(columns=[c for c in features if c in scores and c != "firm_id"]), on="firm_id", how="left"
    ).merge(
        decisions[["firm_id", "round_id", "decision", "step1_grade", "step1_points", "reasons"]],
        on="firm_id",
        how="left",
    )
    histories = dict(tuple(result.tables["financials"].sort_values(["firm_id", "fiscal_year"]).groupby("firm_id")))
    firm_paths = dict(tuple(paths.groupby("firm_id"))) if len(paths) else {}
    no_path = paths.iloc[0:0]
    meta = {
        "model_version": model_label(manifest["model"]),
        "code_version": manifest["code_version"],
        "data_sha256": manifest["input_sha256"].get("financials", ""),
    }
    pages = {}
    for firm in joined.itertuples(index=False):
        row = pd.Series(firm._asdict())
        row["name"] = firms["name"].get(firm.firm_id, firm.firm_id) if "name" in firms else firm.firm_id
        pages[firm.firm_id] = reports.firm_report(
            row,
            histories.get(firm.firm_id, result.tables["financials"].iloc[0:0]),
            firm_paths.get(firm.firm_id, no_path),
            audit.loc[firm.firm_id] if firm.firm_id in audit.index else None,
            rubric,
            scale_table,
            meta,
            language,
        )
    return pages


def summary_page(outputs: RoundOutputs, settings: Settings) -> str:
    scores, decisions, manifest = outputs.scores, outputs.decisions, outputs.manifest
    scale = outputs.scale
    firms = outputs.result.tables["firms"].set_index("firm_id")
    grade_counts = [
        {"grade": g, "ai": int((scores["grade"] == g).sum()), "step1": int((decisions["step1_grade"] == g).sum())}
        for g in scale.labels
    ]
    region = firms["region"] if "region" in firms else pd.Series(dtype=object)
    table = decisions.assign(
        region=decisions["firm_id"].map(region).fillna("—"),
        size=decisions["size_class"].map(SIZE_CLASS_KO).fillna("미상"),
        field=decisions["focus_field"].map({f["id"]: f["ko"] for f in load_focus_fields()[0]}).fillna("해당 없음"),
    )
    breakdowns = []
    for title, column in (("중점분야별", "field"), ("규모별", "size"), ("지역별", "region")):
        grouped = table.groupby(column).agg(
            applicants=("firm_id", "size"), passed=("decision", lambda d: int((d == "pass").sum()))
        )
        breakdowns.append((title, [{"group": g, **r} for g, r in grouped.to_dict("index").items()]))
    whatif, quality = outputs.step1.what_if, outputs.step1.quality
    return _render(
        "round_summary.html.j2",
        round_id=", ".join(manifest["round_id"]),
        manifest=manifest,
        model_label=model_label(manifest["model"]),
        reference_grade=scale.reference_grade,
        warnings=in_language(outputs.warnings, "ko"),
        counts=manifest["counts"],
        grades=grade_counts,
        breakdowns=breakdowns,
        whatif=whatif.to_dict("records"),
        whatif_columns=[c for c in whatif.columns if c != "reference_grade"],
        whatif_chart=whatif_chart(whatif, settings.step1.audit_weight, scale.reference_grade),
        psi=[r for r in outputs.stability if r["variable"].startswith("score") or r["shifted"]][:40],
        icc=quality["icc_total"],
        flagged=quality.get("flagged_evaluators", []),
    )


def write_round_reports(
    out_dir: Path,
    outputs: RoundOutputs,
    settings: Settings,
    language: str,
    progress: Callable[[str], None] | None = None,
    firm_reports: bool = True,
) -> dict:
    """Write the round summary and index, and with ``firm_reports`` every firm's page and PDF.

    Returns what was written: page and PDF counts, seconds per step, the font record and any
    warning an operator must see. PDFs need a Chromium browser; without one the HTML is written
    and a warning says so.
    """
    notify = progress or (lambda stage: None)
    report_dir = out_dir / "reports"
    firm_dir = report_dir / "firms"
    shutil.rmtree(firm_dir, ignore_errors=True)  # a rerun leaves no page of an earlier run behind
    firm_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    notify("reports: pages")
    pages = firm_pages(outputs, settings, language) if firm_reports else {}
    summary = summary_page(outputs, settings)
    record: dict = {"firm_pages": len(pages), "pdfs": 0, "seconds": seconds, "warnings": []}
    pdf_wanted = settings.reports.pdf and bool(pages)
    browser = find_browser() if pdf_wanted else None
    if pdf_wanted and browser is None:
        record["warnings"].append(
            Notice(
                "PDF reports not written: no Chromium on this machine (Debian package 'chromium')",
                "PDF 보고서를 만들지 못했습니다: 이 컴퓨터에 Chromium이 없습니다 (Debian 패키지 'chromium').",
            )
        )
    index = _render(
        "index.html.j2",
        round_id=", ".join(outputs.manifest["round_id"]),
        firms=[
            {
                "firm_id": r.firm_id,
                "name": r.name,
                "grade": r.grade,
                "decision": r.decision,
                "page": firm_reports,
                "pdf": browser is not None,
            }
            for r in _index_rows(outputs).itertuples(index=False)
        ],
    )
    seconds["pages"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    if settings.reports.embed_font:
        notify("reports: font")
        record["font"] = write_report_fonts([*pages.values(), summary, index], report_dir / "assets")
        if not record["font"]["embedded"]:
            record["warnings"].append(
                Notice(
                    "no Korean font found to ship with the reports (Debian package 'fonts-noto-cjk')",
                    "보고서에 넣을 한글 글꼴을 찾지 못했습니다 (Debian 패키지 'fonts-noto-cjk').",
                )
            )
    else:
        (report_dir / "assets").mkdir(parents=True, exist_ok=True)
        (report_dir / "assets" / "fonts.css").write_text("", encoding="utf-8")
    seconds["font"] = round(time.perf_counter() - started, 2)
    for firm_id, html in pages.items():
        (firm_dir / f"{safe_slug(firm_id)}.html").write_text(html, encoding="utf-8")
    (report_dir / "round_summary.html").write_text(summary, encoding="utf-8")
    (report_dir / "index.html").write_text(index, encoding="utf-8")
    started = time.perf_counter()
    if browser is not None:
        notify("reports: PDF")
        jobs = [(firm_dir / f"{safe_slug(f)}.html", firm_dir / f"{safe_slug(f)}.pdf") for f in pages]
        jobs.append((report_dir / "round_summary.html", report_dir / "round_summary.pdf"))  # with the firm PDFs
        try:
            with HeadlessBrowser(browser, settings.reports.pdf_tabs, settings.reports.browser_timeout_seconds) as b:
                record["pdfs"] = b.print_pdfs(jobs)
                record["browser"] = b.version
        except BrowserError as exc:
            record["warnings"].append(
                Notice(f"PDF reports incomplete: {exc}", f"PDF 보고서를 모두 만들지 못했습니다: {exc}")
            )
        seconds["pdf"] = round(time.perf_counter() - started, 2)
    return record


def _index_rows(outputs: RoundOutputs) -> pd.DataFrame:
    firms = outputs.result.tables["firms"].set_index("firm_id")
    rows = outputs.scores[["firm_id", "grade"]].merge(
        outputs.decisions[["firm_id", "decision"]], on="firm_id", how="left"
    )
    names = firms["name"] if "name" in firms else pd.Series(dtype=object)
    return rows.assign(name=rows["firm_id"].map(names).fillna(""))
